package op

import (
	"context"
	"strings"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// PresentedToken is an introspection (RFC 7662 2.1) or revocation (RFC 7009 2.1)
// request: the client's credentials, the token and its type hint.
type PresentedToken struct {
	Client ClientAuth
	Token  string
	Hint   string
}

// authenticatePresented authenticates the client exactly as the token endpoint does
// (RFC 7662 2.1 "the endpoint MUST also require some form of authorization"; RFC 7009
// 2.1 "the client also includes its authentication credentials"; public clients
// authenticate with their client_id alone, as Logto's SPAs and native apps do at its
// token endpoint), then requires token. The client is returned as soon as it is known,
// for the caller's CORS decision.
func (p *Provider) authenticatePresented(req PresentedToken) (*directory.Application, error) {
	app, err := p.AuthenticateClient(req.Client)
	if err != nil {
		return nil, err
	}
	if req.Token == "" {
		return app, oauth.InvalidRequest("token is required")
	}
	return app, nil
}

// isJWT reports whether tok has the shape of a JWS compact serialization (RFC 7515
// 7.1: three dot-separated parts). Latch's opaque tokens have exactly one dot.
func isJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// Introspect answers RFC 7662 2.2 for the client the request authenticates.
//
// Who may see what (RFC 7662 4: "the authorization server MUST determine whether or not
// the protected resource is allowed to introspect the token"): a client sees only
// tokens issued to itself, that is whose client_id is its own; every other token is
// {"active": false}, exactly like an unknown one (RFC 7662 2.2: "the authorization
// server ... SHOULD NOT include any additional information about an inactive token").
// Latch's API resources have no owning application, so "tokens issued to its own
// resources" cannot be derived; node-oidc-provider's default lets a confidential client
// introspect any token, Latch does not.
//
// For an opaque token the hint orders the two lookups (refresh family first for
// token_type_hint=refresh_token, the grant's access tokens first otherwise) but both are
// tried (RFC 7662 2.1: "If the server is unable to locate the token using the given
// hint, it MUST extend its search across all of its supported token types").
func (p *Provider) Introspect(ctx context.Context, req PresentedToken) (oidcflow.Introspection, *directory.Application, error) {
	var inactive oidcflow.Introspection
	app, err := p.authenticatePresented(req)
	if err != nil {
		return inactive, app, err
	}
	if isJWT(req.Token) {
		resp, err := p.IntrospectJWT(ctx, app, req.Token)
		return resp, app, err
	}
	lookups := []func(context.Context, *directory.Application, string) (oidcflow.Introspection, bool, error){
		p.introspectAccessToken, p.introspectRefreshToken,
	}
	if oidcflow.HintsRefreshToken(req.Hint) {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	for _, lookup := range lookups {
		resp, found, err := lookup(ctx, app, req.Token)
		if err != nil || found {
			return resp, app, err
		}
	}
	return inactive, app, nil
}

// introspectAccessToken looks the token up among the grants' opaque access tokens.
// found is true when a grant holds it live (whether or not the caller may see it).
func (p *Provider) introspectAccessToken(ctx context.Context, app *directory.Application, tok string) (oidcflow.Introspection, bool, error) {
	var inactive oidcflow.Introspection
	if p.tokens == nil {
		return inactive, false, nil
	}
	at, err := p.tokens.LookupAccessToken(ctx, tok)
	if err != nil {
		if notActive(err) {
			return inactive, false, nil
		}
		return inactive, false, err
	}
	if at.Grant.ClientID != app.ID {
		return inactive, true, nil
	}
	if _, ok := p.activeUser(at.Grant.AccountID); !ok {
		return inactive, true, nil
	}
	return oidcflow.Introspection{
		Active: true,
		// Tokens stored before opaque tokens were limited to their own scopes may
		// carry others: never show them.
		Scope:     oidcflow.FormatScope(oidcflow.OpaqueAccessTokenScopes(at.Scopes)),
		ClientID:  at.Grant.ClientID,
		Sub:       at.Grant.AccountID,
		Exp:       at.ExpiresAt.Unix(),
		Iat:       at.IssuedAt.Unix(),
		Iss:       p.issuer,
		TokenType: oidcflow.TokenTypeBearer,
	}, true, nil
}

// introspectRefreshToken asks the refresh family whether the token is its active one
// (the current token, unexpired, family not revoked, grant alive).
func (p *Provider) introspectRefreshToken(ctx context.Context, app *directory.Application, tok string) (oidcflow.Introspection, bool, error) {
	var inactive oidcflow.Introspection
	if p.families == nil {
		return inactive, false, nil
	}
	fam, err := p.families.InspectRefreshToken(ctx, tok)
	if err != nil {
		if notActive(err) {
			return inactive, false, nil
		}
		return inactive, false, err
	}
	if fam.ClientID != app.ID {
		return inactive, true, nil
	}
	if _, ok := p.activeUser(fam.AccountID); !ok {
		return inactive, true, nil
	}
	return oidcflow.Introspection{
		Active:   true,
		Scope:    oidcflow.FormatScope(fam.Scopes),
		ClientID: fam.ClientID,
		Sub:      fam.AccountID,
		Exp:      fam.ExpiresAt.Unix(),
		Iat:      fam.IssuedAt.Unix(),
		Iss:      p.issuer,
		Sid:      fam.Sid,
	}, true, nil
}

// IntrospectJWT answers for a JWT access token presented by app. It is active while it
// verifies (oidcflow.VerifyAccessToken: signature, typ at+jwt, iss, exp) and:
//
//   - a user token (it carries the gid claim): its grant is alive and still this
//     client's and this user's (CheckGrant, one grain hop), and the user is active;
//   - a client_credentials token (sub = client_id, no gid): the client still exists in
//     the directory (no grain: DESIGN.md "hot paths that need no state never touch a
//     grain");
//   - a user token without gid (minted before gid existed): never, since its grant
//     cannot be checked; such tokens expire within their resource's TTL.
func (p *Provider) IntrospectJWT(ctx context.Context, app *directory.Application, tok string) (oidcflow.Introspection, error) {
	var inactive oidcflow.Introspection
	now := p.now()
	c, err := oidcflow.VerifyAccessToken(p.keys, tok, p.issuer, now)
	if err != nil || c.ClientID != app.ID {
		return inactive, nil
	}
	switch {
	case c.GrantID != "":
		if p.grants == nil {
			return inactive, nil
		}
		g, err := p.grants.CheckGrant(ctx, c.GrantID)
		if err != nil {
			if notActive(err) {
				return inactive, nil
			}
			return inactive, err
		}
		if g.ClientID != c.ClientID || g.AccountID != c.Sub {
			return inactive, nil
		}
		if _, ok := p.activeUser(c.Sub); !ok {
			return inactive, nil
		}
	case c.Sub == c.ClientID:
		if _, ok := p.dir.Application(c.ClientID); !ok {
			return inactive, nil
		}
	default:
		return inactive, nil
	}
	return oidcflow.Introspection{
		Active:    true,
		Scope:     c.Scope,
		ClientID:  c.ClientID,
		Sub:       c.Sub,
		Exp:       c.EXP,
		Iat:       c.IAT,
		Aud:       c.Aud,
		Iss:       c.Iss,
		JTI:       c.JTI,
		TokenType: oidcflow.TokenTypeBearer,
	}, nil
}
