package op

import (
	"testing"

	"github.com/latchid/latch/oidcflow/oauth"
)

func TestUserinfo(t *testing.T) {
	tokens := &fakeTokens{}
	e := newEnv(t, fakes{grants: &fakeGrants{}, tokens: tokens, families: &fakeFamilies{}})
	token := func(scopes ...string) func(string) (AccessToken, error) {
		return func(string) (AccessToken, error) {
			return AccessToken{Grant: Grant{ClientID: e.web.ID, AccountID: e.user.ID}, Scopes: scopes}, nil
		}
	}
	tests := []struct {
		name   string
		token  string
		lookup func(string) (AccessToken, error)
		code   string
	}{
		{"a JWT is refused", "a.b.c", nil, oauth.CodeInvalidToken},
		{"unknown token", "k.s", func(string) (AccessToken, error) { return AccessToken{}, oauth.InvalidGrant("x") }, oauth.CodeInvalidToken},
		{"unreachable grant", "k.s", func(string) (AccessToken, error) { return AccessToken{}, oauth.TemporarilyUnavailable("x") }, oauth.CodeTemporarilyUnavailable},
		{"no openid", "k.s", token("profile"), oauth.CodeInsufficientScope},
		{"claims", "k.s", token("openid", "profile"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tokens.lookup = tt.lookup
			claims, _, err := e.p.Userinfo(t.Context(), tt.token)
			wantCode(t, err, tt.code)
			if err == nil && (claims["sub"] != e.user.ID || claims["username"] != "op_user") {
				t.Fatalf("claims %v", claims)
			}
		})
	}
	t.Run("suspended", func(t *testing.T) {
		tokens.lookup = token("openid")
		e.suspend(t)
		_, _, err := e.p.Userinfo(t.Context(), "k.s")
		wantCode(t, err, oauth.CodeInvalidToken)
	})
}
