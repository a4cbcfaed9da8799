package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestAccountCenterDefaults(t *testing.T) {
	e := newMgmtEnv(t)
	got := e.call("GET", "/api/account-center", nil, http.StatusOK)
	want := map[string]string{
		"id": `"default"`, "tenantId": `"default"`, "enabled": `false`, "fields": `{}`,
		"webauthnRelatedOrigins": `[]`, "deleteAccountUrl": `null`, "customCss": `null`, "profileFields": `null`,
	}
	for k, v := range want {
		if b, _ := json.Marshal(got[k]); string(b) != v {
			t.Errorf("%s = %s, want %s", k, b, v)
		}
	}
}

func TestAccountCenterPatch(t *testing.T) {
	e := newMgmtEnv(t)
	got := e.call("PATCH", "/api/account-center", map[string]any{
		"enabled":                true,
		"fields":                 map[string]any{"name": "Edit", "email": "ReadOnly", "notAField": "Edit"},
		"webauthnRelatedOrigins": []string{"https://a.example", "https://b.example", "https://a.example"},
		"deleteAccountUrl":       "https://example.com/delete-me",
		"customCss":              "body{}",
	}, http.StatusOK)
	again := e.call("GET", "/api/account-center", nil, http.StatusOK)
	for _, m := range []map[string]any{got, again} {
		b, _ := json.Marshal(m)
		want := `{"customCss":"body{}","deleteAccountUrl":"https://example.com/delete-me","enabled":true,` +
			`"fields":{"email":"ReadOnly","name":"Edit"},"id":"default","profileFields":null,"tenantId":"default",` +
			`"webauthnRelatedOrigins":["https://a.example","https://b.example"]}`
		if string(b) != want {
			t.Errorf("got %s\nwant %s", b, want)
		}
	}
	// fields replaces the whole control list; an empty deleteAccountUrl is stored as null.
	got = e.call("PATCH", "/api/account-center", map[string]any{"fields": map[string]any{"password": "Edit"}, "deleteAccountUrl": ""}, http.StatusOK)
	if b, _ := json.Marshal(got["fields"]); string(b) != `{"password":"Edit"}` || got["deleteAccountUrl"] != nil || got["enabled"] != true {
		t.Errorf("second patch = %v", got)
	}
	if e.dir.AccountCenter().Control("name") != "Off" {
		t.Error("name control survived a fields replacement")
	}
}

func TestAccountCenterPatchValidation(t *testing.T) {
	e := newMgmtEnv(t)
	before := e.do("GET", "/api/account-center", nil).Body.String()
	for name, body := range map[string]any{
		"bad control":        map[string]any{"fields": map[string]any{"email": "Write"}},
		"enabled not bool":   map[string]any{"enabled": "yes"},
		"enabled null":       map[string]any{"enabled": nil},
		"fields null":        map[string]any{"fields": nil},
		"origins not list":   map[string]any{"webauthnRelatedOrigins": "https://a.example"},
		"delete url not url": map[string]any{"deleteAccountUrl": "javascript:alert(1)"},
		"delete url ftp":     map[string]any{"deleteAccountUrl": "ftp://example.com/x"},
	} {
		t.Run(name, func(t *testing.T) {
			e.wantError("PATCH", "/api/account-center", body, http.StatusBadRequest, "guard.invalid_input")
		})
	}
	if after := e.do("GET", "/api/account-center", nil).Body.String(); after != before {
		t.Errorf("a refused patch changed the settings: %s", after)
	}
	e.call("PATCH", "/api/account-center", map[string]any{"deleteAccountUrl": nil}, http.StatusOK)
}
