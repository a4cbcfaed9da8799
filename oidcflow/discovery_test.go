package oidcflow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
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
// the Logto SDKs) read these members to decide how to talk to Latch.
func TestDiscoveryContract(t *testing.T) {
	d := NewDiscovery("https://id.example/oidc", []string{AlgES384})
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"authorization_endpoint", d.AuthorizationEndpoint, "https://id.example/oidc/auth"},
		{"token_endpoint", d.TokenEndpoint, "https://id.example/oidc/token"},
		{"userinfo_endpoint", d.UserinfoEndpoint, "https://id.example/oidc/me"},
		{"end_session_endpoint", d.EndSessionEndpoint, "https://id.example/oidc/session/end"},
		{"jwks_uri", d.JWKSURI, "https://id.example/oidc/jwks"},
		{"response_types_supported", d.ResponseTypesSupported, []string{"code"}},
		{"grant_types_supported", d.GrantTypesSupported, []string{"authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"}},
		{"code_challenge_methods_supported", d.CodeChallengeMethodsSupported, []string{"S256"}},
		{"token_endpoint_auth_methods_supported", d.TokenEndpointAuthMethodsSupported, []string{"none", "client_secret_basic", "client_secret_post"}},
		{"id_token_signing_alg_values_supported", d.IDTokenSigningAlgValuesSupported, []string{"ES384"}},
		{"authorization_response_iss_parameter_supported", d.AuthorizationResponseIssParameter, true},
		{"claims_parameter_supported", d.ClaimsParameterSupported, false},
	}
	for _, c := range checks {
		g, _ := json.Marshal(c.got)
		w, _ := json.Marshal(c.want)
		if !bytes.Equal(g, w) {
			t.Errorf("%s = %s, want %s", c.name, g, w)
		}
	}
	for _, s := range []string{"openid", "offline_access", "profile", "email", "phone", "custom_data", "identities", "roles"} {
		if !slices.Contains(d.ScopesSupported, s) {
			t.Errorf("scopes_supported lacks %s", s)
		}
	}
	for _, c := range []string{"sub", "sid", "auth_time", "at_hash", "username", "created_at", "updated_at", "email_verified", "custom_data", "roles"} {
		if !slices.Contains(d.ClaimsSupported, c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}
}
