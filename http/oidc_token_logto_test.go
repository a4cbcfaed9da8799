package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tokenCall posts body to /oidc/token with contentType (and Basic credentials when
// basicID is set) and returns the status, the decoded JSON answer and the raw headers.
func tokenCall(t *testing.T, c *apiClient, contentType, body, basicID, basicSecret string) (int, obj, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", c.base+"/oidc/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out obj
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("token answer %d is not JSON: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, out, resp.Header
}

// jwtPayload decodes a JWT's claims without verifying it (the signature is tested
// elsewhere; here only the claims' presence matters).
func jwtPayload(t *testing.T, jwt string) obj {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims obj
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// Logto's oidc/client-credentials-grant and oidc/content-type-json tests, through a
// real server: the client_credentials grant's scope, default resource, organization
// token scope and error shapes, and the token endpoint's JSON bodies.
func TestTokenEndpointAsLogto(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var app, spa, res, def, scope, role, org obj
	call := func(method, path string, body any, out *obj) {
		t.Helper()
		st, _, raw := c.do(method, path, body)
		if st >= 300 {
			t.Fatalf("%s %s: %d %s", method, path, st, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	call("POST", "/api/applications", obj{"name": "cc", "type": "MachineToMachine"}, &app)
	call("POST", "/api/applications", obj{"name": "spa", "type": "SPA"}, &spa)
	call("POST", "/api/resources", obj{"name": "r", "indicator": "https://r.example"}, &res)
	call("POST", "/api/resources/"+str(res, "id")+"/scopes", obj{"name": "read"}, &scope)
	call("POST", "/api/roles", obj{"name": "cc-role", "description": "d", "type": "MachineToMachine",
		"scopeIds": []string{str(scope, "id")}}, &role)
	call("POST", "/api/roles/"+str(role, "id")+"/applications", obj{"applicationIds": []string{str(app, "id")}}, nil)
	call("POST", "/api/organizations", obj{"name": "o"}, &org)
	call("POST", "/api/organizations/"+str(org, "id")+"/applications", obj{"applicationIds": []string{str(app, "id")}}, nil)
	id, secret := str(app, "id"), str(app, "secret")
	const formType = "application/x-www-form-urlencoded"
	post := func(v url.Values) (int, obj, http.Header) {
		v.Set("client_id", id)
		v.Set("client_secret", secret)
		v.Set("grant_type", "client_credentials")
		return tokenCall(t, c, formType, v.Encode(), "", "")
	}
	wantError := func(name string, status int, got obj, gotStatus int, code, desc string) {
		t.Helper()
		if gotStatus != status || got["error"] != code || got["error_description"] != desc {
			t.Errorf("%s: %d %v, want %d %s %q", name, gotStatus, got, status, code, desc)
		}
	}

	// Client authentication: an unknown client in the body is 400 (Logto's words); with
	// Basic credentials 401 and a challenge (RFC 6749 5.2); none at all invalid_request.
	st, got, _ := tokenCall(t, c, formType, "grant_type=client_credentials&client_id=not-found&client_secret=x", "", "")
	wantError("unknown client (post)", 400, got, st, "invalid_client", "invalid client not-found")
	st, got, h := tokenCall(t, c, formType, "grant_type=client_credentials", "not-found", "x")
	if st != 401 || got["error"] != "invalid_client" || h.Get("WWW-Authenticate") == "" {
		t.Errorf("unknown client (basic): %d %v %v", st, got, h)
	}
	st, got, _ = tokenCall(t, c, formType, "grant_type=client_credentials", "", "")
	wantError("no client", 400, got, st, "invalid_request", "no client authentication mechanism provided")

	// Resources: none and no default resource; an unknown one.
	st, got, _ = post(url.Values{})
	wantError("no resource", 400, got, st, "invalid_target", "both `resource` and `organization_id` are not provided")
	st, got, _ = post(url.Values{"resource": {"https://not-found"}})
	wantError("unknown resource", 400, got, st, "invalid_target", "resource indicator is missing, or unknown")

	// Scope: only what is requested and held; omitted or empty gives none, and then
	// neither the answer nor the JWT has a scope.
	for _, tc := range []struct {
		name  string
		form  url.Values
		scope any
	}{
		{"scope omitted", url.Values{"resource": {"https://r.example"}}, nil},
		{"scope empty", url.Values{"resource": {"https://r.example"}, "scope": {""}}, nil},
		{"scope held and not", url.Values{"resource": {"https://r.example"}, "scope": {"read nope"}}, "read"},
	} {
		st, got, _ := post(tc.form)
		if st != 200 {
			t.Fatalf("%s: %d %v", tc.name, st, got)
		}
		claims := jwtPayload(t, str(got, "access_token"))
		if got["scope"] != tc.scope || claims["scope"] != tc.scope {
			t.Errorf("%s: answer scope %v, claim %v, want %v", tc.name, got["scope"], claims["scope"], tc.scope)
		}
	}

	// Without resource and organization_id: the default resource.
	call("POST", "/api/resources", obj{"name": "d", "indicator": "https://default.example"}, &def)
	call("PATCH", "/api/resources/"+str(def, "id")+"/is-default", obj{"isDefault": true}, nil)
	st, got, _ = post(url.Values{})
	if st != 200 || jwtPayload(t, str(got, "access_token"))["aud"] != "https://default.example" {
		t.Errorf("default resource: %d %v", st, got)
	}

	// An organization token always carries scope, empty when none is granted.
	st, got, _ = post(url.Values{"organization_id": {str(org, "id")}})
	if st != 200 {
		t.Fatalf("organization token: %d %v", st, got)
	}
	if s, ok := got["scope"]; !ok || s != "" {
		t.Errorf("organization token answer: scope %v (present %v), want \"\"", s, ok)
	}
	if s, ok := jwtPayload(t, str(got, "access_token"))["scope"]; !ok || s != "" {
		t.Errorf("organization token claims: scope %v (present %v), want \"\"", s, ok)
	}

	// JSON bodies are read as forms; a malformed one counts as empty.
	body, _ := json.Marshal(obj{"client_id": id, "client_secret": secret, "grant_type": "client_credentials",
		"resource": "https://r.example", "scope": "read"})
	st, got, _ = tokenCall(t, c, "application/json", string(body), "", "")
	if st != 200 || got["scope"] != "read" {
		t.Errorf("JSON body: %d %v", st, got)
	}
	spaBody := `{"client_id":"` + str(spa, "id") + `"}`
	st, got, _ = tokenCall(t, c, "application/json", spaBody, "", "")
	wantError("JSON, no grant_type", 400, got, st, "invalid_request", "missing required parameter 'grant_type'")
	st, got, _ = tokenCall(t, c, "application/json1", spaBody, "", "")
	wantError("other content type", 400, got, st, "invalid_request",
		"only application/x-www-form-urlencoded content-type bodies are supported on POST /token")
	st, got, _ = tokenCall(t, c, "application/json", "this is not a json", "", "")
	wantError("malformed JSON", 400, got, st, "invalid_request", "no client authentication mechanism provided")
	st, got, _ = tokenCall(t, c, formType, "grant_type=authorization_code\x00&client_id=test&code=test", "", "")
	wantError("NUL byte", 400, got, st, "invalid_request", "null bytes are not allowed in the request body")
	st, got, _ = tokenCall(t, c, formType, "grant_type=client_credentials&client_id=test%00", "", "")
	wantError("encoded NUL byte", 400, got, st, "invalid_request", "null bytes are not allowed in the request body")
}
