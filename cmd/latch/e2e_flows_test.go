package main

import (
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchid/latch/connectors/smtptest"
)

// The code flows end to end on a running node, with a real SMTP server: register by an
// emailed code, passwordless sign-in, forgot password; wrong, reused and disabled codes
// refused; and the same flows through the JavaScript-free pages with plain form posts.

type flowsEnv struct {
	*browserEnv
	admin string
	mail  *smtptest.Server
}

// newFlowsEnv: an SMTP connector, sign-up by email (verified) with a password, sign-in
// by username + password or email + password or code.
func newFlowsEnv(t *testing.T) *flowsEnv {
	t.Helper()
	return newFlowsEnvWith(t, nil)
}

// newFlowsEnvWith is newFlowsEnv on a node whose configuration mutate adjusts.
func newFlowsEnvWith(t *testing.T, mutate func(*serveConfig)) *flowsEnv {
	t.Helper()
	e := &flowsEnv{browserEnv: newBrowserEnvWith(t, mutate)}
	e.admin = e.n.adminToken(t.Context())
	e.mail = smtptest.Start(t, smtptest.Options{})
	tpl := func(usage string) map[string]string {
		return map[string]string{"usageType": usage, "contentType": "text/plain", "subject": usage, "content": usage + " code {{code}}"}
	}
	e.n.mustAPI(e.admin, "POST", "/api/connectors", map[string]any{"connectorId": "simple-mail-transfer-protocol", "config": map[string]any{
		"host": e.mail.Host, "port": e.mail.Port, "fromEmail": "noreply@latch.test",
		"templates": []map[string]string{tpl("SignIn"), tpl("Register"), tpl("ForgotPassword"), tpl("Generic")},
	}}, 200, nil)
	e.settings(t, true)
	return e
}

// settings sets sign-up by email and the sign-in methods; codeSignIn turns email codes
// on or off.
func (e *flowsEnv) settings(t *testing.T, codeSignIn bool) {
	t.Helper()
	e.n.mustAPI(e.admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"signUp": map[string]any{"identifiers": []string{"email"}, "password": true, "verify": true},
		"signIn": map[string]any{"methods": []map[string]any{
			{"identifier": "username", "password": true, "verificationCode": false, "isPasswordPrimary": true},
			{"identifier": "email", "password": true, "verificationCode": codeSignIn, "isPasswordPrimary": true},
		}},
	}, 200, nil)
}

var sixDigitCode = regexp.MustCompile(`\b\d{6}\b`)

// code waits for the next mail, checks where it went and what for, and returns its code.
func (e *flowsEnv) code(t *testing.T, to, usage string) string {
	t.Helper()
	m := e.mail.Next(t)
	text, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	code := sixDigitCode.FindString(string(text))
	if len(m.To) != 1 || m.To[0] != to || !strings.HasPrefix(string(text), usage+" code ") || code == "" {
		t.Fatalf("mail to %v: %q, want a %s code to %s", m.To, text, usage, to)
	}
	return code
}

// authorize starts an authorization in a new browser; it returns the browser and the
// state and PKCE verifier to finish with.
func (e *flowsEnv) authorize(t *testing.T) (*browser, string, string) {
	t.Helper()
	b := newBrowser(t, e.n.endpoint)
	verifier, state := oauth2.GenerateVerifier(), "st-"+oauth2.GenerateVerifier()[:8]
	if loc := b.redirect(e.webConfig().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))); loc.Path != "/sign-in" {
		t.Fatalf("authorize -> %s", loc)
	}
	return b, state, verifier
}

// finish exchanges the code at redirectTo and returns the ID token's claims.
func (e *flowsEnv) finish(t *testing.T, b *browser, redirectTo, state, verifier string) map[string]any {
	t.Helper()
	code := codeFrom(t, b.redirect(redirectTo), e.webCB, state, e.n.issuer())
	tok, err := e.webConfig().Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: e.web.ID}).Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func wantAPIError(t *testing.T, what string, st int, body map[string]any, status int, code string) {
	t.Helper()
	if st != status || body["code"] != code {
		t.Fatalf("%s = %d %v, want %d %s", what, st, body, status, code)
	}
}

func amrOf(claims map[string]any) []string {
	var out []string
	raw, _ := claims["amr"].([]any)
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// sendCode sends a code for event to addr and returns the verification id.
func sendCode(t *testing.T, b *browser, event, addr string) string {
	t.Helper()
	body := b.mustExperience("POST", "/api/experience/verification/verification-code",
		map[string]any{"identifier": map[string]any{"type": "email", "value": addr}, "interactionEvent": event}, http.StatusOK)
	id, _ := body["verificationId"].(string)
	if id == "" {
		t.Fatalf("send: %v", body)
	}
	return id
}

func verifyBody(addr, id, code string) map[string]any {
	return map[string]any{"identifier": map[string]any{"type": "email", "value": addr}, "verificationId": id, "code": code}
}

func wrongCode(code string) string {
	if code == "123456" {
		return "654321"
	}
	return "123456"
}

// TestRegisterByEmailCodeEndToEnd: Register by an emailed code; the password the
// settings ask for is missing until staged and must pass the policy; the user has the
// verified email; the same email cannot register twice.
func TestRegisterByEmailCodeEndToEnd(t *testing.T) {
	e := newFlowsEnv(t)
	const addr = "new.user@flows.example"
	b, state, verifier := e.authorize(t)
	b.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "Register"}, http.StatusNoContent)
	id := sendCode(t, b, "Register", addr)
	code := e.code(t, addr, "Register")

	// Identification before the code is verified proves nothing.
	st, body := b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": id})
	wantAPIError(t, "identification before verify", st, body, 400, "session.verification_failed")
	st, body = b.experience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id, wrongCode(code)))
	wantAPIError(t, "wrong code", st, body, 400, "verification_code.code_mismatch")
	b.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id, code), http.StatusOK)

	st, body = b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": id})
	wantAPIError(t, "identification without a password", st, body, 422, "user.missing_profile")
	if missing, _ := body["data"].(map[string]any)["missingProfile"].([]any); len(missing) != 1 || missing[0] != "password" {
		t.Fatalf("missingProfile = %v", body["data"])
	}
	st, body = b.experience("POST", "/api/experience/profile", map[string]any{"type": "password", "value": "short"})
	wantAPIError(t, "weak password", st, body, 422, "password.rejected")
	b.mustExperience("POST", "/api/experience/profile", map[string]any{"type": "password", "value": "Fresh-passw0rd-42"}, http.StatusNoContent)
	b.mustExperience("POST", "/api/experience/identification", map[string]any{}, http.StatusCreated)
	redirectTo, _ := b.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	claims := e.finish(t, b, redirectTo, state, verifier)
	if claims["email"] != addr || claims["email_verified"] != true || !slices.Contains(amrOf(claims), "otp") {
		t.Fatalf("ID token claims %v: want the verified email and amr otp", claims)
	}

	// The new account signs in with its password (by email).
	b2, state2, verifier2 := e.authorize(t)
	b2.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}, http.StatusNoContent)
	pw := b2.mustExperience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "email", "value": addr}, "password": "Fresh-passw0rd-42"}, http.StatusOK)
	b2.mustExperience("POST", "/api/experience/identification", map[string]any{"verificationId": pw["verificationId"]}, http.StatusNoContent)
	redirectTo, _ = b2.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	if c := e.finish(t, b2, redirectTo, state2, verifier2); c["sub"] != claims["sub"] || !slices.Equal(amrOf(c), []string{"pwd"}) {
		t.Fatalf("password sign-in claims %v, want sub %v and amr [pwd]", c, claims["sub"])
	}

	// The same email again: refused.
	b3, _, _ := e.authorize(t)
	b3.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "Register"}, http.StatusNoContent)
	id3 := sendCode(t, b3, "Register", addr)
	b3.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id3, e.code(t, addr, "Register")), http.StatusOK)
	st, body = b3.experience("POST", "/api/experience/identification", map[string]any{"verificationId": id3})
	wantAPIError(t, "register a taken email", st, body, 422, "user.email_already_in_use")
}

// TestPasswordlessSignInEndToEnd: sign in by email + code (amr otp, no pwd); a used
// code does not identify again, another interaction's record is not found, and a
// disabled method is refused.
func TestPasswordlessSignInEndToEnd(t *testing.T) {
	e := newFlowsEnv(t)
	const addr = "alice@browser.example"
	b, state, verifier := e.authorize(t)
	b.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}, http.StatusNoContent)
	id := sendCode(t, b, "SignIn", addr)
	b.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id, e.code(t, addr, "SignIn")), http.StatusOK)
	b.mustExperience("POST", "/api/experience/identification", map[string]any{"verificationId": id}, http.StatusNoContent)

	// Reused: the record served one identification; after starting over it proves nothing.
	b.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}, http.StatusNoContent)
	st, body := b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": id})
	wantAPIError(t, "reused code record", st, body, 400, "session.verification_failed")

	// Another interaction cannot use this one's record.
	other, _, _ := e.authorize(t)
	other.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}, http.StatusNoContent)
	id2 := sendCode(t, b, "SignIn", addr)
	code2 := e.code(t, addr, "SignIn")
	st, body = other.experience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id2, code2))
	wantAPIError(t, "another interaction's record", st, body, 404, "session.verification_session_not_found")

	b.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id2, code2), http.StatusOK)
	b.mustExperience("POST", "/api/experience/identification", map[string]any{"verificationId": id2}, http.StatusNoContent)
	redirectTo, _ := b.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	claims := e.finish(t, b, redirectTo, state, verifier)
	if claims["sub"] != e.userID || !slices.Contains(amrOf(claims), "otp") || slices.Contains(amrOf(claims), "pwd") {
		t.Fatalf("claims %v: want sub %s, amr otp without pwd", claims, e.userID)
	}

	// Codes turned off for sign-in: a verified code no longer identifies.
	e.settings(t, false)
	b4, _, _ := e.authorize(t)
	b4.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}, http.StatusNoContent)
	id4 := sendCode(t, b4, "SignIn", addr)
	b4.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id4, e.code(t, addr, "SignIn")), http.StatusOK)
	st, body = b4.experience("POST", "/api/experience/identification", map[string]any{"verificationId": id4})
	wantAPIError(t, "code sign-in disabled", st, body, 422, "user.sign_in_method_not_enabled")
}

// TestForgotPasswordEndToEnd: identify by code, PUT /profile/password with the policy
// enforced, submit (204); the new password signs in and the old does not.
func TestForgotPasswordEndToEnd(t *testing.T) {
	e := newFlowsEnv(t)
	const addr, newPassword = "alice@browser.example", "Brand-new-Passw0rd!"
	b, _, _ := e.authorize(t)
	b.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "ForgotPassword"}, http.StatusNoContent)
	st, body := b.experience("PUT", "/api/experience/profile/password", map[string]any{"password": newPassword})
	wantAPIError(t, "password before identification", st, body, 404, "session.identifier_not_found")
	id := sendCode(t, b, "ForgotPassword", addr)
	b.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id, e.code(t, addr, "ForgotPassword")), http.StatusOK)
	b.mustExperience("POST", "/api/experience/identification", map[string]any{"verificationId": id}, http.StatusNoContent)
	st, body = b.experience("POST", "/api/experience/submit", nil)
	wantAPIError(t, "submit without a new password", st, body, 422, "user.new_password_required_in_profile")
	st, body = b.experience("PUT", "/api/experience/profile/password", map[string]any{"password": "abc"})
	wantAPIError(t, "weak new password", st, body, 422, "password.rejected")
	st, body = b.experience("PUT", "/api/experience/profile/password", map[string]any{"password": browserPassword})
	wantAPIError(t, "the same password", st, body, 422, "user.same_password")
	b.mustExperience("PUT", "/api/experience/profile/password", map[string]any{"password": newPassword}, http.StatusNoContent)
	if st, body := b.experience("POST", "/api/experience/submit", nil); st != http.StatusNoContent {
		t.Fatalf("submit = %d %v, want 204", st, body)
	}

	// The old password no longer signs in; the new one does.
	b.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}, http.StatusNoContent)
	st, body = b.experience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "username", "value": browserUser}, "password": browserPassword})
	wantAPIError(t, "old password", st, body, 422, "session.invalid_credentials")
	b2, state2, verifier2 := e.authorize(t)
	if c := e.finish(t, b2, b2.signIn(browserUser, newPassword), state2, verifier2); c["sub"] != e.userID {
		t.Fatalf("claims %v", c)
	}
}

var hiddenVerificationID = regexp.MustCompile(`name="verification-id" value="([^"]+)"`)

// pageStep posts a step of a code page and returns the record id the next page holds.
func pageSend(t *testing.T, b *browser, path, addr string) string {
	t.Helper()
	st, _, page := b.postPage(path, url.Values{"step": {"send"}, "identifier": {addr}})
	m := hiddenVerificationID.FindStringSubmatch(page)
	if st != http.StatusOK || m == nil || !strings.Contains(page, `name="code"`) {
		t.Fatalf("POST %s send = %d\n%s", path, st, page)
	}
	return m[1]
}

// TestCodePagesWithoutJavaScript: the register, sign-in-by-code and forgot-password
// pages driven by plain form posts, as a browser without JavaScript sends them.
func TestCodePagesWithoutJavaScript(t *testing.T) {
	e := newFlowsEnv(t)

	// The sign-in page links to the code flows; /register asks for an email.
	b, state, verifier := e.authorize(t)
	if _, page := b.get("/sign-in"); !strings.Contains(page, `href="/sign-in/code"`) || !strings.Contains(page, `href="/forgot-password"`) {
		t.Fatalf("sign-in page without the code links:\n%s", page)
	}
	if _, page := b.get("/register"); !strings.Contains(page, `action="/register"`) || !strings.Contains(page, `name="step" value="send"`) || strings.Contains(page, "sign-in.js") {
		t.Fatalf("register page:\n%s", page)
	}

	// Register.
	const addr = "page.user@flows.example"
	id := pageSend(t, b, "/register", addr)
	code := e.code(t, addr, "Register")
	form := url.Values{"step": {"verify"}, "identifier": {addr}, "verification-id": {id}, "code": {wrongCode(code)},
		"password": {"Page-passw0rd-77"}, "confirm-password": {"Page-passw0rd-77"}}
	if st, _, page := b.postPage("/register", form); st != http.StatusBadRequest || !strings.Contains(page, "Invalid verification code.") {
		t.Fatalf("wrong code = %d\n%s", st, page)
	}
	form.Set("code", code)
	form.Set("confirm-password", "something else")
	if st, _, page := b.postPage("/register", form); st != http.StatusBadRequest || !strings.Contains(page, "do not match") {
		t.Fatalf("mismatched passwords = %d\n%s", st, page)
	}
	form.Set("confirm-password", "Page-passw0rd-77")
	st, loc, page := b.postPage("/register", form)
	if st != http.StatusSeeOther || !strings.Contains(loc, "/oidc/auth/") {
		t.Fatalf("register = %d %q\n%s", st, loc, page)
	}
	if c := e.finish(t, b, loc, state, verifier); c["email"] != addr {
		t.Fatalf("registered claims %v", c)
	}

	// Sign in with a code.
	b2, state2, verifier2 := e.authorize(t)
	id = pageSend(t, b2, "/sign-in/code", addr)
	st, loc, page = b2.postPage("/sign-in/code", url.Values{"step": {"verify"}, "identifier": {addr}, "verification-id": {id}, "code": {e.code(t, addr, "SignIn")}})
	if st != http.StatusSeeOther {
		t.Fatalf("sign in with a code = %d\n%s", st, page)
	}
	c := e.finish(t, b2, loc, state2, verifier2)
	if c["email"] != addr || !slices.Contains(amrOf(c), "otp") {
		t.Fatalf("code sign-in claims %v", c)
	}

	// Forgot password, then sign in with the new password through the sign-in form.
	b3, state3, verifier3 := e.authorize(t)
	id = pageSend(t, b3, "/forgot-password", addr)
	reset := url.Values{"step": {"verify"}, "identifier": {addr}, "verification-id": {id}, "code": {e.code(t, addr, "ForgotPassword")},
		"password": {"x"}, "confirm-password": {"x"}}
	if st, _, page := b3.postPage("/forgot-password", reset); st != http.StatusUnprocessableEntity || !strings.Contains(page, "Password rejected") {
		t.Fatalf("weak new password = %d\n%s", st, page)
	}
	reset.Set("password", "Reset-passw0rd-99")
	reset.Set("confirm-password", "Reset-passw0rd-99")
	if st, _, page := b3.postPage("/forgot-password", reset); st != http.StatusOK || !strings.Contains(page, "Your password has been changed") {
		t.Fatalf("reset = %d\n%s", st, page)
	}
	if st, _, page := b3.postPage("/sign-in", url.Values{"identifier": {addr}, "password": {"Page-passw0rd-77"}}); st != http.StatusUnprocessableEntity {
		t.Fatalf("old password = %d\n%s", st, page)
	}
	st, loc, page = b3.postPage("/sign-in", url.Values{"identifier": {addr}, "password": {"Reset-passw0rd-99"}})
	if st != http.StatusSeeOther {
		t.Fatalf("new password = %d\n%s", st, page)
	}
	if c := e.finish(t, b3, loc, state3, verifier3); c["email"] != addr {
		t.Fatalf("claims after reset %v", c)
	}
}
