package main

import (
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Security regression (issue 12): an opaque access token (no resource) carries only the
// scopes that exist for it. Before, `scope=openid admin:everything` on the authorization
// request gave, at the code exchange and at every refresh, an opaque token whose scope
// and introspection answer held admin:everything.
func TestOpaqueAccessTokenScopes(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	var ep ixEndpoints
	if err := e.provider.Claims(&ep); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	web.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "admin:everything"}
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") != 1 {
		t.Fatalf("want an opaque access token: %+v", tok)
	}
	check := func(what, token string, scope any) {
		t.Helper()
		if s, _ := scope.(string); strings.Contains(s, "admin:everything") || !strings.Contains(s, "openid") {
			t.Errorf("%s: token scope %q", what, s)
		}
		out := ixWantActive(t, ep, e.web.ID, e.web.Secret, token, nil)
		if s, _ := out["scope"].(string); strings.Contains(s, "admin:everything") || !strings.Contains(s, "openid") {
			t.Errorf("%s: introspection scope %q", what, s)
		}
	}
	check("code exchange", tok.AccessToken, tok.Extra("scope"))
	st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.web.ID, e.web.Secret)
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, body)
	}
	check("refresh", body["access_token"].(string), body["scope"])
}
