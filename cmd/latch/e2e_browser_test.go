package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// browser is a user agent with a cookie jar that does not follow redirects, so the test
// sees every OIDC hop.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get fetches u (absolute, or relative to the node) and returns the response with its
// body read.
func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	resp, err := b.c.Get(u)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// redirect fetches u and requires a 303; it returns the Location, resolved.
func (b *browser) redirect(u string) *url.URL {
	b.t.Helper()
	resp, body := b.get(u)
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("GET %s = %d, want 303: %s", u, resp.StatusCode, body)
	}
	loc, err := resp.Location()
	if err != nil {
		b.t.Fatal(err)
	}
	return loc
}

// experience calls the Experience API with the jar's cookies.
func (b *browser) experience(method, path string, body any) (int, map[string]any) {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.base+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &out)
	}
	return resp.StatusCode, out
}

// signIn drives the Experience API for a username and password and returns redirectTo.
func (b *browser) signIn(username, password string) string {
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
	vid, _ := body["verificationId"].(string)
	if st, body := b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": vid}); st != http.StatusNoContent {
		b.t.Fatalf("identification = %d %v", st, body)
	}
	st, body = b.experience("POST", "/api/experience/submit", nil)
	if st != http.StatusOK {
		b.t.Fatalf("submit = %d %v", st, body)
	}
	to, _ := body["redirectTo"].(string)
	if to == "" {
		b.t.Fatalf("submit without redirectTo: %v", body)
	}
	return to
}

func (b *browser) hasCookie(name string) bool {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

// browserEnv is a node with an API resource, a user holding a role on it, and two
// applications.
type browserEnv struct {
	n                  *testNode
	provider           *oidc.Provider
	web, spa           struct{ ID, Secret string }
	userID             string
	api                string
	webCB, spaCB, home string
	spaOrigin          string
}

const (
	browserUser     = "alice_browser"
	browserPassword = "c0rrect-Horse-battery"
)

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	return newBrowserEnvWith(t, nil)
}

// newBrowserEnvWith is newBrowserEnv on a node whose configuration mutate adjusts.
func newBrowserEnvWith(t *testing.T, mutate func(*serveConfig)) *browserEnv {
	t.Helper()
	n := startNode(t, t.TempDir(), mutate)
	ctx := t.Context()
	admin := n.adminToken(ctx)
	e := &browserEnv{
		n: n, api: "https://api.browser.example",
		webCB: "http://127.0.0.1:9/web/callback", home: "http://127.0.0.1:9/web/",
		spaCB: "http://localhost:5173/callback", spaOrigin: "http://localhost:5173",
	}
	var res, scope, role, user struct{ ID string }
	n.mustAPI(admin, "POST", "/api/resources", map[string]any{"name": "Browser API", "indicator": e.api, "accessTokenTtl": 900}, 201, &res)
	n.mustAPI(admin, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "read:data"}, 201, &scope)
	n.mustAPI(admin, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "write:data"}, 201, nil)
	n.mustAPI(admin, "POST", "/api/roles", map[string]any{"name": "reader", "description": "reads", "type": "User", "scopeIds": []string{scope.ID}}, 200, &role)
	n.mustAPI(admin, "POST", "/api/users", map[string]any{
		"username": browserUser, "password": browserPassword, "name": "Alice Browser",
		"primaryEmail": "alice@browser.example", "customData": map[string]any{"plan": "gold"},
	}, 200, &user)
	n.mustAPI(admin, "POST", "/api/users/"+user.ID+"/roles", map[string]any{"roleIds": []string{role.ID}}, 201, nil)
	e.userID = user.ID
	n.createApp(admin, map[string]any{"name": "web", "type": "Traditional",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{e.webCB}, "postLogoutRedirectUris": []string{e.home}}}, &e.web)
	n.createApp(admin, map[string]any{"name": "spa", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{e.spaCB}, "postLogoutRedirectUris": []string{}}}, &e.spa)
	p, err := oidc.NewProvider(ctx, n.issuer())
	if err != nil {
		t.Fatal(err)
	}
	e.provider = p
	return e
}

func (e *browserEnv) webConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID: e.web.ID, ClientSecret: e.web.Secret, Endpoint: e.provider.Endpoint(), RedirectURL: e.webCB,
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile", "email", "roles", "custom_data", "read:data"},
	}
}

func (e *browserEnv) spaConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID: e.spa.ID, Endpoint: e.provider.Endpoint(), RedirectURL: e.spaCB,
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile", "read:data"},
	}
}

// codeFrom checks an authorization response and returns its code.
func codeFrom(t *testing.T, loc *url.URL, wantPrefix, state, issuer string) string {
	t.Helper()
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), wantPrefix) || q.Get("error") != "" {
		t.Fatalf("authorization response %s, want a code at %s", loc, wantPrefix)
	}
	if q.Get("state") != state || q.Get("iss") != issuer || q.Get("code") == "" {
		t.Fatalf("authorization response %s: state/iss/code", loc)
	}
	return q.Get("code")
}

func TestBrowserSignInEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	verifier := oauth2.GenerateVerifier()

	// 1. Authorization request -> 303 to the sign-in page with the _interaction cookie.
	authURL := web.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-1"),
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("resource", e.api))
	loc := b.redirect(authURL)
	if loc.Path != "/sign-in" || !b.hasCookie("_interaction") {
		t.Fatalf("authorize -> %s (interaction cookie %v)", loc, b.hasCookie("_interaction"))
	}

	// A wrong password is the Experience API's 422.
	if st, _ := b.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		t.Fatalf("PUT /api/experience = %d", st)
	}
	if st, body := b.experience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "username", "value": browserUser}, "password": "wrong-password-1",
	}); st != http.StatusUnprocessableEntity {
		t.Fatalf("wrong password = %d %v, want 422", st, body)
	}

	// 2. Sign in, resume at /oidc/auth/<uid> -> 303 to the app with code, state, iss.
	redirectTo := b.signIn(browserUser, browserPassword)
	if !strings.HasPrefix(redirectTo, n.issuer()+"/auth/") {
		t.Fatalf("redirectTo %s", redirectTo)
	}
	code := codeFrom(t, b.redirect(redirectTo), e.webCB, "st-1", n.issuer())
	if b.hasCookie("_interaction") || !b.hasCookie("_session") {
		t.Fatal("after resume: want _session and no _interaction")
	}
	// The interaction is one-time.
	if resp, _ := b.get(redirectTo); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("second resume = %d, want 400", resp.StatusCode)
	}

	// 3. Code exchange with PKCE (client_secret_basic), ID token, userinfo.
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: e.web.ID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatal(err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var idc struct {
		Nonce         string   `json:"nonce"`
		SID           string   `json:"sid"`
		AuthTime      int64    `json:"auth_time"`
		Username      string   `json:"username"`
		Name          string   `json:"name"`
		Email         string   `json:"email"`
		EmailVerified bool     `json:"email_verified"`
		Roles         []string `json:"roles"`
		CustomData    any      `json:"custom_data"`
		CreatedAt     int64    `json:"created_at"`
	}
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != e.userID || idc.Nonce != "nonce-1" || idc.SID == "" || idc.AuthTime == 0 ||
		idc.Username != browserUser || idc.Name != "Alice Browser" || idc.Email != "alice@browser.example" ||
		!idc.EmailVerified || len(idc.Roles) != 1 || idc.Roles[0] != "reader" || idc.CustomData != nil ||
		idc.CreatedAt < 1e12 {
		t.Fatalf("ID token claims %+v sub %s", idc, idt.Subject)
	}
	if tok.RefreshToken == "" || strings.Count(tok.AccessToken, ".") != 1 {
		t.Fatalf("want an opaque access token and a refresh token: %+v", tok)
	}
	ui, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uic struct {
		Username   string         `json:"username"`
		CustomData map[string]any `json:"custom_data"`
		Roles      []string       `json:"roles"`
	}
	if err := ui.Claims(&uic); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != e.userID || ui.Email != "alice@browser.example" || uic.Username != browserUser ||
		uic.CustomData["plan"] != "gold" || len(uic.Roles) != 1 {
		t.Fatalf("userinfo %+v %+v", ui, uic)
	}

	// RFC 6750 2.2: the token may come as a form field of a POST.
	{
		resp, err := http.PostForm(n.issuer()+"/me", url.Values{"access_token": {tok.AccessToken}})
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if resp.StatusCode != 200 || m["sub"] != e.userID {
			t.Fatalf("POST /oidc/me with access_token: %d %v", resp.StatusCode, m)
		}
	}

	// 4. Refresh through x/oauth2's TokenSource (Traditional: not rotated before 70 %
	// of the TTL), and a JWT for the API resource through a refresh with resource.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	fresh, err := web.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken != tok.RefreshToken {
		t.Fatalf("web refresh: new access token %v, same refresh token %v", fresh.AccessToken != tok.AccessToken, fresh.RefreshToken == tok.RefreshToken)
	}
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(fresh)); err != nil {
		t.Fatalf("userinfo with the refreshed token: %v", err)
	}
	st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {e.api}}, e.web.ID, e.web.Secret)
	if st != 200 {
		t.Fatalf("refresh with resource: %d %v", st, body)
	}
	jwt, _ := body["access_token"].(string)
	if c := n.verify(jwt); c.Aud != e.api || c.Sub != e.userID || c.ClientID != e.web.ID || c.Scope != "read:data" || c.EXP-c.IAT != 900 {
		t.Fatalf("resource JWT %+v", c)
	}
	// JWT access tokens are for the API, not for userinfo.
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: jwt, TokenType: "Bearer"})); err == nil {
		t.Fatal("userinfo accepted a JWT access token")
	}
	if status, hdr := bearerGet(t, n.issuer()+"/me", jwt); status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("userinfo with JWT: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	// A resource that was not requested at authorization is invalid_target.
	st, _, body = n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "resource": {"https://default.logto.app/api"}}, e.web.ID, e.web.Secret)
	if st != 400 || body["error"] != "invalid_target" {
		t.Fatalf("refresh for an ungranted resource: %d %v", st, body)
	}

	// 5. SSO: the SPA's authorization request in the same browser gets a code at once.
	spa := e.spaConfig()
	spaVerifier := oauth2.GenerateVerifier()
	loc = b.redirect(spa.AuthCodeURL("st-2", oauth2.S256ChallengeOption(spaVerifier), oidc.Nonce("nonce-2"),
		oauth2.SetAuthURLParam("prompt", "consent"), oauth2.SetAuthURLParam("resource", e.api)))
	spaCode := codeFrom(t, loc, e.spaCB, "st-2", n.issuer())
	// Public client: client_id in the body, no secret; resource on the code exchange.
	spaTok, err := spa.Exchange(ctx, spaCode, oauth2.VerifierOption(spaVerifier), oauth2.SetAuthURLParam("resource", e.api))
	if err != nil {
		t.Fatal(err)
	}
	if c := n.verify(spaTok.AccessToken); c.Aud != e.api || c.Scope != "read:data" || c.ClientID != e.spa.ID {
		t.Fatalf("SPA resource token %+v", c)
	}
	spaID, err := e.provider.Verifier(&oidc.Config{ClientID: e.spa.ID}).Verify(ctx, spaTok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var spaClaims struct {
		SID      string `json:"sid"`
		AuthTime int64  `json:"auth_time"`
		Nonce    string `json:"nonce"`
	}
	_ = spaID.Claims(&spaClaims)
	if spaClaims.SID == "" || spaClaims.SID == idc.SID || spaClaims.AuthTime != idc.AuthTime || spaClaims.Nonce != "nonce-2" {
		t.Fatalf("SSO ID token %+v (web sid %s, auth_time %d)", spaClaims, idc.SID, idc.AuthTime)
	}
	// SPA refresh tokens rotate on every use.
	spaExpired := *spaTok
	spaExpired.Expiry = time.Now().Add(-time.Minute)
	spaFresh, err := spa.TokenSource(ctx, &spaExpired).Token()
	if err != nil {
		t.Fatal(err)
	}
	if spaFresh.RefreshToken == "" || spaFresh.RefreshToken == spaTok.RefreshToken {
		t.Fatal("SPA refresh token did not rotate")
	}

	// 6. prompt=login forces the sign-in page despite the session.
	loc = b.redirect(web.AuthCodeURL("st-3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "login")))
	if loc.Path != "/sign-in" {
		t.Fatalf("prompt=login -> %s", loc)
	}

	// 7. RP-initiated logout returns to the registered URI with state; afterwards
	// prompt=none is login_required.
	loc = b.redirect(n.issuer() + "/session/end?" + url.Values{"client_id": {e.web.ID}, "post_logout_redirect_uri": {e.home}, "state": {"bye"}}.Encode())
	if !strings.HasPrefix(loc.String(), e.home) || loc.Query().Get("state") != "bye" || b.hasCookie("_session") {
		t.Fatalf("logout -> %s (session cookie %v)", loc, b.hasCookie("_session"))
	}
	loc = b.redirect(web.AuthCodeURL("st-4", oauth2.SetAuthURLParam("prompt", "none")))
	if loc.Query().Get("error") != "login_required" || loc.Query().Get("state") != "st-4" || loc.Query().Get("iss") != n.issuer() {
		t.Fatalf("prompt=none after logout -> %s", loc)
	}
}

func bearerGet(t *testing.T, u, tok string) (int, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header
}

func TestBrowserAuthorizeErrors(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	b := newBrowser(t, n.endpoint)

	// An unregistered redirect_uri is never redirected to: a 400 error page.
	bad := e.webConfig()
	bad.RedirectURL = "https://attacker.example/cb"
	resp, body := b.get(bad.AuthCodeURL("s"))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("wrong redirect_uri: %d Location=%q %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// Unknown client: the same.
	resp, _ = b.get(n.issuer() + "/auth?client_id=ghost&redirect_uri=" + url.QueryEscape(e.webCB) + "&response_type=code&scope=openid")
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("unknown client: %d", resp.StatusCode)
	}

	// An SPA without PKCE: invalid_request back at its redirect URI, with state and iss.
	loc := b.redirect(e.spaConfig().AuthCodeURL("st-spa"))
	q := loc.Query()
	if !strings.HasPrefix(loc.String(), e.spaCB) || q.Get("error") != "invalid_request" || q.Get("state") != "st-spa" ||
		q.Get("iss") != n.issuer() || !strings.Contains(q.Get("error_description"), "code_challenge") {
		t.Fatalf("SPA without PKCE -> %s", loc)
	}
	// Other redirected errors.
	for _, tt := range []struct {
		name, want string
		opts       []oauth2.AuthCodeOption
		scopes     []string
	}{
		{"no openid", "invalid_scope", nil, []string{"profile"}},
		{"unknown resource", "invalid_target", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("resource", "https://unknown.example")}, nil},
		{"plain PKCE", "invalid_request", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)), oauth2.SetAuthURLParam("code_challenge_method", "plain")}, nil},
		{"prompt none without session", "login_required", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "none")}, nil},
		{"response_type token", "unsupported_response_type", []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("response_type", "token")}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.webConfig()
			if tt.scopes != nil {
				c.Scopes = tt.scopes
			}
			loc := b.redirect(c.AuthCodeURL("st-x", tt.opts...))
			if loc.Query().Get("error") != tt.want || loc.Query().Get("state") != "st-x" {
				t.Fatalf("-> %s, want error %s", loc, tt.want)
			}
		})
	}
	// response_mode=form_post: an auto-posting form to the redirect URI instead of a 303.
	resp, body = b.get(e.spaConfig().AuthCodeURL("st-fp", oauth2.SetAuthURLParam("response_mode", "form_post")))
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `action="`+e.spaCB+`"`) ||
		!strings.Contains(body, `name="error" value="invalid_request"`) || !strings.Contains(body, `name="state" value="st-fp"`) {
		t.Fatalf("form_post: %d %s", resp.StatusCode, body)
	}

	// POST to the authorization endpoint works like GET.
	form := url.Values{"client_id": {e.web.ID}, "redirect_uri": {e.webCB}, "response_type": {"code"}, "scope": {"openid"}, "state": {"p"}}
	req, _ := http.NewRequest("POST", n.issuer()+"/auth", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	presp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	presp.Body.Close()
	if presp.StatusCode != http.StatusSeeOther || presp.Header.Get("Location") != "/sign-in" {
		t.Fatalf("POST /oidc/auth = %d %s", presp.StatusCode, presp.Header.Get("Location"))
	}
	// Resuming an interaction that was never submitted, or without its cookie: 400 page.
	if resp, _ := newBrowser(t, n.endpoint).get(n.issuer() + "/auth/not-mine"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("resume without cookie = %d", resp.StatusCode)
	}
}

func TestBrowserCodeReplay(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "s", n.issuer())

	// A wrong verifier does not spend the code (and cannot trigger the replay rule).
	if _, err := web.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("wrong verifier: %v", err)
	}
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		t.Fatal(err)
	}
	// The replay is invalid_grant, and everything the code produced is revoked.
	if _, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Fatalf("replay: %v", err)
	}
	if status, hdr := bearerGet(t, n.issuer()+"/me", tok.AccessToken); status != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("userinfo after replay: %d %q", status, hdr.Get("WWW-Authenticate"))
	}
	st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.web.ID, e.web.Secret)
	if st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after replay: %d %v", st, body)
	}
	// The session is still live: the next authorization gets a new grant and works.
	verifier2 := oauth2.GenerateVerifier()
	code2 := codeFrom(t, b.redirect(web.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier2))), e.webCB, "s2", n.issuer())
	tok2, err := web.Exchange(ctx, code2, oauth2.VerifierOption(verifier2))
	if err != nil {
		t.Fatalf("after a revoked grant, a new one: %v", err)
	}

	// Logout with an id_token_hint names the client; an unregistered
	// post_logout_redirect_uri is not followed: a signed-out page instead.
	hint := tok2.Extra("id_token").(string)
	resp, page := b.get(n.issuer() + "/session/end?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://attacker.example/"}}.Encode())
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.Contains(page, "signed out") || b.hasCookie("_session") {
		t.Fatalf("logout to an unregistered URI: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A hint from another provider (or garbage) is refused with an error page.
	if resp, _ := b.get(n.issuer() + "/session/end?id_token_hint=eyJhbGciOiJub25lIn0.e30."); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad hint: %d", resp.StatusCode)
	}
	loc := b.redirect(n.issuer() + "/session/end?" + url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {e.home}}.Encode())
	if loc.String() != e.home {
		t.Fatalf("logout with hint -> %s", loc)
	}
}

// A suspended user's tokens stop working: userinfo is invalid_token, refresh is
// invalid_grant, and the live session no longer signs them in silently.
func TestBrowserSuspendedUser(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	v := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "consent")))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "s", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	n.mustAPI(n.adminToken(ctx), "PATCH", "/api/users/"+e.userID+"/is-suspended", map[string]any{"isSuspended": true}, 200, nil)
	if status, _ := bearerGet(t, n.issuer()+"/me", tok.AccessToken); status != 401 {
		t.Fatalf("userinfo for a suspended user: %d", status)
	}
	st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.web.ID, e.web.Secret)
	if st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("refresh for a suspended user: %d %v", st, body)
	}
	loc := b.redirect(web.AuthCodeURL("s2", oauth2.SetAuthURLParam("prompt", "none")))
	if loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none for a suspended user -> %s", loc)
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

func TestBrowserCORS(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	preflight := func(path, origin string) http.Header {
		req, _ := http.NewRequest("OPTIONS", n.issuer()+path, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "authorization")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("preflight %s = %d", path, resp.StatusCode)
		}
		return resp.Header
	}
	for _, p := range []string{"/token", "/me"} {
		if h := preflight(p, e.spaOrigin); h.Get("Access-Control-Allow-Origin") != e.spaOrigin || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") {
			t.Fatalf("preflight %s from the SPA: %v", p, h)
		}
		if h := preflight(p, "https://evil.example"); h.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("preflight %s from a stranger: %v", p, h)
		}
	}
	if h := preflight("/jwks", "https://anyone.example"); h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("JWKS preflight: %v", h)
	}
	// A token response is readable by the client's own origin only: the SPA's origin may
	// not read the Traditional app's responses.
	post := func(origin string, form url.Values) string {
		req, _ := http.NewRequest("POST", n.issuer()+"/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Access-Control-Allow-Origin")
	}
	spaForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x.y"}, "client_id": {e.spa.ID}}
	if got := post(e.spaOrigin, spaForm); got != e.spaOrigin {
		t.Fatalf("SPA token error from its origin: ACAO %q", got)
	}
	webForm := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x.y"}, "client_id": {e.web.ID}, "client_secret": {e.web.Secret}}
	if got := post(e.spaOrigin, webForm); got != "" {
		t.Fatalf("web app response readable from the SPA origin: ACAO %q", got)
	}
	if got := post("https://evil.example", spaForm); got != "" {
		t.Fatalf("stranger origin reflected: %q", got)
	}
}

// The ID token's sid and auth_time survive refreshes; offline_access needs
// prompt=consent (OIDC Core 11), so without it no refresh token is issued.
func TestBrowserOfflineAccessNeedsConsent(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	v := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "s", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken != "" || strings.Contains(tok.Extra("scope").(string), "offline_access") {
		t.Fatalf("refresh token without prompt=consent: %q scope %q", tok.RefreshToken, tok.Extra("scope"))
	}
}
