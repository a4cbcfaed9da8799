package oidcflow

import (
	"encoding/json"
	"slices"
	"time"
)

// UserAccessToken is a JWT access token issued to a client on behalf of a user for one
// API resource (RFC 8707 resource indicator, RFC 9068 profile).
type UserAccessToken struct {
	Issuer   string
	ClientID string
	// Subject is the user id.
	Subject string
	// Resource is the indicator, the token's aud.
	Resource string
	JTI      string
	Now      time.Time
	// TTL is the resource's accessTokenTtl.
	TTL time.Duration
	// Requested are the scopes the grant (or the refresh request) holds.
	Requested []string
	// RoleScopes are the scope names of Resource that the user's roles grant.
	RoleScopes []string
	// GrantID is the grant the token is issued from: its gid claim, by which
	// introspection tells the token is active only while the grant is.
	GrantID string
	// OrganizationID, set for an organization-level API resource token (Logto's
	// resource + organization_id), is its organization_id claim.
	OrganizationID string
	// Act, set on a token exchange with an actor token, is the act claim (RFC 8693 4.1).
	Act *ActorClaim
}

// IssueUserAccessToken decides the token's scope, as Logto does: the requested
// (granted) scopes that the user's roles hold on the resource; requested scopes the user
// does not hold are dropped, not refused. It returns the token and its scope.
func IssueUserAccessToken(t UserAccessToken, signer Signer) (token, scope string, err error) {
	scope = FormatScope(Intersect(t.Requested, t.RoleScopes))
	iat := t.Now.Unix()
	claims, err := json.Marshal(AccessTokenClaims{
		JTI:      t.JTI,
		Sub:      t.Subject,
		IAT:      iat,
		EXP:      iat + int64(t.TTL/time.Second),
		Scope:    scope,
		ClientID: t.ClientID,
		Iss:      t.Issuer,
		Aud:      t.Resource,
		GrantID:  t.GrantID,
		// Logto's getExtraTokenClaimsForOrganizationApiResource.
		OrganizationID: t.OrganizationID,
		Act:            t.Act,
	})
	if err != nil {
		return "", "", err
	}
	token, err = signer.Sign(TypAccessToken, claims)
	return token, scope, err
}

// OrganizationTokenScopes is the scope of an organization token (Logto RFC 0001 / 0006,
// handleOrganizationToken): the scopes available to the member through its roles in
// the organization that were requested, in the order of available. The request's
// scope is the refresh request's scope parameter, else the refresh token's scopes; for
// client_credentials it is the scope parameter only, so an omitted one gives an empty
// scope.
func OrganizationTokenScopes(available, requested []string) []string {
	return Intersect(available, requested)
}

// IssueOrganizationToken mints a user's organization token: aud
// urn:logto:organization:<id>, scope = OrganizationTokenScopes(t.RoleScopes,
// t.Requested); t.Resource and t.OrganizationID are ignored, t.TTL is
// OrganizationTokenTTL when zero.
func IssueOrganizationToken(orgID string, t UserAccessToken, signer Signer) (token, scope string, err error) {
	t.Requested = OrganizationTokenScopes(t.RoleScopes, t.Requested)
	t.Resource, t.OrganizationID = OrganizationURN(orgID), ""
	if t.TTL == 0 {
		t.TTL = OrganizationTokenTTL
	}
	return IssueUserAccessToken(t, signer)
}

// IssuesRefreshToken is Logto's issueRefreshToken: a refresh token comes with the code
// exchange when offline_access was granted, or, for web-type clients (SPA and
// Traditional, node-oidc-provider's application_type "web"), when the app sets
// alwaysIssueRefreshToken.
func IssuesRefreshToken(grantedScopes []string, nativeApp, alwaysIssue bool) bool {
	return slices.Contains(grantedScopes, ScopeOfflineAccess) || (alwaysIssue && !nativeApp)
}

// SubsetScopes reports whether every scope of want is in have (RFC 6749 6: a refresh
// request's scope "MUST NOT include any scope not originally granted").
func SubsetScopes(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
