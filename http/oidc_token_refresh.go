package httpapi

import (
	"context"
	"net/url"
	"slices"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// tokenRefresh is RFC 6749 6 for an authenticated client: the RefreshFamily grain
// decides rotation, the reuse window and reuse detection; this mints the new tokens.
//
// An optional resource (one of the family's) gives a JWT whose scope is limited by the
// user's roles; an optional scope narrows the grant (never widens it). An ID token comes
// back when openid is in scope.
func (s *Server) tokenRefresh(ctx context.Context, app *directory.Application, form url.Values) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	rt := form.Get("refresh_token")
	if rt == "" {
		return none, oauth.InvalidRequest("refresh_token is required")
	}
	if form.Has("organization_id") {
		return none, oauth.InvalidRequest("organization tokens are not supported yet")
	}
	// Everything that can be checked without the family is checked before the token is
	// used, because using it may rotate it.
	res, err := s.requestedResource(form)
	if err != nil {
		return none, err
	}
	requested, err := oidcflow.ParseScope(form.Get("scope"))
	if err != nil {
		return none, err
	}
	familyID, secret, ok := actors.SplitToken(rt)
	if !ok {
		return none, oauth.InvalidGrant("invalid refresh token")
	}
	indicator := ""
	// Without a resource the access token is opaque: the family has its grant store it
	// as part of the use (one call, and its write overlaps the family's own).
	now := s.now()
	var opaque opaqueAccessToken
	if res != nil {
		indicator = res.Indicator
	} else if opaque, err = s.newOpaqueAccessToken(now, nil); err != nil {
		return none, err
	}
	used, err := s.actors.UseRefreshToken(ctx, familyID, secret, app.ID, now, indicator, requested, opaque.rec)
	if err != nil {
		return none, err
	}
	fam := used.GetFamily()
	user, ok := s.activeUser(fam.GetAccountId())
	if !ok {
		s.revokeFamily(ctx, familyID)
		return none, oauth.InvalidGrant("the account is suspended or deleted")
	}
	// RFC 6749 6 / RFC 8707 2.2: the family grain refused a scope or resource it was not
	// granted before rotating, so what was asked for is within the grant here.
	scopes := fam.GetScopes()
	if len(requested) > 0 {
		scopes = requested
	}

	var accessToken, scope string
	var expiresIn int64
	if opaque.rec != nil {
		accessToken, expiresIn, scope = opaque.wire(fam.GetGrantId(), scopes)
	} else if accessToken, expiresIn, scope, err = s.userAccessToken(ctx, app, user.ID, fam.GetGrantId(), familyID, scopes, res); err != nil {
		return none, err
	}
	resp := oidcflow.TokenResponse{
		AccessToken:  accessToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
		Scope:        scope,
		RefreshToken: familyID + "." + used.GetNextSecret(),
	}
	if slices.Contains(scopes, oidcflow.ScopeOpenID) {
		if resp.IDToken, err = s.idToken(app, user, scopes, fam.GetAuthTime(), "", fam.GetSid(), accessToken); err != nil {
			return none, err
		}
	}
	return resp, nil
}
