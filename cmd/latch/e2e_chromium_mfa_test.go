package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// TestChromiumMfaEnrollment: in a real browser, with the sign-in page's script and with
// JavaScript disabled, a user under a Mandatory MFA policy is sent from the sign-in form
// to the TOTP setup page, enters the code of the key the page shows, sees the backup
// codes once, and ends at the application with a code.
func TestChromiumMfaEnrollment(t *testing.T) {
	browser := chromiumBinary(t)
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("javascript=%v", js), func(t *testing.T) { chromiumMfaEnrollment(t, browser, js) })
	}
}

func chromiumMfaEnrollment(t *testing.T, browser string, js bool) {
	n := startNode(t, t.TempDir(), nil)
	admin := n.adminToken(t.Context())
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp", "BackupCode"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)

	app, got := startSignedInApp(t, 1)
	var created struct {
		ID string `json:"id"`
	}
	n.createApp(admin, map[string]any{
		"name": "Chromium MFA SPA", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{app.URL + "/callback"}, "postLogoutRedirectUris": []string{}},
	}, &created)
	const username, password = "chromium_mfa", "a long enough password"
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": username, "password": password}, http.StatusOK, nil)
	oc := oauth2.Config{ClientID: created.ID, RedirectURL: app.URL + "/callback", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: n.issuer() + "/auth", TokenURL: n.issuer() + "/token"}}

	page := launchChromium(t, browser)
	if !js {
		page.call("Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil)
	}
	page.navigate(oc.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", username)
	page.typeInto("password", password)
	clickInView(t, page, "submit")
	page.waitFor("the TOTP setup page", `location.pathname === "/mfa-binding/totp" && document.readyState === "complete" && !!document.getElementById("totp-secret")`)
	page.screenshot("mfa-binding.png")
	if w := page.evalString(`String(document.getElementById("totp-qr").naturalWidth)`); w == "0" {
		t.Fatal("the QR code image did not load")
	}
	secret := page.evalString(`document.getElementById("totp-secret").textContent`)
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	page.typeInto("code", code)
	clickInView(t, page, "submit") // below the QR code: out of the default viewport
	page.waitFor("the backup codes", `!!document.getElementById("backup-codes") && document.readyState === "complete"`)
	if n := page.evalString(`String(document.querySelectorAll("#backup-codes li").length)`); n != "10" {
		t.Fatalf("%s backup codes shown", n)
	}
	clickInView(t, page, "submit")
	select {
	case q := <-got:
		v, _ := url.ParseQuery(q)
		if v.Get("code") == "" || v.Get("state") != "st" {
			t.Fatalf("callback query %q", q)
		}
	case <-time.After(30 * time.Second):
		page.screenshot("mfa-stuck.png")
		t.Fatalf("the browser never reached the app; it is at %s", page.evalString("location.href"))
	}
	if !strings.HasPrefix(page.evalString("location.href"), app.URL) {
		page.waitFor("the app's page", fmt.Sprintf(`location.href.startsWith(%q)`, app.URL))
	}
}

// clickInView scrolls the element with id into the viewport, then clicks it.
func clickInView(t *testing.T, page *cdpPage, id string) {
	t.Helper()
	if _, err := page.eval(fmt.Sprintf(`(() => { document.getElementById(%q).scrollIntoView({block: "center"}); return true; })()`, id)); err != nil {
		t.Fatalf("scroll to #%s: %v", id, err)
	}
	page.click(id)
}

// TestChromiumMfaWebAuthn: a security key as the second factor in a real browser, with
// Chromium's virtual authenticator (CDP WebAuthn.addVirtualAuthenticator): under a
// Mandatory policy offering only WebAuthn, the sign-in form leads to the key page,
// whose script registers and binds a credential; the next sign-in (prompt=login)
// asserts it, and the ID token's amr says pwd, hwk, mfa. The endpoint is on
// "localhost": WebAuthn refuses an IP address as RP ID.
func TestChromiumMfaWebAuthn(t *testing.T) {
	browser := chromiumBinary(t)
	var base string
	n := startNode(t, t.TempDir(), func(c *serveConfig) {
		c.Endpoint = strings.Replace(c.Endpoint, "127.0.0.1", "localhost", 1)
		base = c.Endpoint
	})
	admin := n.adminToken(t.Context())
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"WebAuthn"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)

	app, got := startSignedInApp(t, 2)
	var created struct {
		ID string `json:"id"`
	}
	n.createApp(admin, map[string]any{
		"name": "Chromium WebAuthn SPA", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{app.URL + "/callback"}, "postLogoutRedirectUris": []string{}},
	}, &created)
	const username, password = "chromium_key", "a long enough password"
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": username, "password": password}, http.StatusOK, nil)
	oc := oauth2.Config{ClientID: created.ID, RedirectURL: app.URL + "/callback", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: base + "/oidc/auth", TokenURL: base + "/oidc/token", AuthStyle: oauth2.AuthStyleInParams}}

	page := launchChromium(t, browser)
	page.call("WebAuthn.enable", nil, nil)
	page.call("WebAuthn.addVirtualAuthenticator", map[string]any{"options": map[string]any{
		"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
		"hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
	}}, nil)
	signIn := func(state, verifier, keyPage string) url.Values {
		t.Helper()
		page.navigate(oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
		page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
		page.typeInto("identifier", username)
		page.typeInto("password", password)
		clickInView(t, page, "submit")
		page.waitFor("the key page", fmt.Sprintf(`location.pathname === %q && document.readyState === "complete" && !document.getElementById("submit").disabled`, keyPage))
		clickInView(t, page, "submit")
		select {
		case q := <-got:
			v, _ := url.ParseQuery(q)
			if v.Get("code") == "" || v.Get("state") != state {
				t.Fatalf("callback query %q", q)
			}
			return v
		case <-time.After(30 * time.Second):
			page.screenshot("webauthn-stuck.png")
			t.Fatalf("the browser never reached the app; it is at %s (%s)", page.evalString("location.href"),
				page.evalString(`(document.getElementById("form-error") || {}).textContent || ""`))
		}
		return nil
	}
	signIn("st-bind", oauth2.GenerateVerifier(), "/mfa-binding/web-authn")

	var list []map[string]any
	var user []map[string]any
	n.mustAPI(admin, "GET", "/api/users?search="+username, nil, http.StatusOK, &user)
	n.mustAPI(admin, "GET", "/api/users/"+user[0]["id"].(string)+"/mfa-verifications", nil, http.StatusOK, &list)
	if len(list) != 1 || list[0]["type"] != "WebAuthn" {
		t.Fatalf("mfa-verifications after binding = %v", list)
	}

	verifier := oauth2.GenerateVerifier()
	q := signIn("st-key", verifier, "/mfa-verification/web-authn")
	tok, err := oc.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("id_token %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || strings.Join(claims.AMR, " ") != "pwd hwk mfa" {
		t.Fatalf("ID token amr = %v (%v)", claims.AMR, err)
	}
}
