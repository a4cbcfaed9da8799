package httpapi

import (
	"net/http"
	"testing"
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
