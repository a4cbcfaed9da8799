package main

import (
	"net/url"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestChromiumRegisterByCode: in headless Chromium, from the sign-in page's link to
// /register, an email, the code from the SMTP server and a password end at the
// application with a code that redeems for an ID token with the verified email.
func TestChromiumRegisterByCode(t *testing.T) {
	binary := chromiumBinary(t)
	e := newFlowsEnv(t)
	app, got := startSignedInApp(t, 1)
	var spa struct{ ID string }
	e.n.createApp(e.admin, map[string]any{"name": "Code SPA", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{app.URL + "/callback"}, "postLogoutRedirectUris": []string{}}}, &spa)
	oc := oauth2.Config{ClientID: spa.ID, Endpoint: e.provider.Endpoint(), RedirectURL: app.URL + "/callback",
		Scopes: []string{oidc.ScopeOpenID, "email"}}
	oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()

	page := launchChromium(t, binary)
	page.navigate(oc.AuthCodeURL("chromium-code", oauth2.S256ChallengeOption(verifier)))
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
	var query string
	select {
	case query = <-got:
	case <-time.After(30 * time.Second):
		page.screenshot("stuck.png")
		t.Fatalf("the browser never reached the app; it is at %s", page.evalString("location.href"))
	}
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("state") != "chromium-code" || q.Get("code") == "" {
		t.Fatalf("callback query %q", query)
	}
	tok, err := oc.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: spa.ID}).Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Email    string `json:"email"`
		Verified bool   `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil || claims.Email != addr || !claims.Verified {
		t.Fatalf("claims %+v (%v)", claims, err)
	}
}
