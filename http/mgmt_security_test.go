package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latchid/latch/directory"
)

// TestMgmtRefusesDangerousRedirectURIs: a javascript: (data:, vbscript:, file:)
// redirect, post-logout redirect or back-channel logout URI is a 400 in Logto's shape
// on create and on PATCH, and nothing is stored (issue 12).
func TestMgmtRefusesDangerousRedirectURIs(t *testing.T) {
	e := newMgmtEnv(t)
	for _, field := range []string{"redirectUris", "postLogoutRedirectUris"} {
		for _, uri := range []string{"javascript:alert(document.cookie)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "file:///etc/passwd"} {
			for _, typ := range []string{"Native", "SPA", "Traditional"} {
				ae := e.wantError("POST", "/api/applications", map[string]any{
					"name": "x", "type": typ, "oidcClientMetadata": map[string]any{field: []string{uri}},
				}, http.StatusBadRequest, "guard.invalid_input")
				if d, _ := ae.Data.(map[string]any); d["field"] != "oidcClientMetadata."+field {
					t.Errorf("%s %s %q: data = %v", typ, field, uri, ae.Data)
				}
			}
		}
	}
	e.wantError("POST", "/api/applications", map[string]any{
		"name": "x", "type": "Traditional", "oidcClientMetadata": map[string]any{"backchannelLogoutUri": "javascript:alert(1)"},
	}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", "/api/applications", map[string]any{
		"name": "x", "type": "SPA", "oidcClientMetadata": map[string]any{"redirectUris": []string{"io.logto://callback"}},
	}, http.StatusBadRequest, "guard.invalid_input")

	app := e.call("POST", "/api/applications", map[string]any{
		"name": "native", "type": "Native", "oidcClientMetadata": map[string]any{"redirectUris": []string{"io.logto://callback"}},
	}, http.StatusOK)
	id := app["id"].(string)
	for _, body := range []map[string]any{
		{"redirectUris": []string{"javascript:alert(1)"}},
		{"postLogoutRedirectUris": []string{"data:text/html,x"}},
		{"backchannelLogoutUri": "vbscript:msgbox(1)"},
	} {
		e.wantError("PATCH", "/api/applications/"+id, map[string]any{"oidcClientMetadata": body}, http.StatusBadRequest, "guard.invalid_input")
	}
	got := e.call("GET", "/api/applications/"+id, nil, http.StatusOK)
	m := got["oidcClientMetadata"].(map[string]any)
	if uris := m["redirectUris"].([]any); len(uris) != 1 || uris[0] != "io.logto://callback" || len(m["postLogoutRedirectUris"].([]any)) != 0 || m["backchannelLogoutUri"] != nil {
		t.Fatalf("a refused PATCH was stored: %v", m)
	}
	apps, _ := e.list("/api/applications")
	if len(apps) != 2 { // the bootstrap admin app and "native"
		t.Fatalf("refused applications were stored: %d applications", len(apps))
	}
}

// TestMgmtAdminAppProtected is the regression test of issue 12: through the
// Management API, the bootstrap admin application deleted itself or dropped its
// Management API role, and every operator was locked out. Each attempt is a 400 in
// Logto's shape, changes nothing, and the admin app still gets a working token.
func TestMgmtAdminAppProtected(t *testing.T) {
	e := newMgmtEnv(t)
	role, _ := e.dir.RoleByName(directory.ManagementAPIRoleName)
	res, _ := e.dir.ResourceByIndicator(directory.ManagementAPIIndicator)
	scopes, _ := e.dir.ResourceScopes(res.ID)
	other := e.call("POST", "/api/roles", map[string]any{"name": "other", "type": "MachineToMachine"}, http.StatusOK)
	otherID := other["id"].(string)

	const drop = "application.cannot_remove_admin_app_access"
	e.wantError("DELETE", "/api/applications/"+mgmtAdminID, nil, http.StatusBadRequest, "application.cannot_delete_admin_app")
	e.wantError("DELETE", "/api/applications/"+mgmtAdminID+"/roles/"+role.ID, nil, http.StatusBadRequest, drop)
	e.wantError("PUT", "/api/applications/"+mgmtAdminID+"/roles", map[string]any{"roleIds": []string{}}, http.StatusBadRequest, drop)
	e.wantError("PUT", "/api/applications/"+mgmtAdminID+"/roles", map[string]any{"roleIds": []string{otherID}}, http.StatusBadRequest, drop)
	e.wantError("DELETE", "/api/roles/"+role.ID, nil, http.StatusBadRequest, drop)
	e.wantError("DELETE", "/api/roles/"+role.ID+"/applications/"+mgmtAdminID, nil, http.StatusBadRequest, drop)
	e.wantError("DELETE", "/api/roles/"+role.ID+"/scopes/"+scopes[0].ID, nil, http.StatusBadRequest, drop)

	// Nothing changed: not even the role the refused PUT would have added.
	roles, _ := e.list("/api/applications/" + mgmtAdminID + "/roles?page=1")
	if len(roles) != 1 || roles[0]["id"] != role.ID {
		t.Fatalf("admin roles = %v, want only %s", roles, role.ID)
	}
	token := func() int {
		form := url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"all"}}
		r := httptest.NewRequest("POST", "/oidc/token", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(mgmtAdminID, mgmtAdminSecret)
		w := httptest.NewRecorder()
		e.s.Handler().ServeHTTP(w, r)
		if !strings.Contains(w.Body.String(), `"scope":"all"`) {
			return 0
		}
		return w.Code
	}
	if c := token(); c != http.StatusOK {
		t.Fatalf("admin token after the refused changes: %d", c)
	}

	// A PUT that keeps the Management API role is fine.
	e.call("PUT", "/api/applications/"+mgmtAdminID+"/roles", map[string]any{"roleIds": []string{role.ID, otherID}}, http.StatusOK)
	e.call("PUT", "/api/applications/"+mgmtAdminID+"/roles", map[string]any{"roleIds": []string{role.ID}}, http.StatusOK)
}
