package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// chromiumApp is an SPA for the code-flow browser tests: its redirect target records
// the query the browser brings, and it redeems the code with PKCE.
type chromiumApp struct {
	e        *flowsEnv
	oc       oauth2.Config
	verifier string
	got      chan string
}

// newChromiumApp serves the application's page on loopback and registers it as an SPA.
func newChromiumApp(t *testing.T, e *flowsEnv, name string) *chromiumApp {
	t.Helper()
	a := &chromiumApp{e: e, verifier: oauth2.GenerateVerifier(), got: make(chan string, 1)}
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			select {
			case a.got <- r.URL.RawQuery:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>App</title><h1>Signed in</h1>")
	}))
	t.Cleanup(app.Close)
	var spa struct{ ID string }
	e.n.createApp(e.admin, map[string]any{"name": name, "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{app.URL + "/callback"}, "postLogoutRedirectUris": []string{}}}, &spa)
	a.oc = oauth2.Config{ClientID: spa.ID, Endpoint: e.provider.Endpoint(), RedirectURL: app.URL + "/callback",
		Scopes: []string{oidc.ScopeOpenID, "email"}}
	a.oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	return a
}

// authURL is the authorization request the app sends the browser to.
func (a *chromiumApp) authURL(state string) string {
	return a.oc.AuthCodeURL(state, oauth2.S256ChallengeOption(a.verifier))
}

// callback waits for the browser to reach the app, checks the authorization response
// (code, state, iss) and redeems the code; it returns the verified ID token.
func (a *chromiumApp) callback(t *testing.T, page *cdpPage, state string) *oidc.IDToken {
	t.Helper()
	var query string
	select {
	case query = <-a.got:
	case <-time.After(30 * time.Second):
		page.screenshot("stuck.png")
		t.Fatalf("the browser never reached the app; it is at %s", page.evalString("location.href"))
	}
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != a.e.n.issuer() {
		t.Fatalf("callback query %q, want code, state %q and iss %q", query, state, a.e.n.issuer())
	}
	tok, err := a.oc.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.e.provider.Verifier(&oidc.Config{ClientID: a.oc.ClientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	return idt
}

// TestChromiumRegisterByCode: in headless Chromium, from the sign-in page's link to
// /register, an email, the code from the SMTP server and a password end at the
// application with a code that redeems for an ID token with the verified email.
func TestChromiumRegisterByCode(t *testing.T) {
	binary := chromiumBinary(t)
	e := newFlowsEnv(t)
	app := newChromiumApp(t, e, "Code SPA")

	page := launchChromium(t, binary)
	page.navigate(app.authURL("chromium-code"))
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("sign-in-code")`)
	if _, err := page.eval(`document.querySelector('a[href="/register"]').click()`); err != nil {
		t.Fatal(err)
	}
	page.waitFor("the register page", `location.pathname === "/register" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	const addr = "chromium.user@flows.example"
	page.typeInto("identifier", addr)
	clickInView(t, page, "submit")
	page.waitFor("the code step", `document.readyState === "complete" && !!document.getElementById("code")`)
	page.screenshot("register-code.png")
	page.typeInto("code", e.code(t, addr, "Register"))
	page.typeInto("password", "Chromium-passw0rd-5")
	page.typeInto("confirm-password", "Chromium-passw0rd-5")
	clickInView(t, page, "submit")
	idt := app.callback(t, page, "chromium-code")
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != addr || !claims.Verified {
		t.Fatalf("claims %+v (%v)", claims, err)
	}
}
