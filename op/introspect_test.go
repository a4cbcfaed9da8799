package op

import (
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestIntrospect(t *testing.T) {
	var calls []string
	at := func(clientID string, scopes ...string) func(string) (AccessToken, error) {
		return func(string) (AccessToken, error) {
			return AccessToken{Grant: Grant{ID: "g1", ClientID: clientID, AccountID: ""}, Scopes: scopes}, nil
		}
	}
	tokens := &fakeTokens{calls: &calls}
	fams := &fakeFamilies{calls: &calls}
	grants := &fakeGrants{}
	e := newEnv(t, fakes{grants: grants, tokens: tokens, families: fams})
	notFound := func(string) (AccessToken, error) { return AccessToken{}, oauth.InvalidToken("x") }
	noFamily := func(string) (RefreshFamily, error) { return RefreshFamily{}, oauth.InvalidGrant("x") }
	mine := func(scopes ...string) func(string) (AccessToken, error) {
		return func(string) (AccessToken, error) {
			return AccessToken{Grant: Grant{ID: "g1", ClientID: e.web.ID, AccountID: e.user.ID}, Scopes: scopes,
				IssuedAt: e.now, ExpiresAt: e.now.Add(time.Hour)}, nil
		}
	}
	tests := []struct {
		name      string
		token     string
		hint      string
		lookup    func(string) (AccessToken, error)
		inspect   func(string) (RefreshFamily, error)
		code      string
		active    bool
		scope     string
		wantCalls []string
	}{
		{name: "no token", token: "", code: oauth.CodeInvalidRequest},
		{name: "unknown opaque: both lookups", token: "k.s", lookup: notFound, inspect: noFamily, wantCalls: []string{"access", "refresh"}},
		{name: "refresh hint orders the lookups", token: "k.s", hint: "refresh_token", lookup: notFound, inspect: noFamily, wantCalls: []string{"refresh", "access"}},
		{name: "another client's token is inactive", token: "k.s", lookup: at("someone-else", "openid"), wantCalls: []string{"access"}},
		{name: "own token", token: "k.s", lookup: mine("openid", "profile"), active: true, scope: "openid profile", wantCalls: []string{"access"}},
		// Security (issue 12): an opaque token stored with an API scope never shows it.
		{name: "opaque token scopes are OIDC and Logto scopes only", token: "k.s", lookup: mine("openid", "admin:everything", "urn:logto:scope:organizations"),
			active: true, scope: "openid urn:logto:scope:organizations", wantCalls: []string{"access"}},
		{name: "an unreachable grant is an error, not inactive", token: "k.s",
			lookup: func(string) (AccessToken, error) { return AccessToken{}, oauth.TemporarilyUnavailable("x") }, code: oauth.CodeTemporarilyUnavailable, wantCalls: []string{"access"}},
		{name: "a garbage JWT is inactive without a grain", token: "a.b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls = nil
			tokens.lookup, fams.inspect = tt.lookup, tt.inspect
			resp, app, err := e.p.Introspect(t.Context(), PresentedToken{Client: e.basic(e.web), Token: tt.token, Hint: tt.hint})
			wantCode(t, err, tt.code)
			if app == nil || app.ID != e.web.ID {
				t.Errorf("client %v", app)
			}
			if resp.Active != tt.active || resp.Scope != tt.scope {
				t.Errorf("introspection %+v, want active %v scope %q", resp, tt.active, tt.scope)
			}
			if resp.Active && (resp.Sub != e.user.ID || resp.ClientID != e.web.ID || resp.Exp != e.now.Add(time.Hour).Unix()) {
				t.Errorf("introspection %+v", resp)
			}
			if !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("lookups %v, want %v", calls, tt.wantCalls)
			}
		})
	}
	t.Run("suspended user: inactive", func(t *testing.T) {
		tokens.lookup = mine("openid")
		e.suspend(t)
		resp, _, err := e.p.Introspect(t.Context(), PresentedToken{Client: e.basic(e.web), Token: "k.s"})
		if err != nil || resp.Active {
			t.Fatalf("%+v, %v", resp, err)
		}
	})
}

// A user JWT is active while its grant is alive and still the token's client and user.
func TestIntrospectJWT(t *testing.T) {
	grants := &fakeGrants{}
	e := newEnv(t, fakes{grants: grants, tokens: &fakeTokens{}, families: &fakeFamilies{}})
	jwt, _, err := oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
		Issuer: e.p.issuer, ClientID: e.web.ID, Subject: e.user.ID, Resource: tResource, GrantID: "g1",
		JTI: "j", Now: e.now, TTL: time.Hour, Requested: []string{"read"}, RoleScopes: []string{"read"},
	}, e.p.keys)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		check  func(string) (Grant, error)
		active bool
		code   string
	}{
		{"grant alive", func(string) (Grant, error) { return Grant{ClientID: e.web.ID, AccountID: e.user.ID}, nil }, true, ""},
		{"grant revoked", func(string) (Grant, error) { return Grant{}, oauth.InvalidGrant("revoked") }, false, ""},
		{"grant of another user", func(string) (Grant, error) { return Grant{ClientID: e.web.ID, AccountID: "x"}, nil }, false, ""},
		{"grant unreachable", func(string) (Grant, error) { return Grant{}, oauth.TemporarilyUnavailable("x") }, false, oauth.CodeTemporarilyUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			grants.check = tt.check
			resp, err := e.p.IntrospectJWT(t.Context(), e.web, jwt)
			wantCode(t, err, tt.code)
			if resp.Active != tt.active {
				t.Fatalf("active %v, want %v", resp.Active, tt.active)
			}
		})
	}
	if resp, err := e.p.IntrospectJWT(t.Context(), e.other, jwt); err != nil || resp.Active {
		t.Fatalf("another client sees the JWT: %+v %v", resp, err)
	}
}
