package directory

import "slices"

// AppAccessControl is Logto's application-level access control: who may sign in to an
// application once its AppLevelAccessControlEnabled is on. A user is allowed by any
// one rule: listed in UserIDs, holding one of UserRoleIDs, a member of one of
// OrganizationIDs, or holding one of an OrganizationRoleRule's roles in its
// organization. Ids that no longer name an entity match nobody (Logto deletes the
// rows with the entity).
type AppAccessControl struct {
	UserIDs               []string               `json:"userIds"`
	UserRoleIDs           []string               `json:"userRoleIds"`
	OrganizationIDs       []string               `json:"organizationIds"`
	OrganizationRoleRules []AppAccessOrgRoleRule `json:"organizationRoleRules"`
}

// AppAccessOrgRoleRule allows the members of OrganizationID holding one of
// OrganizationRoleIDs there.
type AppAccessOrgRoleRule struct {
	OrganizationID      string   `json:"organizationId"`
	OrganizationRoleIDs []string `json:"organizationRoleIds"`
}

// HasRules reports whether c allows anyone at all (Logto refuses to enable access
// control without a rule).
func (c *AppAccessControl) HasRules() bool {
	if c == nil {
		return false
	}
	if len(c.UserIDs) > 0 || len(c.UserRoleIDs) > 0 || len(c.OrganizationIDs) > 0 {
		return true
	}
	for _, r := range c.OrganizationRoleRules {
		if len(r.OrganizationRoleIDs) > 0 {
			return true
		}
	}
	return false
}

// Clone returns a deep copy of c (nil for nil).
func (c *AppAccessControl) Clone() *AppAccessControl {
	if c == nil {
		return nil
	}
	out := &AppAccessControl{
		UserIDs:         slices.Clone(c.UserIDs),
		UserRoleIDs:     slices.Clone(c.UserRoleIDs),
		OrganizationIDs: slices.Clone(c.OrganizationIDs),
	}
	for _, r := range c.OrganizationRoleRules {
		out.OrganizationRoleRules = append(out.OrganizationRoleRules,
			AppAccessOrgRoleRule{OrganizationID: r.OrganizationID, OrganizationRoleIDs: slices.Clone(r.OrganizationRoleIDs)})
	}
	return out
}

// UserHasAppAccess reports whether userID may sign in to appID (Logto's
// assertUserHasApplicationAccess): always when the application does not restrict
// access, else when one rule of its AccessControl allows the user. An unknown
// application allows nobody.
func (d *Directory) UserHasAppAccess(appID, userID string) bool {
	if appID == DemoAppID {
		// A built-in application (Logto's isBuiltInApplicationId) is never restricted.
		return true
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	app, ok := d.st.apps[appID]
	if !ok {
		return false
	}
	if !app.AppLevelAccessControlEnabled {
		return true
	}
	c := app.AccessControl
	if c == nil {
		return false
	}
	if slices.Contains(c.UserIDs, userID) {
		return true
	}
	for _, roleID := range c.UserRoleIDs {
		if _, ok := d.st.userRoles[userID][roleID]; ok {
			return true
		}
	}
	orgs := d.st.org.userOrgs[userID]
	for _, orgID := range c.OrganizationIDs {
		if _, ok := orgs[orgID]; ok {
			if _, live := d.st.org.orgs[orgID]; live {
				return true
			}
		}
	}
	for _, r := range c.OrganizationRoleRules {
		if _, ok := orgs[r.OrganizationID]; !ok {
			continue
		}
		held := d.st.org.userRoles[memberKey(r.OrganizationID, userID)]
		for _, roleID := range r.OrganizationRoleIDs {
			if _, ok := held[roleID]; ok {
				return true
			}
		}
	}
	return false
}
