package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/oauth2"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// The Admin Console at /console, as Logto's: a client of Latch itself. It signs the
// administrator in through Latch's own flow (the built-in public application
// directory.ConsoleAppID, authorization code + PKCE, with resource
// https://default.logto.app/api and scope "all") and calls the Management API with the
// administrator's access token, in-process (loopbackTransport, demo.go), as the demo
// app redeems its code. Administrators are the users holding the built-in User role
// directory.ConsoleAdminRoleName; a signed-in user whose token lacks the scope "all"
// sees a "not an administrator" page. On a fresh directory the first visit offers to
// create the first administrator, and only then (directory.CreateFirstConsoleAdmin).
//
// The pages are server-rendered html/template with no script at all (the CSP allows
// none inline); every form posts same-origin, application/x-www-form-urlencoded
// (postGuard.form), with a per-session CSRF token from the sealed session cookie.
// The console's state lives in that one cookie (AES-GCM, demo_cookie.go), on path
// /console only.

const (
	pathConsole         = directory.ConsoleAppPath
	pathConsoleCallback = directory.ConsoleAppCallbackPath
	cookieConsole       = "_latch_console"
	consolePendingTTL   = 10 * time.Minute
	consoleSessionTTL   = 8 * time.Hour
)

//go:embed console
var consoleFiles embed.FS

// consoleUI holds the console's parsed templates and its stylesheet. Built once, read
// only afterwards.
var consoleUI = mustLoadConsole()

type consoleBundle struct {
	tmpl   *template.Template
	assets fs.FS
}

func mustLoadConsole() consoleBundle {
	funcs := template.FuncMap{
		"str":   consoleString,
		"lines": func(v any) string { return strings.Join(consoleStrings(v), "\n") },
		"list":  consoleStrings,
		"json": func(v any) string {
			if v == nil {
				return "{}"
			}
			b, _ := json.MarshalIndent(v, "", "  ")
			return string(b)
		},
		"time": func(v any) string {
			f, ok := v.(float64)
			if !ok || f == 0 {
				return ""
			}
			return time.UnixMilli(int64(f)).UTC().Format("2006-01-02 15:04 UTC")
		},
		"secs": func(v any) string {
			f, ok := v.(float64)
			if !ok || f == 0 {
				return ""
			}
			return time.Unix(int64(f), 0).UTC().Format("2006-01-02 15:04 UTC")
		},
		"truthy": func(v any) bool { b, _ := v.(bool); return b },
		"has":    func(list []string, s string) bool { return slices.Contains(list, s) },
	}
	tmpl := template.Must(template.New("console").Funcs(funcs).ParseFS(consoleFiles, "console/*.html"))
	assets, err := fs.Sub(consoleFiles, "console")
	if err != nil {
		panic(err)
	}
	return consoleBundle{tmpl: tmpl, assets: assets}
}

// consoleString renders a JSON value as text ("" for null).
func consoleString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return fmt.Sprintf("%v", x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func consoleStrings(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		out = append(out, consoleString(x))
	}
	return out
}

// consoleCookie is the console's sealed session: a pending sign-in (State set) or a
// signed-in administrator (AccessToken set).
type consoleCookie struct {
	State    string `json:"st,omitempty"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v,omitempty"`
	Return   string `json:"ret,omitempty"` // the console page to land on after signing in

	Subject      string `json:"sub,omitempty"`
	Name         string `json:"nm,omitempty"`
	AccessToken  string `json:"at,omitempty"`
	AccessExp    int64  `json:"ae,omitempty"`
	RefreshToken string `json:"rt,omitempty"`
	IDToken      string `json:"id,omitempty"`
	Admin        bool   `json:"adm,omitempty"`
	CSRF         string `json:"c,omitempty"`
}

// consoleScopes: the user's identity, a refresh token and the Management API's "all".
var consoleScopes = []string{"openid", "offline_access", "profile", directory.ManagementAPIScopeAll}

// routesConsole registers the console: /console (getting started) and everything
// under it, dispatched by serveConsole (httprouter allows no static segment beside a
// wildcard, and the console has many).
func (s *Server) routesConsole(r *routeTable) {
	g := newPostGuard(s.endpoint)
	r.GET(pathConsole, s.serveConsoleGET)
	r.GET(pathConsole+"/*path", s.serveConsoleGET)
	r.POST(pathConsole+"/*path", g.form(s.serveConsolePOST))
}

func (s *Server) consoleConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    directory.ConsoleAppID,
		RedirectURL: s.endpoint + pathConsoleCallback,
		Scopes:      consoleScopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: s.issuer + "/auth", TokenURL: s.issuer + "/token",
			AuthStyle: oauth2.AuthStyleInParams,
		},
	}
}

// consoleReq is one console request after authentication.
type consoleReq struct {
	w    http.ResponseWriter
	r    *http.Request
	sess *consoleCookie
	segs []string // the path below /console, split at "/"
}

func consoleSegments(p httprouter.Params) []string {
	path := strings.Trim(p.ByName("path"), "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

// serveConsoleGET serves the console's pages.
func (s *Server) serveConsoleGET(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	segs := consoleSegments(p)
	if len(segs) > 0 {
		switch segs[0] {
		case "assets":
			s.serveConsoleAsset(w, r, strings.Join(segs[1:], "/"))
			return
		case "callback":
			s.consoleCallback(w, r)
			return
		case "welcome":
			s.consoleWelcome(w, r, "", http.StatusOK)
			return
		}
	}
	if len(segs) == 0 && strings.HasSuffix(r.URL.Path, "/") {
		http.Redirect(w, r, pathConsole, http.StatusFound)
		return
	}
	sess, ok := s.consoleSession(w, r)
	if !ok {
		return
	}
	s.consolePage(&consoleReq{w: w, r: r, sess: sess, segs: segs}, nil)
}

// serveConsolePOST serves the console's forms: the welcome form (no session yet) and,
// for a signed-in administrator with the session's CSRF token, every other.
func (s *Server) serveConsolePOST(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: the form could not be read.", http.StatusBadRequest)
		return
	}
	segs := consoleSegments(p)
	if len(segs) == 1 && segs[0] == "welcome" {
		s.consoleCreateFirstAdmin(w, r)
		return
	}
	var sess consoleCookie
	if !s.openCookie(cookieConsole, cookie(r, cookieConsole), &sess) || sess.AccessToken == "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, pathConsole, http.StatusSeeOther)
		return
	}
	token := r.PostForm.Get("csrf")
	if sess.CSRF == "" || subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Forbidden: this form is stale or was not posted from the console. Reload the page and try again.", http.StatusForbidden)
		return
	}
	if len(segs) == 1 && segs[0] == "sign-out" {
		s.consoleSignOut(w, r, &sess)
		return
	}
	live, ok := s.consoleSession(w, r)
	if !ok {
		return
	}
	s.consoleAction(&consoleReq{w: w, r: r, sess: live, segs: segs})
}

// consoleSession returns the signed-in administrator's session, its access token
// fresh (refreshed when it is about to expire). Otherwise it answers: the welcome
// page's redirect on a fresh directory, a new sign-in, or the "not an administrator"
// page; and returns false.
func (s *Server) consoleSession(w http.ResponseWriter, r *http.Request) (*consoleCookie, bool) {
	if _, err := s.dir.EnsureConsoleApp(r.Context(), s.endpoint); err != nil {
		s.log.Warn("console: could not create its application", "err", err)
		s.consoleMessage(w, http.StatusServiceUnavailable, "Unavailable", "The Admin Console could not be set up on this node; try again later.")
		return nil, false
	}
	var c consoleCookie
	if !s.openCookie(cookieConsole, cookie(r, cookieConsole), &c) || c.AccessToken == "" {
		open, err := s.dir.ConsoleFirstAdminOpen(r.Context())
		if err != nil {
			s.consoleFailure(w, "first admin", err)
			return nil, false
		}
		if open {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, pathConsole+"/welcome", http.StatusFound)
			return nil, false
		}
		s.consoleSignIn(w, r)
		return nil, false
	}
	if !c.Admin {
		s.consoleNotAdmin(w, &c)
		return nil, false
	}
	if s.now().Unix() >= c.AccessExp-30 {
		if !s.consoleRefresh(r.Context(), &c) {
			s.consoleSignIn(w, r)
			return nil, false
		}
		if !c.Admin {
			s.consoleNotAdmin(w, &c)
			return nil, false
		}
		if err := s.setConsoleCookie(w, &c, consoleSessionTTL); err != nil {
			s.consoleFailure(w, "seal", err)
			return nil, false
		}
	}
	return &c, true
}

// consoleSignIn starts the authorization-code flow: state, nonce and PKCE verifier in
// the sealed cookie, the browser to /oidc/auth.
func (s *Server) consoleSignIn(w http.ResponseWriter, r *http.Request) {
	c := consoleCookie{Verifier: oauth2.GenerateVerifier()}
	if r.Method == http.MethodGet {
		c.Return = consoleReturnPath(r.URL)
	}
	var err error
	if c.State, err = op.RandomID(s.rand); err == nil {
		c.Nonce, err = op.RandomID(s.rand)
	}
	if err != nil {
		s.consoleFailure(w, "random", err)
		return
	}
	if err := s.setConsoleCookie(w, &c, consolePendingTTL); err != nil {
		s.consoleFailure(w, "seal", err)
		return
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(c.Verifier),
		oauth2.SetAuthURLParam("nonce", c.Nonce), oauth2.SetAuthURLParam("prompt", "consent"),
		oauth2.SetAuthURLParam("resource", directory.ManagementAPIIndicator)}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.consoleConfig().AuthCodeURL(c.State, opts...), http.StatusSeeOther)
}

// consoleCallback redeems the code (state and nonce must be the pending ones) for an
// access token for the Management API, and records who signed in.
func (s *Server) consoleCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var c consoleCookie
	switch {
	case !s.openCookie(cookieConsole, cookie(r, cookieConsole), &c) || c.State == "":
		s.consoleMessage(w, http.StatusBadRequest, "Sign-in expired", "This sign-in was not started from the console, or it took too long. Open the console again.")
		return
	case q.Get("state") != c.State:
		s.consoleMessage(w, http.StatusBadRequest, "Sign-in failed", "The state does not match the sign-in this browser started. Open the console again.")
		return
	case q.Get("iss") != "" && q.Get("iss") != s.issuer: // RFC 9207
		s.consoleMessage(w, http.StatusBadRequest, "Sign-in failed", "The response comes from another issuer.")
		return
	case q.Get("error") != "":
		s.clearConsoleCookie(w)
		s.consoleMessage(w, http.StatusOK, "Sign-in failed", fmt.Sprintf("%s %s", q.Get("error"), q.Get("error_description")))
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.loopbackClient())
	tok, err := s.consoleConfig().Exchange(ctx, q.Get("code"), oauth2.VerifierOption(c.Verifier),
		oauth2.SetAuthURLParam("resource", directory.ManagementAPIIndicator))
	if err != nil {
		s.clearConsoleCookie(w)
		s.consoleMessage(w, http.StatusOK, "Sign-in failed", "The code could not be redeemed: "+oauthMessage(err))
		return
	}
	idToken, _ := tok.Extra("id_token").(string)
	var claims struct {
		Iss      string `json:"iss"`
		Sub      string `json:"sub"`
		Aud      any    `json:"aud"`
		Nonce    string `json:"nonce"`
		Name     string `json:"name"`
		Username string `json:"username"`
	}
	if err := decodeJWTPayload(idToken, &claims); err != nil || claims.Iss != s.issuer || claims.Nonce != c.Nonce || !audHas(claims.Aud, directory.ConsoleAppID) {
		s.clearConsoleCookie(w)
		s.consoleMessage(w, http.StatusOK, "Sign-in failed", "The ID token's issuer, audience or nonce does not match.")
		return
	}
	next := consoleCookie{Subject: claims.Sub, Name: claims.Username, IDToken: idToken, RefreshToken: tok.RefreshToken}
	if claims.Name != "" {
		next.Name = claims.Name
	}
	if next.Name == "" {
		next.Name = claims.Sub
	}
	next.CSRF, err = op.RandomID(s.rand)
	if err != nil {
		s.consoleFailure(w, "random", err)
		return
	}
	s.consoleAccept(&next, tok.AccessToken)
	if err := s.setConsoleCookie(w, &next, consoleSessionTTL); err != nil {
		s.consoleFailure(w, "seal", err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	to := consoleReturnPath(&url.URL{Path: c.Return})
	if to == "" {
		to = pathConsole
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// consoleReturnPath is u's path when it is a console page to come back to after
// signing in (never another site, the callback or the welcome page), else "".
func consoleReturnPath(u *url.URL) string {
	p := u.Path
	if !strings.HasPrefix(p, pathConsole+"/") || strings.ContainsAny(p, "\\?#") || strings.Contains(p, "//") ||
		strings.Contains(p, "/..") || p == pathConsoleCallback || strings.HasPrefix(p, pathConsole+"/welcome") ||
		strings.HasPrefix(p, pathConsole+"/assets") {
		return ""
	}
	return p
}

// consoleAccept records an access token from the token endpoint (this server's own,
// in-process): an administrator's is a JWT for the Management API with scope "all".
func (s *Server) consoleAccept(c *consoleCookie, accessToken string) {
	var at struct {
		Aud   audience `json:"aud"`
		Exp   int64    `json:"exp"`
		Scope string   `json:"scope"`
		Sub   string   `json:"sub"`
	}
	c.AccessToken, c.AccessExp, c.Admin = accessToken, 0, false
	if decodeJWTPayload(accessToken, &at) != nil || at.Sub != c.Subject {
		return
	}
	c.AccessExp = at.Exp
	c.Admin = slices.Contains(at.Aud, directory.ManagementAPIIndicator) &&
		slices.Contains(strings.Fields(at.Scope), directory.ManagementAPIScopeAll)
}

// consoleRefresh gets a new access token for the Management API with the refresh
// token (rotated for a public client); false when it cannot.
func (s *Server) consoleRefresh(ctx context.Context, c *consoleCookie) bool {
	if c.RefreshToken == "" {
		return false
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {c.RefreshToken},
		"client_id": {directory.ConsoleAppID}, "resource": {directory.ManagementAPIIndicator}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.loopbackClient().Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body) != nil || body.AccessToken == "" {
		return false
	}
	if body.RefreshToken != "" {
		c.RefreshToken = body.RefreshToken
	}
	s.consoleAccept(c, body.AccessToken)
	return c.AccessExp != 0
}

// consoleSignOut ends the console's session and the browser's Latch session at
// /oidc/session/end, which sends it back to /console.
func (s *Server) consoleSignOut(w http.ResponseWriter, r *http.Request, c *consoleCookie) {
	s.clearConsoleCookie(w)
	q := url.Values{"client_id": {directory.ConsoleAppID}, "post_logout_redirect_uri": {s.endpoint + pathConsole}}
	if c.IDToken != "" {
		q.Set("id_token_hint", c.IDToken)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.issuer+"/session/end?"+q.Encode(), http.StatusSeeOther)
}

// consoleWelcome is the first visit's page: create the first administrator. Once one
// exists it sends the browser to the console.
func (s *Server) consoleWelcome(w http.ResponseWriter, r *http.Request, errMsg string, status int) {
	if _, err := s.dir.EnsureConsoleApp(r.Context(), s.endpoint); err != nil {
		s.log.Warn("console: could not create its application", "err", err)
		s.consoleMessage(w, http.StatusServiceUnavailable, "Unavailable", "The Admin Console could not be set up on this node; try again later.")
		return
	}
	open, err := s.dir.ConsoleFirstAdminOpen(r.Context())
	if err != nil {
		s.consoleFailure(w, "first admin", err)
		return
	}
	if !open {
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, pathConsole, http.StatusSeeOther)
		return
	}
	s.consoleRender(w, status, "console-welcome", consoleView{Title: "Welcome", Error: errMsg,
		Data: map[string]any{"Username": r.PostFormValue("username")}})
}

// consoleMinPassword is the first administrator's shortest password.
const consoleMinPassword = 8

// consoleCreateFirstAdmin is POST /console/welcome: the first administrator, then the
// sign-in.
func (s *Server) consoleCreateFirstAdmin(w http.ResponseWriter, r *http.Request) {
	username := strings.TrimSpace(r.PostForm.Get("username"))
	password := r.PostForm.Get("password")
	switch {
	case username == "":
		s.consoleWelcome(w, r, "Choose a username.", http.StatusUnprocessableEntity)
		return
	case len(password) < consoleMinPassword:
		s.consoleWelcome(w, r, fmt.Sprintf("The password must have at least %d characters.", consoleMinPassword), http.StatusUnprocessableEntity)
		return
	case password != r.PostForm.Get("confirm"):
		s.consoleWelcome(w, r, "The passwords do not match.", http.StatusUnprocessableEntity)
		return
	}
	if _, err := s.dir.EnsureConsoleApp(r.Context(), s.endpoint); err != nil {
		s.consoleFailure(w, "console app", err)
		return
	}
	_, err := s.dir.CreateFirstConsoleAdmin(r.Context(), username, password)
	var inv *directory.InvalidError
	switch {
	case errors.Is(err, directory.ErrConsoleAdminExists):
		s.consoleMessage(w, http.StatusConflict, "Administrator exists", "An administrator exists already. Sign in to the console with their account.")
		return
	case errors.As(err, &inv):
		s.consoleWelcome(w, r, "The "+inv.Field+" "+inv.Message+".", http.StatusUnprocessableEntity)
		return
	case errors.Is(err, directory.ErrConflict):
		s.consoleWelcome(w, r, "That username is taken.", http.StatusUnprocessableEntity)
		return
	case err != nil:
		s.consoleFailure(w, "first admin", err)
		return
	}
	s.consoleSignIn(w, r)
}

func (s *Server) consoleNotAdmin(w http.ResponseWriter, c *consoleCookie) {
	s.consoleRender(w, http.StatusForbidden, "console-not-admin", consoleView{Title: "Not an administrator",
		User: c.Name, CSRF: c.CSRF})
}

func (s *Server) setConsoleCookie(w http.ResponseWriter, c *consoleCookie, ttl time.Duration) error {
	sealed, err := s.sealCookie(cookieConsole, c, ttl)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: cookieConsole, Value: sealed, Path: pathConsole, MaxAge: int(ttl / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

func (s *Server) clearConsoleCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieConsole, Path: pathConsole, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) consoleFailure(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, errNoCookieKey) {
		s.consoleMessage(w, http.StatusServiceUnavailable, "Unavailable", "This node has no cookie key yet; rotate one with POST /api/configs/oidc/cookie/rotate.")
		return
	}
	s.log.Error("console failed", "step", what, "err", err)
	s.consoleMessage(w, http.StatusInternalServerError, "Something went wrong", "Something went wrong. Please try again.")
}

func (s *Server) consoleMessage(w http.ResponseWriter, status int, title, msg string) {
	s.consoleRender(w, status, "console-message", consoleView{Title: title, Error: msg})
}

// consoleView is what every console template renders.
type consoleView struct {
	Title    string
	Section  string // the nav entry to highlight
	User     string // the signed-in administrator's name
	CSRF     string
	Notice   string
	Error    string
	Endpoint string
	Issuer   string
	Data     map[string]any
}

// consoleRender writes a console page with the sign-in pages' security headers.
func (s *Server) consoleRender(w http.ResponseWriter, status int, page string, v consoleView) {
	v.Endpoint, v.Issuer = s.endpoint, s.issuer
	var buf bytes.Buffer
	if err := consoleUI.tmpl.ExecuteTemplate(&buf, page, v); err != nil {
		s.log.Error("console: template failed", "page", page, "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) serveConsoleAsset(w http.ResponseWriter, r *http.Request, name string) {
	if !strings.HasSuffix(name, ".css") || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(consoleUI.assets, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(b)
}

// consoleAPIError is a Management API answer other than 2xx.
type consoleAPIError struct {
	Status  int
	Code    string
	Message string
}

func (e *consoleAPIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("The request failed (%d).", e.Status)
	}
	return e.Message
}

// api calls the Management API in-process with the administrator's token; out (when
// not nil) receives the decoded JSON answer.
func (s *Server) consoleAPI(ctx context.Context, c *consoleCookie, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.endpoint+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.AccessToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.loopbackClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &consoleAPIError{Status: resp.StatusCode}
		var b struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(raw, &b) == nil {
			e.Code, e.Message = b.Code, b.Message
		}
		return e
	}
	if out != nil && len(raw) > 0 {
		return json.Unmarshal(raw, out)
	}
	return nil
}
