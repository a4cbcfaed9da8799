package op

import (
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// A refresh is one call to the family; what can be refused without it is refused
// before the token is used (using it may rotate it).
func TestTokenRefresh(t *testing.T) {
	var got *RefreshUse
	answer := func(RefreshUse) (RefreshUsed, error) { return RefreshUsed{}, nil }
	fams := &fakeFamilies{use: func(u RefreshUse) (RefreshUsed, error) { got = &u; return answer(u) }}
	e := newEnv(t, fakes{grants: &fakeGrants{}, families: fams})
	used := func(scopes ...string) func(RefreshUse) (RefreshUsed, error) {
		return func(u RefreshUse) (RefreshUsed, error) {
			out := RefreshUsed{
				Family: RefreshFamily{ID: "fam", GrantID: "g1", ClientID: e.web.ID, AccountID: e.user.ID,
					Scopes: []string{"openid", "offline_access", "read"}, Sid: "sid-1"},
				Scopes: scopes, RefreshToken: "fam.next",
			}
			if u.OpaqueAccessToken {
				out.AccessToken = AccessTokenIssued{Token: "g1.at", Scopes: scopes, ExpiresAt: e.now.Add(time.Hour)}
			}
			return out, nil
		}
	}
	tests := []struct {
		name   string
		req    RefreshRequest
		answer func(RefreshUse) (RefreshUsed, error)
		code   string
		called bool
		check  func(t *testing.T, u *RefreshUse, resp oidcflow.TokenResponse)
	}{
		{name: "no refresh_token", req: RefreshRequest{}, code: oauth.CodeInvalidRequest},
		{name: "unknown resource", req: RefreshRequest{RefreshToken: "fam.s", Resources: []string{"https://unknown.test"}}, code: oauth.CodeInvalidTarget},
		{name: "malformed scope", req: RefreshRequest{RefreshToken: "fam.s", Scope: "a\\b"}, code: oauth.CodeInvalidScope},
		{name: "the family's refusal is the answer", req: RefreshRequest{RefreshToken: "fam.s"}, called: true, code: oauth.CodeInvalidGrant,
			answer: func(RefreshUse) (RefreshUsed, error) {
				return RefreshUsed{}, oauth.InvalidGrant("refresh token already used")
			}},
		{name: "opaque token and ID token", req: RefreshRequest{RefreshToken: "fam.s"}, called: true, answer: used("openid", "offline_access"),
			check: func(t *testing.T, u *RefreshUse, resp oidcflow.TokenResponse) {
				if !u.OpaqueAccessToken || u.Resource != "" || u.Token != "fam.s" || u.ClientID != e.web.ID || u.Scopes != nil {
					t.Errorf("use %+v", u)
				}
				if resp.AccessToken != "g1.at" || resp.RefreshToken != "fam.next" || resp.ExpiresIn != 3600 || resp.Scope != "openid offline_access" || resp.IDToken == "" {
					t.Errorf("response %+v", resp)
				}
			}},
		{name: "narrowed scope without openid: no ID token", req: RefreshRequest{RefreshToken: "fam.s", Scope: "offline_access"}, called: true, answer: used("offline_access"),
			check: func(t *testing.T, u *RefreshUse, resp oidcflow.TokenResponse) {
				if len(u.Scopes) != 1 || u.Scopes[0] != "offline_access" {
					t.Errorf("requested scopes %v", u.Scopes)
				}
				if resp.IDToken != "" || resp.Scope != "offline_access" {
					t.Errorf("response %+v", resp)
				}
			}},
		{name: "a resource gives a JWT", req: RefreshRequest{RefreshToken: "fam.s", Resources: []string{tResource}}, called: true, answer: used("openid", "read"),
			check: func(t *testing.T, u *RefreshUse, resp oidcflow.TokenResponse) {
				if u.OpaqueAccessToken || u.Resource != tResource {
					t.Errorf("use %+v", u)
				}
				c, err := oidcflow.VerifyAccessToken(e.p.keys, resp.AccessToken, e.p.issuer, e.now)
				if err != nil || c.Aud != tResource || c.GrantID != "g1" {
					t.Errorf("JWT %+v: %v", c, err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got = nil
			if tt.answer != nil {
				answer = tt.answer
			}
			resp, err := e.p.TokenRefresh(t.Context(), e.web, tt.req)
			wantCode(t, err, tt.code)
			if (got != nil) != tt.called {
				t.Fatalf("family called: %v, want %v", got != nil, tt.called)
			}
			if tt.check != nil && err == nil {
				tt.check(t, got, resp)
			}
		})
	}
	t.Run("suspended since the family checked", func(t *testing.T) {
		answer = used("openid")
		e.suspend(t)
		_, err := e.p.TokenRefresh(t.Context(), e.web, RefreshRequest{RefreshToken: "fam.s"})
		wantCode(t, err, oauth.CodeInvalidGrant)
	})
}
