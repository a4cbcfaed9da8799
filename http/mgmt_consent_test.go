package httpapi

import (
	"net/http"
	"testing"
)

// Logto's user-consent-scopes routes: shapes, codes and statuses.
func TestMgmtUserConsentScopes(t *testing.T) {
	e := newMgmtEnv(t)
	third := e.call("POST", "/api/applications", map[string]any{"name": "third", "type": "Traditional", "isThirdParty": true,
		"oidcClientMetadata": map[string]any{"redirectUris": []string{"https://t.example/cb"}, "postLogoutRedirectUris": []string{}}}, http.StatusOK)
	first := e.call("POST", "/api/applications", map[string]any{"name": "first", "type": "SPA"}, http.StatusOK)
	res := e.call("POST", "/api/resources", map[string]any{"name": "Orders", "indicator": "https://orders.example"}, http.StatusCreated)
	sc := e.call("POST", "/api/resources/"+str(res, "id")+"/scopes", map[string]any{"name": "read:orders"}, http.StatusCreated)
	base := "/api/applications/" + str(third, "id") + "/user-consent-scopes"

	got := e.call("GET", base, nil, http.StatusOK)
	for _, k := range []string{"organizationScopes", "resourceScopes", "organizationResourceScopes", "userScopes"} {
		if v, ok := got[k].([]any); !ok || len(v) != 0 {
			t.Fatalf("empty consent scopes: %s = %v", k, got[k])
		}
	}
	e.call("POST", base, map[string]any{"userScopes": []string{"profile"}, "resourceScopes": []string{str(sc, "id")}}, http.StatusCreated)
	got = e.call("GET", base, nil, http.StatusOK)
	rs, _ := got["resourceScopes"].([]any)
	if len(rs) != 1 {
		t.Fatalf("resourceScopes %v", got["resourceScopes"])
	}
	group := rs[0].(map[string]any)
	if r := group["resource"].(map[string]any); r["indicator"] != "https://orders.example" || r["name"] != "Orders" {
		t.Fatalf("resource %v", r)
	}
	if s := group["scopes"].([]any); len(s) != 1 || s[0].(map[string]any)["name"] != "read:orders" {
		t.Fatalf("scopes %v", group["scopes"])
	}

	e.wantError("POST", base, map[string]any{"userScopes": []string{"openid"}}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", base, map[string]any{"userScopes": "profile"}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", base, map[string]any{"organizationScopes": []string{"nope"}}, http.StatusUnprocessableEntity, "application.user_consent_scopes_not_found")
	e.wantError("POST", "/api/applications/"+str(first, "id")+"/user-consent-scopes", map[string]any{}, http.StatusUnprocessableEntity, "application.third_party_application_only")
	e.wantError("POST", "/api/applications/nope/user-consent-scopes", map[string]any{}, http.StatusNotFound, "entity.not_exists_with_id")
	e.wantError("GET", "/api/applications/nope/user-consent-scopes", nil, http.StatusNotFound, "entity.not_exists_with_id")
	e.wantError("DELETE", base+"/bogus/x", nil, http.StatusBadRequest, "guard.invalid_input")

	e.call("DELETE", base+"/user-scopes/profile", nil, http.StatusNoContent)
	e.call("DELETE", base+"/resource-scopes/"+str(sc, "id"), nil, http.StatusNoContent)
	// Logto's application-user-consent-scope test: an id not assigned is 404 entity.not_found.
	e.wantError("DELETE", base+"/organization-scopes/not-assigned", nil, http.StatusNotFound, "entity.not_found")
	e.wantError("DELETE", base+"/user-scopes/profile", nil, http.StatusNotFound, "entity.not_found")
	got = e.call("GET", base, nil, http.StatusOK)
	if len(got["userScopes"].([]any)) != 0 || len(got["resourceScopes"].([]any)) != 0 {
		t.Fatalf("after delete %v", got)
	}
}
