package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
)

// accessClaims decodes the verified payload of a Latch JWT access token.
type accessClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	JTI      string `json:"jti"`
	IAT      int64  `json:"iat"`
	EXP      int64  `json:"exp"`
}

// verify checks tok against the node's published JWKS with go-oidc's remote key set,
// as any resource server would.
func (n *testNode) verify(tok string) accessClaims {
	n.t.Helper()
	ctx := n.t.Context()
	provider, err := oidc.NewProvider(ctx, n.issuer())
	if err != nil {
		n.t.Fatalf("discovery: %v", err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		n.t.Fatal(err)
	}
	ks := oidc.NewRemoteKeySet(ctx, meta.JWKSURI)
	payload, err := ks.VerifySignature(ctx, tok)
	if err != nil {
		n.t.Fatalf("token does not verify against %s: %v", meta.JWKSURI, err)
	}
	var c accessClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		n.t.Fatal(err)
	}
	return c
}

func TestClientCredentialsEndToEnd(t *testing.T) {
	n := startNode(t, t.TempDir(), nil)
	ctx := t.Context()
	tok, err := n.clientToken(ctx, testAdminID, testAdminSecret, "https://default.logto.app/api", "all")
	if err != nil {
		t.Fatal(err)
	}
	c := n.verify(tok)
	if c.Iss != n.issuer() || c.Sub != testAdminID || c.ClientID != testAdminID ||
		c.Aud != "https://default.logto.app/api" || c.Scope != "all" || c.JTI == "" || c.EXP-c.IAT != 3600 {
		t.Fatalf("claims %+v", c)
	}
	// The header carries typ at+jwt (RFC 9068), the alg and the kid of the published key.
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", tok)
	}
	rawHdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct{ Alg, Kid, Typ string }
	if err := json.Unmarshal(rawHdr, &hdr); err != nil || hdr.Typ != "at+jwt" || hdr.Alg != "ES256" ||
		!strings.Contains(getBody(t, n.issuer()+"/jwks"), `"kid":"`+hdr.Kid+`"`) {
		t.Fatalf("header %s: %v", rawHdr, err)
	}
}

func TestTokenEndpointErrors(t *testing.T) {
	n := startNode(t, t.TempDir(), nil)
	admin := n.adminToken(t.Context())
	var trad struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	n.createApp(admin, map[string]any{"name": "web", "type": "Traditional",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{"http://127.0.0.1/cb"}, "postLogoutRedirectUris": []string{}}}, &trad)

	mgmt := "https://default.logto.app/api"
	tests := []struct {
		name       string
		form       url.Values
		basicID    string
		basicPW    string
		wantStatus int
		wantCode   string
	}{
		{name: "wrong secret", form: url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}}, basicID: testAdminID, basicPW: "nope", wantStatus: 401, wantCode: "invalid_client"},
		{name: "unknown client", form: url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}, "client_id": {"ghost"}, "client_secret": {"x"}}, wantStatus: 400, wantCode: "invalid_client"},
		{name: "no client", form: url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}}, wantStatus: 400, wantCode: "invalid_request"},
		{name: "unknown resource", form: url.Values{"grant_type": {"client_credentials"}, "resource": {"https://nowhere.example"}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 400, wantCode: "invalid_target"},
		{name: "unsupported grant", form: url.Values{"grant_type": {"password"}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 400, wantCode: "unsupported_grant_type"},
		{name: "missing grant", form: url.Values{"resource": {mgmt}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 400, wantCode: "invalid_request"},
		{name: "traditional app may not use client_credentials", form: url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}}, basicID: trad.ID, basicPW: trad.Secret, wantStatus: 400, wantCode: "unauthorized_client"},
		{name: "M2M app may not use authorization_code", form: url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 400, wantCode: "unauthorized_client"},
		{name: "duplicated parameter", form: url.Values{"grant_type": {"client_credentials"}, "scope": {"all", "other"}, "resource": {mgmt}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 400, wantCode: "invalid_request"},
		{name: "two auth methods", form: url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}, "client_secret": {testAdminSecret}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 400, wantCode: "invalid_request"},
		{name: "body client_id disagrees with Basic", form: url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}, "client_id": {"other"}}, basicID: testAdminID, basicPW: testAdminSecret, wantStatus: 401, wantCode: "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, hdr, body := n.postToken(tt.form, tt.basicID, tt.basicPW)
			if status != tt.wantStatus || body["error"] != tt.wantCode {
				t.Fatalf("got %d %v, want %d %s", status, body, tt.wantStatus, tt.wantCode)
			}
			if status == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("401 without a Basic challenge: %q", hdr.Get("WWW-Authenticate"))
			}
			if hdr.Get("Cache-Control") != "no-store" {
				t.Fatalf("Cache-Control %q", hdr.Get("Cache-Control"))
			}
		})
	}
	// Both Logto SDK styles work: client_id in the body together with agreeing Basic
	// credentials, and client_secret_post.
	for _, tt := range []struct {
		name     string
		form     url.Values
		id, pass string
	}{
		{"basic with body client_id", url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}, "scope": {"all"}, "client_id": {testAdminID}}, testAdminID, testAdminSecret},
		{"client_secret_post", url.Values{"grant_type": {"client_credentials"}, "resource": {mgmt}, "scope": {"all"}, "client_id": {testAdminID}, "client_secret": {testAdminSecret}}, "", ""},
	} {
		status, _, body := n.postToken(tt.form, tt.id, tt.pass)
		if status != 200 || body["token_type"] != "Bearer" || body["scope"] != "all" {
			t.Fatalf("%s: %d %v", tt.name, status, body)
		}
	}
}

func TestManagementAPIEndToEnd(t *testing.T) {
	n := startNode(t, t.TempDir(), nil)
	ctx := t.Context()
	admin := n.adminToken(ctx)

	// No token -> 401; a token for another audience -> 403.
	if status, _ := n.api("", "GET", "/api/applications", nil, nil); status != 401 {
		t.Fatalf("no token: %d", status)
	}
	if status, _ := n.api("garbage", "GET", "/api/applications", nil, nil); status != 401 {
		t.Fatalf("bad token: %d", status)
	}

	var res struct{ ID, Indicator string }
	n.mustAPI(admin, "POST", "/api/resources", map[string]any{"name": "Orders", "indicator": "https://orders.example.com", "accessTokenTtl": 600}, 201, &res)
	var read, write struct{ ID, Name string }
	n.mustAPI(admin, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "read:orders", "description": "read"}, 201, &read)
	n.mustAPI(admin, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "write:orders", "description": "write"}, 201, &write)
	var role struct{ ID string }
	n.mustAPI(admin, "POST", "/api/roles", map[string]any{"name": "order-reader", "description": "reads orders", "type": "MachineToMachine", "scopeIds": []string{read.ID}}, 200, &role)
	var app struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	n.createApp(admin, map[string]any{"name": "worker", "type": "MachineToMachine"}, &app)
	if app.ID == "" || app.Secret == "" {
		t.Fatalf("created app %+v", app)
	}
	// The application object never carries the secret (Logto): the secrets route does.
	var got map[string]any
	n.mustAPI(admin, "GET", "/api/applications/"+app.ID, nil, 200, &got)
	if s, ok := got["secret"]; ok && s != "" {
		t.Fatalf("GET returns the secret: %v", got)
	}

	// Without the role, the app gets a token with no scope.
	tok, err := n.clientToken(ctx, app.ID, app.Secret, res.Indicator, "read:orders", "write:orders")
	if err != nil {
		t.Fatal(err)
	}
	if c := n.verify(tok); c.Scope != "" || c.Aud != res.Indicator || c.EXP-c.IAT != 600 {
		t.Fatalf("before role: %+v", c)
	}
	// A token for the orders API is refused by the Management API (wrong audience).
	if status, _ := n.api(tok, "GET", "/api/applications", nil, nil); status != 403 {
		t.Fatalf("foreign audience: %d", status)
	}

	n.mustAPI(admin, "POST", "/api/roles/"+role.ID+"/applications", map[string]any{"applicationIds": []string{app.ID}}, 201, nil)
	tok, err = n.clientToken(ctx, app.ID, app.Secret, res.Indicator, "read:orders", "write:orders")
	if err != nil {
		t.Fatal(err)
	}
	if c := n.verify(tok); c.Scope != "read:orders" {
		t.Fatalf("with role, scope = %q", c.Scope)
	}
	// Omitting scope gives none (Logto grants only requested scopes).
	tok, _ = n.clientToken(ctx, app.ID, app.Secret, res.Indicator)
	if c := n.verify(tok); c.Scope != "" {
		t.Fatalf("omitted scope gives %q", c.Scope)
	}

	n.mustAPI(admin, "DELETE", "/api/roles/"+role.ID+"/applications/"+app.ID, nil, 204, nil)
	tok, _ = n.clientToken(ctx, app.ID, app.Secret, res.Indicator, "read:orders")
	if c := n.verify(tok); c.Scope != "" {
		t.Fatalf("after unassign, scope = %q", c.Scope)
	}

	// Paging: Total-Number and Link.
	for i := range 3 {
		n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": "user" + string(rune('a'+i)), "password": "correct horse battery"}, 200, nil)
	}
	var users []map[string]any
	status, hdr := n.api(admin, "GET", "/api/users?page=1&page_size=2", nil, &users)
	if status != 200 || len(users) != 2 || hdr.Get("Total-Number") != "3" || !strings.Contains(hdr.Get("Link"), `rel="next"`) {
		t.Fatalf("paging: %d %d users, headers %v", status, len(users), hdr)
	}
	for _, u := range users {
		for k := range u {
			if strings.Contains(strings.ToLower(k), "password") && k != "hasPassword" {
				t.Fatalf("user JSON leaks %q", k)
			}
		}
	}
	// Logto's error shape.
	var e struct{ Code, Message string }
	status, _ = n.api(admin, "GET", "/api/users/does-not-exist", nil, &e)
	if status != 404 || e.Code == "" || e.Message == "" {
		t.Fatalf("404 shape: %d %+v", status, e)
	}
}

func TestRestartKeepsKeysAndDirectory(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, func(c *serveConfig) { c.AdminClientID, c.AdminClientSecret = "", "" })
	raw, err := os.ReadFile(filepath.Join(dir, "admin-credentials.json"))
	if err != nil {
		t.Fatalf("admin credentials not written: %v", err)
	}
	fi, _ := os.Stat(filepath.Join(dir, "admin-credentials.json"))
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin-credentials.json mode %v", fi.Mode().Perm())
	}
	var creds adminCredentials
	if err := json.Unmarshal(raw, &creds); err != nil || creds.ClientID == "" || creds.ClientSecret == "" {
		t.Fatalf("credentials %s: %v", raw, err)
	}
	if !strings.Contains(n.out.String(), creds.ClientSecret) {
		t.Fatal("generated secret was not printed")
	}
	tok1, err := n.clientToken(t.Context(), creds.ClientID, creds.ClientSecret, creds.Resource, creds.Scope)
	if err != nil {
		t.Fatal(err)
	}
	jwks1 := getBody(t, n.issuer()+"/jwks")
	n.stop()

	n2 := startNode(t, dir, func(c *serveConfig) { c.AdminClientID, c.AdminClientSecret = "", "" })
	if strings.Contains(n2.out.String(), creds.ClientSecret) {
		t.Fatal("secret printed again on restart")
	}
	if jwks2 := getBody(t, n2.issuer()+"/jwks"); jwks2 != jwks1 {
		t.Fatalf("signing keys changed across restart:\n%s\n%s", jwks1, jwks2)
	}
	// The token from before the restart verifies against the new process's keys, and the
	// generated admin credentials still work.
	n2.verify(tok1)
	if _, err := n2.clientToken(t.Context(), creds.ClientID, creds.ClientSecret, creds.Resource, creds.Scope); err != nil {
		t.Fatal(err)
	}

	// Switching the algorithm keeps the old key published as Previous.
	n2.stop()
	n3 := startNode(t, dir, func(c *serveConfig) { c.AdminClientID, c.AdminClientSecret, c.SigningAlg = "", "", "RS256" })
	n3.verify(tok1)
	var set struct{ Keys []struct{ Alg, Kid string } }
	_ = json.Unmarshal([]byte(getBody(t, n3.issuer()+"/jwks")), &set)
	algs := []string{}
	for _, k := range set.Keys {
		algs = append(algs, k.Alg)
	}
	if !slices.Contains(algs, "RS256") || !slices.Contains(algs, "ES256") {
		t.Fatalf("jwks algs %v", algs)
	}
	tok3, err := n3.clientToken(t.Context(), creds.ClientID, creds.ClientSecret, creds.Resource, creds.Scope)
	if err != nil {
		t.Fatal(err)
	}
	n3.verify(tok3)
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
