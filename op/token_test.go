package op

import (
	"testing"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// The token endpoint's dispatch: grant type first, client authentication once, then
// Logto's grant-type table by application type, before any grant logic (the fakes
// panic if a grain is reached).
func TestTokenDispatch(t *testing.T) {
	e := newEnv(t, fakes{grants: &fakeGrants{}, families: &fakeFamilies{}, tokens: &fakeTokens{}})
	noGrains := newEnv(t, fakes{})
	tests := []struct {
		name    string
		e       *env
		app     func(e *env) *directory.Application
		grant   string
		client  func(e *env) ClientAuth
		want    string
		wantApp bool
	}{
		{"missing grant_type", e, nil, "", nil, oauth.CodeInvalidRequest, false},
		{"unknown grant_type", e, nil, "password", nil, oauth.CodeUnsupportedGrantType, false},
		{"code without grains", noGrains, func(e *env) *directory.Application { return e.web }, oauth.GrantAuthorizationCode, nil, oauth.CodeUnsupportedGrantType, false},
		{"refresh without grains", noGrains, func(e *env) *directory.Application { return e.web }, oauth.GrantRefreshToken, nil, oauth.CodeUnsupportedGrantType, false},
		{"unauthenticated", e, nil, oauth.GrantClientCredentials, func(*env) ClientAuth { return ClientAuth{} }, oauth.CodeInvalidRequest, false},
		{"M2M may not use authorization_code", e, func(e *env) *directory.Application { return e.m2m }, oauth.GrantAuthorizationCode, nil, oauth.CodeUnauthorizedClient, true},
		{"M2M may not use refresh_token", e, func(e *env) *directory.Application { return e.m2m }, oauth.GrantRefreshToken, nil, oauth.CodeUnauthorizedClient, true},
		{"Traditional may not use client_credentials", e, func(e *env) *directory.Application { return e.web }, oauth.GrantClientCredentials, nil, oauth.CodeUnauthorizedClient, true},
		{"SPA may not use client_credentials", e, func(e *env) *directory.Application { return e.spa }, oauth.GrantClientCredentials, nil, oauth.CodeUnauthorizedClient, true},
		{"M2M client_credentials reaches its grant", e, func(e *env) *directory.Application { return e.m2m }, oauth.GrantClientCredentials, nil, oauth.CodeInvalidTarget, true},
		{"Traditional authorization_code reaches its grant", e, func(e *env) *directory.Application { return e.web }, oauth.GrantAuthorizationCode, nil, oauth.CodeInvalidRequest, true},
		{"SPA refresh_token reaches its grant", e, func(e *env) *directory.Application { return e.spa }, oauth.GrantRefreshToken, nil, oauth.CodeInvalidRequest, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := TokenRequest{GrantType: tt.grant}
			switch {
			case tt.client != nil:
				req.Client = tt.client(tt.e)
			case tt.app != nil:
				req.Client = tt.e.basic(tt.app(tt.e))
			}
			_, app, err := tt.e.p.Token(t.Context(), req)
			wantCode(t, err, tt.want)
			if (app != nil) != tt.wantApp {
				t.Errorf("authenticated client %v, want one: %v", app, tt.wantApp)
			}
		})
	}
}

func TestGrantAllowed(t *testing.T) {
	for _, tt := range []struct {
		typ   directory.AppType
		grant string
		want  bool
	}{
		{directory.AppMachineToMachine, oauth.GrantClientCredentials, true},
		{directory.AppMachineToMachine, oauth.GrantAuthorizationCode, false},
		{directory.AppMachineToMachine, oauth.GrantRefreshToken, false},
		{directory.AppTraditional, oauth.GrantAuthorizationCode, true},
		{directory.AppTraditional, oauth.GrantRefreshToken, true},
		{directory.AppTraditional, oauth.GrantClientCredentials, false},
		{directory.AppSPA, oauth.GrantRefreshToken, true},
		{directory.AppNative, oauth.GrantAuthorizationCode, true},
		{directory.AppNative, "urn:ietf:params:oauth:grant-type:token-exchange", false},
	} {
		if got := GrantAllowed(tt.typ, tt.grant); got != tt.want {
			t.Errorf("GrantAllowed(%s, %s) = %v, want %v", tt.typ, tt.grant, got, tt.want)
		}
	}
}
