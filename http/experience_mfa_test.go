package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/latchid/latch/directory"
)

// setMfa sets the sign-in experience's MFA policy and factors.
func setMfa(t *testing.T, dir *directory.Directory, policy string, factors ...string) {
	t.Helper()
	raw, _ := json.Marshal(map[string]any{"policy": policy, "factors": factors})
	if _, err := dir.UpdateSignInExperience(t.Context(), map[string]json.RawMessage{"mfa": raw}, nil); err != nil {
		t.Fatal(err)
	}
}

// identified starts a SignIn interaction (a fresh one when fresh) and identifies the
// user by password.
func (e *expEnv) identified(fresh bool) {
	e.t.Helper()
	if fresh {
		e.uid = e.newInteraction()
	}
	e.start("SignIn")
	vid := e.verify("username", tUsername, tPassword)
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNoContent, nil)
}

func (e *expEnv) totpCode(secret string) string {
	e.t.Helper()
	code, err := totp.GenerateCode(secret, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return code
}

// amr is the amr the submitted interaction recorded.
func (e *expEnv) amr() []string {
	e.t.Helper()
	rec, err := e.s.browser.Interactions.Interaction(e.t.Context(), e.uid)
	if err != nil {
		e.t.Fatal(err)
	}
	return rec.AMR
}

// enroll runs the Mandatory enrollment of TOTP and backup codes through the API and
// returns the secret and the codes.
func (e *expEnv) enroll() (string, []string) {
	e.t.Helper()
	var sec struct{ VerificationID, Secret, SecretQrCode string }
	e.must("POST", "/api/experience/verification/totp/secret", nil, http.StatusOK, &sec)
	if sec.VerificationID == "" || len(sec.Secret) < 16 || !strings.HasPrefix(sec.SecretQrCode, "data:image/png;base64,") {
		e.t.Fatalf("totp/secret = %+v", sec)
	}
	e.must("POST", "/api/experience/verification/totp/verify",
		map[string]string{"code": e.totpCode(sec.Secret), "verificationId": sec.VerificationID}, http.StatusOK, nil)
	e.must("POST", "/api/experience/profile/mfa", map[string]string{"type": "Totp", "verificationId": sec.VerificationID}, http.StatusNoContent, nil)
	var bc struct {
		VerificationID string
		Codes          []string
	}
	e.must("POST", "/api/experience/verification/backup-code/generate", nil, http.StatusOK, &bc)
	if len(bc.Codes) != 10 || len(bc.Codes[0]) != 10 {
		e.t.Fatalf("backup codes = %v", bc.Codes)
	}
	e.must("POST", "/api/experience/profile/mfa", map[string]string{"type": "BackupCode", "verificationId": bc.VerificationID}, http.StatusNoContent, nil)
	return sec.Secret, bc.Codes
}

func TestExperienceMfaMandatoryEnrollAndSignIn(t *testing.T) {
	e := newExpEnv(t)
	setMfa(t, e.dir, "Mandatory", "Totp", "BackupCode")
	e.identified(false)

	ae := e.wantError("POST", "/api/experience/submit", nil, http.StatusUnprocessableEntity, "user.missing_mfa")
	if data, _ := ae.Data.(map[string]any); data == nil || data["skippable"] != nil || len(data["availableFactors"].([]any)) != 2 {
		t.Fatalf("missing_mfa data = %v", ae.Data)
	}
	e.wantError("POST", "/api/experience/profile/mfa/mfa-skipped", nil, http.StatusUnprocessableEntity, "session.mfa.mfa_policy_not_user_controlled")

	// A new secret proven but not bound is not a second factor: a password alone must
	// not pass by minting one.
	var sec struct{ VerificationID, Secret string }
	e.must("POST", "/api/experience/verification/totp/secret", nil, http.StatusOK, &sec)
	e.wantError("POST", "/api/experience/verification/totp/verify",
		map[string]string{"code": "000000", "verificationId": sec.VerificationID}, http.StatusBadRequest, "session.mfa.invalid_totp_code")
	e.must("POST", "/api/experience/verification/totp/verify",
		map[string]string{"code": e.totpCode(sec.Secret), "verificationId": sec.VerificationID}, http.StatusOK, nil)
	e.wantError("POST", "/api/experience/submit", nil, http.StatusUnprocessableEntity, "user.missing_mfa")
	// Backup codes cannot be the only factor.
	var bc struct{ VerificationID string }
	e.must("POST", "/api/experience/verification/backup-code/generate", nil, http.StatusOK, &bc)
	e.wantError("POST", "/api/experience/profile/mfa", map[string]string{"type": "BackupCode", "verificationId": bc.VerificationID},
		http.StatusUnprocessableEntity, "session.mfa.backup_code_can_not_be_alone")

	e.identified(true)
	secret, codes := e.enroll()
	w := e.do("GET", "/api/experience/interaction", nil)
	if strings.Contains(w.Body.String(), secret) || strings.Contains(w.Body.String(), "new:") {
		t.Fatalf("interaction shows key material: %s", w.Body)
	}
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	if got := e.amr(); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr = %v", got)
	}
	u, _ := e.dir.User(e.user.ID)
	if got := u.MfaFactors(); !slices.Equal(got, []string{"Totp", "BackupCode"}) {
		t.Fatalf("user factors = %v", got)
	}
	for _, c := range codes {
		if raw, _ := json.Marshal(u); strings.Contains(string(raw), c) {
			t.Fatal("a backup code is stored in clear")
		}
	}

	// Sign in again: the second factor is required.
	e.identified(true)
	ae = e.wantError("POST", "/api/experience/submit", nil, http.StatusForbidden, "session.mfa.require_mfa_verification")
	if data, _ := ae.Data.(map[string]any); data == nil || len(data["availableFactors"].([]any)) != 2 {
		t.Fatalf("require_mfa_verification data = %v", ae.Data)
	}
	// The code that enrolled the key is spent for its step (replay).
	e.wantError("POST", "/api/experience/verification/totp/verify", map[string]string{"code": e.totpCode(secret)},
		http.StatusBadRequest, "session.mfa.invalid_totp_code")
	e.wantError("POST", "/api/experience/verification/totp/verify", map[string]string{"code": "123456x"},
		http.StatusBadRequest, "session.mfa.invalid_totp_code")
	e.clock.Advance(30 * time.Second)
	code := e.totpCode(secret)
	var v struct{ VerificationID string }
	e.must("POST", "/api/experience/verification/totp/verify", map[string]string{"code": code}, http.StatusOK, &v)
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	if got := e.amr(); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr = %v", got)
	}

	// The same code in another interaction: refused (once per step).
	e.identified(true)
	e.wantError("POST", "/api/experience/verification/totp/verify", map[string]string{"code": code},
		http.StatusBadRequest, "session.mfa.invalid_totp_code")

	// A backup code works once.
	e.must("POST", "/api/experience/verification/backup-code/verify", map[string]string{"code": codes[3]}, http.StatusOK, nil)
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	e.identified(true)
	e.wantError("POST", "/api/experience/verification/backup-code/verify", map[string]string{"code": codes[3]},
		http.StatusBadRequest, "session.mfa.invalid_backup_code")
	e.wantError("POST", "/api/experience/submit", nil, http.StatusForbidden, "session.mfa.require_mfa_verification")
	e.must("POST", "/api/experience/verification/backup-code/verify", map[string]string{"code": strings.ToUpper(codes[4])}, http.StatusOK, nil)
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	u, _ = e.dir.User(e.user.ID)
	for _, f := range u.MfaVerifications {
		if f.Type == "BackupCode" && f.RemainingCodes() != 8 {
			t.Fatalf("remaining codes = %d, want 8", f.RemainingCodes())
		}
	}
}

func TestExperienceMfaPromptSkip(t *testing.T) {
	e := newExpEnv(t)
	setMfa(t, e.dir, "PromptAtSignInAndSignUp", "Totp")
	e.identified(false)
	ae := e.wantError("POST", "/api/experience/submit", nil, http.StatusUnprocessableEntity, "user.missing_mfa")
	if data, _ := ae.Data.(map[string]any); data == nil || data["skippable"] != true {
		t.Fatalf("missing_mfa data = %v", ae.Data)
	}
	e.wantError("POST", "/api/experience/verification/backup-code/generate", nil, http.StatusBadRequest, "session.mfa.mfa_factor_not_enabled")
	e.must("POST", "/api/experience/profile/mfa/mfa-skipped", nil, http.StatusNoContent, nil)
	var view interactionJSON
	e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
	for _, v := range view.VerificationRecords {
		if v.Type == verificationMfaSkipped {
			t.Fatalf("interaction shows %+v", v)
		}
	}
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	if got := e.amr(); !slices.Equal(got, []string{"pwd"}) {
		t.Fatalf("amr = %v", got)
	}
	// The choice is kept on the user: no prompt next time.
	e.identified(true)
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)

	// Policies without prompt, or without factors, let everyone in.
	for _, s := range []struct {
		policy  string
		factors []string
	}{{"NoPrompt", []string{"Totp"}}, {"Mandatory", nil}} {
		e2 := newExpEnv(t)
		setMfa(t, e2.dir, s.policy, s.factors...)
		e2.identified(false)
		e2.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	}
}

func TestExperienceMfaErrors(t *testing.T) {
	e := newExpEnv(t)
	setMfa(t, e.dir, "Mandatory", "Totp", "BackupCode")
	e.start("SignIn")
	// Before identification.
	e.wantError("POST", "/api/experience/verification/totp/secret", nil, http.StatusBadRequest, "session.identifier_not_found")
	e.wantError("POST", "/api/experience/verification/totp/verify", map[string]string{"code": "123456"}, http.StatusBadRequest, "session.identifier_not_found")
	e.wantError("POST", "/api/experience/verification/backup-code/verify", map[string]string{"code": "0123456789"}, http.StatusBadRequest, "session.identifier_not_found")
	vid := e.verify("username", tUsername, tPassword)
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNoContent, nil)
	// No TOTP yet: nothing to verify against.
	e.wantError("POST", "/api/experience/verification/totp/verify", map[string]string{"code": "123456"}, http.StatusBadRequest, "session.mfa.mfa_factor_not_enabled")
	e.wantError("POST", "/api/experience/verification/totp/verify", map[string]string{}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", "/api/experience/profile/mfa", map[string]string{"type": "Totp", "verificationId": "nope"}, http.StatusNotFound, "session.verification_session_not_found")
	e.wantError("POST", "/api/experience/profile/mfa", map[string]string{"type": "Sms", "verificationId": "x"}, http.StatusBadRequest, "guard.invalid_input")
	// A secret not yet proven cannot be bound.
	var sec struct{ VerificationID string }
	e.must("POST", "/api/experience/verification/totp/secret", nil, http.StatusOK, &sec)
	e.wantError("POST", "/api/experience/profile/mfa", map[string]string{"type": "Totp", "verificationId": sec.VerificationID}, http.StatusBadRequest, "session.verification_failed")
	// Wrong codes are throttled like passwords.
	var last int
	for i := 0; i < 30 && last != http.StatusTooManyRequests; i++ {
		last = e.do("POST", "/api/experience/verification/totp/verify", map[string]string{"code": "000000", "verificationId": sec.VerificationID}).Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("wrong TOTP codes never throttled: last %d", last)
	}
}

// TestExperienceMfaRegister: the policy applies to a new account at registration
// (PromptOnlyAtSignIn does not ask there; Mandatory does).
func TestExperienceMfaRegister(t *testing.T) {
	register := func(e *expEnv, username string) {
		e.t.Helper()
		e.uid = e.newInteraction()
		e.start("Register")
		e.must("POST", "/api/experience/profile", map[string]string{"type": "username", "value": username}, http.StatusNoContent, nil)
		e.must("POST", "/api/experience/profile", map[string]string{"type": "password", "value": "a-good-long-password-7"}, http.StatusNoContent, nil)
		e.must("POST", "/api/experience/identification", map[string]string{}, http.StatusCreated, nil)
	}
	e := newExpEnv(t)
	setMfa(t, e.dir, "PromptOnlyAtSignIn", "Totp")
	register(e, "newcomer")
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)

	setMfa(t, e.dir, "Mandatory", "Totp", "BackupCode")
	register(e, "second")
	e.wantError("POST", "/api/experience/submit", nil, http.StatusUnprocessableEntity, "user.missing_mfa")
	e.enroll()
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	if got := e.amr(); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr = %v", got)
	}
}
