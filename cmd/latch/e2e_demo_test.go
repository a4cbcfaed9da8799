package main

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// postForm posts a form (no redirects followed) and returns the response, body read.
func (b *browser) postForm(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	u := path
	if strings.HasPrefix(u, "/") {
		u = b.base + u
	}
	resp, err := b.c.PostForm(u, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// location is resp's Location, resolved, after checking the status.
func location(t *testing.T, resp *http.Response, body string, want int) *url.URL {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d, want %d: %s", resp.Request.Method, resp.Request.URL, resp.StatusCode, want, body)
	}
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// The demo app signs a user in through the real flow (authorize, sign-in, code,
// token exchange by the demo handler), shows the ID token claims, /oidc/me and the
// access token for the resource the visitor names, and signs out through
// /oidc/session/end. `/` redirects to the sign-in page.
func TestDemoAppEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	b := newBrowser(t, n.endpoint)

	if loc := location(t, mustGet(b, "/"), "", http.StatusFound); loc.Path != "/sign-in" {
		t.Fatalf("/ redirects to %s, want /sign-in", loc)
	}
	resp, body := b.get("/demo-app")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="demo-form"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("start page: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}

	// The demo app is a registered public client.
	admin := n.adminToken(t.Context())
	var app struct {
		ID, Type           string
		OIDCClientMetadata struct{ RedirectURIs []string }
	}
	n.mustAPI(admin, "GET", "/api/applications/demo-app", nil, http.StatusOK, &app)
	if app.Type != "SPA" || len(app.OIDCClientMetadata.RedirectURIs) != 1 || app.OIDCClientMetadata.RedirectURIs[0] != n.endpoint+"/demo-app" {
		t.Fatalf("demo app %+v", app)
	}

	resp, body = b.postForm("/demo-app/sign-in", url.Values{"resource": {e.api}, "scope": {"read:data write:data"}})
	auth := location(t, resp, body, http.StatusSeeOther)
	q := auth.Query()
	if auth.Path != "/oidc/auth" || q.Get("client_id") != "demo-app" || q.Get("code_challenge_method") != "S256" ||
		q.Get("redirect_uri") != n.endpoint+"/demo-app" || q.Get("resource") != e.api || q.Get("nonce") == "" {
		t.Fatalf("authorization request %s", auth)
	}
	if loc := b.redirect(auth.String()); loc.Path != "/sign-in" {
		t.Fatalf("authorize -> %s", loc)
	}
	cb := b.redirect(b.signIn(browserUser, browserPassword))
	if cb.Path != "/demo-app" || cb.Query().Get("code") == "" {
		t.Fatalf("callback %s", cb)
	}
	if loc := b.redirect(cb.String()); loc.Path != "/demo-app" || loc.RawQuery != "" {
		t.Fatalf("after the callback: %s", loc)
	}
	resp, body = b.get("/demo-app")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="demo-signed-in"`) {
		t.Fatalf("signed-in page: %d\n%s", resp.StatusCode, body)
	}
	for _, want := range []string{
		`&#34;sub&#34;: &#34;` + e.userID, // ID token claims
		`&#34;aud&#34;: &#34;demo-app&#34;`,
		`id="userinfo"`, `&#34;username&#34;: &#34;` + browserUser, // /oidc/me
		`id="resource-claims"`, `&#34;aud&#34;: &#34;` + e.api, `&#34;scope&#34;: &#34;read:data&#34;`, // the resource's JWT
	} {
		if !strings.Contains(body, want) {
			t.Errorf("signed-in page lacks %s", want)
		}
	}
	if strings.Contains(body, "write:data") && strings.Contains(body, `&#34;scope&#34;: &#34;read:data write:data`) {
		t.Error("the resource token has a scope the user's roles do not grant")
	}
	if strings.Contains(body, "<script") {
		t.Error("the demo page has a script")
	}

	// The cookie is sealed: neither the tokens nor the state are readable in it.
	u, _ := url.Parse(n.endpoint + "/demo-app")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "_latch_demo" && (strings.Contains(c.Value, "eyJ") || len(c.Value) < 100) {
			t.Fatalf("demo cookie is not sealed: %q", c.Value)
		}
	}

	// Sign out: through /oidc/session/end and back to the demo's start page.
	resp, body = b.postForm("/demo-app/sign-out", url.Values{})
	end := location(t, resp, body, http.StatusSeeOther)
	if end.Path != "/oidc/session/end" || end.Query().Get("id_token_hint") == "" ||
		end.Query().Get("post_logout_redirect_uri") != n.endpoint+"/demo-app" {
		t.Fatalf("sign-out goes to %s", end)
	}
	if loc := b.redirect(end.String()); loc.String() != n.endpoint+"/demo-app" {
		t.Fatalf("after session end: %s", loc)
	}
	if b.hasCookie("_session") {
		t.Fatal("the Latch session cookie survived the sign-out")
	}
	if resp, body := b.get("/demo-app"); !strings.Contains(body, `id="demo-form"`) {
		t.Fatalf("after sign-out: %d\n%s", resp.StatusCode, body)
	}
	// Signing in again needs the password: the session is gone.
	resp, body = b.postForm("/demo-app/sign-in", url.Values{})
	if loc := b.redirect(location(t, resp, body, http.StatusSeeOther).String()); loc.Path != "/sign-in" {
		t.Fatalf("after sign-out, authorize -> %s", loc)
	}

	// A forged callback (state not from this browser) is refused.
	b2 := newBrowser(t, n.endpoint)
	if resp, body := b2.get("/demo-app?code=x.y&state=forged"); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "not started from this page") {
		t.Fatalf("forged callback: %d %s", resp.StatusCode, body)
	}
}

func mustGet(b *browser, path string) *http.Response {
	b.t.Helper()
	resp, _ := b.get(path)
	return resp
}

// A third-party application: the user sees the consent page listing what the app may
// ask for (its user consent scopes, narrowed to the user's roles); accepting issues a
// code whose tokens carry only that, and the next authorization skips the page;
// denying sends access_denied to the app.
func TestThirdPartyConsentEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	const cbURL = "http://127.0.0.1:9/third/callback"
	var third struct{ ID, Secret string }
	n.createApp(admin, map[string]any{"name": "Third Party Notes", "type": "Traditional", "isThirdParty": true,
		"oidcClientMetadata": map[string]any{"redirectUris": []string{cbURL}, "postLogoutRedirectUris": []string{}}}, &third)

	// What it may ask: profile, and read:data (not write:data, not email).
	var res []struct {
		ID, Indicator string
	}
	n.mustAPI(admin, "GET", "/api/resources", nil, http.StatusOK, &res)
	var resID string
	for _, r := range res {
		if r.Indicator == e.api {
			resID = r.ID
		}
	}
	var scopes []struct{ ID, Name string }
	n.mustAPI(admin, "GET", "/api/resources/"+resID+"/scopes", nil, http.StatusOK, &scopes)
	var readID, writeID string
	for _, sc := range scopes {
		switch sc.Name {
		case "read:data":
			readID = sc.ID
		case "write:data":
			writeID = sc.ID
		}
	}
	n.mustAPI(admin, "POST", "/api/applications/"+third.ID+"/user-consent-scopes",
		map[string]any{"userScopes": []string{"profile"}, "resourceScopes": []string{readID, writeID}}, http.StatusCreated, nil)
	n.mustAPI(admin, "DELETE", "/api/applications/"+third.ID+"/user-consent-scopes/resource-scopes/"+writeID, nil, http.StatusNoContent, nil)
	var listed struct {
		UserScopes     []string
		ResourceScopes []struct {
			Resource struct{ Indicator string }
			Scopes   []struct{ Name string }
		}
	}
	n.mustAPI(admin, "GET", "/api/applications/"+third.ID+"/user-consent-scopes", nil, http.StatusOK, &listed)
	if len(listed.UserScopes) != 1 || len(listed.ResourceScopes) != 1 || listed.ResourceScopes[0].Resource.Indicator != e.api ||
		len(listed.ResourceScopes[0].Scopes) != 1 || listed.ResourceScopes[0].Scopes[0].Name != "read:data" {
		t.Fatalf("consent scopes %+v", listed)
	}
	// Logto's errors: an unknown scope id, a first-party application.
	var apiErr struct{ Code string }
	if st, _ := n.api(admin, "POST", "/api/applications/"+third.ID+"/user-consent-scopes",
		map[string]any{"resourceScopes": []string{"nope"}}, &apiErr); st != http.StatusUnprocessableEntity || apiErr.Code != "application.user_consent_scopes_not_found" {
		t.Fatalf("unknown scope: %d %s", st, apiErr.Code)
	}
	if st, _ := n.api(admin, "POST", "/api/applications/"+e.web.ID+"/user-consent-scopes",
		map[string]any{"userScopes": []string{"email"}}, &apiErr); st != http.StatusUnprocessableEntity || apiErr.Code != "application.third_party_application_only" {
		t.Fatalf("first-party app: %d %s", st, apiErr.Code)
	}

	conf := &oauth2.Config{ClientID: third.ID, ClientSecret: third.Secret, Endpoint: e.provider.Endpoint(), RedirectURL: cbURL,
		Scopes: []string{oidc.ScopeOpenID, "profile", "email", "read:data", "write:data"}}
	withResource := oauth2.SetAuthURLParam("resource", e.api)

	// Accept.
	b := newBrowser(t, n.endpoint)
	b.redirect(conf.AuthCodeURL("s1", withResource))
	if loc := b.redirect(b.signIn(browserUser, browserPassword)); loc.Path != "/consent" {
		t.Fatalf("after sign-in: %s, want the consent page", loc)
	}
	resp, page := b.get("/consent")
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Third Party Notes") || !strings.Contains(page, "read:data") ||
		!strings.Contains(page, "See your name") || strings.Contains(page, "write:data") || strings.Contains(page, "email address") {
		t.Fatalf("consent page: %d\n%s", resp.StatusCode, page)
	}
	resp, body := b.postForm("/consent", url.Values{"action": {"accept"}})
	resume := location(t, resp, body, http.StatusSeeOther)
	code := codeFrom(t, b.redirect(resume.String()), cbURL, "s1", n.issuer())
	tok, err := conf.Exchange(ctx, code, oauth2.SetAuthURLParam("resource", e.api))
	if err != nil {
		t.Fatal(err)
	}
	var at struct {
		Aud   any    `json:"aud"`
		Scope string `json:"scope"`
	}
	if err := decodeJWT(tok.AccessToken, &at); err != nil || at.Scope != "read:data" {
		t.Fatalf("access token scope %q (%v), want read:data only", at.Scope, err)
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: third.ID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = idt.Claims(&claims)
	if _, ok := claims["email"]; ok || claims["name"] != "Alice Browser" {
		t.Fatalf("ID token claims %v: want profile (name) and no email", claims)
	}

	// Next time, with the session: no consent page, a code at once.
	codeFrom(t, b.redirect(conf.AuthCodeURL("s2", withResource)), cbURL, "s2", n.issuer())
	// prompt=consent asks again.
	if loc := b.redirect(conf.AuthCodeURL("s3", withResource, oauth2.SetAuthURLParam("prompt", "consent"))); loc.Path != "/consent" {
		t.Fatalf("prompt=consent: %s, want the consent page", loc)
	}

	// Revoking the app's grant (Management API) forgets the consent too.
	var grants struct{ Grants []struct{ ID string } }
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/grants?appType=thirdParty", nil, http.StatusOK, &grants)
	if len(grants.Grants) != 1 {
		t.Fatalf("third-party grants %+v", grants)
	}
	n.mustAPI(admin, "DELETE", "/api/users/"+e.userID+"/grants/"+grants.Grants[0].ID, nil, http.StatusNoContent, nil)
	if loc := b.redirect(conf.AuthCodeURL("s5", withResource)); loc.Path != "/consent" {
		t.Fatalf("after the grant's revocation: %s, want the consent page", loc)
	}
	// Accepted with the live session (no sign-in this time): the code comes.
	resp, body = b.postForm("/consent", url.Values{"action": {"accept"}})
	codeFrom(t, b.redirect(location(t, resp, body, http.StatusSeeOther).String()), cbURL, "s5", n.issuer())

	// Deny, as another user who never consented.
	var other struct{ ID string }
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": "bob_consent", "password": browserPassword}, http.StatusOK, &other)
	b2 := newBrowser(t, n.endpoint)
	b2.redirect(conf.AuthCodeURL("s4"))
	if loc := b2.redirect(b2.signIn("bob_consent", browserPassword)); loc.Path != "/consent" {
		t.Fatalf("bob after sign-in: %s", loc)
	}
	resp, body = b2.postForm("/consent", url.Values{"action": {"deny"}})
	denied := location(t, resp, body, http.StatusSeeOther)
	if !strings.HasPrefix(denied.String(), cbURL) || denied.Query().Get("error") != "access_denied" ||
		denied.Query().Get("state") != "s4" || denied.Query().Get("iss") != n.issuer() {
		t.Fatalf("deny -> %s, want access_denied at the app", denied)
	}
	// The interaction is spent: the consent page cannot be posted again.
	if resp, body := b2.postForm("/consent", url.Values{"action": {"accept"}}); resp.StatusCode == http.StatusSeeOther {
		t.Fatalf("accept after deny: %d %s", resp.StatusCode, body)
	}
	// A cross-site post is refused.
	req, _ := http.NewRequest("POST", n.endpoint+"/consent", strings.NewReader("action=accept"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site consent post: %v %v", resp, err)
	}
}

// decodeJWT decodes a JWT's payload without verifying it.
func decodeJWT(tok string, v any) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return io.ErrUnexpectedEOF
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// A third-party application gets organization tokens only for the organizations the
// user picked on the consent page (Logto's user consent organizations).
func TestThirdPartyConsentOrganizations(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	var orgA, orgB, orgC struct{ ID string }
	n.mustAPI(admin, "POST", "/api/organizations", map[string]any{"name": "Acme"}, http.StatusCreated, &orgA)
	n.mustAPI(admin, "POST", "/api/organizations", map[string]any{"name": "Beta"}, http.StatusCreated, &orgB)
	n.mustAPI(admin, "POST", "/api/organizations", map[string]any{"name": "Gamma"}, http.StatusCreated, &orgC)
	for _, o := range []string{orgA.ID, orgB.ID} {
		n.mustAPI(admin, "POST", "/api/organizations/"+o+"/users", map[string]any{"userIds": []string{e.userID}}, http.StatusCreated, nil)
	}
	const cbURL = "http://127.0.0.1:9/third/callback"
	var third struct{ ID, Secret string }
	n.createApp(admin, map[string]any{"name": "Third Party Orgs", "type": "Traditional", "isThirdParty": true,
		"oidcClientMetadata": map[string]any{"redirectUris": []string{cbURL}, "postLogoutRedirectUris": []string{}}}, &third)
	n.mustAPI(admin, "POST", "/api/applications/"+third.ID+"/user-consent-scopes",
		map[string]any{"userScopes": []string{"urn:logto:scope:organizations"}}, http.StatusCreated, nil)

	conf := &oauth2.Config{ClientID: third.ID, ClientSecret: third.Secret, Endpoint: e.provider.Endpoint(), RedirectURL: cbURL,
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "urn:logto:scope:organizations"}}
	b := newBrowser(t, n.endpoint)
	b.redirect(conf.AuthCodeURL("s1", oauth2.SetAuthURLParam("prompt", "consent"),
		oauth2.SetAuthURLParam("resource", "urn:logto:resource:organizations")))
	if loc := b.redirect(b.signIn(browserUser, browserPassword)); loc.Path != "/consent" {
		t.Fatalf("after sign-in: %s", loc)
	}
	_, page := b.get("/consent")
	if !strings.Contains(page, orgA.ID) || !strings.Contains(page, orgB.ID) || strings.Contains(page, orgC.ID) {
		t.Fatalf("consent page organizations:\n%s", page)
	}
	// An organization the user is not a member of is refused.
	if resp, body := b.postForm("/consent", url.Values{"action": {"accept"}, "organizationIds": {orgC.ID}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("foreign organization: %d %s", resp.StatusCode, body)
	}
	resp, body := b.postForm("/consent", url.Values{"action": {"accept"}, "organizationIds": {orgA.ID}})
	code := codeFrom(t, b.redirect(location(t, resp, body, http.StatusSeeOther).String()), cbURL, "s1", n.issuer())
	tok, err := conf.Exchange(ctx, code)
	if err != nil || tok.RefreshToken == "" {
		t.Fatalf("exchange: %v, refresh token %q", err, tok.RefreshToken)
	}
	// The ID token lists only the organization the user picked.
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: third.ID}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Organizations []string }
	if err := idt.Claims(&claims); err != nil || len(claims.Organizations) != 1 || claims.Organizations[0] != orgA.ID {
		t.Fatalf("ID token organizations %v (%v), want only %s", claims.Organizations, err, orgA.ID)
	}
	refresh := tok.RefreshToken
	st, _, out := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "organization_id": {orgA.ID}}, third.ID, third.Secret)
	if st != http.StatusOK {
		t.Fatalf("organization token for the consented organization: %d %v", st, out)
	}
	refresh, _ = out["refresh_token"].(string)
	st, _, out = n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "organization_id": {orgB.ID}}, third.ID, third.Secret)
	if st != http.StatusForbidden || out["error"] != "access_denied" {
		t.Fatalf("organization token for an organization not consented: %d %v", st, out)
	}
}
