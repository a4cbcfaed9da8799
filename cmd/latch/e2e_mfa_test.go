package main

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// postPage posts a sign-in page form (no JavaScript) and returns the status, the
// Location and the body.
func (b *browser) postPage(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

// mfaAMR exchanges the code at redirectTo for tokens and returns the ID token's amr;
// the ID token of a refresh must say the same.
func (e *browserEnv) mfaAMR(t *testing.T, b *browser, redirectTo, state, verifier string) []string {
	t.Helper()
	web := e.webConfig()
	code := codeFrom(t, b.redirect(redirectTo), e.webCB, state, e.n.issuer())
	tok, err := web.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	amr := e.idTokenAMR(t, tok.Extra("id_token").(string))
	st, _, body := e.n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.web.ID, e.web.Secret)
	raw, _ := body["id_token"].(string)
	if st != http.StatusOK || raw == "" {
		t.Fatalf("refresh = %d %v", st, body)
	}
	if got := e.idTokenAMR(t, raw); !slices.Equal(got, amr) {
		t.Fatalf("amr after refresh = %v, want %v", got, amr)
	}
	return amr
}

func (e *browserEnv) idTokenAMR(t *testing.T, raw string) []string {
	t.Helper()
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: e.web.ID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c.AMR
}

// identify drives the Experience API up to identification.
func (b *browser) identify(username, password string) {
	b.t.Helper()
	if st, body := b.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		b.t.Fatalf("PUT /api/experience = %d %v", st, body)
	}
	st, body := b.experience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "username", "value": username}, "password": password,
	})
	if st != http.StatusOK {
		b.t.Fatalf("password verification = %d %v", st, body)
	}
	if st, body := b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": body["verificationId"]}); st != http.StatusNoContent {
		b.t.Fatalf("identification = %d %v", st, body)
	}
}

func (b *browser) mustExperience(method, path string, body any, want int) map[string]any {
	b.t.Helper()
	st, out := b.experience(method, path, body)
	if st != want {
		b.t.Fatalf("%s %s = %d %v, want %d", method, path, st, out, want)
	}
	return out
}

// TestMfaEndToEnd: under a Mandatory policy a user enrolls TOTP and backup codes during
// sign-in (Experience API, codes computed here), signs in again with TOTP through the
// JavaScript-free pages, a replayed or wrong code is refused, a backup code works once,
// the ID token's amr says pwd+otp+mfa, and the Management API lists and deletes the
// factors.
func TestMfaEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	admin := n.adminToken(t.Context())
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp", "BackupCode"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)
	web := e.webConfig()
	authorize := func(b *browser, state, verifier string) {
		t.Helper()
		if loc := b.redirect(web.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent"))); loc.Path != "/sign-in" {
			t.Fatalf("authorize -> %s", loc)
		}
	}

	// 1. Enrollment during sign-in, through the Experience API.
	b := newBrowser(t, n.endpoint)
	verifier := oauth2.GenerateVerifier()
	authorize(b, "st-enroll", verifier)
	b.identify(browserUser, browserPassword)
	if out := b.mustExperience("POST", "/api/experience/submit", nil, http.StatusUnprocessableEntity); out["code"] != "user.missing_mfa" {
		t.Fatalf("submit without MFA: %v", out)
	}
	sec := b.mustExperience("POST", "/api/experience/verification/totp/secret", nil, http.StatusOK)
	secret, _ := sec["secret"].(string)
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": code, "verificationId": sec["verificationId"]}, http.StatusOK)
	b.mustExperience("POST", "/api/experience/profile/mfa", map[string]any{"type": "Totp", "verificationId": sec["verificationId"]}, http.StatusNoContent)
	bc := b.mustExperience("POST", "/api/experience/verification/backup-code/generate", nil, http.StatusOK)
	b.mustExperience("POST", "/api/experience/profile/mfa", map[string]any{"type": "BackupCode", "verificationId": bc["verificationId"]}, http.StatusNoContent)
	var codes []string
	for _, c := range bc["codes"].([]any) {
		codes = append(codes, c.(string))
	}
	redirectTo, _ := b.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	if amr := e.mfaAMR(t, b, redirectTo, "st-enroll", verifier); !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("ID token amr after enrollment = %v", amr)
	}

	// 2. Management API: the factors, without key material.
	var list []map[string]any
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/mfa-verifications", nil, http.StatusOK, &list)
	if len(list) != 2 || list[0]["type"] != "Totp" || list[1]["type"] != "BackupCode" || list[1]["remainCodes"] != float64(10) {
		t.Fatalf("mfa-verifications = %v", list)
	}
	for _, m := range list {
		for k := range m {
			if !slices.Contains([]string{"id", "type", "createdAt", "lastUsedAt", "remainCodes"}, k) {
				t.Fatalf("mfa-verifications shows %q: %v", k, m)
			}
		}
	}

	// 3. Sign in again with the pages only (no JavaScript): password, then TOTP. The
	// code is the next step's (the window takes one step of drift), as the enrollment
	// code's step is spent.
	b2 := newBrowser(t, n.endpoint)
	verifier2 := oauth2.GenerateVerifier()
	authorize(b2, "st-totp", verifier2)
	if st, loc, body := b2.postPage("/sign-in", url.Values{"identifier": {browserUser}, "password": {browserPassword}}); st != http.StatusSeeOther || loc != "/mfa-verification" {
		t.Fatalf("sign-in form = %d %q\n%s", st, loc, body)
	}
	if loc := b2.redirect("/mfa-verification"); loc.Path != "/mfa-verification/totp" {
		t.Fatalf("/mfa-verification -> %s", loc)
	}
	if resp, body := b2.get("/mfa-verification/totp"); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="code"`) {
		t.Fatalf("TOTP page = %d\n%s", resp.StatusCode, body)
	}
	if st, _, body := b2.postPage("/mfa-verification/totp", url.Values{"code": {code}}); st != http.StatusBadRequest || !strings.Contains(body, "Invalid TOTP code") {
		t.Fatalf("replayed enrollment code = %d\n%s", st, body)
	}
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	st, loc, body := b2.postPage("/mfa-verification/totp", url.Values{"code": {next}})
	if st != http.StatusSeeOther || !strings.HasPrefix(loc, n.issuer()+"/auth/") {
		t.Fatalf("TOTP form = %d %q\n%s", st, loc, body)
	}
	if amr := e.mfaAMR(t, b2, loc, "st-totp", verifier2); !slices.Equal(amr, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("ID token amr after TOTP = %v", amr)
	}

	// 4. The same code once more, and a wrong one: refused. A backup code works once.
	b3 := newBrowser(t, n.endpoint)
	verifier3 := oauth2.GenerateVerifier()
	authorize(b3, "st-backup", verifier3)
	b3.identify(browserUser, browserPassword)
	for _, c := range []string{next, "000000"} {
		if out := b3.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": c}, http.StatusBadRequest); out["code"] != "session.mfa.invalid_totp_code" {
			t.Fatalf("code %s: %v", c, out)
		}
	}
	if out := b3.mustExperience("POST", "/api/experience/submit", nil, http.StatusForbidden); out["code"] != "session.mfa.require_mfa_verification" {
		t.Fatalf("submit without the second factor: %v", out)
	}
	b3.mustExperience("POST", "/api/experience/verification/backup-code/verify", map[string]any{"code": codes[0]}, http.StatusOK)
	redirectTo, _ = b3.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	if amr := e.mfaAMR(t, b3, redirectTo, "st-backup", verifier3); !slices.Contains(amr, "mfa") {
		t.Fatalf("ID token amr after a backup code = %v", amr)
	}
	b4 := newBrowser(t, n.endpoint)
	authorize(b4, "st-again", oauth2.GenerateVerifier())
	b4.identify(browserUser, browserPassword)
	if out := b4.mustExperience("POST", "/api/experience/verification/backup-code/verify", map[string]any{"code": codes[0]}, http.StatusBadRequest); out["code"] != "session.mfa.invalid_backup_code" {
		t.Fatalf("spent backup code: %v", out)
	}

	// 5. Deleting the TOTP through the Management API.
	id, _ := list[0]["id"].(string)
	n.mustAPI(admin, "DELETE", "/api/users/"+e.userID+"/mfa-verifications/"+id, nil, http.StatusNoContent, nil)
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/mfa-verifications", nil, http.StatusOK, &list)
	if len(list) != 1 || list[0]["type"] != "BackupCode" || list[0]["remainCodes"] != float64(9) {
		t.Fatalf("after delete: %v", list)
	}
}
