package oidcflow

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchid/latch/oidcflow/oauth"
)

var testChallenge = func() string {
	sum := sha256.Sum256([]byte(strings.Repeat("v", 50)))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}()

func testAuthorizeEnv() AuthorizeEnv {
	clients := map[string]AuthClient{
		"spa":    {ID: "spa", RedirectURIs: []string{"https://spa.example/cb"}, PKCERequired: true, CodeFlow: true},
		"native": {ID: "native", RedirectURIs: []string{"io.example.app://cb"}, PKCERequired: true, CodeFlow: true},
		"web":    {ID: "web", RedirectURIs: []string{"https://web.example/cb", "https://web.example/cb?x=1"}, CodeFlow: true},
		"m2m":    {ID: "m2m", RedirectURIs: []string{"https://m2m.example/cb"}},
	}
	return AuthorizeEnv{
		Client: func(id string) (AuthClient, bool) {
			c, ok := clients[id]
			return c, ok
		},
		Resource: func(ind string) bool { return ind == "https://api.example" || ind == "https://other.example" },
	}
}

// base is a valid request for the SPA client; each row changes it.
func base() url.Values {
	return url.Values{
		"client_id":             {"spa"},
		"redirect_uri":          {"https://spa.example/cb"},
		"response_type":         {"code"},
		"scope":                 {"openid profile"},
		"state":                 {"st"},
		"nonce":                 {"n"},
		"code_challenge":        {testChallenge},
		"code_challenge_method": {"S256"},
	}
}

func TestValidateAuthorize(t *testing.T) {
	tests := []struct {
		name string
		edit func(v url.Values)
		// wantCode is "" for success.
		wantCode     string
		wantRedirect bool
		check        func(t *testing.T, r *AuthRequest)
	}{
		{name: "valid SPA request", check: func(t *testing.T, r *AuthRequest) {
			if r.ClientID != "spa" || r.RedirectURI != "https://spa.example/cb" || r.State != "st" || r.Nonce != "n" ||
				r.CodeChallenge != testChallenge || r.CodeChallengeMethod != "S256" || r.MaxAge != -1 ||
				!slices.Equal(r.Scopes, []string{"openid", "profile"}) || r.FirstScreen != ScreenSignIn {
				t.Fatalf("%+v", r)
			}
		}},
		// Never redirected: client and redirect_uri problems.
		{name: "missing client_id", edit: func(v url.Values) { v.Del("client_id") }, wantCode: "invalid_request"},
		{name: "unknown client_id", edit: func(v url.Values) { v.Set("client_id", "ghost") }, wantCode: "invalid_client"},
		{name: "repeated client_id", edit: func(v url.Values) { v.Add("client_id", "web") }, wantCode: "invalid_request"},
		{name: "missing redirect_uri", edit: func(v url.Values) { v.Del("redirect_uri") }, wantCode: "invalid_request"},
		{name: "unregistered redirect_uri", edit: func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, wantCode: "invalid_request"},
		{name: "redirect_uri prefix is not a match", edit: func(v url.Values) { v.Set("redirect_uri", "https://spa.example/cb/more") }, wantCode: "invalid_request"},
		{name: "redirect_uri differs by a trailing slash", edit: func(v url.Values) { v.Set("redirect_uri", "https://spa.example/cb/") }, wantCode: "invalid_request"},
		{name: "redirect_uri differs in case", edit: func(v url.Values) { v.Set("redirect_uri", "https://SPA.example/cb") }, wantCode: "invalid_request"},
		{name: "repeated redirect_uri", edit: func(v url.Values) { v.Add("redirect_uri", "https://spa.example/cb") }, wantCode: "invalid_request"},
		// Redirected.
		{name: "M2M app", edit: func(v url.Values) { v.Set("client_id", "m2m"); v.Set("redirect_uri", "https://m2m.example/cb") }, wantCode: "unauthorized_client", wantRedirect: true},
		{name: "missing response_type", edit: func(v url.Values) { v.Del("response_type") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "implicit response_type", edit: func(v url.Values) { v.Set("response_type", "id_token") }, wantCode: "unsupported_response_type", wantRedirect: true},
		{name: "hybrid response_type", edit: func(v url.Values) { v.Set("response_type", "code id_token") }, wantCode: "unsupported_response_type", wantRedirect: true},
		{name: "no scope", edit: func(v url.Values) { v.Del("scope") }, wantCode: "invalid_scope", wantRedirect: true},
		{name: "scope without openid", edit: func(v url.Values) { v.Set("scope", "profile email") }, wantCode: "invalid_scope", wantRedirect: true},
		{name: "scope with a bad character", edit: func(v url.Values) { v.Set("scope", "openid pro\"file") }, wantCode: "invalid_scope", wantRedirect: true},
		{name: "repeated state", edit: func(v url.Values) { v.Add("state", "other") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "repeated scope", edit: func(v url.Values) { v.Add("scope", "openid") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "request object", edit: func(v url.Values) { v.Set("request", "eyJ...") }, wantCode: "request_not_supported", wantRedirect: true},
		{name: "request_uri", edit: func(v url.Values) { v.Set("request_uri", "https://x") }, wantCode: "request_uri_not_supported", wantRedirect: true},
		{name: "unknown response_mode", edit: func(v url.Values) { v.Set("response_mode", "web_message") }, wantCode: "invalid_request", wantRedirect: true},
		// PKCE.
		{name: "SPA without PKCE", edit: func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "native without PKCE", edit: func(v url.Values) {
			v.Set("client_id", "native")
			v.Set("redirect_uri", "io.example.app://cb")
			v.Del("code_challenge")
			v.Del("code_challenge_method")
		}, wantCode: "invalid_request", wantRedirect: true},
		{name: "traditional without PKCE is fine", edit: func(v url.Values) {
			v.Set("client_id", "web")
			v.Set("redirect_uri", "https://web.example/cb")
			v.Del("code_challenge")
			v.Del("code_challenge_method")
		}, check: func(t *testing.T, r *AuthRequest) {
			if r.CodeChallenge != "" {
				t.Fatal(r.CodeChallenge)
			}
		}},
		{name: "traditional with PKCE keeps it", edit: func(v url.Values) {
			v.Set("client_id", "web")
			v.Set("redirect_uri", "https://web.example/cb?x=1")
		}, check: func(t *testing.T, r *AuthRequest) {
			if r.CodeChallenge != testChallenge || r.RedirectURI != "https://web.example/cb?x=1" {
				t.Fatalf("%+v", r)
			}
		}},
		{name: "plain refused", edit: func(v url.Values) { v.Set("code_challenge_method", "plain") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "missing method means plain", edit: func(v url.Values) { v.Del("code_challenge_method") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "method without challenge", edit: func(v url.Values) { v.Del("code_challenge") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "malformed challenge", edit: func(v url.Values) { v.Set("code_challenge", "short") }, wantCode: "invalid_request", wantRedirect: true},
		// prompt.
		{name: "prompt login consent", edit: func(v url.Values) { v.Set("prompt", "login consent") }, check: func(t *testing.T, r *AuthRequest) {
			if !r.HasPrompt(PromptLogin) || !r.HasPrompt(PromptConsent) || r.HasPrompt(PromptNone) {
				t.Fatal(r.Prompts)
			}
		}},
		{name: "prompt none", edit: func(v url.Values) { v.Set("prompt", "none") }, check: func(t *testing.T, r *AuthRequest) {
			if !slices.Equal(r.Prompts, []string{"none"}) {
				t.Fatal(r.Prompts)
			}
		}},
		{name: "prompt none with login", edit: func(v url.Values) { v.Set("prompt", "none login") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "prompt none with consent", edit: func(v url.Values) { v.Set("prompt", "consent none") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "unsupported prompt", edit: func(v url.Values) { v.Set("prompt", "select_account") }, wantCode: "invalid_request", wantRedirect: true},
		// offline_access needs prompt=consent (OIDC Core 11).
		{name: "offline_access dropped without consent", edit: func(v url.Values) { v.Set("scope", "openid offline_access profile") }, check: func(t *testing.T, r *AuthRequest) {
			if !slices.Equal(r.Scopes, []string{"openid", "profile"}) {
				t.Fatal(r.Scopes)
			}
		}},
		{name: "offline_access kept with consent", edit: func(v url.Values) {
			v.Set("scope", "openid offline_access")
			v.Set("prompt", "consent")
		}, check: func(t *testing.T, r *AuthRequest) {
			if !slices.Equal(r.Scopes, []string{"openid", "offline_access"}) {
				t.Fatal(r.Scopes)
			}
		}},
		// resources.
		{name: "known resources, de-duplicated", edit: func(v url.Values) {
			v["resource"] = []string{"https://api.example", "https://other.example", "https://api.example"}
		}, check: func(t *testing.T, r *AuthRequest) {
			if !slices.Equal(r.Resources, []string{"https://api.example", "https://other.example"}) {
				t.Fatal(r.Resources)
			}
		}},
		{name: "comma-separated resources (Logto)", edit: func(v url.Values) {
			v["resource"] = []string{"https://api.example,https://other.example", "https://api.example"}
		}, check: func(t *testing.T, r *AuthRequest) {
			if !slices.Equal(r.Resources, []string{"https://api.example", "https://other.example"}) {
				t.Fatal(r.Resources)
			}
		}},
		{name: "comma-separated, one unknown", edit: func(v url.Values) { v.Set("resource", "https://api.example,https://nope.example") }, wantCode: "invalid_target", wantRedirect: true},
		{name: "unknown resource", edit: func(v url.Values) { v["resource"] = []string{"https://api.example", "https://nope.example"} }, wantCode: "invalid_target", wantRedirect: true},
		{name: "relative resource", edit: func(v url.Values) { v.Set("resource", "/api") }, wantCode: "invalid_target", wantRedirect: true},
		{name: "resource with fragment", edit: func(v url.Values) { v.Set("resource", "https://api.example#x") }, wantCode: "invalid_target", wantRedirect: true},
		// The rest.
		{name: "max_age", edit: func(v url.Values) { v.Set("max_age", "0") }, check: func(t *testing.T, r *AuthRequest) {
			if r.MaxAge != 0 {
				t.Fatal(r.MaxAge)
			}
		}},
		{name: "negative max_age", edit: func(v url.Values) { v.Set("max_age", "-1") }, wantCode: "invalid_request", wantRedirect: true},
		{name: "login_hint and ui_locales kept", edit: func(v url.Values) { v.Set("login_hint", "alice"); v.Set("ui_locales", "fr") }, check: func(t *testing.T, r *AuthRequest) {
			if r.LoginHint != "alice" || r.UILocales != "fr" {
				t.Fatalf("%+v", r)
			}
		}},
		{name: "first_screen register", edit: func(v url.Values) { v.Set("first_screen", "register") }, check: func(t *testing.T, r *AuthRequest) {
			if r.FirstScreen != ScreenRegister {
				t.Fatal(r.FirstScreen)
			}
		}},
		{name: "interaction_mode signUp", edit: func(v url.Values) { v.Set("interaction_mode", "signUp") }, check: func(t *testing.T, r *AuthRequest) {
			if r.FirstScreen != ScreenRegister {
				t.Fatal(r.FirstScreen)
			}
		}},
		{name: "empty values count as omitted", edit: func(v url.Values) { v.Set("nonce", ""); v.Add("state", "") }, check: func(t *testing.T, r *AuthRequest) {
			if r.Nonce != "" || r.State != "st" {
				t.Fatalf("%+v", r)
			}
		}},
		{name: "form_post", edit: func(v url.Values) { v.Set("response_mode", "form_post") }, check: func(t *testing.T, r *AuthRequest) {
			if r.ResponseMode != ResponseModeFormPost {
				t.Fatal(r.ResponseMode)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := base()
			if tt.edit != nil {
				tt.edit(v)
			}
			got, err := ValidateAuthorize(v, testAuthorizeEnv())
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if tt.check != nil {
					tt.check(t, got)
				}
				return
			}
			var ae *AuthorizeError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T), want *AuthorizeError", err, err)
			}
			if ae.Err.Code != tt.wantCode {
				t.Fatalf("code = %s (%s), want %s", ae.Err.Code, ae.Err.Description, tt.wantCode)
			}
			if ae.Redirectable() != tt.wantRedirect {
				t.Fatalf("redirectable = %v, want %v", ae.Redirectable(), tt.wantRedirect)
			}
			if ae.Redirectable() {
				if ae.RedirectURI != v.Get("redirect_uri") {
					t.Fatalf("redirect to %q", ae.RedirectURI)
				}
				if ae.State != "st" && tt.name != "repeated state" {
					t.Fatalf("state %q", ae.State)
				}
			}
			if !errors.Is(err, &oauth.Error{Code: tt.wantCode}) {
				t.Fatal("errors.Is does not see the protocol error")
			}
		})
	}
}

func TestAuthorizationResponse(t *testing.T) {
	iss := "https://id.example/oidc"
	tests := []struct {
		name, uri, mode string
		params          url.Values
		want            string
	}{
		{"code in query", "https://app.example/cb", "", CodeParams("g.s", "xyz", iss),
			"https://app.example/cb?code=g.s&iss=https%3A%2F%2Fid.example%2Foidc&state=xyz"},
		{"keeps the URI's query", "https://app.example/cb?tenant=a", ResponseModeQuery, CodeParams("c", "", iss),
			"https://app.example/cb?code=c&iss=https%3A%2F%2Fid.example%2Foidc&tenant=a"},
		{"fragment", "https://app.example/cb", ResponseModeFragment, CodeParams("c", "s", iss),
			"https://app.example/cb#code=c&iss=https%3A%2F%2Fid.example%2Foidc&state=s"},
		{"custom scheme", "io.example.app://cb", "", ErrorParams(oauth.InvalidScope("no openid"), "s", iss),
			"io.example.app://cb?error=invalid_scope&error_description=no+openid&iss=https%3A%2F%2Fid.example%2Foidc&state=s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := AuthorizationResponse(tt.uri, tt.mode, tt.params); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// FuzzValidateAuthorize: arbitrary query strings never panic, and an accepted request
// always names a registered redirect URI and contains openid.
func FuzzValidateAuthorize(f *testing.F) {
	f.Add(base().Encode())
	f.Add("client_id=web&redirect_uri=https%3A%2F%2Fweb.example%2Fcb&response_type=code&scope=openid&prompt=none")
	f.Add("client_id=spa&client_id=spa&redirect_uri=x")
	env := testAuthorizeEnv()
	f.Fuzz(func(t *testing.T, q string) {
		v, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		r, err := ValidateAuthorize(v, env)
		if err != nil {
			var ae *AuthorizeError
			if !errors.As(err, &ae) {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		c, _ := env.Client(r.ClientID)
		if !slices.Contains(c.RedirectURIs, r.RedirectURI) || !r.HasScope(ScopeOpenID) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
