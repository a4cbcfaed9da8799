package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"golang.org/x/oauth2"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// The demo app at /demo-app, Logto's smoke test after installing: a built-in public
// application (directory.DemoAppID, an SPA with PKCE) whose pages Latch serves itself.
// It runs the real authorization-code flow: the browser goes to /oidc/auth and comes
// back to /demo-app with a code, which the page exchanges server-side
// (golang.org/x/oauth2) at Latch's own token endpoint, then it shows the ID token's
// claims, what /oidc/me answers and, for an API resource the visitor names, the
// access token's claims. Sign-out goes through /oidc/session/end. The token requests
// are served in-process by this Server's own handler (loopbackTransport): they
// traverse the same routes as any client's, without depending on the public endpoint
// being reachable from the node itself (a proxy, TLS termination, a container).
//
// The demo's own state lives in one sealed cookie (demo_cookie.go), never in the page.

const (
	pathDemo        = directory.DemoAppPath
	pathDemoSignIn  = pathDemo + "/sign-in"
	pathDemoSignOut = pathDemo + "/sign-out"
	// cookieDemo is the demo app's session, on path /demo-app only.
	cookieDemo = "_latch_demo"
	// demoPendingTTL bounds a sign-in started from the demo page; demoSessionTTL the
	// demo's session (its tokens expire sooner: it then asks to sign in again).
	demoPendingTTL = 10 * time.Minute
	demoSessionTTL = 8 * time.Hour
)

// demoScopes are what the demo asks for: every user claim Logto has, and
// offline_access (with prompt=consent, so that a refresh token comes back) to get the
// access token for the API resource.
var demoScopes = []string{"openid", "offline_access", "profile", "email", "phone", "address", "custom_data",
	"identities", "roles", "urn:logto:scope:organizations", "urn:logto:scope:organization_roles"}

// demoCookie is what the sealed cookie holds: a pending sign-in (State set) or a
// signed-in session (IDToken set).
type demoCookie struct {
	State    string `json:"st,omitempty"`
	Nonce    string `json:"n,omitempty"`
	Verifier string `json:"v,omitempty"`
	Resource string `json:"r,omitempty"`
	Scope    string `json:"s,omitempty"`

	IDToken       string `json:"id,omitempty"`
	AccessToken   string `json:"at,omitempty"`
	ResourceToken string `json:"rt,omitempty"`
	ResourceError string `json:"re,omitempty"`
}

// demoPageData is what the demo template renders.
type demoPageData struct {
	Assets, Version string
	Endpoint        string
	Issuer          string
	Error           string
	SignedIn        bool
	Resource, Scope string
	IDClaims        string
	UserInfo        string
	UserInfoError   string
	ResourceClaims  string
	ResourceError   string
}

// routesDemo registers the demo app and `/` (demo_root.go).
func (s *Server) routesDemo(r *routeTable) {
	g := newPostGuard(s.endpoint)
	r.GET(pathDemo, s.serveDemo)
	r.POST(pathDemoSignIn, g.form(s.serveDemoSignIn))
	r.POST(pathDemoSignOut, g.form(s.serveDemoSignOut))
	r.GET("/", s.serveRoot)
	r.HEAD("/", s.serveRoot)
}

// demoConfig is the demo app as an OAuth client of this server.
func (s *Server) demoConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    directory.DemoAppID,
		RedirectURL: s.endpoint + pathDemo,
		Scopes:      demoScopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: s.issuer + "/auth", TokenURL: s.issuer + "/token",
			AuthStyle: oauth2.AuthStyleInParams, // a public client: client_id in the form
		},
	}
}

// loopbackClient sends requests to this Server's own handler, in-process.
func (s *Server) loopbackClient() *http.Client {
	return &http.Client{Transport: loopbackTransport{h: s.Handler()}, Timeout: 15 * time.Second}
}

// serveDemo is GET /demo-app: the callback when the query carries a code or an error,
// else the signed-in view or the start page.
func (s *Server) serveDemo(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if _, err := s.dir.EnsureDemoApp(r.Context(), s.endpoint); err != nil {
		s.log.Warn("demo app: could not create its application", "err", err)
		s.renderDemo(w, http.StatusServiceUnavailable, demoPageData{Error: "The demo application could not be set up on this node; try again later."})
		return
	}
	q := r.URL.Query()
	if q.Has("code") || q.Has("error") {
		s.demoCallback(w, r, q)
		return
	}
	var c demoCookie
	if !s.openCookie(cookieDemo, cookie(r, cookieDemo), &c) || c.IDToken == "" {
		s.renderDemo(w, http.StatusOK, demoPageData{Scope: "", Resource: ""})
		return
	}
	data := demoPageData{SignedIn: true, Resource: c.Resource, Scope: c.Scope, ResourceError: c.ResourceError}
	data.IDClaims = jwtClaims(c.IDToken)
	data.UserInfo, data.UserInfoError = s.demoUserInfo(r.Context(), c.AccessToken)
	if c.ResourceToken != "" {
		data.ResourceClaims = jwtClaims(c.ResourceToken)
	}
	s.renderDemo(w, http.StatusOK, data)
}

// serveDemoSignIn is POST /demo-app/sign-in: it remembers state, nonce and PKCE
// verifier in the sealed cookie and sends the browser to /oidc/auth.
func (s *Server) serveDemoSignIn(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.renderDemo(w, http.StatusBadRequest, demoPageData{Error: "The form could not be read."})
		return
	}
	if _, err := s.dir.EnsureDemoApp(r.Context(), s.endpoint); err != nil {
		s.log.Warn("demo app: could not create its application", "err", err)
		s.renderDemo(w, http.StatusServiceUnavailable, demoPageData{Error: "The demo application could not be set up on this node; try again later."})
		return
	}
	c := demoCookie{
		Resource: strings.TrimSpace(r.PostForm.Get("resource")),
		Scope:    strings.Join(strings.Fields(r.PostForm.Get("scope")), " "),
		Verifier: oauth2.GenerateVerifier(),
	}
	var err error
	if c.State, err = op.RandomID(s.rand); err == nil {
		c.Nonce, err = op.RandomID(s.rand)
	}
	if err != nil {
		s.demoFailure(w, "random", err)
		return
	}
	sealed, err := s.sealCookie(cookieDemo, c, demoPendingTTL)
	if err != nil {
		s.demoFailure(w, "seal", err)
		return
	}
	cfg := s.demoConfig()
	if c.Scope != "" {
		cfg.Scopes = append(cfg.Scopes, strings.Fields(c.Scope)...)
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(c.Verifier),
		oauth2.SetAuthURLParam("nonce", c.Nonce), oauth2.SetAuthURLParam("prompt", "consent")}
	if c.Resource != "" {
		opts = append(opts, oauth2.SetAuthURLParam("resource", c.Resource))
	}
	s.setDemoCookie(w, sealed, demoPendingTTL)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, cfg.AuthCodeURL(c.State, opts...), http.StatusSeeOther)
}

// demoCallback redeems the code: the state must be the pending one, the ID token's
// nonce the pending nonce. The tokens go in the cookie; the browser reloads /demo-app.
func (s *Server) demoCallback(w http.ResponseWriter, r *http.Request, q url.Values) {
	var c demoCookie
	if !s.openCookie(cookieDemo, cookie(r, cookieDemo), &c) || c.State == "" {
		s.renderDemo(w, http.StatusBadRequest, demoPageData{Error: "This sign-in was not started from this page, or it took too long. Start again."})
		return
	}
	if q.Get("state") != c.State {
		s.renderDemo(w, http.StatusBadRequest, demoPageData{Error: "The state does not match the sign-in this browser started. Start again."})
		return
	}
	if q.Get("iss") != "" && q.Get("iss") != s.issuer { // RFC 9207
		s.renderDemo(w, http.StatusBadRequest, demoPageData{Error: "The response comes from another issuer."})
		return
	}
	if e := q.Get("error"); e != "" {
		s.clearDemoCookie(w)
		s.renderDemo(w, http.StatusOK, demoPageData{Error: fmt.Sprintf("Sign-in failed: %s %s", e, q.Get("error_description"))})
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, s.loopbackClient())
	cfg := s.demoConfig()
	tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(c.Verifier))
	if err != nil {
		s.clearDemoCookie(w)
		s.renderDemo(w, http.StatusOK, demoPageData{Error: "The code could not be redeemed: " + oauthMessage(err)})
		return
	}
	idToken, _ := tok.Extra("id_token").(string)
	// The ID token came straight from the token endpoint (OIDC Core 3.1.3.7: the
	// channel may stand in for its signature); its audience and nonce must match.
	var claims struct {
		Iss   string `json:"iss"`
		Aud   any    `json:"aud"`
		Nonce string `json:"nonce"`
	}
	if err := decodeJWTPayload(idToken, &claims); err != nil || claims.Iss != s.issuer || claims.Nonce != c.Nonce || !audHas(claims.Aud, directory.DemoAppID) {
		s.clearDemoCookie(w)
		s.renderDemo(w, http.StatusOK, demoPageData{Error: "The ID token's issuer, audience or nonce does not match."})
		return
	}
	next := demoCookie{Resource: c.Resource, Scope: c.Scope, IDToken: idToken, AccessToken: tok.AccessToken}
	if c.Resource != "" {
		// The access token for the resource: the refresh token, with resource (RFC
		// 8707 2.2), as Logto's SDKs' getAccessToken(resource) do.
		next.ResourceToken, err = s.demoResourceToken(ctx, tok.RefreshToken, c.Resource)
		if err != nil {
			next.ResourceError = err.Error()
		}
	}
	sealed, err := s.sealCookie(cookieDemo, next, demoSessionTTL)
	if err != nil {
		s.demoFailure(w, "seal", err)
		return
	}
	s.setDemoCookie(w, sealed, demoSessionTTL)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, pathDemo, http.StatusSeeOther)
}

// demoResourceToken redeems the refresh token for an access token for resource.
func (s *Server) demoResourceToken(ctx context.Context, refreshToken, resource string) (string, error) {
	if refreshToken == "" {
		return "", errors.New("no refresh token was issued, so no access token for the resource")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken},
		"client_id": {directory.DemoAppID}, "resource": {resource}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := s.loopbackClient().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", fmt.Errorf("%s: %s", body.Error, body.ErrorDescription)
	}
	return body.AccessToken, nil
}

// demoUserInfo asks /oidc/me with the opaque access token.
func (s *Server) demoUserInfo(ctx context.Context, accessToken string) (string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.issuer+"/me", nil)
	if err != nil {
		return "", err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	resp, err := s.loopbackClient().Do(req)
	if err != nil {
		return "", err.Error()
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), raw)
	}
	return prettyJSON(raw), ""
}

// serveDemoSignOut is POST /demo-app/sign-out: the demo's cookie goes, and the
// browser ends its Latch session at /oidc/session/end, which sends it back here.
func (s *Server) serveDemoSignOut(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	var c demoCookie
	s.openCookie(cookieDemo, cookie(r, cookieDemo), &c)
	s.clearDemoCookie(w)
	q := url.Values{"client_id": {directory.DemoAppID}, "post_logout_redirect_uri": {s.endpoint + pathDemo}}
	if c.IDToken != "" {
		q.Set("id_token_hint", c.IDToken)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, s.issuer+"/session/end?"+q.Encode(), http.StatusSeeOther)
}

func (s *Server) setDemoCookie(w http.ResponseWriter, value string, maxAge time.Duration) {
	http.SetCookie(w, &http.Cookie{Name: cookieDemo, Value: value, Path: pathDemo, MaxAge: int(maxAge / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearDemoCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieDemo, Path: pathDemo, MaxAge: -1,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *Server) demoFailure(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, errNoCookieKey) {
		s.renderDemo(w, http.StatusServiceUnavailable, demoPageData{Error: "This node has no cookie key yet; rotate one with POST /api/configs/oidc/cookie/rotate."})
		return
	}
	s.log.Error("demo app failed", "step", what, "err", err)
	s.renderDemo(w, http.StatusInternalServerError, demoPageData{Error: "Something went wrong. Please try again."})
}

// renderDemo writes the demo page with the sign-in pages' security headers (no inline
// script or style).
func (s *Server) renderDemo(w http.ResponseWriter, status int, data demoPageData) {
	data.Assets, data.Version = pathUIAssets, uiPages.version
	data.Endpoint, data.Issuer = s.endpoint, s.issuer
	s.renderSelfPostingPage(w, status, "demo", data) // consent.go
}

// oauthMessage is an x/oauth2 error as one line.
func oauthMessage(err error) string {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return strings.TrimSpace(re.ErrorCode + " " + re.ErrorDescription)
	}
	return err.Error()
}

// decodeJWTPayload decodes a compact JWS's payload into v, without checking its
// signature (the caller got it from the token endpoint directly).
func decodeJWTPayload(token string, v any) error {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return errors.New("not a compact JWS")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}

// jwtClaims is a JWT's payload, indented; "" when it is not a JWT.
func jwtClaims(token string) string {
	var m map[string]any
	if decodeJWTPayload(token, &m) != nil {
		return ""
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	return string(b)
}

func prettyJSON(raw []byte) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

func audHas(aud any, id string) bool {
	switch a := aud.(type) {
	case string:
		return a == id
	case []any:
		for _, v := range a {
			if v == id {
				return true
			}
		}
	}
	return false
}

// loopbackTransport is an http.RoundTripper that serves each request with h, in this
// process: the demo app's token and userinfo requests reach this Server's own
// routes without the network.
type loopbackTransport struct{ h http.Handler }

func (t loopbackTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	in := req.Clone(req.Context())
	if in.Body == nil {
		in.Body = http.NoBody
	}
	in.RemoteAddr = "127.0.0.1:0"
	in.RequestURI = in.URL.RequestURI()
	rec := &loopbackRecorder{header: http.Header{}}
	t.h.ServeHTTP(rec, in)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &http.Response{
		Status: fmt.Sprintf("%d %s", rec.status, http.StatusText(rec.status)), StatusCode: rec.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rec.header, Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()), Request: req,
	}, nil
}

// loopbackRecorder is the ResponseWriter of a loopback request.
type loopbackRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *loopbackRecorder) Header() http.Header { return r.header }

func (r *loopbackRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *loopbackRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
