package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/connectors/smtptest"
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

// TestCodeFlowRefusals: forgot password without a connector, an expired code, sign-up
// by a code the settings do not allow, and an event the sign-in mode forbids.
func TestCodeFlowRefusals(t *testing.T) {
	e := newExpEnv(t)
	const send = "/api/experience/verification/verification-code"
	ident := map[string]string{"type": "email", "value": "alice@example.com"}

	// No email connector: nothing can deliver a code, so no forgot password.
	e.wantError("PUT", "/api/experience", map[string]string{"interactionEvent": "ForgotPassword"}, 403, "session.forgot_password_not_enabled")

	mail := smtptest.Start(t, smtptest.Options{})
	addSMTPConnector(t, e.dir, mail)
	setSignInExp(t, e.dir, map[string]any{"signIn": map[string]any{"methods": []map[string]any{
		{"identifier": "email", "password": false, "verificationCode": true, "isPasswordPrimary": false},
	}}, "signUp": map[string]any{"identifiers": []string{"username"}, "password": true, "verify": false}})

	// Expired: a code verified 10 minutes after it was sent is refused, and the record
	// identifies nobody.
	e.start("SignIn")
	var out struct{ VerificationID string }
	e.must("POST", send, map[string]any{"identifier": ident, "interactionEvent": "SignIn"}, 200, &out)
	_, _, code := mailCode(t, mail)
	e.clock.Advance(passcode.CodeTTL)
	e.wantError("POST", send+"/verify", map[string]any{"identifier": ident, "verificationId": out.VerificationID, "code": code}, 400, "verification_code.expired")
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": out.VerificationID}, 400, "session.verification_failed")
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": "no-such-record"}, 404, "session.verification_session_not_found")

	// Sign-up by email is not enabled: a verified code does not create an account.
	e.start("Register")
	e.must("POST", send, map[string]any{"identifier": map[string]string{"type": "email", "value": "new@example.com"}, "interactionEvent": "Register"}, 200, &out)
	_, _, code = mailCode(t, mail)
	e.must("POST", send+"/verify", map[string]any{"identifier": map[string]string{"type": "email", "value": "new@example.com"},
		"verificationId": out.VerificationID, "code": code}, 200, nil)
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": out.VerificationID}, 422, "user.sign_up_method_not_enabled")
	if _, ok := e.dir.UserByEmail("new@example.com"); ok {
		t.Fatal("an account was created")
	}

	// Password reset is for ForgotPassword only; a password does not identify for it.
	e.wantError("PUT", "/api/experience/profile/password", map[string]string{"password": "Another-passw0rd"}, 400, "session.invalid_interaction_type")

	// signInMode SignIn: no registration.
	setSignInExp(t, e.dir, map[string]any{"signInMode": "SignIn"})
	e.wantError("PUT", "/api/experience", map[string]string{"interactionEvent": "Register"}, 403, "auth.forbidden")
}

// smsRelay is an HTTP SMS endpoint that hands over each code sent.
func smsRelay(t *testing.T, dir *directory.Directory) chan [2]string {
	t.Helper()
	got := make(chan [2]string, 4)
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b struct {
			To      string            `json:"to"`
			Payload map[string]string `json:"payload"`
		}
		_ = json.NewDecoder(r.Body).Decode(&b)
		got <- [2]string{b.To, b.Payload["code"]}
	}))
	t.Cleanup(h.Close)
	cfg := json.RawMessage(`{"endpoint":"` + h.URL + `/sms"}`)
	if _, err := dir.CreateConnector(t.Context(), directory.NewConnector{ConnectorID: "http-sms", Type: directory.ConnectorTypeSMS, Config: cfg}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPhoneRegisterAndSignIn: passwordless sign-up by phone (no password asked), then
// sign-in by a texted code: the account has the number, amr is "sms".
func TestPhoneRegisterAndSignIn(t *testing.T) {
	e := newExpEnv(t)
	sms := smsRelay(t, e.dir)
	setSignInExp(t, e.dir, map[string]any{
		"signUp": map[string]any{"identifiers": []string{"phone"}, "password": false, "verify": true},
		"signIn": map[string]any{"methods": []map[string]any{
			{"identifier": "username", "password": true, "verificationCode": false, "isPasswordPrimary": true},
			{"identifier": "phone", "password": false, "verificationCode": true, "isPasswordPrimary": false},
		}}})
	const send = "/api/experience/verification/verification-code"
	ident := map[string]string{"type": "phone", "value": "+1 (555) 010-9999"}
	code := func(event string) string {
		var out struct{ VerificationID string }
		e.must("POST", send, map[string]any{"identifier": ident, "interactionEvent": event}, 200, &out)
		m := <-sms
		if m[0] != "15550109999" {
			t.Fatalf("texted %v", m)
		}
		e.must("POST", send+"/verify", map[string]any{"identifier": ident, "verificationId": out.VerificationID, "code": m[1]}, 200, nil)
		return out.VerificationID
	}

	e.start("Register")
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": code("Register")}, 201, nil)
	e.must("POST", "/api/experience/submit", nil, 200, nil)
	user, ok := e.dir.UserByPhone("15550109999")
	if !ok || user.HasPassword() {
		t.Fatalf("registered user %+v (found %v), want the number and no password", user, ok)
	}

	e.uid = e.newInteraction()
	e.start("SignIn")
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": code("SignIn")}, 204, nil)
	e.must("POST", "/api/experience/submit", nil, 200, nil)
	rec, err := e.s.browser.Interactions.Interaction(t.Context(), e.uid)
	if err != nil {
		t.Fatal(err)
	}
	if rec.AccountID != user.ID || len(rec.AMR) != 1 || rec.AMR[0] != "sms" {
		t.Fatalf("signed in as %s with amr %v, want %s [sms]", rec.AccountID, rec.AMR, user.ID)
	}
}
