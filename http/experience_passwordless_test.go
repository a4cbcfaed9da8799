package httpapi

import (
	"encoding/json"
	"testing"

	"github.com/latchid/latch/directory"
)

// setSignInExp patches the sign-in experience settings (connectors taken as
// configured: the settings' own connector checks are not what these tests are about).
func setSignInExp(t *testing.T, dir *directory.Directory, patch map[string]any) {
	t.Helper()
	raw := map[string]json.RawMessage{}
	for k, v := range patch {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		raw[k] = b
	}
	if _, err := dir.UpdateSignInExperience(t.Context(), raw, func() (bool, bool) { return true, true }); err != nil {
		t.Fatal(err)
	}
}

// passwordByAnyIdentifier lets username, email and phone sign in with a password.
func passwordByAnyIdentifier(t *testing.T, dir *directory.Directory) {
	t.Helper()
	setSignInExp(t, dir, map[string]any{"signIn": map[string]any{"methods": []map[string]any{
		{"identifier": "username", "password": true, "verificationCode": false, "isPasswordPrimary": true},
		{"identifier": "email", "password": true, "verificationCode": false, "isPasswordPrimary": true},
		{"identifier": "phone", "password": true, "verificationCode": false, "isPasswordPrimary": true},
	}}})
}

// TestSignInMethodNotEnabled: a password verified for an identifier the settings do not
// list for password sign-in does not identify (Logto's user.sign_in_method_not_enabled).
func TestSignInMethodNotEnabled(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	vid := e.verify("email", tEmail, tPassword)
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, 422, "user.sign_in_method_not_enabled")
	passwordByAnyIdentifier(t, e.dir)
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, 204, nil)
}
