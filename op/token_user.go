package op

import (
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// What the user-facing grants (authorization_code, refresh_token) share: the requested
// resource, JWT access tokens for a resource, and ID tokens. Opaque access tokens (no
// resource) are stored by the grant in the same grain call that redeems the code or
// uses the refresh token.

// requestedResource checks the single optional RFC 8707 resource of a token request
// names a known API resource. Only one is supported per token request (one audience
// per JWT), as in node-oidc-provider.
func (p *Provider) requestedResource(resources []string) (*directory.Resource, error) {
	switch len(resources) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, oauth.InvalidTarget("only one resource indicator is supported per token request")
	}
	if err := oidcflow.ValidResourceIndicator(resources[0]); err != nil {
		return nil, err
	}
	if resources[0] == oidcflow.ResourceOrganizations {
		return organizationsResource(), nil
	}
	r, ok := p.dir.ResourceByIndicator(resources[0])
	if !ok {
		return nil, oauth.InvalidTarget("unknown resource indicator")
	}
	return r, nil
}

// userAccessToken is the token a user grant's response carries: a JWT for res (scope =
// the granted scopes held by the user's roles and organization roles,
// userResourceScopes; with orgID, an organization-level resource token with the claim
// organization_id), or the opaque token the grant stored. It returns the token, its
// lifetime in seconds and its scope.
func (p *Provider) userAccessToken(app *directory.Application, userID, grantID string, scopes []string,
	res *directory.Resource, orgID string, opaque AccessTokenIssued, gty string, now time.Time) (token string, expiresIn int64, scope string, err error) {
	if res == nil {
		// In milliseconds, as the grain computed the expiry from the request's now.
		expiresIn = (opaque.ExpiresAt.UnixMilli() - now.UnixMilli()) / 1000
		return opaque.Token, max(expiresIn, 0), oidcflow.FormatScope(opaque.Scopes), nil
	}
	jti, err := p.randomID()
	if err != nil {
		return "", 0, "", err
	}
	ttl := p.life.AccessTokenFor(res.AccessTokenTTL)
	var held []string
	if res.Indicator == oidcflow.ResourceOrganizations {
		held = p.organizationScopeNames()
	} else {
		held = p.userResourceScopes(userID, res, orgID)
	}
	token, scope, err = oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
		Issuer:         p.issuer,
		ClientID:       app.ID,
		Subject:        userID,
		Resource:       res.Indicator,
		GrantID:        grantID,
		JTI:            jti,
		Now:            now,
		TTL:            ttl,
		Requested:      scopes,
		RoleScopes:     held,
		OrganizationID: orgID,
	}, p.accessTokenSigner(CustomClaimsRequest{GrantType: gty, ClientID: app.ID, UserID: userID, GrantID: grantID, OrganizationID: orgID}))
	return token, int64(ttl / time.Second), scope, err
}

// idToken mints the ID token of a user grant for app (OIDC Core 3.1.3.6).
func (p *Provider) idToken(app *directory.Application, user *directory.User, scopes []string,
	authTime int64, amr []string, nonce, sid, accessToken string, now time.Time) (string, error) {
	// at_hash depends on the signing algorithm: take both from one ring, so a
	// rotation to another algorithm between the two cannot mismatch them.
	keys, err := fixedKeys(p.keys)
	if err != nil {
		return "", err
	}
	return oidcflow.MintIDToken(oidcflow.IDToken{
		Issuer:      p.issuer,
		Subject:     user.ID,
		Audience:    app.ID,
		Now:         now,
		TTL:         p.life.IDTokenFor(intOrZero(app.CustomClientMetadata.IDTokenTTL)),
		AuthTime:    authTime,
		AMR:         amr,
		Nonce:       nonce,
		SID:         sid,
		AccessToken: accessToken,
		Alg:         keys.Alg(),
		Claims:      oidcflow.UserClaims(p.clientAccount(app, user, scopes), scopes, oidcflow.ForIDToken),
	}, keys)
}

// refreshPolicy is app's refresh-token policy, nil when the grant-type table does not
// let it refresh.
func (p *Provider) refreshPolicy(app *directory.Application) *RefreshPolicy {
	if !GrantAllowed(app.Type, oauth.GrantRefreshToken) {
		return nil
	}
	m := app.CustomClientMetadata
	always := m.AlwaysIssueRefreshToken != nil && *m.AlwaysIssueRefreshToken
	return &RefreshPolicy{
		AppType: string(app.Type),
		Always:  always && app.Type != directory.AppNative,
		TTL:     p.life.RefreshTokenFor(intOrZero(m.RefreshTokenTTLInDays)),
		Rotate:  m.RotatesRefreshToken(),
	}
}
