package op

import (
	"errors"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// The code exchange is one call to the grant; op decides the refresh policy it sends
// and mints the JWT and ID token from the answer.
func TestTokenAuthorizationCode(t *testing.T) {
	var got *CodeExchange
	answer := func(x CodeExchange) (CodeExchanged, error) { return CodeExchanged{}, nil }
	grants := &fakeGrants{exchange: func(x CodeExchange) (CodeExchanged, error) { got = &x; return answer(x) }}
	e := newEnv(t, fakes{grants: grants, families: &fakeFamilies{}})
	exchanged := func(x CodeExchange) (CodeExchanged, error) {
		out := CodeExchanged{GrantID: "g1", AccountID: e.user.ID, Scopes: []string{"openid", "offline_access"},
			Nonce: "n-1", Sid: "sid-1", AuthTime: e.now.Unix(), RefreshToken: "fam.secret"}
		if x.Resource == "" {
			out.AccessToken = AccessTokenIssued{Token: "g1.at", Scopes: []string{"openid", "offline_access"}, ExpiresAt: e.now.Add(time.Hour)}
		}
		return out, nil
	}
	good := CodeRequest{Code: "g1.code", RedirectURI: "https://app.test/cb", CodeVerifier: "v"}
	tests := []struct {
		name   string
		app    func() any
		req    CodeRequest
		answer func(CodeExchange) (CodeExchanged, error)
		setup  func(t *testing.T)
		code   string
		called bool
		check  func(t *testing.T, x *CodeExchange, resp oidcflow.TokenResponse)
	}{
		{name: "no code", req: CodeRequest{RedirectURI: "https://app.test/cb"}, code: oauth.CodeInvalidRequest},
		{name: "no redirect_uri", req: CodeRequest{Code: "g1.code"}, code: oauth.CodeInvalidRequest},
		{name: "unknown resource: the code is not spent", req: CodeRequest{Code: "g1.code", RedirectURI: "x", Resources: []string{"https://unknown.test"}}, code: oauth.CodeInvalidTarget},
		{name: "two resources", req: CodeRequest{Code: "g1.code", RedirectURI: "x", Resources: []string{tResource, tResource}}, code: oauth.CodeInvalidTarget},
		{name: "the grant's refusal is the answer", req: good, called: true, code: oauth.CodeInvalidGrant,
			answer: func(CodeExchange) (CodeExchanged, error) {
				return CodeExchanged{}, oauth.InvalidGrant("authorization code already used")
			}},
		{name: "an unreachable grant is not invalid_grant", req: good, called: true, code: oauth.CodeTemporarilyUnavailable,
			answer: func(CodeExchange) (CodeExchanged, error) { return CodeExchanged{}, oauth.TemporarilyUnavailable("x") }},
		{name: "opaque token, refresh token and ID token", req: good, called: true, answer: exchanged,
			check: func(t *testing.T, x *CodeExchange, resp oidcflow.TokenResponse) {
				if x.Resource != "" || x.ClientID != e.web.ID || x.Code != "g1.code" || x.CodeVerifier != "v" || x.RedirectURI != good.RedirectURI {
					t.Errorf("exchange %+v", x)
				}
				if r := x.Refresh; r == nil || r.AppType != "Traditional" || !r.Rotate || r.Always || r.TTL != oidcflow.DefaultLifetimes().RefreshToken {
					t.Errorf("refresh policy %+v", x.Refresh)
				}
				if resp.AccessToken != "g1.at" || resp.ExpiresIn != 3600 || resp.Scope != "openid offline_access" || resp.RefreshToken != "fam.secret" || resp.TokenType != "Bearer" {
					t.Errorf("response %+v", resp)
				}
				h, err := oidcflow.ParseIDTokenHint(resp.IDToken, e.p.issuer, e.p.keys)
				if err != nil || h.Subject != e.user.ID {
					t.Errorf("ID token %+v: %v", h, err)
				}
			}},
		{name: "a resource gives a JWT for it", req: CodeRequest{Code: "g1.code", RedirectURI: "x", Resources: []string{tResource}}, called: true, answer: exchanged,
			check: func(t *testing.T, x *CodeExchange, resp oidcflow.TokenResponse) {
				if x.Resource != tResource {
					t.Errorf("exchange resource %q", x.Resource)
				}
				c, err := oidcflow.VerifyAccessToken(e.p.keys, resp.AccessToken, e.p.issuer, e.now)
				if err != nil || c.Aud != tResource || c.GrantID != "g1" || c.Sub != e.user.ID || resp.ExpiresIn != 900 {
					t.Errorf("JWT %+v (%v), expires_in %d", c, err, resp.ExpiresIn)
				}
			}},
		{name: "a user suspended since the grant checked is refused", req: good, called: true, answer: exchanged,
			setup: func(t *testing.T) { e.suspend(t) }, code: oauth.CodeInvalidGrant},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			if tt.answer != nil {
				answer = tt.answer
			}
			if tt.setup != nil {
				tt.setup(t)
			}
			resp, err := e.p.TokenAuthorizationCode(t.Context(), e.web, tt.req)
			wantCode(t, err, tt.code)
			if (got != nil) != tt.called {
				t.Fatalf("grant called: %v, want %v", got != nil, tt.called)
			}
			if tt.check != nil && err == nil {
				tt.check(t, got, resp)
			}
		})
	}
}

// A Native app never gets alwaysIssueRefreshToken; a non-oauth error passes through.
func TestTokenAuthorizationCodePolicy(t *testing.T) {
	var got CodeExchange
	boom := errors.New("boom")
	grants := &fakeGrants{exchange: func(x CodeExchange) (CodeExchanged, error) { got = x; return CodeExchanged{}, boom }}
	e := newEnv(t, fakes{grants: grants, families: &fakeFamilies{}})
	yes, days := true, 3
	app := *e.spa
	app.Type = "Native"
	app.CustomClientMetadata.AlwaysIssueRefreshToken = &yes
	app.CustomClientMetadata.RefreshTokenTTLInDays = &days
	if _, err := e.p.TokenAuthorizationCode(t.Context(), &app, CodeRequest{Code: "c", RedirectURI: "x"}); !errors.Is(err, boom) {
		t.Fatalf("error %v, want the grain's", err)
	}
	if r := got.Refresh; r == nil || r.Always || r.TTL != 3*24*time.Hour || r.AppType != "Native" {
		t.Fatalf("Native policy %+v", got.Refresh)
	}
	app.Type = "SPA"
	_, _ = e.p.TokenAuthorizationCode(t.Context(), &app, CodeRequest{Code: "c", RedirectURI: "x"})
	if r := got.Refresh; r == nil || !r.Always {
		t.Fatalf("SPA policy %+v", got.Refresh)
	}
}
