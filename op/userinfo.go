package op

import (
	"context"
	"slices"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Userinfo is the UserInfo endpoint (OIDC Core 5.3) for a bearer token http read (RFC
// 6750 2.1 header or 2.2 form body). The bearer must be an opaque access token
// ("<grant id>.<secret>"); JWT access tokens are for API resources and are refused, as
// Logto refuses them. It returns the token's client (nil when unknown) for the caller's
// CORS decision.
func (p *Provider) Userinfo(ctx context.Context, token string) (map[string]any, *directory.Application, error) {
	if p.tokens == nil {
		return nil, nil, oauth.InvalidToken("invalid access token")
	}
	if isJWT(token) {
		return nil, nil, oauth.InvalidToken("only opaque access tokens are accepted here; JWT access tokens are for API resources")
	}
	at, err := p.tokens.LookupAccessToken(ctx, token)
	if err != nil {
		if e, ok := oauth.From(err); ok && e.Code != oauth.CodeServerError && e.Code != oauth.CodeTemporarilyUnavailable {
			return nil, nil, oauth.InvalidToken("access token is invalid, expired or revoked")
		}
		return nil, nil, err
	}
	app, _ := p.dir.Application(at.Grant.ClientID)
	user, ok := p.activeUser(at.Grant.AccountID)
	if !ok {
		return nil, app, oauth.InvalidToken("the account is suspended or deleted")
	}
	// Only the scopes an opaque token may carry give claims.
	scopes := oidcflow.OpaqueAccessTokenScopes(at.Scopes)
	if !slices.Contains(scopes, oidcflow.ScopeOpenID) {
		return nil, app, oauth.InsufficientScope("the access token was not granted openid")
	}
	return oidcflow.UserClaims(p.clientAccount(app, user, scopes), scopes, oidcflow.ForUserinfo), app, nil
}
