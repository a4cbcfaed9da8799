package directory

import (
	"slices"
	"strings"
)

// The read side the organization token rules use (urn:logto:scope:organizations,
// urn:logto:scope:organization_roles, organization tokens and organization-level API
// resource tokens). Every function is a few map lookups under the read lock, never
// I/O, and reads the current state: a membership or role change is seen by the next
// call on every node that has applied it (no cache to go stale).

// UserOrganizationIDs returns the ids of the organizations the user is a member of,
// sorted (the ID token claim `organizations`). nil when none.
func (d *Directory) UserOrganizationIDs(userID string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for orgID := range d.st.org.userOrgs[userID] {
		if _, ok := d.st.org.orgs[orgID]; ok {
			out = append(out, orgID)
		}
	}
	slices.Sort(out)
	return out
}

// UserOrganizations returns the organizations the user is a member of, by id, in the
// order of UserOrganizationIDs (userinfo's `organization_data`: id, name,
// description). Shared, must not be mutated. An organization's IsMfaRequired is what
// the organization token rules check (Organization(id) for one).
func (d *Directory) UserOrganizations(userID string) []*Organization {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*Organization
	for orgID := range d.st.org.userOrgs[userID] {
		if o, ok := d.st.org.orgs[orgID]; ok {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b *Organization) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// OrganizationRoleGrant is one role a member holds in one organization.
type OrganizationRoleGrant struct {
	OrganizationID string
	RoleName       string
}

// String is Logto's `organization_roles` claim value, "<orgId>:<roleName>".
func (g OrganizationRoleGrant) String() string { return g.OrganizationID + ":" + g.RoleName }

// UserOrganizationRoles returns every (organization, role name) pair the user holds,
// sorted by organization id then role name (the ID token claim
// `organization_roles`). nil when none.
func (d *Directory) UserOrganizationRoles(userID string) []OrganizationRoleGrant {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []OrganizationRoleGrant
	for orgID := range d.st.org.userOrgs[userID] {
		if _, ok := d.st.org.orgs[orgID]; !ok {
			continue
		}
		for roleID := range d.st.org.userRoles[memberKey(orgID, userID)] {
			if r, ok := d.st.org.roles[roleID]; ok {
				out = append(out, OrganizationRoleGrant{OrganizationID: orgID, RoleName: r.Name})
			}
		}
	}
	slices.SortFunc(out, func(a, b OrganizationRoleGrant) int {
		if c := strings.Compare(a.OrganizationID, b.OrganizationID); c != 0 {
			return c
		}
		return strings.Compare(a.RoleName, b.RoleName)
	})
	return out
}

// IsUserOrganizationMember reports whether the user is a member of the
// organization (an organization token is refused otherwise).
func (d *Directory) IsUserOrganizationMember(orgID, userID string) bool {
	return d.IsOrganizationMember(orgID, MemberUser, userID)
}

// IsAppOrganizationMember reports whether the application is a member of the
// organization (client_credentials with organization_id is refused otherwise).
func (d *Directory) IsAppOrganizationMember(orgID, appID string) bool {
	return d.IsOrganizationMember(orgID, MemberApp, appID)
}

// UserOrganizationScopes returns the names of the organization scopes the user's
// roles in the organization hold, sorted and de-duplicated (nil when none, or when
// the user is not a member). An organization token's scope is the requested scopes
// intersected with these.
func (d *Directory) UserOrganizationScopes(orgID, userID string) []string {
	return d.memberOrgScopes(orgID, MemberUser, userID)
}

// AppOrganizationScopes is UserOrganizationScopes for an application's roles.
func (d *Directory) AppOrganizationScopes(orgID, appID string) []string {
	return d.memberOrgScopes(orgID, MemberApp, appID)
}

// UserOrganizationResourceScopes returns the names of the scopes of the API resource
// whose indicator is given that the user's roles in the organization hold, sorted
// and de-duplicated (nil when none, when the resource does not exist or when the user
// is not a member): the scopes of an organization-level resource token (resource +
// organization_id).
func (d *Directory) UserOrganizationResourceScopes(orgID, userID, indicator string) []string {
	return d.memberOrgResourceScopes(orgID, MemberUser, userID, indicator)
}

// AppOrganizationResourceScopes is UserOrganizationResourceScopes for an
// application's roles.
func (d *Directory) AppOrganizationResourceScopes(orgID, appID, indicator string) []string {
	return d.memberOrgResourceScopes(orgID, MemberApp, appID, indicator)
}

// memberRoles returns the member's roles in the organization. Callers hold mu.
func (d *Directory) memberRoles(orgID string, k MemberKind, memberID string) []*OrganizationRole {
	_, _, members, roles, _ := d.memberMaps(k)
	if _, ok := members[orgID][memberID]; !ok {
		return nil
	}
	if _, ok := d.st.org.orgs[orgID]; !ok {
		return nil
	}
	held := roles[memberKey(orgID, memberID)]
	out := make([]*OrganizationRole, 0, len(held))
	for roleID := range held {
		if r, ok := d.st.org.roles[roleID]; ok {
			out = append(out, r)
		}
	}
	return out
}

func (d *Directory) memberOrgScopes(orgID string, k MemberKind, memberID string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var names []string
	for _, r := range d.memberRoles(orgID, k, memberID) {
		for _, sid := range r.ScopeIDs {
			if s, ok := d.st.org.scopes[sid]; ok {
				names = append(names, s.Name)
			}
		}
	}
	return sortedNames(names)
}

func (d *Directory) memberOrgResourceScopes(orgID string, k MemberKind, memberID, indicator string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	res, ok := d.st.indicators[indicator]
	if !ok {
		return nil
	}
	var names []string
	for _, r := range d.memberRoles(orgID, k, memberID) {
		for _, sid := range r.ResourceScopeIDs {
			if s, ok := d.st.scopes[sid]; ok && s.ResourceID == res.ID {
				names = append(names, s.Name)
			}
		}
	}
	return sortedNames(names)
}

func sortedNames(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return slices.Clip(slices.Compact(names))
}
