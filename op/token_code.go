package op

import (
	"context"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// CodeRequest is RFC 6749 4.1.3's access token request.
type CodeRequest struct {
	Code         string
	RedirectURI  string
	CodeVerifier string
	Resources    []string
}

// TokenAuthorizationCode is RFC 6749 4.1.3 with PKCE (RFC 7636 4.5) and resource
// indicators (RFC 8707 2.2), for an already authenticated client.
//
// The exchange is one grain call (Grants.ExchangeCode): the Grant grain redeems the code
// once (client, redirect_uri, PKCE; a replay revokes the grant and every token issued
// from it), refuses a suspended or deleted account, creates the refresh family when
// offline_access was granted (or the app always gets one), stores the opaque access
// token when no resource was asked for and updates the account index. Here: the JWT for
// a requested resource, and the ID token.
func (p *Provider) TokenAuthorizationCode(ctx context.Context, app *directory.Application, req CodeRequest) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	if req.Code == "" {
		return none, oauth.InvalidRequest("missing required parameter 'code'")
	}
	if req.RedirectURI == "" {
		// RFC 6749 4.1.3: required, since every authorization request carries one.
		return none, oauth.InvalidRequest("missing required parameter 'redirect_uri'")
	}
	// Checked before the code is spent: a known resource. Whether the grant holds it is
	// checked by the grant.
	res, err := p.requestedResource(req.Resources)
	if err != nil {
		return none, err
	}
	now := p.now()
	x := CodeExchange{
		Code: req.Code, ClientID: app.ID, RedirectURI: req.RedirectURI, CodeVerifier: req.CodeVerifier,
		Refresh: p.refreshPolicy(app),
	}
	if res != nil {
		x.Resource = res.Indicator
	}
	got, err := p.grants.ExchangeCode(ctx, x)
	if err != nil {
		return none, err
	}
	user, ok := p.activeUser(got.AccountID)
	if !ok {
		// The grant checked the account before issuing; it changed since.
		return none, oauth.InvalidGrant("the account is suspended or deleted")
	}
	accessToken, expiresIn, scope, err := p.userAccessToken(app, user.ID, got.GrantID, got.Scopes, res, "", got.AccessToken, oauth.GrantAuthorizationCode, now)
	if err != nil {
		return none, err
	}
	idToken, err := p.idToken(app, user, got.Scopes, got.AuthTime, got.AMR, got.Nonce, got.Sid, accessToken, now)
	if err != nil {
		return none, err
	}
	return oidcflow.TokenResponse{
		AccessToken:  accessToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
		Scope:        scope,
		RefreshToken: got.RefreshToken,
		IDToken:      idToken,
		UserID:       user.ID,
	}, nil
}
