package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// jwtPayload verifies tok against the node's JWKS and returns all its claims.
func (n *testNode) jwtPayload(tok string) map[string]any {
	n.t.Helper()
	n.verify(tok)
	parts := strings.Split(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		n.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		n.t.Fatal(err)
	}
	return m
}

// Logto's custom JWT (application.roles.test.ts "custom JWT", get-access-token.test.ts):
// the configured scripts run at issuance and their claims land in the JWT access
// tokens, without overwriting registered claims; denyAccess refuses the token; a
// runaway script is interrupted and the token is issued without extra claims, or
// refused with blockIssuanceOnError.
func TestCustomJwtEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx) // before any client-credentials script runs

	// client_credentials: environment variables and the application context.
	n.mustAPI(admin, "PUT", "/api/configs/jwt-customizer/client-credentials", map[string]any{
		"script": `const getCustomJwtClaims = async ({ token, context, environmentVariables }) => {
			return { ...environmentVariables, app_name: context.application.name, kind: token.kind, sub: 'forged', scope: 'forged' };
		}`,
		"environmentVariables": map[string]any{"foo": "bar", "API_KEY": "12345"},
	}, http.StatusCreated, nil)
	var m2m struct{ ID, Secret string }
	n.createApp(admin, map[string]any{"name": "m2m-custom-jwt", "type": "MachineToMachine"}, &m2m)
	st, _, body := n.postToken(url.Values{"grant_type": {"client_credentials"}, "resource": {e.api}}, m2m.ID, m2m.Secret)
	if st != 200 {
		t.Fatalf("client_credentials: %d %v", st, body)
	}
	c := n.jwtPayload(body["access_token"].(string))
	if c["foo"] != "bar" || c["API_KEY"] != "12345" || c["app_name"] != "m2m-custom-jwt" || c["kind"] != "ClientCredentials" {
		t.Fatalf("client_credentials claims %v", c)
	}
	if c["sub"] != m2m.ID || c["scope"] != nil {
		t.Fatalf("the script overwrote a registered claim: %v", c)
	}
	n.mustAPI(admin, "DELETE", "/api/configs/jwt-customizer/client-credentials", nil, http.StatusNoContent, nil)

	// A user's access token (refresh_token with resource): claims from context.user.
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("resource", e.api)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "s", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	want := http.StatusCreated // the first PUT creates, the next ones replace
	putAT := func(cfg map[string]any) {
		t.Helper()
		n.mustAPI(admin, "PUT", "/api/configs/jwt-customizer/access-token", cfg, want, nil)
		want = http.StatusOK
	}
	refresh := func() (int, map[string]any) {
		t.Helper()
		st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {e.api}}, e.web.ID, e.web.Secret)
		return st, body
	}
	putAT(map[string]any{
		"script": `const getCustomJwtClaims = async ({ token, context, environmentVariables }) => {
			const roles = context.user.roles.map((r) => r.name);
			return { user_id: context.user.id, username: context.user.username, plan: context.user.customData.plan,
				hasPassword: context.user.hasPassword, roles, gty: token.gty, env: environmentVariables.foo,
				app: context.application.id, gid: 'forged' };
		}`,
		"environmentVariables": map[string]any{"foo": "bar"},
	})
	st, body = refresh()
	if st != 200 {
		t.Fatalf("refresh with resource: %d %v", st, body)
	}
	c = n.jwtPayload(body["access_token"].(string))
	if c["user_id"] != e.userID || c["username"] != browserUser || c["plan"] != "gold" || c["hasPassword"] != true ||
		c["gty"] != "refresh_token" || c["env"] != "bar" || c["app"] != e.web.ID || c["sub"] != e.userID || c["aud"] != e.api {
		t.Fatalf("user token claims %v", c)
	}
	if roles, _ := c["roles"].([]any); len(roles) != 1 || roles[0] != "reader" {
		t.Fatalf("roles %v", c["roles"])
	}
	if c["gid"] == "forged" {
		t.Fatal("the script overwrote gid")
	}

	// denyAccess: the token request fails with access_denied and the script's message.
	putAT(map[string]any{"script": `const getCustomJwtClaims = async ({ api }) => api.denyAccess('You are not allowed to access this resource');`})
	if st, body = refresh(); st != 400 || body["error"] != "access_denied" || body["error_description"] != "You are not allowed to access this resource" {
		t.Fatalf("denied: %d %v", st, body)
	}

	// A runaway script is interrupted: the token comes without extra claims...
	putAT(map[string]any{"script": `function getCustomJwtClaims() { while (true) {} }`})
	if st, body = refresh(); st != 200 {
		t.Fatalf("runaway script: %d %v", st, body)
	}
	if c = n.jwtPayload(body["access_token"].(string)); c["user_id"] != nil || c["sub"] != e.userID {
		t.Fatalf("runaway script claims %v", c)
	}
	// ...or, with blockIssuanceOnError, the request fails with invalid_request.
	putAT(map[string]any{"script": `function getCustomJwtClaims() { while (true) {} }`, "blockIssuanceOnError": true})
	if st, body = refresh(); st != 400 || body["error"] != "invalid_request" || !strings.HasPrefix(body["error_description"].(string), "Custom claims script error: ") {
		t.Fatalf("blocking runaway script: %d %v", st, body)
	}
	// A script error without blocking: the token, without extra claims.
	putAT(map[string]any{"script": `function getCustomJwtClaims() { throw new Error('boom'); }`})
	if st, body = refresh(); st != 200 {
		t.Fatalf("failing script: %d %v", st, body)
	}
	n.mustAPI(admin, "DELETE", "/api/configs/jwt-customizer/access-token", nil, http.StatusNoContent, nil)
	if st, body = refresh(); st != 200 {
		t.Fatalf("after delete: %d %v", st, body)
	}
}
