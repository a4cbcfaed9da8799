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
	})
	if err != nil {
		return "", "", err
	}
	token, err = signer.Sign(TypAccessToken, claims)
	return token, scope, err
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
