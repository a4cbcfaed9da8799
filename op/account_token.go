package op

import (
	"context"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// AccountToken authenticates a user's own Account API call (Logto's koaOidcAuth): the
// bearer must be an opaque access token from /oidc/token ("<grant id>.<secret>",
// no resource), live, of an active user, checked exactly as Userinfo checks it. It
// returns the user and the scopes the token may carry. The error is an *oauth.Error:
// invalid_token for any token that does not qualify, or the lookup's own
// server_error / temporarily_unavailable.
func (p *Provider) AccountToken(ctx context.Context, token string) (*directory.User, []string, error) {
	if p.tokens == nil || isJWT(token) {
		return nil, nil, oauth.InvalidToken("an opaque access token for the OP is required")
	}
	at, err := p.tokens.LookupAccessToken(ctx, token)
	if err != nil {
		if e, ok := oauth.From(err); ok && e.Code != oauth.CodeServerError && e.Code != oauth.CodeTemporarilyUnavailable {
			return nil, nil, oauth.InvalidToken("access token is invalid, expired or revoked")
		}
		return nil, nil, err
	}
	user, ok := p.activeUser(at.Grant.AccountID)
	if !ok {
		return nil, nil, oauth.InvalidToken("the account is suspended or deleted")
	}
	return user, oidcflow.OpaqueAccessTokenScopes(at.Scopes), nil
}
