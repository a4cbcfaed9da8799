package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
)

// consoleClient is a browser-like client of the console on a real listener: it sends
// the given cookie and does not follow redirects.
type consoleClient struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func (cc consoleClient) do(method, path, cookieValue string, form url.Values, header map[string]string) (*http.Response, string) {
	cc.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(cc.t.Context(), method, cc.srv.URL+path, body)
	if err != nil {
		cc.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if cookieValue != "" {
		req.AddCookie(&http.Cookie{Name: cookieConsole, Value: cookieValue})
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// The console's security rules: the welcome page creates the first administrator only
// on a fresh directory and only from a same-origin form; an unauthenticated visit
// starts Latch's own authorization-code + PKCE flow for the Management API; every
// form post of a signed-in administrator needs the session's CSRF token; a user whose
// token lacks the Management API scope "all" gets the "not an administrator" page; the
// pages carry the sign-in pages' CSP and no script.
func TestConsoleSecurity(t *testing.T) {
	s, dir := newFullServer(t, nil)
	ctx := t.Context()
	if err := dir.RotateCookieKey(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	cc := consoleClient{t: t, srv: srv, c: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}

	if resp, _ := cc.do("GET", "/console", "", nil, nil); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/welcome" {
		t.Fatalf("fresh GET /console = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	welcome := url.Values{"username": {"root_admin"}, "password": {"admin-password"}, "confirm": {"admin-password"}}
	if resp, _ := cc.do("POST", "/console/welcome", "", welcome, map[string]string{"Origin": "https://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin welcome = %d", resp.StatusCode)
	}
	if open, _ := dir.ConsoleFirstAdminOpen(ctx); !open {
		t.Fatal("a cross-origin welcome post created the administrator")
	}
	short := url.Values{"username": {"root_admin"}, "password": {"short"}, "confirm": {"short"}}
	if resp, _ := cc.do("POST", "/console/welcome", "", short, nil); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("short password = %d", resp.StatusCode)
	}
	resp, _ := cc.do("POST", "/console/welcome", "", welcome, nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/oidc/auth" || q.Get("client_id") != directory.ConsoleAppID ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("resource") != directory.ManagementAPIIndicator ||
		!strings.Contains(q.Get("scope"), "all") || q.Get("redirect_uri") != "http://localhost:3001/console/callback" {
		t.Fatalf("welcome post = %d %s", resp.StatusCode, loc)
	}
	again := url.Values{"username": {"intruder"}, "password": {"intruder-password"}, "confirm": {"intruder-password"}}
	if resp, _ := cc.do("POST", "/console/welcome", "", again, nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("second welcome = %d", resp.StatusCode)
	}
	if _, ok := dir.UserByUsername("intruder"); ok {
		t.Fatal("a second first administrator was created")
	}
	if resp, _ := cc.do("GET", "/console/welcome", "", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		t.Fatalf("welcome after the first admin = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := cc.do("GET", "/console/users", "", nil, nil); resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/oidc/auth?") {
		t.Fatalf("unauthenticated page = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	// An administrator's session (the admin application's token stands in for a user's
	// here: the Management API checks only audience and scope).
	tok := consoleAdminToken(t, srv.URL)
	var adm consoleCookie
	adm.Subject = tAdminID
	s.consoleAccept(&adm, tok)
	if !adm.Admin || adm.AccessExp == 0 {
		t.Fatalf("the admin token was not accepted: %+v", adm)
	}
	other := consoleCookie{Subject: "someone-else"}
	if s.consoleAccept(&other, tok); other.Admin {
		t.Fatal("a token for another subject was accepted")
	}
	adm.CSRF = "csrf-token-of-this-session"
	sealed, err := s.sealCookie(cookieConsole, adm, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	resp, body := cc.do("GET", "/console/users", sealed, nil, nil)
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "root_admin") || strings.Contains(body, "<script") ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("GET /console/users = %d %q\n%s", resp.StatusCode, csp, body)
	}
	create := func(csrf string) *http.Response {
		f := url.Values{"action": {"create"}, "username": {"carol"}, "password": {"carol-password"}}
		if csrf != "" {
			f.Set("csrf", csrf)
		}
		resp, _ := cc.do("POST", "/console/users", sealed, f, nil)
		return resp
	}
	for _, bad := range []string{"", "wrong-token"} {
		if resp := create(bad); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("post with CSRF token %q = %d", bad, resp.StatusCode)
		}
	}
	if _, ok := dir.UserByUsername("carol"); ok {
		t.Fatal("a post without the CSRF token created a user")
	}
	resp = create(adm.CSRF)
	carol, ok := dir.UserByUsername("carol")
	if resp.StatusCode != http.StatusSeeOther || !ok || resp.Header.Get("Location") != "/console/users/"+carol.ID+"?done=created" {
		t.Fatalf("post with the CSRF token = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, body := cc.do("GET", "/console/users/"+carol.ID+"?done=created", sealed, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Created.") {
		t.Fatalf("user page = %d\n%s", resp.StatusCode, body)
	}
	// A Management API refusal is shown on the page, not as a server error.
	f := url.Values{"action": {"create"}, "username": {"carol"}, "csrf": {adm.CSRF}}
	if resp, body := cc.do("POST", "/console/users", sealed, f, nil); resp.StatusCode/100 != 4 || !strings.Contains(body, `id="console-error"`) {
		t.Fatalf("duplicate user = %d\n%s", resp.StatusCode, body)
	}

	// A deletion needs its confirmation box.
	del := url.Values{"action": {"delete"}, "csrf": {adm.CSRF}}
	if resp, body := cc.do("POST", "/console/users/"+carol.ID, sealed, del, nil); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "confirm the deletion") {
		t.Fatalf("unconfirmed delete = %d\n%s", resp.StatusCode, body)
	}
	if _, ok := dir.User(carol.ID); !ok {
		t.Fatal("an unconfirmed delete deleted the user")
	}
	del.Set("confirm", "on")
	if resp, _ := cc.do("POST", "/console/users/"+carol.ID, sealed, del, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/users?done=deleted" {
		t.Fatalf("confirmed delete = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, ok := dir.User(carol.ID); ok {
		t.Fatal("a confirmed delete kept the user")
	}

	// A signed-in user without the Management API scope.
	user := adm
	user.Admin = false
	sealedUser, err := s.sealCookie(cookieConsole, user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := cc.do("GET", "/console", sealedUser, nil, nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, `id="not-admin"`) {
		t.Fatalf("non-administrator = %d\n%s", resp.StatusCode, body)
	}
	f = url.Values{"action": {"create"}, "username": {"dave"}, "csrf": {user.CSRF}}
	if resp, _ := cc.do("POST", "/console/users", sealedUser, f, nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("non-administrator post = %d", resp.StatusCode)
	}
	if _, ok := dir.UserByUsername("dave"); ok {
		t.Fatal("a non-administrator's post created a user")
	}
}

// consoleAdminToken gets a Management API token for the bootstrap admin application.
func consoleAdminToken(t *testing.T, base string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"all"}}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", base+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(tAdminID, tAdminSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("admin token: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken
}

// After signing in the console returns to the page asked for, and only to a console
// page: never another site, the callback, the welcome page or an asset.
func TestConsoleReturnPath(t *testing.T) {
	for in, want := range map[string]string{
		"/console/users/abc":          "/console/users/abc",
		"/console/roles":              "/console/roles",
		"/console":                    "",
		"/console/callback":           "",
		"/console/welcome":            "",
		"/console/assets/console.css": "",
		"/consolex/users":             "",
		"/console//evil.example/x":    "",
		"/console/..%2f..":            "",
		"/console/a\\b":               "",
		"/demo-app":                   "",
	} {
		u, err := url.Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := consoleReturnPath(u); got != want {
			t.Errorf("consoleReturnPath(%q) = %q, want %q", in, got, want)
		}
	}
}
