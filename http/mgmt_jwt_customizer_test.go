package httpapi

import (
	"encoding/json"
	"testing"
)

// Logto's logto-config.test.ts, jwt-customizer part: PUT/PATCH/GET/DELETE and the
// list, with Logto's statuses and codes.
func TestMgmtJwtCustomizerCRUD(t *testing.T) {
	e := newMgmtEnv(t)
	const p = "/api/configs/jwt-customizer/"
	cc := map[string]any{
		"script": "", "blockIssuanceOnError": false,
		"environmentVariables": map[string]any{"foo": "bar", "API_KEY": "12345"},
		"contextSample":        map[string]any{"application": map[string]any{"id": "my-app", "name": "My M2M App"}},
		"tokenSample":          map[string]any{"jti": "j", "aud": "http://localhost:3000/api/test", "scope": "read write", "clientId": "my_app", "kind": "ClientCredentials"},
	}
	at := map[string]any{"script": "s", "contextSample": map[string]any{"user": map[string]any{"id": "123"}}}

	for _, typ := range []string{"access-token", "client-credentials"} {
		e.wantError("GET", p+typ, nil, 404, "entity.not_exists_with_id")
		e.wantError("DELETE", p+typ, nil, 404, "entity.not_found")
		e.wantError("PATCH", p+typ, map[string]any{"script": "x"}, 404, "entity.not_exists_with_id")
	}
	e.wantError("GET", p+"id-token", nil, 400, "guard.invalid_input")
	e.wantError("PUT", p+"client-credentials", map[string]any{"environmentVariables": map[string]any{}}, 400, "guard.invalid_input") // script required
	e.wantError("PUT", p+"client-credentials", map[string]any{"script": "x", "extra": 1}, 400, "guard.invalid_input")                // strict
	e.wantError("PUT", p+"client-credentials", map[string]any{"script": "x", "environmentVariables": map[string]any{"a": 1}}, 400, "guard.invalid_input")
	e.wantError("PUT", p+"access-token", map[string]any{"script": "x", "contextSample": map[string]any{}}, 400, "guard.invalid_input") // user required

	if got := e.call("PUT", p+"client-credentials", cc, 201); !jsonEqual(got, cc) {
		t.Fatalf("PUT answered %v", got)
	}
	cc2 := map[string]any{}
	for k, v := range cc {
		cc2[k] = v
	}
	cc2["script"] = "new script client credentials"
	if got := e.call("PUT", p+"client-credentials", cc2, 200); !jsonEqual(got, cc2) {
		t.Fatalf("second PUT answered %v", got)
	}
	cc2["script"] = "abc"
	if got := e.call("PATCH", p+"client-credentials", map[string]any{"script": "abc"}, 200); !jsonEqual(got, cc2) {
		t.Fatalf("PATCH answered %v", got)
	}
	if got := e.call("GET", p+"client-credentials", nil, 200); !jsonEqual(got, cc2) {
		t.Fatalf("GET answered %v", got)
	}
	e.call("PUT", p+"access-token", at, 201)
	list, _ := e.list("/api/configs/jwt-customizer")
	if len(list) != 2 || list[0]["key"] != "jwt.accessToken" || list[1]["key"] != "jwt.clientCredentials" || !jsonEqual(list[1]["value"], cc2) {
		t.Fatalf("list %v", list)
	}
	e.call("DELETE", p+"access-token", nil, 204)
	e.wantError("GET", p+"access-token", nil, 404, "entity.not_exists_with_id")
	if list, _ := e.list("/api/configs/jwt-customizer"); len(list) != 1 || list[0]["key"] != "jwt.clientCredentials" {
		t.Fatalf("list after delete %v", list)
	}
}

// POST /api/configs/jwt-customizer/test runs the script on the samples: the claims,
// 403 jwt_customizer.general on denyAccess, 422 on a script error or a runaway loop.
func TestMgmtJwtCustomizerTest(t *testing.T) {
	e := newMgmtEnv(t)
	const p = "/api/configs/jwt-customizer/test"
	body := func(typ, script string) map[string]any {
		return map[string]any{
			"tokenType": typ, "script": script,
			"environmentVariables": map[string]any{"foo": "bar", "API_KEY": "12345"},
			"token":                map[string]any{"jti": "j", "clientId": "my_app", "kind": "AccessToken"},
			"context":              map[string]any{"user": map[string]any{"id": "123"}},
		}
	}
	got := e.call("POST", p, body("access-token", "const getCustomJwtClaims = async ({ token, context, environmentVariables }) => { return { user_id: context?.user?.id ?? 'unknown', c: token.clientId }; };"), 200)
	if got["user_id"] != "123" || got["c"] != "my_app" {
		t.Fatalf("access token test: %v", got)
	}
	got = e.call("POST", p, body("client-credentials", "const getCustomJwtClaims = async ({ environmentVariables }) => { return { ...environmentVariables }; }"), 200)
	if got["foo"] != "bar" || got["API_KEY"] != "12345" {
		t.Fatalf("client credentials test: %v", got)
	}
	ae := e.wantError("POST", p, body("access-token", "const getCustomJwtClaims = async ({ api }) => { return api.denyAccess('You are not allowed to access this resource'); };"), 403, "jwt_customizer.general")
	if d, _ := ae.Data.(map[string]any); d["message"] != "You are not allowed to access this resource" {
		t.Fatalf("deny data %v", ae.Data)
	}
	e.wantError("POST", p, body("access-token", "function getCustomJwtClaims() { throw new Error('boom'); }"), 422, "jwt_customizer.general")
	e.wantError("POST", p, body("access-token", "function getCustomJwtClaims() { while (true) {} }"), 422, "jwt_customizer.general")
	e.wantError("POST", p, body("access-token", "function getCustomJwtClaims() { return [1, 2]; }"), 422, "jwt_customizer.general")
	e.wantError("POST", p, body("id-token", "x"), 400, "guard.invalid_input")
	noCtx := body("access-token", "x")
	delete(noCtx, "context")
	e.wantError("POST", p, noCtx, 400, "guard.invalid_input")
}

// jsonEqual compares a and b as JSON values.
func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	na, _ := json.Marshal(va)
	nb, _ := json.Marshal(vb)
	return string(na) == string(nb)
}
