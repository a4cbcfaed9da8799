package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// ixEndpoints are the introspection and revocation endpoints as discovery announces
// them (RFC 8414 2).
type ixEndpoints struct {
	Introspection string `json:"introspection_endpoint"`
	Revocation    string `json:"revocation_endpoint"`
}

// ixPost posts form to u as a client: Basic credentials when secret is set
// (client_secret_basic), else client_id in the body (a public client). It returns the
// status and the raw body.
func ixPost(t *testing.T, u, clientID, secret string, form url.Values) (int, []byte) {
	t.Helper()
	if secret == "" {
		form.Set("client_id", clientID)
	}
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(clientID, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// ixIntrospect introspects token as the client and requires a 200 JSON answer.
func ixIntrospect(t *testing.T, ep ixEndpoints, clientID, secret, token string) map[string]any {
	t.Helper()
	status, raw := ixPost(t, ep.Introspection, clientID, secret, url.Values{"token": {token}})
	var out map[string]any
	if status != http.StatusOK || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("introspection = %d %s", status, raw)
	}
	return out
}

func ixWantInactive(t *testing.T, ep ixEndpoints, clientID, secret, token string) {
	t.Helper()
	if out := ixIntrospect(t, ep, clientID, secret, token); len(out) != 1 || out["active"] != false {
		t.Fatalf("introspection of %.30q by %s = %v, want {\"active\": false}", token, clientID, out)
	}
}

// ixWantActive requires an active answer carrying want.
func ixWantActive(t *testing.T, ep ixEndpoints, clientID, secret, token string, want map[string]any) map[string]any {
	t.Helper()
	out := ixIntrospect(t, ep, clientID, secret, token)
	if out["active"] != true {
		t.Fatalf("introspection of %.30q by %s = %v, want active", token, clientID, out)
	}
	for k, v := range want {
		if v == nil {
			if _, present := out[k]; present {
				t.Errorf("introspection %s = %v, want absent", k, out[k])
			}
		} else if out[k] != v {
			t.Errorf("introspection %s = %v, want %v", k, out[k], v)
		}
	}
	if exp, _ := out["exp"].(float64); int64(exp) <= time.Now().Unix() {
		t.Errorf("introspection exp %v is not in the future", out["exp"])
	}
	return out
}

func ixRevoke(t *testing.T, ep ixEndpoints, clientID, secret, token, hint string) {
	t.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	if status, raw := ixPost(t, ep.Revocation, clientID, secret, form); status != http.StatusOK || len(raw) != 0 {
		t.Fatalf("revocation = %d %q, want 200 and an empty body", status, raw)
	}
}

// TestLifecycleIntrospectionRevocation signs a user in with real clients (x/oauth2,
// go-oidc), then introspects every kind of token Latch issues, lets other clients try,
// and revokes the opaque access token and the refresh token.
func TestLifecycleIntrospectionRevocation(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	var ep ixEndpoints
	if err := e.provider.Claims(&ep); err != nil {
		t.Fatal(err)
	}
	if ep.Introspection != n.issuer()+"/token/introspection" || ep.Revocation != n.issuer()+"/token/revocation" {
		t.Fatalf("discovery: %+v", ep)
	}

	// Sign in through the browser flow; the code exchange gives an opaque access token
	// and a refresh token, a refresh with resource gives a user JWT.
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce("n"),
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("resource", e.api)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || strings.Count(tok.AccessToken, ".") != 1 {
		t.Fatalf("want an opaque access token and a refresh token: %+v", tok)
	}
	st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {e.api}}, e.web.ID, e.web.Secret)
	userJWT, _ := body["access_token"].(string)
	if st != 200 || strings.Count(userJWT, ".") != 2 {
		t.Fatalf("refresh with resource: %d %v", st, body)
	}

	// A machine-to-machine app and its client_credentials JWT.
	var m2m struct{ ID, Secret string }
	n.createApp(n.adminToken(ctx), map[string]any{"name": "m2m", "type": "MachineToMachine"}, &m2m)
	ccJWT, err := n.clientToken(ctx, m2m.ID, m2m.Secret, e.api)
	if err != nil {
		t.Fatal(err)
	}

	// Introspection of each kind, by its own client.
	iss := n.issuer()
	ixWantActive(t, ep, e.web.ID, e.web.Secret, tok.AccessToken, map[string]any{
		"client_id": e.web.ID, "sub": e.userID, "iss": iss, "token_type": "Bearer", "aud": nil,
		"scope": tok.Extra("scope"),
	})
	rt := ixWantActive(t, ep, e.web.ID, e.web.Secret, tok.RefreshToken, map[string]any{
		"client_id": e.web.ID, "sub": e.userID, "iss": iss, "token_type": nil,
	})
	if sid, _ := rt["sid"].(string); sid == "" {
		t.Errorf("refresh token introspection without sid: %v", rt)
	}
	ixWantActive(t, ep, e.web.ID, e.web.Secret, userJWT, map[string]any{
		"client_id": e.web.ID, "sub": e.userID, "iss": iss, "token_type": "Bearer", "aud": e.api, "scope": "read:data",
	})
	ixWantActive(t, ep, m2m.ID, m2m.Secret, ccJWT, map[string]any{
		"client_id": m2m.ID, "sub": m2m.ID, "iss": iss, "token_type": "Bearer", "aud": e.api,
	})

	// Another client sees none of them; garbage is inactive, never an error.
	for _, other := range []struct{ id, secret string }{{e.spa.ID, ""}, {m2m.ID, m2m.Secret}} {
		for _, tk := range []string{tok.AccessToken, tok.RefreshToken, userJWT} {
			ixWantInactive(t, ep, other.id, other.secret, tk)
		}
	}
	ixWantInactive(t, ep, e.web.ID, e.web.Secret, ccJWT)
	for _, garbage := range []string{"x", "a.b", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", tok.AccessToken + "x",
		strings.Repeat("A", 22) + "." + strings.Repeat("B", 43), strings.Repeat("€", 300)} {
		ixWantInactive(t, ep, e.web.ID, e.web.Secret, garbage)
		ixRevoke(t, ep, e.web.ID, e.web.Secret, garbage, "")
	}
	// A token of another client is not revoked: a public client gets 200, a
	// confidential one invalid_request (RFC 7009 2.1, node-oidc-provider's policy).
	ixRevoke(t, ep, e.spa.ID, "", tok.RefreshToken, "refresh_token")
	if status, raw := ixPost(t, ep.Revocation, m2m.ID, m2m.Secret, url.Values{"token": {tok.AccessToken}}); status != 400 || !strings.Contains(string(raw), "invalid_request") {
		t.Fatalf("revocation of another client's token by a confidential client = %d %s", status, raw)
	}
	ixWantActive(t, ep, e.web.ID, e.web.Secret, tok.RefreshToken, nil)
	ixWantActive(t, ep, e.web.ID, e.web.Secret, tok.AccessToken, nil)

	// Revoke the opaque access token: userinfo refuses it, introspection says
	// inactive; the refresh token and the JWT live on.
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatalf("userinfo before revocation: %v", err)
	}
	ixRevoke(t, ep, e.web.ID, e.web.Secret, tok.AccessToken, "access_token")
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
		t.Fatal("userinfo accepted a revoked access token")
	}
	if status, hdr := bearerGet(t, n.issuer()+"/me", tok.AccessToken); status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("userinfo after revocation: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	ixWantInactive(t, ep, e.web.ID, e.web.Secret, tok.AccessToken)
	ixWantActive(t, ep, e.web.ID, e.web.Secret, tok.RefreshToken, nil)
	ixWantActive(t, ep, e.web.ID, e.web.Secret, userJWT, nil)

	// A JWT cannot be revoked on its own: 200, and it stays active.
	ixRevoke(t, ep, e.web.ID, e.web.Secret, userJWT, "")
	ixWantActive(t, ep, e.web.ID, e.web.Secret, userJWT, nil)

	// Revoke the refresh token (with a misleading hint): the family and its grant go,
	// so the user JWT is inactive too, and x/oauth2 can no longer refresh.
	ixRevoke(t, ep, e.web.ID, e.web.Secret, tok.RefreshToken, "access_token")
	ixWantInactive(t, ep, e.web.ID, e.web.Secret, tok.RefreshToken)
	ixWantInactive(t, ep, e.web.ID, e.web.Secret, userJWT)
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	if _, err := web.TokenSource(ctx, &expired).Token(); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("refresh after revocation: %v", err)
	}
	ixRevoke(t, ep, e.web.ID, e.web.Secret, tok.RefreshToken, "") // again: still 200

	// The client_credentials JWT is untouched by all this.
	ixWantActive(t, ep, m2m.ID, m2m.Secret, ccJWT, nil)

	// A public client introspects and revokes its own tokens (client_id alone).
	spa := e.spaConfig()
	spaVerifier := oauth2.GenerateVerifier()
	spaCode := codeFrom(t, b.redirect(spa.AuthCodeURL("st-2", oauth2.S256ChallengeOption(spaVerifier), oauth2.SetAuthURLParam("prompt", "consent"))),
		e.spaCB, "st-2", n.issuer())
	spaTok, err := spa.Exchange(ctx, spaCode, oauth2.VerifierOption(spaVerifier))
	if err != nil {
		t.Fatal(err)
	}
	ixWantActive(t, ep, e.spa.ID, "", spaTok.RefreshToken, map[string]any{"client_id": e.spa.ID})
	ixRevoke(t, ep, e.spa.ID, "", spaTok.RefreshToken, "")
	ixWantInactive(t, ep, e.spa.ID, "", spaTok.RefreshToken)
	ixWantInactive(t, ep, e.spa.ID, "", spaTok.AccessToken)
}
