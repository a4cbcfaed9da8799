package httpapi

import (
	"net/http"
	"testing"
)

// Logto's application-sign-in-experience test through a real server: 404s, create
// (201) then update (200, only the members sent; "" becomes null), GET reads it back,
// and invalid colors or URLs are refused.
func TestAppSignInExperience(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var app, other obj
	c.call("POST", "/api/applications", obj{"name": "third", "type": "Traditional", "isThirdParty": true}, http.StatusOK, &app)
	c.call("POST", "/api/applications", obj{"name": "first", "type": "SPA"}, http.StatusOK, &other)
	path := "/api/applications/" + str(app, "id") + "/sign-in-experience"
	body := obj{
		"branding":         obj{"logoUrl": "https://logto.dev/logo.png", "darkLogoUrl": "https://logto.dev/logo-dark.png"},
		"color":            obj{"primaryColor": "#f00", "darkPrimaryColor": "#0f0"},
		"customCss":        ".x { color: red; }",
		"termsOfUseUrl":    "https://logto.dev/terms-of-use",
		"privacyPolicyUrl": "https://logto.dev/privacy-policy",
		"displayName":      "Logto Demo",
	}

	c.fail("PUT", "/api/applications/nope/sign-in-experience", body, 404, "entity.not_exists_with_id")
	c.fail("GET", "/api/applications/"+str(other, "id")+"/sign-in-experience", nil, 404, "entity.not_exists_with_id")

	var got obj
	c.call("PUT", path, body, http.StatusCreated, &got)
	if got["applicationId"] != str(app, "id") || got["tenantId"] != "default" || got["displayName"] != "Logto Demo" ||
		got["branding"].(map[string]any)["logoUrl"] != "https://logto.dev/logo.png" || got["color"].(map[string]any)["primaryColor"] != "#f00" {
		t.Fatalf("created: %v", got)
	}
	var read obj
	c.call("GET", path, nil, http.StatusOK, &read)
	if read["customCss"] != ".x { color: red; }" || read["termsOfUseUrl"] != "https://logto.dev/terms-of-use" {
		t.Fatalf("read back: %v", read)
	}

	c.call("PUT", path, obj{"displayName": "", "customCss": ""}, http.StatusOK, &got)
	if got["displayName"] != nil || got["customCss"] != nil || got["privacyPolicyUrl"] != "https://logto.dev/privacy-policy" {
		t.Fatalf("updated: %v", got)
	}

	c.fail("PUT", path, obj{"color": obj{"primaryColor": "red"}}, 400, "guard.invalid_input")
	c.fail("PUT", path, obj{"termsOfUseUrl": "not a url"}, 400, "guard.invalid_input")
	c.fail("PUT", path, obj{"branding": obj{"logoUrl": "/relative.png"}}, 400, "guard.invalid_input")
}
