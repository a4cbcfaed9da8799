package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// TestAccountMfaEndToEnd: a signed-in user binds TOTP and backup codes through the
// Account API with their opaque access token (codes computed here with pquerna/otp),
// and the next sign-in asks for the TOTP. Binding needs a fresh verification record
// (401 verification_record.permission_denied without), the mfa field Edit (ReadOnly:
// 400 account_center.field_not_editable), the identities scope, and a correct code.
func TestAccountMfaEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)

	web := e.webConfig()
	web.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile", "identities"}
	b := newBrowser(t, n.endpoint)
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	at := tok.AccessToken

	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp", "BackupCode"}, "policy": "UserControlled"},
	}, http.StatusOK, nil)
	center := func(mfa string) {
		n.mustAPI(admin, "PATCH", "/api/account-center", map[string]any{"enabled": true, "fields": map[string]string{"mfa": mfa}}, http.StatusOK, nil)
	}
	center("ReadOnly")

	// A new TOTP secret; nothing is stored until it is bound.
	gen := mustMyAccount(t, n, at, "", "POST", "/api/my-account/mfa-verifications/totp-secret/generate", nil, 200, "")
	secret, _ := gen["secret"].(string)
	if secret == "" || !strings.HasPrefix(gen["secretQrCode"].(string), "data:image/png;base64,") {
		t.Fatalf("totp-secret/generate = %v", gen)
	}
	now, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bind := map[string]any{"type": "Totp", "secret": secret, "code": now}

	// Without a verification record: refused, whatever the field says.
	mustMyAccount(t, n, at, "", "POST", "/api/my-account/mfa-verifications", bind, 401, "verification_record.permission_denied")
	mustMyAccount(t, n, at, "not-a-record", "POST", "/api/my-account/mfa-verifications", bind, 401, "verification_record.permission_denied")
	rec := mustMyAccount(t, n, at, "", "POST", "/api/verifications/password", map[string]any{"password": browserPassword}, 201, "")
	vid, _ := rec["verificationRecordId"].(string)
	// The mfa field ReadOnly: no binding, no replacement.
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", bind, 400, "account_center.field_not_editable")
	mustMyAccount(t, n, at, vid, "PUT", "/api/my-account/mfa-verifications/totp", map[string]any{"secret": secret, "code": now}, 400, "account_center.field_not_editable")
	center("Edit")
	// A wrong code, a bad secret.
	wrong := "000000"
	if now == wrong {
		wrong = "111111"
	}
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", map[string]any{"type": "Totp", "secret": secret, "code": wrong}, 400, "session.mfa.invalid_totp_code")
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", map[string]any{"type": "Totp", "secret": "not base32!"}, 400, "user.totp_secret_invalid")
	// Backup codes cannot be the only factor.
	gen = mustMyAccount(t, n, at, "", "POST", "/api/my-account/mfa-verifications/backup-codes/generate", nil, 200, "")
	rawCodes, _ := gen["codes"].([]any)
	if len(rawCodes) != 10 {
		t.Fatalf("backup-codes/generate = %v", gen)
	}
	codes := make([]string, len(rawCodes))
	for i, c := range rawCodes {
		codes[i], _ = c.(string)
	}
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", map[string]any{"type": "BackupCode", "codes": codes}, 422, "session.mfa.backup_code_can_not_be_alone")
	mustMyAccount(t, n, at, vid, "GET", "/api/my-account/mfa-verifications/backup-codes", nil, 404, "verification_record.not_found")

	// Bind the TOTP, then the backup codes.
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", bind, 204, "")
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", bind, 422, "user.totp_already_in_use")
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", map[string]any{"type": "BackupCode", "codes": []string{"nope"}}, 422, "user.wrong_backup_code_format")
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/mfa-verifications", map[string]any{"type": "BackupCode", "codes": codes}, 204, "")
	mustMyAccount(t, n, at, "", "GET", "/api/my-account/mfa-verifications/backup-codes", nil, 401, "verification_record.permission_denied")
	listed := mustMyAccount(t, n, at, vid, "GET", "/api/my-account/mfa-verifications/backup-codes", nil, 200, "")
	if items, _ := listed["codes"].([]any); len(items) != 10 {
		t.Fatalf("backup-codes = %v", listed)
	}
	var list []map[string]any
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/mfa-verifications", nil, http.StatusOK, &list)
	if len(list) != 2 || list[0]["type"] != "Totp" || list[1]["type"] != "BackupCode" || list[1]["remainCodes"] != float64(10) {
		t.Fatalf("mfa-verifications = %v", list)
	}

	// The next sign-in asks for the TOTP. The binding code's step is spent: the code
	// of the next step (within the one-step window) passes.
	b2 := newBrowser(t, n.endpoint)
	web2 := e.webConfig()
	verifier2 := oauth2.GenerateVerifier()
	b2.redirect(web2.AuthCodeURL("st2", oauth2.S256ChallengeOption(verifier2), oauth2.SetAuthURLParam("prompt", "consent")))
	b2.identify(browserUser, browserPassword)
	if out := b2.mustExperience("POST", "/api/experience/submit", nil, http.StatusForbidden); out["code"] != "session.mfa.require_mfa_verification" {
		t.Fatalf("submit without the TOTP: %v", out)
	}
	if out := b2.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": now}, http.StatusBadRequest); out["code"] != "session.mfa.invalid_totp_code" {
		t.Fatalf("binding code replayed: %v", out)
	}
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b2.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": next}, http.StatusOK)
	redirectTo, _ := b2.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	if amr := e.mfaAMR(t, b2, redirectTo, "st2", verifier2); !slices.Contains(amr, "otp") || !slices.Contains(amr, "mfa") {
		t.Fatalf("ID token amr after TOTP = %v", amr)
	}

	// PUT totp replaces the factor: the old secret no longer signs in.
	gen = mustMyAccount(t, n, at, "", "POST", "/api/my-account/mfa-verifications/totp-secret/generate", nil, 200, "")
	secret2, _ := gen["secret"].(string)
	code2, _ := totp.GenerateCode(secret2, time.Now())
	mustMyAccount(t, n, at, vid, "PUT", "/api/my-account/mfa-verifications/totp", map[string]any{"secret": secret2}, 400, "guard.invalid_input")
	mustMyAccount(t, n, at, vid, "PUT", "/api/my-account/mfa-verifications/totp", map[string]any{"secret": secret2, "code": code2}, 204, "")
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/mfa-verifications", nil, http.StatusOK, &list)
	if len(list) != 2 || list[0]["type"] != "Totp" {
		t.Fatalf("mfa-verifications after PUT totp = %v", list)
	}
	b3 := newBrowser(t, n.endpoint)
	b3.redirect(web2.AuthCodeURL("st3", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "consent")))
	b3.identify(browserUser, browserPassword)
	old, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if out := b3.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": old}, http.StatusBadRequest); out["code"] != "session.mfa.invalid_totp_code" {
		t.Fatalf("old secret after PUT totp: %v", out)
	}
	next2, _ := totp.GenerateCode(secret2, time.Now().Add(30*time.Second))
	b3.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": next2}, http.StatusOK)

	// mfa-settings: skipMfaOnSignIn lets a sign-in through without the factor, unless
	// the policy is mandatory.
	if got := mustMyAccount(t, n, at, "", "GET", "/api/my-account/mfa-settings", nil, 200, ""); got["skipMfaOnSignIn"] != false {
		t.Fatalf("mfa-settings = %v", got)
	}
	skip := map[string]any{"skipMfaOnSignIn": true}
	mustMyAccount(t, n, at, "", "PATCH", "/api/my-account/mfa-settings", skip, 401, "verification_record.permission_denied")
	if got := mustMyAccount(t, n, at, vid, "PATCH", "/api/my-account/mfa-settings", skip, 200, ""); got["skipMfaOnSignIn"] != true {
		t.Fatalf("PATCH mfa-settings = %v", got)
	}
	b4 := newBrowser(t, n.endpoint)
	b4.redirect(web2.AuthCodeURL("st4", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "consent")))
	b4.identify(browserUser, browserPassword)
	b4.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp", "BackupCode"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)
	b5 := newBrowser(t, n.endpoint)
	b5.redirect(web2.AuthCodeURL("st5", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "consent")))
	b5.identify(browserUser, browserPassword)
	if out := b5.mustExperience("POST", "/api/experience/submit", nil, http.StatusForbidden); out["code"] != "session.mfa.require_mfa_verification" {
		t.Fatalf("submit under Mandatory with skipMfaOnSignIn: %v", out)
	}
}
