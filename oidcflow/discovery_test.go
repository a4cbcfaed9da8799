package oidcflow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The discovery document's shape is a contract with every client: a change must be
// deliberate (go test ./oidcflow -run Golden -update).
func TestDiscoveryGolden(t *testing.T) {
	got, err := json.MarshalIndent(NewDiscovery("http://localhost:3001/oidc", []string{AlgES256}), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "discovery.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), got) {
		t.Fatalf("discovery document changed:\n%s\nwant:\n%s", got, want)
	}
}

// The document advertises exactly what the browser flow implements; clients (go-oidc,
// the Logto SDKs) read these members to decide how to talk to Latch. Every member of
// Logto's document (the snapshot of its integration test oidc/discovery.test.ts) is
// either equal here, arrays in the same order, or a departure named below.
func TestDiscoveryContract(t *testing.T) {
	const iss = "https://id.example/oidc"
	b, err := json.Marshal(NewDiscovery(iss, []string{AlgES384}))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	// Logto's members with the values Latch shares.
	logto := map[string]any{
		"authorization_endpoint":                         iss + "/auth",
		"authorization_response_iss_parameter_supported": true,
		"backchannel_logout_session_supported":           true,
		"backchannel_logout_supported":                   true,
		"claim_types_supported":                          []any{"normal"},
		"claims_parameter_supported":                     false,
		"claims_supported": []any{"sub", "name", "family_name", "given_name", "middle_name", "nickname",
			"preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo",
			"locale", "updated_at", "username", "created_at", "email", "email_verified", "phone_number",
			"phone_number_verified", "address", "custom_data", "identities", "sso_identities", "roles",
			"organizations", "organization_data", "organization_roles", "sid", "auth_time", "iss"},
		"code_challenge_methods_supported": []any{"S256"},
		"scopes_supported": []any{"openid", "offline_access", "profile", "email", "phone", "address",
			"custom_data", "identities", "roles", "urn:logto:scope:organizations",
			"urn:logto:scope:organization_roles", "urn:logto:scope:sessions"},
		"end_session_endpoint":                  iss + "/session/end",
		"id_token_signing_alg_values_supported": []any{"ES384"},
		"introspection_endpoint":                iss + "/token/introspection",
		"issuer":                                iss,
		"jwks_uri":                              iss + "/jwks",
		"request_parameter_supported":           false,
		"request_uri_parameter_supported":       false,
		"response_modes_supported":              []any{"form_post", "fragment", "query"},
		"revocation_endpoint":                   iss + "/token/revocation",
		"subject_types_supported":               []any{"public"},
		"token_endpoint":                        iss + "/token",
		"userinfo_endpoint":                     iss + "/me",
	}
	// Departures: Logto's value with what Latch does not implement left out (same order).
	departures := map[string]any{
		"grant_types_supported": []any{"authorization_code", "refresh_token", "client_credentials",
			"urn:ietf:params:oauth:grant-type:token-exchange"}, // no implicit, no device_code
		"response_types_supported":              []any{"code"},                                              // no code id_token, id_token, none
		"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "none"}, // no JWT client auth
		// Members Logto lacks (RFC 8414 2, true for Latch).
		"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post", "none"},
		"revocation_endpoint_auth_methods_supported":    []any{"client_secret_basic", "client_secret_post", "none"},
	}
	// Logto's members Latch omits: features it does not implement.
	for _, k := range []string{"device_authorization_endpoint", "pushed_authorization_request_endpoint", "token_endpoint_auth_signing_alg_values_supported"} {
		if v, ok := got[k]; ok {
			t.Errorf("%s = %v advertised, but Latch does not implement it", k, v)
		}
	}
	want := map[string]any{}
	for k, v := range logto {
		want[k] = v
	}
	for k, v := range departures {
		want[k] = v
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s missing", k)
			continue
		}
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		if !bytes.Equal(gj, wj) {
			t.Errorf("%s = %s, want %s", k, gj, wj)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected member %s", k)
		}
	}
}
