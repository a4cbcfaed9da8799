package op

import (
	"slices"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Organizations (Logto RFC 0001 for users, RFC 0006 for machine-to-machine apps): the
// token rules that read the directory. Every rule reads the directory when the token
// is issued, never a copy: a membership or role change applies to the next token on
// every node that has applied it.
//
//   - refresh_token + organization_id: the family (RefreshFamily grain) asks
//     OrganizationAccess before it rotates, and refuses a family without
//     urn:logto:scope:organizations (insufficient_scope); then TokenRefresh mints an
//     organization token (no resource) or an organization-level resource token.
//   - client_credentials + organization_id: TokenClientCredentials checks the app is a
//     member (access_denied otherwise, never a global token).

// OrganizationAccess is Logto's checkOrganizationAccess for a user (grants/utils.ts),
// as a predicate for the RefreshFamily grain (actors.Options.OrganizationAccess),
// which calls it before it rotates so that a refused request never costs the client
// its refresh token: the account must be a member of the organization (access_denied,
// 403, "user is not a member of the organization"), and meet the organization's MFA
// requirement (mfaRequirementMet). It reads the directory of the calling node.
func OrganizationAccess(dir *directory.Directory) func(orgID, accountID string) error {
	return func(orgID, accountID string) error {
		if !dir.IsUserOrganizationMember(orgID, accountID) {
			return oauth.AccessDenied("user is not a member of the organization")
		}
		org, ok := dir.Organization(orgID)
		if !ok { // deleted since: the membership went with it
			return oauth.AccessDenied("user is not a member of the organization")
		}
		u, ok := dir.User(accountID)
		if !ok {
			return oauth.InvalidGrant("the account is suspended or deleted")
		}
		if !mfaRequirementMet(org, u) {
			return oauth.AccessDenied("organization requires MFA but user has no MFA configured")
		}
		return nil
	}
}

// checkOrganizationRefresh is Logto's refresh_token rule for organization_id (RFC 0001):
// OrganizationAccess, then the refresh token's urn:logto:scope:organizations
// (insufficient_scope, "refresh token missing required scope"). The RefreshFamily grain
// applies the same rule before it rotates (actors.checkOrganization).
func checkOrganizationRefresh(dir *directory.Directory, familyScopes []string, orgID, accountID string) error {
	if err := OrganizationAccess(dir)(orgID, accountID); err != nil {
		return err
	}
	if !slices.Contains(familyScopes, oidcflow.ScopeOrganizations) {
		return oauth.InsufficientScope("refresh token missing required scope")
	}
	return nil
}

// mfaRequirementMet is Logto's rule that an organization with isMfaRequired refuses
// organization tokens (access_denied, "organization requires MFA but user has no MFA
// configured") to a user who has no MFA factor configured (a TOTP, or backup codes
// with one left).
func mfaRequirementMet(org *directory.Organization, u *directory.User) bool {
	return !org.IsMfaRequired || u.HasMfa()
}

// organizationClaims fills a's organization claims for the granted scopes (Logto's
// getUserClaimsData): the user's organizations (ids; id, name, description for
// userinfo) and "<orgId>:<roleName>" for every role held, read now.
func (p *Provider) organizationClaims(a *oidcflow.Account, userID string, scopes []string) {
	if slices.Contains(scopes, oidcflow.ScopeOrganizations) {
		for _, o := range p.dir.UserOrganizations(userID) {
			a.Organizations = append(a.Organizations, oidcflow.OrganizationData{ID: o.ID, Name: o.Name, Description: o.Description})
		}
	}
	if slices.Contains(scopes, oidcflow.ScopeOrganizationRoles) {
		for _, g := range p.dir.UserOrganizationRoles(userID) {
			a.OrganizationRoles = append(a.OrganizationRoles, g.String())
		}
	}
}

// userResourceScopes are the scopes of an API resource a user holds, as Logto's
// findUserScopesForResourceIndicator with findFromOrganizations: those of the user's
// roles, and those of the user's organization roles, in orgID only when it is set (an
// organization-level resource token), else in every organization the user is a member
// of.
func (p *Provider) userResourceScopes(userID string, res *directory.Resource, orgID string) []string {
	scopes := slices.Clone(p.dir.UserResourceScopes(userID, res.ID))
	orgs := []string{orgID}
	if orgID == "" {
		orgs = p.dir.UserOrganizationIDs(userID)
	}
	for _, o := range orgs {
		for _, s := range p.dir.UserOrganizationResourceScopes(o, userID, res.Indicator) {
			if !slices.Contains(scopes, s) {
				scopes = append(scopes, s)
			}
		}
	}
	return scopes
}

// organizationsResource is Logto's reserved resource urn:logto:resource:organizations
// as an API resource: its scopes are the organization scopes (organizationScopeNames)
// and its tokens live OrganizationTokenTTL.
func organizationsResource() *directory.Resource {
	return &directory.Resource{Indicator: oidcflow.ResourceOrganizations, AccessTokenTTL: int(oidcflow.OrganizationTokenTTL.Seconds())}
}

// organizationScopeNames are the names of every organization scope (the scopes of the
// reserved organizations resource, Logto's findResourceScopes).
func (p *Provider) organizationScopeNames() []string {
	all := p.dir.OrganizationScopes("")
	names := make([]string, 0, len(all))
	for _, s := range all {
		names = append(names, s.Name)
	}
	return names
}
