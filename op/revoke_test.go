package op

import (
	"slices"
	"testing"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestRevoke(t *testing.T) {
	var calls []string
	tokens := &fakeTokens{calls: &calls}
	fams := &fakeFamilies{calls: &calls}
	grants := &fakeGrants{}
	e := newEnv(t, fakes{grants: grants, tokens: tokens, families: fams})
	none := func(string, string) (Revocation, error) { return Revocation{}, nil }
	foreign := func(string, string) (Revocation, error) { return Revocation{Found: true, GrantID: "g1"}, nil }
	revoked := func(string, string) (Revocation, error) {
		return Revocation{Found: true, Revoked: true, GrantID: "g1"}, nil
	}
	tests := []struct {
		name        string
		app         func() *directory.Application
		token, hint string
		access      func(string, string) (Revocation, error)
		refresh     func(string, string) (Revocation, error)
		code        string
		wantCalls   []string
		wantRevoked []string
	}{
		{name: "no token", token: "", code: oauth.CodeInvalidRequest},
		{name: "a JWT: nothing to do", token: "a.b.c"},
		{name: "unknown: both lookups, 200", token: "k.s", access: none, refresh: none, wantCalls: []string{"revoke access", "revoke refresh"}},
		{name: "refresh hint first", token: "k.s", hint: "refresh_token", access: none, refresh: none, wantCalls: []string{"revoke refresh", "revoke access"}},
		{name: "a refresh token revokes its grant", token: "k.s", access: none, refresh: revoked, wantCalls: []string{"revoke access", "revoke refresh"}, wantRevoked: []string{"g1"}},
		{name: "an access token: that token only", token: "k.s", access: revoked, wantCalls: []string{"revoke access"}},
		{name: "another client's token: confidential is refused", token: "k.s", access: foreign, code: oauth.CodeInvalidRequest, wantCalls: []string{"revoke access"}},
		{name: "another client's token: public gets 200", app: func() *directory.Application { return e.spa }, token: "k.s", access: foreign, wantCalls: []string{"revoke access"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls, grants.revoked = nil, nil
			tokens.revoke, fams.revoke = tt.access, tt.refresh
			app := e.web
			if tt.app != nil {
				app = tt.app()
			}
			_, err := e.p.Revoke(t.Context(), PresentedToken{Client: e.basic(app), Token: tt.token, Hint: tt.hint})
			wantCode(t, err, tt.code)
			if !slices.Equal(calls, tt.wantCalls) || !slices.Equal(grants.revoked, tt.wantRevoked) {
				t.Errorf("calls %v revoked %v, want %v %v", calls, grants.revoked, tt.wantCalls, tt.wantRevoked)
			}
		})
	}
}
