package op

import (
	"context"
	"slices"
	"time"

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
//
// With organization_id (Logto RFC 0001), the family first checks the organization
// (RefreshUse.OrganizationID), then: without a resource, an organization token (aud
// urn:logto:organization:<id>, TTL 3600 s, scope = the requested scopes, else the
// family's, that the user's roles in the organization hold); with a resource, the
// resource's JWT with the claim organization_id, its scope from the user's roles and
// the user's roles in that organization. No opaque access token is stored for either.
func (p *Provider) TokenRefresh(ctx context.Context, app *directory.Application, req RefreshRequest) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	if req.RefreshToken == "" {
		return none, oauth.InvalidRequest("missing required parameter 'refresh_token'")
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
	org := req.OrganizationID
	use := RefreshUse{Token: req.RefreshToken, ClientID: app.ID, Scopes: requested,
		OpaqueAccessToken: res == nil && org == "", OrganizationID: org}
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
	if err := checkAppAccess(p.dir, app.ID, user.ID); err != nil {
		return none, err // app_access.go
	}
	if org != "" {
		// The family decided this before rotating (RefreshUse.OrganizationID); decided
		// again here, from this node's directory, so that no organization token leaves
		// without it (a grain of an older release ignores the field).
		if err := checkOrganizationRefresh(p.dir, used.Family.Scopes, org, user.ID); err != nil {
			return none, err
		}
		if app.IsThirdParty && !consentedOrganization(p.dir, user.ID, app.ID, org) {
			// Only the organizations the user picked on the consent page (consent.go).
			return none, oauth.AccessDenied("the user has not granted this organization to the application")
		}
	}
	var accessToken, scope string
	var expiresIn int64
	if org != "" && res == nil {
		accessToken, expiresIn, scope, err = p.organizationToken(app, user.ID, used.Family.GrantID, used.Scopes, org, now)
	} else {
		accessToken, expiresIn, scope, err = p.userAccessToken(app, user.ID, used.Family.GrantID, used.Scopes, res, org, used.AccessToken, oauth.GrantRefreshToken, now)
	}
	if err != nil {
		return none, err
	}
	resp := oidcflow.TokenResponse{
		AccessToken:  accessToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
		Scope:        scope,
		RefreshToken: used.RefreshToken,
		UserID:       user.ID,
	}
	if slices.Contains(used.Scopes, oidcflow.ScopeOpenID) {
		if resp.IDToken, err = p.idToken(app, user, used.Scopes, used.Family.AuthTime, used.Family.AMR, "", used.Family.Sid, accessToken, now); err != nil {
			return none, err
		}
	}
	return resp, nil
}

// organizationToken is a user's organization token (Logto's handleOrganizationToken):
// scope = the requested scopes that the user's roles in orgID hold, read now.
func (p *Provider) organizationToken(app *directory.Application, userID, grantID string, requested []string,
	orgID string, now time.Time) (token string, expiresIn int64, scope string, err error) {
	jti, err := p.randomID()
	if err != nil {
		return "", 0, "", err
	}
	token, scope, err = oidcflow.IssueOrganizationToken(orgID, oidcflow.UserAccessToken{
		Issuer:     p.issuer,
		ClientID:   app.ID,
		Subject:    userID,
		GrantID:    grantID,
		JTI:        jti,
		Now:        now,
		TTL:        oidcflow.OrganizationTokenTTL,
		Requested:  requested,
		RoleScopes: p.dir.UserOrganizationScopes(orgID, userID),
	}, p.accessTokenSigner(CustomClaimsRequest{GrantType: oauth.GrantRefreshToken, ClientID: app.ID, UserID: userID, GrantID: grantID, OrganizationID: orgID}))
	return token, int64(oidcflow.OrganizationTokenTTL / time.Second), scope, err
}
