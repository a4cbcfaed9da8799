package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchid/latch/directory"
)

// myAccount calls the Account API with the bearer token and, when vid is set, a
// verification record.
func (e *ltEnv) myAccount(token, vid, method, path string, body any) *httptest.ResponseRecorder {
	e.tb.Helper()
	var r *http.Request
	if body != nil {
		b, _ := json.Marshal(body)
		r = httptest.NewRequest(method, path, bytes.NewReader(b))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	if vid != "" {
		r.Header.Set(headerVerificationID, vid)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// setFields replaces the account center's field controls.
func (e *ltEnv) setFields(fields map[string]string) {
	e.tb.Helper()
	if _, err := e.dir.UpdateAccountCenter(e.tb.Context(), directory.AccountCenterPatch{Fields: fields}); err != nil {
		e.tb.Fatal(err)
	}
}

// record returns a fresh password verification record of the env's user.
func (e *ltEnv) record(token string) string {
	e.tb.Helper()
	w := e.verify(token, map[string]string{"password": acctPassword})
	var got struct {
		VerificationRecordID string `json:"verificationRecordId"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusCreated {
		e.tb.Fatalf("verify = %d %s", w.Code, w.Body)
	}
	return got.VerificationRecordID
}

// The token's scopes (openid offline_access profile here) limit what the Account API
// shows and changes, whatever the account center allows: Logto's getScopedProfile
// and its auth.unauthorized refusals.
func TestMyAccountHonoursTokenScopes(t *testing.T) {
	e := newAccountEnv(t)
	e.setFields(map[string]string{"name": "Edit", "email": "Edit", "customData": "Edit", "profile": "Edit", "mfa": "Edit",
		"session": "Edit", "password": "ReadOnly"})
	tok := e.issue(e.spa).opaque
	w := e.myAccount(tok, "", "GET", "/api/my-account", nil)
	var me map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil || w.Code != http.StatusOK {
		t.Fatalf("GET = %d %s", w.Code, w.Body)
	}
	if me["id"] != e.user.ID || me["hasPassword"] != true {
		t.Fatalf("GET = %v", me)
	}
	for _, k := range []string{"primaryEmail", "customData", "identities"} {
		if _, ok := me[k]; ok {
			t.Errorf("%s shown without its scope: %v", k, me)
		}
	}
	vid := e.record(tok)
	for name, c := range map[string]struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		"customData without custom_data": {"PATCH", "/api/my-account", map[string]any{"customData": map[string]any{"a": 1}}, 400, "auth.unauthorized"},
		"address without address":        {"PATCH", "/api/my-account/profile", map[string]any{"address": map[string]any{"country": "FR"}}, 400, "auth.unauthorized"},
		"email without email":            {"POST", "/api/my-account/primary-email", map[string]any{"email": "a@b.example", "newIdentifierVerificationRecordId": "x"}, 400, "auth.unauthorized"},
		"mfa list without identities":    {"GET", "/api/my-account/mfa-verifications", nil, 401, "auth.unauthorized"},
		"configs without identities":     {"GET", "/api/my-account/logto-configs", nil, 401, "auth.unauthorized"},
		"sessions without the scope":     {"GET", "/api/my-account/sessions", nil, 401, "auth.unauthorized"},
		"grants without the scope":       {"GET", "/api/my-account/grants", nil, 401, "auth.unauthorized"},
		"password ReadOnly":              {"POST", "/api/my-account/password", map[string]any{"password": "An0ther-good-one"}, 400, "account_center.field_not_editable"},
		"profile not an object":          {"PATCH", "/api/my-account/profile", []int{1}, 400, "guard.invalid_input"},
		"avatar not a URL":               {"PATCH", "/api/my-account", map[string]any{"avatar": "nope"}, 400, "guard.invalid_input"},
	} {
		t.Run(name, func(t *testing.T) {
			wantAPIError(t, e.myAccount(tok, vid, c.method, c.path, c.body), c.status, c.code)
		})
	}
	// The profile scope is enough for the profile's other members.
	w = e.myAccount(tok, "", "PATCH", "/api/my-account/profile", map[string]any{"givenName": "Al", "unknown": 1})
	if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"givenName":"Al"`)) || bytes.Contains(w.Body.Bytes(), []byte("unknown")) {
		t.Fatalf("PATCH profile = %d %s", w.Code, w.Body)
	}
}

// A user whose only identifier is the username cannot remove it.
func TestMyAccountKeepsLastIdentifier(t *testing.T) {
	e := newAccountEnv(t)
	e.setFields(map[string]string{"username": "Edit"})
	if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error {
		u.PrimaryEmail, u.PrimaryPhone = nil, nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tok := e.issue(e.spa).opaque
	vid := e.record(tok)
	wantAPIError(t, e.myAccount(tok, vid, "PATCH", "/api/my-account", map[string]any{"username": nil}), 400, "user.last_sign_in_method_required")
	if u, _ := e.dir.User(e.user.ID); u.Username == nil {
		t.Fatal("the last identifier was removed")
	}
}

// logto-configs: mfa.skipped is the user's MfaSkipped; the control is passkey's, else
// mfa's.
func TestMyLogtoConfigsControl(t *testing.T) {
	e := newAccountEnv(t)
	caller := func(fields map[string]string) accountCaller {
		return accountCaller{User: e.user, Scopes: []string{"identities"}, Center: &directory.AccountCenter{Fields: fields}}
	}
	if err := checkLogtoConfigs(caller(map[string]string{"mfa": "ReadOnly"}), false); err != nil {
		t.Errorf("mfa ReadOnly, read: %v", err)
	}
	if err := checkLogtoConfigs(caller(map[string]string{"mfa": "ReadOnly"}), true); err == nil {
		t.Error("mfa ReadOnly, edit allowed")
	}
	if err := checkLogtoConfigs(caller(map[string]string{"mfa": "Edit", "passkey": "Off"}), false); err == nil {
		t.Error("passkey Off overridden by mfa Edit")
	}
	if v := logtoConfigsView(&directory.User{MfaSkipped: true}); !v.Mfa.Skipped || v.Mfa.Enabled != nil {
		t.Errorf("view %+v", v)
	}
}
