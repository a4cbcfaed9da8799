package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// Logto's client-credentials-grant test: a machine-to-machine client asking for an
// organization it is not associated with (a missing organization, or one it is not a
// member of) gets 403 access_denied "app has not associated with the organization",
// never a token. Through a real HTTP server, with client_secret_post as Logto's test.
func TestClientCredentialsOutsideOrganization(t *testing.T) {
	e := newMgmtEnv(t)
	app := e.call("POST", "/api/applications", obj{"name": "robot", "type": "MachineToMachine"}, http.StatusOK)
	appID, secret := str(app, "id"), str(app, "secret")
	if secret == "" {
		t.Fatalf("no secret in %v", app)
	}
	org := e.call("POST", "/api/organizations", obj{"name": "acme"}, http.StatusCreated)
	srv := httptest.NewServer(e.s.Handler())
	t.Cleanup(srv.Close)

	token := func(orgID string) (int, map[string]any) {
		t.Helper()
		form := url.Values{"client_id": {appID}, "client_secret": {secret}, "grant_type": {"client_credentials"}, "organization_id": {orgID}}
		resp, err := srv.Client().Post(srv.URL+"/oidc/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	for _, orgID := range []string{"not-found", str(org, "id")} {
		st, body := token(orgID)
		if st != http.StatusForbidden || body["error"] != "access_denied" ||
			body["error_description"] != "app has not associated with the organization" || body["access_token"] != nil {
			t.Errorf("organization %s: %d %v, want 403 access_denied", orgID, st, body)
		}
	}
	// A member gets its organization token.
	e.call("POST", "/api/organizations/"+str(org, "id")+"/applications", obj{"applicationIds": []string{appID}}, http.StatusCreated)
	if st, body := token(str(org, "id")); st != http.StatusOK || body["access_token"] == nil {
		t.Errorf("member: %d %v", st, body)
	}
}
