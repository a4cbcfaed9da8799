package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
)

// The browser side of the OpenID Connect authorization code flow with PKCE, as the
// sign-in scenarios drive it against Latch (the routes and JSON are Logto's):
//
//	GET  /oidc/auth?...            303 /sign-in, _interaction cookie (no live session)
//	                               303 <redirect_uri>?code&state&iss (live _session: SSO)
//	PUT  /api/experience           {"interactionEvent":"SignIn"} -> 204
//	POST /api/experience/verification/password -> {"verificationId"}
//	POST /api/experience/identification         {"verificationId"} -> 204
//	POST /api/experience/submit                 -> {"redirectTo": ".../oidc/auth/<uid>"}
//	GET  redirectTo                303 <redirect_uri>?code&state&iss, _session cookie
//	POST /oidc/token               grant_type=authorization_code + code_verifier
//
// The redirect URI is never fetched: the flow reads the code from the Location header.
// Each step is a small method that returns a classified *RequestError naming the step;
// the judging of responses is in plain functions (readAuthorizationRedirect,
// stepStatusError, parseVerificationID, parseRedirectTo) that the tests feed canned
// responses.

// Flow steps, as they appear in error classes ("http 422 (verification/password: ...)").
const (
	stepAuthorize      = "authorize"
	stepExperience     = "experience"
	stepPassword       = "verification/password"
	stepIdentification = "identification"
	stepSubmit         = "submit"
	stepResume         = "resume"
	stepToken          = "token"
	stepRefresh        = "refresh"
	stepUserinfo       = "userinfo"
)

// flowEndpoints are where the flow goes, from discovery.
type flowEndpoints struct {
	Issuer        string
	Authorization string
	Token         string
	Userinfo      string
	// Introspection is the discovered introspection_endpoint (RFC 8414), if any.
	Introspection string
	// Base is Latch's endpoint (the issuer without /oidc): the Experience API's root.
	Base string
}

// discoverFlow reads the endpoints of the browser flows from the issuer's discovery
// document (--token-endpoint still overrides the token endpoint).
func discoverFlow(ctx context.Context, env *Env) (*flowEndpoints, error) {
	base, err := managementBase(env.Target.Issuer)
	if err != nil {
		return nil, err
	}
	d, err := Discover(ctx, env.Client, env.Target.Issuer)
	if err != nil {
		return nil, err
	}
	ep := &flowEndpoints{
		Issuer: orDefault(d.Issuer, env.Target.Issuer), Authorization: d.AuthorizationEndpoint,
		Token: orDefault(env.Target.TokenEndpoint, d.TokenEndpoint), Userinfo: d.UserinfoEndpoint,
		Introspection: d.IntrospectionEndpoint, Base: base,
	}
	if ep.Issuer != env.Target.Issuer {
		env.logf("warning: discovery issuer %q differs from --issuer %q", ep.Issuer, env.Target.Issuer)
	}
	if ep.Authorization == "" {
		return nil, errors.New("discovery: no authorization_endpoint")
	}
	return ep, nil
}

// signInFlow is what every browser of a scenario shares, read-only once built: the
// endpoints, the app, what to ask for, and the run's HTTP client (whose transport the
// browsers share; the token endpoint is called without cookies, as an app's back end
// would).
type signInFlow struct {
	ep     *flowEndpoints
	app    *userApp
	scope  string // e.g. "openid profile"
	prompt string // "" or e.g. "consent" (needed for offline_access)
	// resource, when set, is the API resource indicator asked for in the authorization
	// request and again in the code exchange (RFC 8707 2.1, 2.2), so that the access
	// token is a JWT for it (RFC 9068) instead of an opaque one. Set before the flow is
	// shared.
	resource string
	// organizationID, when set, goes with every refresh (organization_id): the access
	// token is an organization token whose scope must be organizationScope. Set before
	// the flow is shared.
	organizationID, organizationScope string
	client                            *http.Client
	// tokenHeader authenticates the app at the token endpoint: client_secret_basic for
	// a confidential client; none for a public one (client_id goes in the body).
	tokenHeader http.Header
	rand        io.Reader
	// browsers numbers the browsers made on this flow: where each starts its rotation
	// over --endpoints (endpoints.go).
	browsers atomic.Uint64
}

func newSignInFlow(ep *flowEndpoints, app *userApp, scope, prompt string, client *http.Client) *signInFlow {
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Accept", "application/json")
	if !app.Public() {
		// RFC 6749 2.3.1: id and secret form-urlencoded before base64.
		cred := url.QueryEscape(app.ID) + ":" + url.QueryEscape(app.Secret)
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	}
	return &signInFlow{ep: ep, app: app, scope: scope, prompt: prompt, client: client, tokenHeader: h, rand: rand.Reader}
}

// authParams are the per-request secrets of one authorization request.
type authParams struct {
	verifier, challenge, state, nonce string
}

// newAuthParams draws a fresh PKCE verifier (RFC 7636 4.1: 32 random octets,
// base64url, 43 characters), state and nonce.
func (f *signInFlow) newAuthParams() (authParams, error) {
	var b [32 + 16 + 16]byte
	if _, err := io.ReadFull(f.rand, b[:]); err != nil {
		return authParams{}, err
	}
	enc := base64.RawURLEncoding
	v := enc.EncodeToString(b[:32])
	return authParams{verifier: v, challenge: pkceChallenge(v), state: enc.EncodeToString(b[32:48]), nonce: enc.EncodeToString(b[48:])}, nil
}

// pkceChallenge is the S256 code_challenge of verifier (RFC 7636 4.2).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizeURL is the authorization request (OIDC Core 3.1.2.1) for p.
func (f *signInFlow) authorizeURL(p authParams) string {
	q := url.Values{
		"client_id":             {f.app.ID},
		"redirect_uri":          {f.app.RedirectURI},
		"response_type":         {"code"},
		"scope":                 {f.scope},
		"state":                 {p.state},
		"nonce":                 {p.nonce},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
	}
	if f.prompt != "" {
		q.Set("prompt", f.prompt)
	}
	if f.resource != "" {
		q.Set("resource", f.resource)
	}
	sep := "?"
	if strings.Contains(f.ep.Authorization, "?") {
		sep = "&"
	}
	return f.ep.Authorization + sep + q.Encode()
}

// authOutcome is where an authorization response sent the browser.
type authOutcome int

const (
	outcomeCode   authOutcome = iota + 1 // to the client with a code
	outcomeSignIn                        // to the OP's sign-in UI: an interaction started
)

// readAuthorizationRedirect judges a response of the authorization endpoint (or of the
// resume URL, signInOK false): a 303 to the client's redirect URI carrying code, the
// request's state, and iss when sent (RFC 6749 4.1.2, RFC 9207); a 303 to the
// redirect URI with an error (RFC 6749 4.1.2.1), counted under its OAuth code with
// status 303; or, when signInOK, a 303 to a page of the OP itself (its sign-in UI).
// Anything else is a classified error naming step. Never panics on any input.
func readAuthorizationRedirect(step string, status int, location string, reqURL *url.URL, body []byte,
	redirectURI, state, issuer string, signInOK bool) (authOutcome, string, *RequestError) {
	if status != http.StatusSeeOther && status != http.StatusFound {
		return 0, "", stepStatusError(step, status, body)
	}
	if location == "" {
		return 0, "", ResponseError(status, step+": redirect without Location")
	}
	target, query, _ := strings.Cut(location, "?")
	if target == redirectURI {
		q, err := url.ParseQuery(query)
		if err != nil {
			return 0, "", &RequestError{Class: ErrorClass{Kind: KindResponse, Status: status, Code: step + ": malformed redirect query"}, Detail: snippet([]byte(location))}
		}
		if code := q.Get("error"); code != "" {
			if !oauthCodeOK(code) {
				code = "malformed error code"
			}
			return 0, "", &RequestError{Class: ErrorClass{Kind: KindOAuth, Status: status, Code: code}, Detail: step + ": " + q.Get("error_description")}
		}
		switch {
		case q.Get("state") != state:
			return 0, "", ResponseError(status, step+": state mismatch")
		case q.Get("iss") != "" && q.Get("iss") != issuer:
			return 0, "", ResponseError(status, step+": iss mismatch")
		case q.Get("code") == "":
			return 0, "", ResponseError(status, step+": no code")
		}
		return outcomeCode, q.Get("code"), nil
	}
	loc, err := reqURL.Parse(location)
	if err == nil && signInOK && loc.Host == reqURL.Host && loc.Scheme == reqURL.Scheme {
		return outcomeSignIn, "", nil
	}
	return 0, "", &RequestError{Class: ErrorClass{Kind: KindResponse, Status: status, Code: step + ": unexpected redirect"}, Detail: snippet([]byte(location))}
}

// oauthCodeOK: an error code of the characters RFC 6749 4.1.2.1 allows
// (%x20-21 / %x23-5B / %x5D-7E), at most 128 bytes, so error classes stay printable.
func oauthCodeOK(code string) bool {
	if code == "" || len(code) > 128 {
		return false
	}
	for i := 0; i < len(code); i++ {
		if c := code[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// logtoCodeRE is the shape of Logto's API error codes ("session.invalid_credentials").
var logtoCodeRE = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+)+$`)

// stepStatusError classifies an unsuccessful response of one step of a flow: an OAuth
// error when the body carries one (as StatusError), otherwise an HTTP error whose code
// is the step plus, when the body is Logto's API error shape ({"code", "message"}), its
// code: "http 422 (verification/password: session.invalid_credentials)".
func stepStatusError(step string, status int, body []byte) *RequestError {
	e := StatusError(status, body)
	if e.Class.Kind != KindHTTP {
		return e
	}
	e.Class.Code = step
	var le struct {
		Code    any `json:"code"`
		Message any `json:"message"`
	}
	if json.Unmarshal(body, &le) == nil {
		if c, ok := le.Code.(string); ok && len(c) <= 80 && logtoCodeRE.MatchString(c) {
			e.Class.Code = step + ": " + c
			if m, ok := le.Message.(string); ok {
				e.Detail = snippet([]byte(m))
			}
		}
	}
	return e
}

// bearerStatusError classifies a failed protected-resource request: the body's OAuth
// error, else the error of the WWW-Authenticate challenge (RFC 6750 3), else the step.
func bearerStatusError(step string, status int, header http.Header, body []byte) *RequestError {
	e := stepStatusError(step, status, body)
	if e.Class.Kind != KindHTTP {
		return e
	}
	if code := challengeError(header.Get("WWW-Authenticate")); code != "" {
		return &RequestError{Class: ErrorClass{Kind: KindOAuth, Status: status, Code: code}, Detail: step}
	}
	return e
}

var challengeErrorRE = regexp.MustCompile(`(?:^|[\s,])error="([\x20\x21\x23-\x5B\x5D-\x7E]{1,128})"`)

// challengeError is the error parameter of a Bearer challenge (RFC 6750 3), or "".
func challengeError(h string) string {
	if m := challengeErrorRE.FindStringSubmatch(h); m != nil {
		return m[1]
	}
	return ""
}

// parseVerificationID reads {"verificationId": "..."}.
func parseVerificationID(body []byte) (string, bool) {
	var v struct {
		VerificationID any `json:"verificationId"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", false
	}
	id, ok := v.VerificationID.(string)
	return id, ok && id != ""
}

// parseRedirectTo reads {"redirectTo": "..."} and resolves it against base; it must be
// an http(s) URL on the OP's host.
func parseRedirectTo(body []byte, base *url.URL) (string, bool) {
	var v struct {
		RedirectTo any `json:"redirectTo"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", false
	}
	s, ok := v.RedirectTo.(string)
	if !ok || s == "" {
		return "", false
	}
	u, err := base.Parse(s)
	if err != nil || u.Host != base.Host || (u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	return u.String(), true
}

// userAgent is one simulated browser: a cookie jar (the _interaction and _session
// cookies) on the run's shared transport, redirects never followed, and the account it
// signs in with. Used by one goroutine at a time.
type userAgent struct {
	f      *signInFlow
	user   benchUser
	client *http.Client // with the jar
	// api is the app's back end (token, userinfo, introspection: no cookies): the
	// flow's client, or with --endpoints one on this browser's rotation.
	api  *http.Client
	base *url.URL
	buf  []byte
}

func newUserAgent(f *signInFlow, user benchUser) *userAgent {
	base, err := url.Parse(f.ep.Base)
	if err != nil {
		base = &url.URL{}
	}
	u := &userAgent{f: f, user: user, base: base, buf: make([]byte, 0, 32<<10), api: f.client}
	rt := browserTransport(f.client.Transport, f.browsers.Add(1)-1)
	if rt != f.client.Transport {
		u.api = &http.Client{Transport: rt, Timeout: f.client.Timeout, CheckRedirect: f.client.CheckRedirect}
	}
	u.client = &http.Client{
		Transport:     rt,
		Timeout:       f.client.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	u.forget()
	return u
}

// forget drops every cookie: the next authorization starts a new browser session.
func (u *userAgent) forget() {
	jar, _ := cookiejar.New(nil) // never fails without options
	u.client.Jar = jar
}

// flowWant says which way an authorization request must go.
type flowWant int

const (
	viaAny    flowWant = iota // SSO when the browser has a live session, else sign in
	viaSignIn                 // through the sign-in UI (password-login)
	viaSSO                    // answered at once from the live session (sso-code)
)

// codeFlow runs one authorization code flow and returns the token response (in u.buf:
// valid until the browser's next request).
func (u *userAgent) codeFlow(ctx context.Context, want flowWant) ([]byte, error) {
	p, err := u.f.newAuthParams()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.f.authorizeURL(p), nil)
	if err != nil {
		return nil, err
	}
	outcome, code, err := u.redirect(req, stepAuthorize, p.state, true)
	if err != nil {
		return nil, err
	}
	switch {
	case outcome == outcomeCode && want == viaSignIn:
		return nil, ResponseError(http.StatusSeeOther, stepAuthorize+": code without sign-in (a session was live)")
	case outcome == outcomeSignIn && want == viaSSO:
		return nil, errNoSSO
	case outcome == outcomeSignIn:
		redirectTo, err := u.signIn(ctx)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, redirectTo, nil)
		if err != nil {
			return nil, err
		}
		if _, code, err = u.redirect(req, stepResume, p.state, false); err != nil {
			return nil, err
		}
	}
	return u.exchange(ctx, code, p.verifier)
}

// signInTokens runs codeFlow (either way in) and decodes the token response the
// browser's app got: what a scenario that uses the tokens bootstraps with.
func (u *userAgent) signInTokens(ctx context.Context) (tokenResponse, error) {
	body, err := u.codeFlow(ctx, viaAny)
	if err != nil {
		return tokenResponse{}, err
	}
	resp, ok := parseTokenResponse(body)
	if !ok {
		return tokenResponse{}, ResponseError(http.StatusOK, stepToken+": undecodable token response")
	}
	return resp, nil
}

// errNoSSO: the browser was sent to the sign-in UI although it had signed in.
var errNoSSO = ResponseError(http.StatusSeeOther, stepAuthorize+": no SSO (sent to sign-in; session lost?)")

// redirect sends req (authorize or resume) and judges the redirect.
func (u *userAgent) redirect(req *http.Request, step, state string, signInOK bool) (authOutcome, string, error) {
	resp, err := u.client.Do(req)
	if err != nil {
		return 0, "", TransportError(err)
	}
	body, _, err := readBody(resp, u.buf)
	if err != nil {
		return 0, "", TransportError(err)
	}
	outcome, code, rerr := readAuthorizationRedirect(step, resp.StatusCode, resp.Header.Get("Location"), req.URL, body,
		u.f.app.RedirectURI, state, u.f.ep.Issuer, signInOK)
	if rerr != nil {
		return 0, "", rerr
	}
	return outcome, code, nil
}

// signIn drives the Experience API with the browser's _interaction cookie: sign-in
// event, password verification, identification, submit. It returns redirectTo.
func (u *userAgent) signIn(ctx context.Context) (string, error) {
	if _, err := u.experience(ctx, stepExperience, http.MethodPut, "/api/experience",
		[]byte(`{"interactionEvent":"SignIn"}`), http.StatusNoContent); err != nil {
		return "", err
	}
	body, err := u.experience(ctx, stepPassword, http.MethodPost, "/api/experience/verification/password", mustJSON(map[string]any{
		"identifier": map[string]string{"type": "username", "value": u.user.Username}, "password": u.user.Password,
	}), http.StatusOK)
	if err != nil {
		return "", err
	}
	vid, ok := parseVerificationID(body)
	if !ok {
		return "", ResponseError(http.StatusOK, stepPassword+": no verificationId")
	}
	if _, err := u.experience(ctx, stepIdentification, http.MethodPost, "/api/experience/identification",
		mustJSON(map[string]string{"verificationId": vid}), http.StatusNoContent); err != nil {
		return "", err
	}
	body, err = u.experience(ctx, stepSubmit, http.MethodPost, "/api/experience/submit", nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	to, ok := parseRedirectTo(body, u.base)
	if !ok {
		return "", ResponseError(http.StatusOK, stepSubmit+": no usable redirectTo")
	}
	return to, nil
}

// experience sends one Experience API request and requires status want.
func (u *userAgent) experience(ctx context.Context, step, method, path string, in []byte, want int) ([]byte, error) {
	var rd io.Reader
	if in != nil {
		rd = bytes.NewReader(in)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.f.ep.Base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return nil, TransportError(err)
	}
	body, _, err := readBody(resp, u.buf)
	if err != nil {
		return nil, TransportError(err)
	}
	if resp.StatusCode != want {
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return nil, ResponseError(resp.StatusCode, fmt.Sprintf("%s: status %d, want %d", step, resp.StatusCode, want))
		}
		return nil, stepStatusError(step, resp.StatusCode, body)
	}
	return body, nil
}

// exchange redeems code at the token endpoint (RFC 6749 4.1.3, RFC 7636 4.5) without
// cookies, asking again for the flow's resource (RFC 8707 2.2: the access token is for
// the resource named in the token request). With the openid scope the response must
// hold an ID token.
func (u *userAgent) exchange(ctx context.Context, code, verifier string) ([]byte, error) {
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {u.f.app.RedirectURI},
		"code_verifier": {verifier},
	}
	if u.f.app.Public() {
		form.Set("client_id", u.f.app.ID)
	}
	if u.f.resource != "" {
		form.Set("resource", u.f.resource)
	}
	tr := tokenRequest{url: u.f.ep.Token, body: []byte(form.Encode()), header: u.f.tokenHeader}
	body, err := tr.do(ctx, u.api, u.buf)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(body, idTokenKey) {
		return nil, ResponseError(http.StatusOK, stepToken+": no id_token")
	}
	return body, nil
}

var idTokenKey = []byte(`"id_token"`)

// refresh redeems refreshToken (RFC 6749 6) and returns the response and the refresh
// token to use next: the rotated one, or refreshToken when the OP did not rotate.
func (u *userAgent) refresh(ctx context.Context, refreshToken string) (next string, rotated bool, err error) {
	tr := u.refreshRequest(refreshToken)
	body, err := tr.do(ctx, u.api, u.buf)
	if err != nil {
		return "", false, err
	}
	return rotatedRefreshToken(body, refreshToken)
}

// refreshRequest is the refresh_token grant request (RFC 6749 6) for refreshToken: a
// public client names itself in the body, a confidential one authenticates as at
// sign-in.
func (u *userAgent) refreshRequest(refreshToken string) tokenRequest {
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refreshToken}}
	if u.f.app.Public() {
		form.Set("client_id", u.f.app.ID)
	}
	if u.f.organizationID != "" {
		form.Set("organization_id", u.f.organizationID)
	}
	return tokenRequest{url: u.f.ep.Token, body: []byte(form.Encode()), header: u.f.tokenHeader}
}

// rotatedRefreshToken reads the refresh token of a successful refresh response: the
// new one and rotated=true, or prev when the response has none or the same.
func rotatedRefreshToken(body []byte, prev string) (next string, rotated bool, err error) {
	// The rotated token is read without decoding the whole response (the load's
	// hottest client path); a value with escapes falls back to encoding/json.
	if v, whole, _ := stringMember(body, refreshTokenKey); whole {
		next = string(v)
	} else if resp, ok := parseTokenResponse(body); ok {
		next = resp.RefreshToken
	} else {
		return "", false, ResponseError(http.StatusOK, stepRefresh+": undecodable token response")
	}
	if next == "" || next == prev {
		return prev, false, nil
	}
	return next, true, nil
}

var refreshTokenKey = []byte(`"refresh_token"`)

// userinfo calls the UserInfo endpoint (OIDC Core 5.3) with a bearer header value
// ("Bearer <token>"), without cookies; a 200 must be a JSON object with sub.
func (u *userAgent) userinfo(ctx context.Context, authorization string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.f.ep.Userinfo, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", authorization)
	req.Header.Set("Accept", "application/json")
	resp, err := u.api.Do(req)
	if err != nil {
		return TransportError(err)
	}
	body, _, err := readBody(resp, u.buf)
	if err != nil {
		return TransportError(err)
	}
	return judgeUserinfo(resp.StatusCode, resp.Header, body)
}

// judgeUserinfo judges a UserInfo response: nil for a 200 with sub, else a classified
// error (a Bearer challenge's error code when there is one).
func judgeUserinfo(status int, header http.Header, body []byte) error {
	if status != http.StatusOK {
		return bearerStatusError(stepUserinfo, status, header, body)
	}
	if !bytes.Contains(body, subKey) {
		return ResponseError(status, stepUserinfo+": no sub")
	}
	return nil
}

var subKey = []byte(`"sub"`)
