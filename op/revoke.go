package op

import (
	"context"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Revoke revokes what the presented token names, for the client the request
// authenticates (RFC 7009 2.1). It returns the client (nil before authentication) for
// the caller's CORS decision.
//
//   - a refresh token: its family and its grant, with the grant's opaque access tokens
//     and every other family of it (RFC 7009 2.1: "If the particular token is a refresh
//     token and the authorization server supports the revocation of access tokens, then
//     the authorization server SHOULD also invalidate all access tokens based on the
//     same authorization grant"; node-oidc-provider's revocation action revokes the
//     grant for a refresh token, and Logto keeps its default revokeGrantPolicy);
//   - an opaque access token: that token only (2.1: the server "MAY revoke the
//     respective refresh token as well"; Latch does not, as node-oidc-provider's
//     default revokeGrantPolicy keeps the grant on this route);
//   - a JWT access token: nothing. JWTs are not stored, so one cannot be revoked on its
//     own; it dies with its grant (introspection then says inactive) or at its exp. RFC
//     7009 2.2.1 would allow unsupported_token_type, which node-oidc-provider 9.4+
//     answers for any JWT; Latch answers 200 so that clients which revoke both tokens at
//     sign-out (oidc-client-ts revokeTokens) do not fail their sign-out;
//   - anything else, or a token that is unknown, expired or already revoked: nothing
//     (2.2: "invalid tokens do not cause an error response since the client cannot
//     handle such an error in a reasonable way").
//
// The hint orders the lookups; both kinds are tried whatever it says (2.1: "If the
// server is unable to locate the token using the given hint, it MUST extend its search
// across all of its supported token types"). A token issued to another client is not
// revoked: see foreignToken.
func (p *Provider) Revoke(ctx context.Context, req PresentedToken) (*directory.Application, error) {
	app, err := p.authenticatePresented(req)
	if err != nil {
		return app, err
	}
	if isJWT(req.Token) || p.tokens == nil || p.families == nil || p.grants == nil {
		return app, nil
	}
	refreshFirst := oidcflow.HintsRefreshToken(req.Hint)
	for i := range 2 {
		isRefresh := (i == 0) == refreshFirst
		var rev Revocation
		if isRefresh {
			rev, err = p.families.RevokeRefreshToken(ctx, req.Token, app.ID)
		} else {
			rev, err = p.tokens.RevokeAccessToken(ctx, req.Token, app.ID)
		}
		switch {
		case err != nil:
			return app, err
		case !rev.Found:
			continue
		case !rev.Revoked:
			return app, foreignToken(app)
		case isRefresh:
			// The family told its grant as well; waiting here makes the grant's access
			// tokens dead before the response.
			return app, p.grants.RevokeGrant(ctx, rev.GrantID)
		}
		return app, nil
	}
	return app, nil
}

// foreignToken is node-oidc-provider's default features.revocation.allowedPolicy for a
// token issued to another client: RFC 7009 2.1 has the server verify "whether the token
// was issued to the client making the revocation request. If this validation fails,
// the request is refused", so a confidential client gets invalid_request; a public
// client (authenticated by its client_id alone) gets 200 with nothing revoked, so that
// the endpoint does not tell it which tokens exist.
func foreignToken(app *directory.Application) error {
	if app.Type.Public() {
		return nil
	}
	return oauth.InvalidRequest("client is not authorized to revoke the presented token")
}
