package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latchid/latch/connectors/smtptest"
)

// myAccount calls the Account API with the user's opaque access token and, when vid
// is set, a verification record in logto-verification-id.
func myAccount(t *testing.T, n *testNode, tok, vid, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, n.endpoint+path, rd)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if vid != "" {
		req.Header.Set("logto-verification-id", vid)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s %s: %q is not a JSON object", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// mustMyAccount is myAccount that fails unless the status is want (and, for an
// error, the code is wantCode).
func mustMyAccount(t *testing.T, n *testNode, tok, vid, method, path string, body any, want int, wantCode string) map[string]any {
	t.Helper()
	st, out := myAccount(t, n, tok, vid, method, path, body)
	if st != want || (wantCode != "" && out["code"] != wantCode) {
		t.Fatalf("%s %s = %d %v, want %d %s", method, path, st, out, want, wantCode)
	}
	return out
}

// TestAccountAPIEndToEnd: a user signs in through the browser flow, gets an opaque
// access token from /oidc/token and manages their own account with it: profile read
// and edit under the account center's field controls, a password change that needs a
// fresh verification record (and then the new password signs in), an email change
// proven by a code sent through a real SMTP server, and the revocation of their own
// session (the next prompt=none is login_required).
func TestAccountAPIEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)

	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	web.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile", "email", "custom_data", "identities", "urn:logto:scope:sessions"}
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	at := tok.AccessToken
	if strings.Count(at, ".") != 1 {
		t.Fatalf("want an opaque access token, got %q", at)
	}
	if s, _ := tok.Extra("scope").(string); !strings.Contains(s, "urn:logto:scope:sessions") {
		t.Fatalf("token scope %q", s)
	}

	// The account center is off by default (Logto's default).
	mustMyAccount(t, n, at, "", "GET", "/api/my-account", nil, 400, "account_center.not_enabled")
	mustMyAccount(t, n, "", "", "GET", "/api/my-account", nil, 401, "auth.authorization_header_missing")
	mustMyAccount(t, n, at+"x", "", "GET", "/api/my-account", nil, 401, "auth.unauthorized")
	n.mustAPI(admin, "PATCH", "/api/account-center", map[string]any{"enabled": true, "fields": map[string]string{
		"name": "Edit", "avatar": "ReadOnly", "username": "Edit", "email": "Edit", "phone": "Off",
		"profile": "Edit", "customData": "ReadOnly", "password": "Edit", "session": "Edit",
	}}, 200, nil)

	// Read: the fields shown follow the controls (phone Off, identities under the Off
	// social field) and the scopes.
	me := mustMyAccount(t, n, at, "", "GET", "/api/my-account", nil, 200, "")
	if me["id"] != e.userID || me["name"] != "Alice Browser" || me["username"] != browserUser ||
		me["primaryEmail"] != "alice@browser.example" || me["hasPassword"] != true {
		t.Fatalf("GET /api/my-account = %v", me)
	}
	if cd, _ := me["customData"].(map[string]any); cd["plan"] != "gold" {
		t.Fatalf("customData (ReadOnly) = %v", me["customData"])
	}
	for _, hidden := range []string{"primaryPhone", "identities"} {
		if _, ok := me[hidden]; ok {
			t.Fatalf("%s shown although its field is Off: %v", hidden, me)
		}
	}

	// Edit: name is Edit; avatar and customData are ReadOnly.
	me = mustMyAccount(t, n, at, "", "PATCH", "/api/my-account", map[string]any{"name": "Alice B."}, 200, "")
	if me["name"] != "Alice B." {
		t.Fatalf("PATCH name -> %v", me)
	}
	mustMyAccount(t, n, at, "", "PATCH", "/api/my-account", map[string]any{"avatar": "https://img.example/a.png"}, 400, "account_center.field_not_editable")
	mustMyAccount(t, n, at, "", "PATCH", "/api/my-account", map[string]any{"customData": map[string]any{"plan": "free"}}, 400, "account_center.field_not_editable")
	var u struct {
		Name       string
		Avatar     *string
		CustomData map[string]any
		Profile    map[string]any
	}
	n.mustAPI(admin, "GET", "/api/users/"+e.userID, nil, 200, &u)
	if u.Name != "Alice B." || u.Avatar != nil || u.CustomData["plan"] != "gold" {
		t.Fatalf("stored user after the edits: %+v", u)
	}
	prof := mustMyAccount(t, n, at, "", "PATCH", "/api/my-account/profile", map[string]any{"givenName": "Alice", "nickname": "ali"}, 200, "")
	if prof["givenName"] != "Alice" || prof["nickname"] != "ali" {
		t.Fatalf("PATCH profile -> %v", prof)
	}
	// A username change is sensitive: it needs a verification record.
	mustMyAccount(t, n, at, "", "PATCH", "/api/my-account", map[string]any{"username": "alice_two"}, 401, "verification_record.permission_denied")

	// Password: a verification record first (the current password), then the policy.
	const newPassword = "N3w-Horse-battery-staple"
	mustMyAccount(t, n, at, "", "POST", "/api/my-account/password", map[string]any{"password": newPassword}, 401, "verification_record.permission_denied")
	mustMyAccount(t, n, at, "not-a-record", "POST", "/api/my-account/password", map[string]any{"password": newPassword}, 401, "verification_record.permission_denied")
	mustMyAccount(t, n, at, "", "POST", "/api/verifications/password", map[string]any{"password": "wrong-password-1"}, 422, "session.invalid_credentials")
	rec := mustMyAccount(t, n, at, "", "POST", "/api/verifications/password", map[string]any{"password": browserPassword}, 201, "")
	vid, _ := rec["verificationRecordId"].(string)
	if vid == "" {
		t.Fatalf("verification record %v", rec)
	}
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/password", map[string]any{"password": "short"}, 422, "password.rejected")
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/password", map[string]any{"password": newPassword}, 204, "")
	me = mustMyAccount(t, n, at, vid, "PATCH", "/api/my-account", map[string]any{"username": "alice_two"}, 200, "")
	if me["username"] != "alice_two" {
		t.Fatalf("username change with a record -> %v", me)
	}

	// The new password signs in; the old one no longer does.
	b2 := newBrowser(t, n.endpoint)
	b2.redirect(web.AuthCodeURL("st2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if st, body := b2.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		t.Fatalf("PUT /api/experience = %d %v", st, body)
	}
	if st, body := b2.experience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "username", "value": "alice_two"}, "password": browserPassword,
	}); st != http.StatusUnprocessableEntity || body["code"] != "session.invalid_credentials" {
		t.Fatalf("old password after the change: %d %v", st, body)
	}
	codeFrom(t, b2.redirect(b2.signIn("alice_two", newPassword)), e.webCB, "st2", n.issuer())

	// Email change by code, through a real SMTP server.
	mail := smtptest.Start(t, smtptest.Options{User: "mailer", Pass: "e2e-smtp-pass"})
	tpl := func(usage string) map[string]string {
		return map[string]string{"usageType": usage, "contentType": "text/plain", "subject": usage, "content": usage + " code {{code}}"}
	}
	n.mustAPI(admin, "POST", "/api/connectors", map[string]any{"connectorId": "simple-mail-transfer-protocol", "config": map[string]any{
		"host": mail.Host, "port": mail.Port, "fromEmail": "noreply@latch.test",
		"auth":      map[string]string{"user": "mailer", "pass": "e2e-smtp-pass"},
		"templates": []map[string]string{tpl("SignIn"), tpl("Register"), tpl("ForgotPassword"), tpl("Generic")},
	}}, 200, nil)
	const newEmail = "alice.new@browser.example"
	ident := map[string]any{"type": "email", "value": newEmail}
	sent := mustMyAccount(t, n, at, "", "POST", "/api/verifications/verification-code", map[string]any{"identifier": ident}, 201, "")
	newID, _ := sent["verificationRecordId"].(string)
	m := mail.Next(t)
	text, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	mailed := regexp.MustCompile(`\d{6}`).FindString(string(text))
	if newID == "" || len(m.To) != 1 || m.To[0] != newEmail || mailed == "" {
		t.Fatalf("code sent %v, mail %+v %q", sent, m, text)
	}
	change := map[string]any{"email": newEmail, "newIdentifierVerificationRecordId": newID}
	// Not verified yet.
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/primary-email", change, 400, "verification_record.not_found")
	mustMyAccount(t, n, at, "", "POST", "/api/verifications/verification-code/verify", map[string]any{"identifier": ident, "verificationId": newID, "code": mailed}, 200, "")
	// The record proves this address only; the change needs the caller's own record too.
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/primary-email", map[string]any{"email": "mallory@browser.example", "newIdentifierVerificationRecordId": newID}, 400, "verification_record.not_found")
	mustMyAccount(t, n, at, "", "POST", "/api/my-account/primary-email", change, 401, "verification_record.permission_denied")
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/primary-email", change, 204, "")
	if me := mustMyAccount(t, n, at, "", "GET", "/api/my-account", nil, 200, ""); me["primaryEmail"] != newEmail {
		t.Fatalf("email after the change: %v", me)
	}
	mustMyAccount(t, n, at, vid, "POST", "/api/my-account/primary-email", change, 400, "verification_record.not_found") // one use
	// phone is Off: not editable.
	mustMyAccount(t, n, at, vid, "DELETE", "/api/my-account/primary-phone", nil, 400, "account_center.field_not_editable")

	// Sessions: the user lists theirs and revokes the one the browser signed in with.
	mustMyAccount(t, n, at, "", "GET", "/api/my-account/sessions", nil, 401, "verification_record.permission_denied")
	list := mustMyAccount(t, n, at, vid, "GET", "/api/my-account/sessions", nil, 200, "")
	sessions, _ := list["sessions"].([]any)
	if len(sessions) != 2 {
		t.Fatalf("sessions %v, want 2 (two browsers)", list)
	}
	var sid, grantID string
	// The first browser's session is the older one (smaller loginTs).
	var oldest float64
	for _, s := range sessions {
		p, _ := s.(map[string]any)["payload"].(map[string]any)
		if ts, _ := p["loginTs"].(float64); sid == "" || ts < oldest {
			sid, oldest = p["uid"].(string), ts
			auth, _ := p["authorizations"].(map[string]any)[e.web.ID].(map[string]any)
			grantID, _ = auth["grantId"].(string)
		}
	}
	silent := func(br *browser) *urlResult {
		loc := br.redirect(web.AuthCodeURL("silent", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("prompt", "none")))
		return &urlResult{code: loc.Query().Get("code"), err: loc.Query().Get("error")}
	}
	if r := silent(b); r.code == "" {
		t.Fatalf("prompt=none before the revocation: %+v", r)
	}
	mustMyAccount(t, n, at, vid, "DELETE", "/api/my-account/sessions/nope", nil, 404, "oidc.session_not_found")
	mustMyAccount(t, n, at, vid, "DELETE", "/api/my-account/sessions/"+sid, nil, 204, "")
	if r := silent(b); r.err != "login_required" {
		t.Fatalf("prompt=none after the revocation: %+v", r)
	}
	if r := silent(b2); r.code == "" {
		t.Fatalf("the other browser's session ended too: %+v", r)
	}
	// Without revokeGrantsTarget the grant stays: the token still works.
	list = mustMyAccount(t, n, at, vid, "GET", "/api/my-account/sessions", nil, 200, "")
	if s, _ := list["sessions"].([]any); len(s) != 1 {
		t.Fatalf("sessions after the revocation: %v", list)
	}

	// A ReadOnly session field lists but does not revoke.
	n.mustAPI(admin, "PATCH", "/api/account-center", map[string]any{"fields": map[string]string{"session": "ReadOnly"}}, 200, nil)
	mustMyAccount(t, n, at, vid, "GET", "/api/my-account/sessions", nil, 200, "")
	mustMyAccount(t, n, at, vid, "DELETE", "/api/my-account/sessions/"+sid, nil, 400, "account_center.field_not_editable")
	// Every other field is now Off: the profile shows only what is not a field.
	me = mustMyAccount(t, n, at, "", "GET", "/api/my-account", nil, 200, "")
	for _, hidden := range []string{"name", "username", "primaryEmail", "customData", "hasPassword", "profile"} {
		if _, ok := me[hidden]; ok {
			t.Fatalf("%s shown with its field Off: %v", hidden, me)
		}
	}
	mustMyAccount(t, n, at, "", "PATCH", "/api/my-account", map[string]any{"name": "x"}, 400, "account_center.field_not_editable")

	// Grants: revoking the grant the token belongs to ends the token.
	grants := mustMyAccount(t, n, at, vid, "GET", "/api/my-account/grants", nil, 200, "")
	if g, _ := grants["grants"].([]any); len(g) != 2 || grantID == "" {
		t.Fatalf("grants %v (the first session's grant %q)", grants, grantID)
	}
	mustMyAccount(t, n, at, vid, "DELETE", "/api/my-account/grants/"+grantID, nil, 400, "account_center.field_not_editable")
	n.mustAPI(admin, "PATCH", "/api/account-center", map[string]any{"fields": map[string]string{"session": "Edit"}}, 200, nil)
	mustMyAccount(t, n, at, vid, "DELETE", "/api/my-account/grants/"+grantID, nil, 204, "")
	mustMyAccount(t, n, at, vid, "GET", "/api/my-account/sessions", nil, 401, "auth.unauthorized")
}

type urlResult struct{ code, err string }
