package bench

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestPKCEChallenge(t *testing.T) {
	t.Parallel()
	// RFC 7636 Appendix B.
	if got := pkceChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Fatalf("challenge = %s", got)
	}
}

func TestNewAuthParams(t *testing.T) {
	t.Parallel()
	f := newSignInFlow(&flowEndpoints{Authorization: "http://op.test/oidc/auth"}, &userApp{ID: "app", Type: "SPA", RedirectURI: "http://127.0.0.1:9/cb"}, "openid", "", http.DefaultClient)
	a, err := f.newAuthParams()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := f.newAuthParams()
	// RFC 7636 4.1: 43..128 unreserved characters.
	if len(a.verifier) != 43 || strings.Trim(a.verifier, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~") != "" {
		t.Errorf("verifier %q", a.verifier)
	}
	if a.challenge != pkceChallenge(a.verifier) || a.state == "" || a.nonce == "" || a.state == a.nonce {
		t.Errorf("params %+v", a)
	}
	if a.verifier == b.verifier || a.state == b.state || a.nonce == b.nonce {
		t.Error("two requests drew the same secrets")
	}
	f.rand = bytes.NewReader(make([]byte, 10))
	if _, err := f.newAuthParams(); err == nil {
		t.Error("short randomness: want an error")
	}
}

func TestAuthorizeURL(t *testing.T) {
	t.Parallel()
	f := newSignInFlow(&flowEndpoints{Authorization: "http://op.test/oidc/auth"}, &userApp{ID: "app 1", Type: "SPA", RedirectURI: "http://127.0.0.1:9/cb"},
		"openid offline_access", "consent", http.DefaultClient)
	p := authParams{verifier: "v", challenge: "c", state: "s", nonce: "n"}
	u, err := url.Parse(f.authorizeURL(p))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	want := map[string]string{
		"client_id": "app 1", "redirect_uri": "http://127.0.0.1:9/cb", "response_type": "code",
		"scope": "openid offline_access", "state": "s", "nonce": "n", "code_challenge": "c",
		"code_challenge_method": "S256", "prompt": "consent",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if len(q) != len(want) || u.Path != "/oidc/auth" || q.Get("code_verifier") != "" {
		t.Errorf("url %s", u)
	}
	f.prompt = ""
	if u, _ := url.Parse(f.authorizeURL(p)); u.Query().Has("prompt") {
		t.Error("empty prompt sent")
	}
	// RFC 8707 2.1.
	f.resource = "https://api.example/v1"
	if u, _ := url.Parse(f.authorizeURL(p)); u.Query().Get("resource") != f.resource {
		t.Errorf("resource not sent: %s", u)
	}
}

func TestReadAuthorizationRedirect(t *testing.T) {
	t.Parallel()
	const (
		cb  = "http://127.0.0.1:9/cb"
		iss = "http://op.test/oidc"
	)
	reqURL, _ := url.Parse("http://op.test/oidc/auth?client_id=x")
	for _, tc := range []struct {
		name     string
		status   int
		location string
		body     string
		signInOK bool
		want     authOutcome
		code     string
		class    string // the error class, when an error is expected
	}{
		{name: "code", status: 303, location: cb + "?code=abc.def&state=st&iss=" + url.QueryEscape(iss), want: outcomeCode, code: "abc.def"},
		{name: "code without iss", status: 302, location: cb + "?code=c1&state=st", want: outcomeCode, code: "c1"},
		{name: "sign-in page", status: 303, location: "/sign-in", signInOK: true, want: outcomeSignIn},
		{name: "absolute sign-in page", status: 303, location: "http://op.test/sign-in?x=1", signInOK: true, want: outcomeSignIn},
		{name: "sign-in page at resume", status: 303, location: "/sign-in", class: "response: resume: unexpected redirect"},
		{name: "elsewhere", status: 303, location: "https://evil.test/cb?code=c&state=st", signInOK: true, class: "response: authorize: unexpected redirect"},
		{name: "redirect uri prefix is not a match", status: 303, location: cb + "x?code=c&state=st", class: "response: authorize: unexpected redirect"},
		{name: "oauth error", status: 303, location: cb + "?error=login_required&error_description=no+session&state=st", class: "oauth login_required (303)"},
		{name: "garbage error code", status: 303, location: cb + "?error=%22bad%0A&state=st", class: "oauth malformed error code (303)"},
		{name: "state mismatch", status: 303, location: cb + "?code=c&state=other", class: "response: authorize: state mismatch"},
		{name: "iss mismatch", status: 303, location: cb + "?code=c&state=st&iss=http://other", class: "response: authorize: iss mismatch"},
		{name: "no code", status: 303, location: cb + "?state=st", class: "response: authorize: no code"},
		{name: "bad query", status: 303, location: cb + "?code=%zz&state=st", class: "response: authorize: malformed redirect query"},
		{name: "no location", status: 303, class: "response: authorize: redirect without Location"},
		{name: "error page", status: 400, body: "<html>unknown client</html>", class: "http 400 (authorize)"},
		{name: "json oauth error", status: 400, body: `{"error":"invalid_request"}`, class: "oauth invalid_request (400)"},
		{name: "200 page", status: 200, body: "<form>", class: "http 200 (authorize)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step := stepAuthorize
			if tc.name == "sign-in page at resume" {
				step = stepResume
			}
			got, code, err := readAuthorizationRedirect(step, tc.status, tc.location, reqURL, []byte(tc.body), cb, "st", iss, tc.signInOK)
			if tc.class != "" {
				if err == nil {
					t.Fatalf("want error %s, got outcome %d code %q", tc.class, got, code)
				}
				if c := Classify(err).String(); c != tc.class {
					t.Fatalf("class %q, want %q (%v)", c, tc.class, err)
				}
				return
			}
			if err != nil || got != tc.want || code != tc.code {
				t.Fatalf("= %d %q %v, want %d %q", got, code, err, tc.want, tc.code)
			}
		})
	}
}

func TestStepStatusError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, want string
	}{
		{"logto", `{"code":"session.invalid_credentials","message":"Incorrect account or password."}`, "http 422 (verification/password: session.invalid_credentials)"},
		{"oauth", `{"error":"invalid_grant","error_description":"x"}`, "oauth invalid_grant (422)"},
		{"html", `<html>oops</html>`, "http 422 (verification/password)"},
		{"code not logto-shaped", `{"code":"Not A Code!"}`, "http 422 (verification/password)"},
		{"code not a string", `{"code":42}`, "http 422 (verification/password)"},
		{"empty", ``, "http 422 (verification/password)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(stepStatusError(stepPassword, 422, []byte(tc.body))).String(); got != tc.want {
				t.Errorf("%q, want %q", got, tc.want)
			}
		})
	}
	if d := stepStatusError(stepPassword, 429, []byte(`{"code":"session.verification_blocked_too_many_attempts","message":"wait"}`)).Detail; d != "wait" {
		t.Errorf("detail %q", d)
	}
}

func TestBearerStatusError(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set("WWW-Authenticate", `Bearer realm="x", error="invalid_token", error_description="expired"`)
	if got := Classify(bearerStatusError(stepUserinfo, 401, h, nil)).String(); got != "oauth invalid_token (401)" {
		t.Errorf("challenge only: %q", got)
	}
	if got := Classify(bearerStatusError(stepUserinfo, 401, h, []byte(`{"error":"insufficient_scope"}`))).String(); got != "oauth insufficient_scope (401)" {
		t.Errorf("body wins: %q", got)
	}
	if got := Classify(bearerStatusError(stepUserinfo, 500, http.Header{}, []byte("boom"))).String(); got != "http 500 (userinfo)" {
		t.Errorf("plain: %q", got)
	}
	for h, want := range map[string]string{
		`Bearer error="invalid_token"`:           "invalid_token",
		`Bearer realm="a",error="x_y"`:           "x_y",
		`Bearer realm="error=\"nope\""`:          "",
		`Bearer`:                                 "",
		`Bearer error="` + "\x01" + `"`:          "",
		`Bearer scope="a", error="insufficient"`: "insufficient",
	} {
		if got := challengeError(h); got != want {
			t.Errorf("challengeError(%q) = %q, want %q", h, got, want)
		}
	}
}

func TestParseExperienceReplies(t *testing.T) {
	t.Parallel()
	if id, ok := parseVerificationID([]byte(`{"verificationId":"v1"}`)); !ok || id != "v1" {
		t.Errorf("verificationId: %q %v", id, ok)
	}
	for _, bad := range []string{``, `{}`, `{"verificationId":""}`, `{"verificationId":7}`, `[]`} {
		if _, ok := parseVerificationID([]byte(bad)); ok {
			t.Errorf("parseVerificationID(%q) ok", bad)
		}
	}
	base, _ := url.Parse("http://op.test")
	for body, want := range map[string]string{
		`{"redirectTo":"http://op.test/oidc/auth/u1"}`: "http://op.test/oidc/auth/u1",
		`{"redirectTo":"/oidc/auth/u2"}`:               "http://op.test/oidc/auth/u2",
		`{"redirectTo":"https://evil.test/oidc/auth"}`: "",
		`{"redirectTo":"javascript:alert(1)"}`:         "",
		`{"redirectTo":""}`:                            "",
		`{"redirectTo":1}`:                             "",
		`nope`:                                         "",
	} {
		got, ok := parseRedirectTo([]byte(body), base)
		if got != want || ok != (want != "") {
			t.Errorf("parseRedirectTo(%s) = %q %v, want %q", body, got, ok, want)
		}
	}
}

// The steps of a userAgent against canned responses: how each failure is classified.
func TestUserAgentStepsCanned(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/auth", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "_interaction", Value: "uid1", Path: "/"})
		http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
	})
	mux.HandleFunc("PUT /api/experience", func(w http.ResponseWriter, r *http.Request) {
		if c, err := r.Cookie("_interaction"); err != nil || c.Value != "uid1" {
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(204)
	})
	mux.HandleFunc("POST /api/experience/verification/password", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(429)
		_, _ = w.Write([]byte(`{"code":"session.verification_blocked_too_many_attempts","message":"Too many attempts"}`))
	})
	mux.HandleFunc("POST /oidc/token", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"access_token":"a","token_type":"Bearer"}`))
	})
	mux.HandleFunc("GET /oidc/me", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"name":"no sub"}`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ep := &flowEndpoints{Issuer: srv.URL + "/oidc", Authorization: srv.URL + "/oidc/auth", Token: srv.URL + "/oidc/token", Userinfo: srv.URL + "/oidc/me", Base: srv.URL}
	f := newSignInFlow(ep, &userApp{ID: "web", Secret: "s", Type: "Traditional", RedirectURI: redirectURIBench}, "openid", "", NewClient(1, 0))
	ua := newUserAgent(f, benchUser{Username: "u", Password: "p"})
	ctx := t.Context()

	_, err := ua.codeFlow(ctx, viaSSO)
	if Classify(err) != Classify(errNoSSO) {
		t.Errorf("sent to sign-in when SSO was required: %v", err)
	}
	_, err = ua.codeFlow(ctx, viaSignIn)
	if got := Classify(err).String(); got != "http 429 (verification/password: session.verification_blocked_too_many_attempts)" {
		t.Errorf("throttled sign-in: %q (%v)", got, err)
	}
	if _, err := ua.exchange(ctx, "c", "v"); Classify(err).String() != "response: token: no id_token" {
		t.Errorf("token response without id_token: %v", err)
	}
	if err := ua.userinfo(ctx, "Bearer x"); Classify(err).String() != "response: userinfo: no sub" {
		t.Errorf("userinfo without sub: %v", err)
	}
	if _, _, err := ua.refresh(ctx, "rt"); err != nil {
		t.Errorf("refresh without a new token is not an error by itself: %v", err)
	}
	srv.Close()
	if _, err := ua.codeFlow(ctx, viaAny); Classify(err).Kind != KindTransport {
		t.Errorf("server gone: %v", err)
	}
}

// FuzzReadAuthorizationRedirect: any Location and body an OP sends is judged without
// a panic, and a code is only ever taken from the registered redirect URI.
func FuzzReadAuthorizationRedirect(f *testing.F) {
	const cb = "http://127.0.0.1:9/cb"
	f.Add(303, cb+"?code=a&state=s", "")
	f.Add(303, "/sign-in", "")
	f.Add(303, cb+"?error=access_denied&state=s", "")
	f.Add(400, "", `{"code":"session.not_found","message":"x"}`)
	f.Add(302, "%zz", "\x00")
	reqURL, _ := url.Parse("http://op.test/oidc/auth")
	f.Fuzz(func(t *testing.T, status int, location, body string) {
		out, code, err := readAuthorizationRedirect(stepAuthorize, status, location, reqURL, []byte(body), cb, "s", "http://op.test/oidc", true)
		if err != nil {
			_ = Classify(err).String()
			return
		}
		if out == outcomeCode && (code == "" || !strings.HasPrefix(location, cb+"?")) {
			t.Fatalf("code %q from %q", code, location)
		}
	})
}
