package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
)

const acctPassword = "Correct-horse-9"

// verify posts POST /api/verifications/password with the bearer token.
func (e *ltEnv) verify(token string, body any) *httptest.ResponseRecorder {
	e.tb.Helper()
	b, _ := json.Marshal(body)
	r := httptest.NewRequest("POST", "/api/verifications/password", bytes.NewReader(b))
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func newAccountEnv(t *testing.T) *ltEnv {
	t.Helper()
	e := newLifecycleEnv(t)
	if _, err := e.dir.SetUserPassword(t.Context(), e.user.ID, acctPassword); err != nil {
		t.Fatal(err)
	}
	on := true
	if _, err := e.dir.UpdateAccountCenter(t.Context(), directory.AccountCenterPatch{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	return e
}

// The user's opaque access token and password give a verification record that the
// directory knows for that user, until Logto's ten minutes have passed.
func TestPasswordVerification(t *testing.T) {
	e := newAccountEnv(t)
	tok := e.issue(e.spa).opaque
	w := e.verify(tok, map[string]string{"password": acctPassword})
	if w.Code != http.StatusCreated {
		t.Fatalf("verify = %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	var got struct {
		VerificationRecordID string `json:"verificationRecordId"`
		ExpiresAt            string `json:"expiresAt"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.VerificationRecordID == "" {
		t.Fatalf("body %s: %v", w.Body, err)
	}
	exp, err := time.Parse(time.RFC3339Nano, got.ExpiresAt)
	if err != nil || !exp.Equal(e.clock.Now().Add(directory.VerificationRecordTTL).Truncate(time.Millisecond)) {
		t.Errorf("expiresAt = %q (%v), want now + %v", got.ExpiresAt, err, directory.VerificationRecordTTL)
	}
	if _, err := e.dir.VerificationRecordFor(got.VerificationRecordID, e.user.ID); err != nil {
		t.Fatalf("record not found: %v", err)
	}
	if _, err := e.dir.VerificationRecordFor(got.VerificationRecordID, "someone-else"); err == nil {
		t.Error("another user's record accepted")
	}
	e.clock.Advance(directory.VerificationRecordTTL)
	if _, err := e.dir.VerificationRecordFor(got.VerificationRecordID, e.user.ID); err == nil {
		t.Error("an expired record accepted")
	}
}

func TestPasswordVerificationRefusals(t *testing.T) {
	e := newAccountEnv(t)
	tok := e.issue(e.spa)
	good := map[string]string{"password": acctPassword}

	wantAPIError(t, e.verify("", good), http.StatusUnauthorized, "auth.authorization_header_missing")
	wantAPIError(t, e.verify("not-a-token", good), http.StatusUnauthorized, "auth.unauthorized")
	wantAPIError(t, e.verify(tok.userJWT, good), http.StatusUnauthorized, "auth.unauthorized") // a resource JWT is not for the OP
	wantAPIError(t, e.verify(tok.refresh, good), http.StatusUnauthorized, "auth.unauthorized")

	r := httptest.NewRequest("POST", "/api/verifications/password", bytes.NewReader([]byte(`{"password":"x"}`)))
	r.Header.Set("Authorization", "Basic "+tok.opaque)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	wantAPIError(t, w, http.StatusUnauthorized, "auth.authorization_token_type_not_supported")

	wantAPIError(t, e.verify(tok.opaque, map[string]string{}), http.StatusBadRequest, "guard.invalid_input")
	wantAPIError(t, e.verify(tok.opaque, map[string]string{"password": ""}), http.StatusBadRequest, "guard.invalid_input")
	wantAPIError(t, e.verify(tok.opaque, map[string]string{"password": "wrong-password-1"}), http.StatusUnprocessableEntity, "session.invalid_credentials")

	// Repeated failures lock the user's password verifications, even the right password.
	for range defaultThrottle.MaxFailures {
		e.verify(tok.opaque, map[string]string{"password": "wrong-password-1"})
	}
	wantAPIError(t, e.verify(tok.opaque, good), http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")
}

// Logto's koaAccountCenter: the user's API answers only when the account center is
// enabled.
func TestPasswordVerificationNeedsAccountCenter(t *testing.T) {
	e := newAccountEnv(t)
	off := false
	if _, err := e.dir.UpdateAccountCenter(t.Context(), directory.AccountCenterPatch{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, e.verify(e.issue(e.spa).opaque, map[string]string{"password": acctPassword}),
		http.StatusBadRequest, "account_center.not_enabled")
}

// A suspended user's token no longer authenticates.
func TestPasswordVerificationSuspendedUser(t *testing.T) {
	e := newAccountEnv(t)
	tok := e.issue(e.spa).opaque
	if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error { u.IsSuspended = true; return nil }); err != nil {
		t.Fatal(err)
	}
	wantAPIError(t, e.verify(tok, map[string]string{"password": acctPassword}), http.StatusUnauthorized, "auth.unauthorized")
}

// requireVerifiedIdentity accepts the caller's own live record only.
func TestRequireVerifiedIdentity(t *testing.T) {
	e := newAccountEnv(t)
	w := e.verify(e.issue(e.spa).opaque, map[string]string{"password": acctPassword})
	var got struct {
		VerificationRecordID string `json:"verificationRecordId"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusCreated {
		t.Fatalf("verify = %d %s", w.Code, w.Body)
	}
	other, err := e.dir.CreateUser(t.Context(), directory.NewUser{Username: new("other_user")})
	if err != nil {
		t.Fatal(err)
	}
	check := func(id string, u *directory.User) error {
		r := httptest.NewRequest("POST", "/api/my-account/password", nil)
		if id != "" {
			r.Header.Set(headerVerificationID, id)
		}
		return e.s.requireVerifiedIdentity(r, accountCaller{User: u})
	}
	if err := check(got.VerificationRecordID, e.user); err != nil {
		t.Fatalf("own record refused: %v", err)
	}
	for name, err := range map[string]error{
		"no header":      check("", e.user),
		"unknown id":     check("nope", e.user),
		"another user's": check(got.VerificationRecordID, other),
	} {
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || ae.Code != "verification_record.permission_denied" {
			t.Errorf("%s: %v", name, err)
		}
	}
	e.clock.Advance(directory.VerificationRecordTTL)
	if err := check(got.VerificationRecordID, e.user); err == nil {
		t.Error("an expired record accepted")
	}
}
