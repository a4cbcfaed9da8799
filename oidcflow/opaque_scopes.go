package oidcflow

import "strings"

// logtoReservedScopePrefix marks Logto's reserved user scopes beyond the OIDC ones
// (urn:logto:scope:organizations, urn:logto:scope:organization_roles, ...).
const logtoReservedScopePrefix = "urn:logto:scope:"

// OpaqueAccessTokenScopes is the scope of an opaque access token (one issued without a
// resource, good for /oidc/me and the Account API) granted scopes: only the scopes that
// exist for such a token, the OIDC scopes and Logto's reserved user scopes
// (SupportedScopes, urn:logto:scope:*). An API resource's scope (e.g. "admin:all")
// means something only in a JWT for that resource (RFC 8707), whose scope the user's
// roles decide; in an opaque token it would be a permission nobody checked. Order is
// kept.
func OpaqueAccessTokenScopes(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		if opaqueScope(s) {
			out = append(out, s)
		}
	}
	return out
}

func opaqueScope(s string) bool {
	for _, o := range SupportedScopes {
		if s == o {
			return true
		}
	}
	return strings.HasPrefix(s, logtoReservedScopePrefix) && len(s) > len(logtoReservedScopePrefix)
}
