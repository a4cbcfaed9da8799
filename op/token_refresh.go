package op

import (
	"context"
	"slices"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// RefreshRequest is RFC 6749 6's request.
type RefreshRequest struct {
	RefreshToken   string
	OrganizationID string
	Resources      []string
	// Scope is the raw scope parameter; "" keeps the family's scopes.
	Scope string
}

// TokenRefresh is RFC 6749 6 for an authenticated client: one call to the
// RefreshFamily grain, which decides rotation, the reuse window, reuse detection and
// the account's suspension (before rotating), refuses a resource or scope it was not
// granted, and has its grant store the opaque access token when no resource was asked
// for. Here: the JWT for a requested resource, and the ID token when openid is in
// scope.
func (p *Provider) TokenRefresh(ctx context.Context, app *directory.Application, req RefreshRequest) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	if req.RefreshToken == "" {
		return none, oauth.InvalidRequest("refresh_token is required")
	}
	if req.OrganizationID != "" {
		return none, oauth.InvalidRequest("organization tokens are not supported yet")
	}
	// Everything that can be checked without the family is checked before the token is
	// used, because using it may rotate it.
	res, err := p.requestedResource(req.Resources)
	if err != nil {
		return none, err
	}
	requested, err := oidcflow.ParseScope(req.Scope)
	if err != nil {
		return none, err
	}
	now := p.now()
	use := RefreshUse{Token: req.RefreshToken, ClientID: app.ID, Scopes: requested, OpaqueAccessToken: res == nil}
	if res != nil {
		use.Resource = res.Indicator
	}
	used, err := p.families.UseRefreshToken(ctx, use)
	if err != nil {
		return none, err
	}
	user, ok := p.activeUser(used.Family.AccountID)
	if !ok {
		// The family checked the account before rotating; it changed since.
		return none, oauth.InvalidGrant("the account is suspended or deleted")
	}
	accessToken, expiresIn, scope, err := p.userAccessToken(app, user.ID, used.Family.GrantID, used.Scopes, res, used.AccessToken, now)
	if err != nil {
		return none, err
	}
	resp := oidcflow.TokenResponse{
		AccessToken:  accessToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
		Scope:        scope,
		RefreshToken: used.RefreshToken,
	}
	if slices.Contains(used.Scopes, oidcflow.ScopeOpenID) {
		if resp.IDToken, err = p.idToken(app, user, used.Scopes, used.Family.AuthTime, "", used.Family.Sid, accessToken, now); err != nil {
			return none, err
		}
	}
	return resp, nil
}
