package directory

import (
	"context"
	"slices"
	"strings"
)

// Memberships and organization role assignments. Users and MachineToMachine
// applications are members; a member holds organization roles of its kind in each
// organization it belongs to, and leaving an organization drops them (Logto's
// foreign key from the role relation to the membership, on delete cascade).

// MemberKind says whether a membership call is about users or applications.
type MemberKind int

const (
	MemberUser MemberKind = iota
	MemberApp
)

// memberMaps returns the store kinds, the membership map, the role assignment map and the
// role type of the member kind.
func (d *Directory) memberMaps(k MemberKind) (memberKind, roleKind string, members map[string]map[string]uint64, roles map[string]map[string]uint64, t RoleType) {
	if k == MemberApp {
		return kindOrgApp, kindOrgAppRole, d.st.org.apps, d.st.org.appRoles, RoleMachineToMachine
	}
	return kindOrgUser, kindOrgUserRole, d.st.org.users, d.st.org.userRoles, RoleUser
}

func memberEntity(k MemberKind) string {
	if k == MemberApp {
		return EntityOrganizationApp
	}
	return EntityOrganizationUser
}

// checkMemberTarget: the user or application exists (and an application is
// MachineToMachine); the batch is made conditional on it. Callers hold wmu.
func (d *Directory) checkMemberTarget(b *batch, k MemberKind, id string) error {
	if k == MemberApp {
		a, ok := d.st.apps[id]
		if !ok {
			return relTarget(EntityApplication, id)
		}
		if a.Type != AppMachineToMachine {
			return &OrganizationConstraintError{Entity: EntityApplication, ID: id, Reason: "only MachineToMachine applications can be members of an organization"}
		}
		b.check(kindApp, id, a.Version)
		return nil
	}
	u, ok := d.st.users[id]
	if !ok {
		return relTarget(EntityUser, id)
	}
	b.check(kindUser, id, u.Version)
	return nil
}

// checkOrg: the organization exists; the batch is made conditional on it.
func (d *Directory) checkOrg(b *batch, orgID string) error {
	o, ok := d.st.org.orgs[orgID]
	if !ok {
		return relTarget(EntityOrganization, orgID)
	}
	b.check(kindOrg, orgID, o.Version)
	return nil
}

// AddOrganizationMembers makes users (or applications) members of the organization,
// skipping those that are (Logto's insert ... on conflict do nothing). A missing
// organization or member is a *RelationTargetError, an application that is not
// MachineToMachine an *OrganizationConstraintError; nothing is written unless all
// are valid.
func (d *Directory) AddOrganizationMembers(ctx context.Context, orgID string, k MemberKind, ids []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		return d.addMembers(b, orgID, k, dedupe(ids))
	})
}

func (d *Directory) addMembers(b *batch, orgID string, k MemberKind, ids []string) error {
	memberKind, _, members, _, _ := d.memberMaps(k)
	if err := d.checkOrg(b, orgID); err != nil {
		return err
	}
	val := assignmentValue{CreatedAt: d.nowMs()}
	for _, id := range ids {
		if err := d.checkMemberTarget(b, k, id); err != nil {
			return err
		}
		if _, has := members[orgID][id]; !has {
			b.put(memberKind, memberKey(orgID, id), 0, val)
		}
	}
	return nil
}

// ReplaceOrganizationMembers sets the organization's users (or applications) to ids:
// members not in ids leave (with their roles), the others keep their roles (Logto's
// replaceWithDelta).
func (d *Directory) ReplaceOrganizationMembers(ctx context.Context, orgID string, k MemberKind, ids []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	ids = dedupe(ids)
	return d.commit(ctx, func(b *batch) error {
		_, _, members, _, _ := d.memberMaps(k)
		if _, ok := d.st.org.orgs[orgID]; !ok && len(ids) == 0 {
			return nil
		}
		if err := d.addMembers(b, orgID, k, ids); err != nil {
			return err
		}
		for id := range members[orgID] {
			if slices.Contains(ids, id) {
				continue
			}
			if k == MemberApp {
				d.delOrgApp(b, orgID, id)
			} else {
				d.delOrgUser(b, orgID, id)
			}
		}
		return nil
	})
}

// RemoveOrganizationMember ends a membership and drops the member's roles in the
// organization (*NotFoundError when it is not a member).
func (d *Directory) RemoveOrganizationMember(ctx context.Context, orgID string, k MemberKind, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		_, _, members, _, _ := d.memberMaps(k)
		if _, ok := members[orgID][id]; !ok {
			return notFound(memberEntity(k), id)
		}
		if k == MemberApp {
			d.delOrgApp(b, orgID, id)
		} else {
			d.delOrgUser(b, orgID, id)
		}
		return nil
	})
}

// IsOrganizationMember reports whether the user (or application) is a member of the
// organization.
func (d *Directory) IsOrganizationMember(orgID string, k MemberKind, id string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, _, members, _, _ := d.memberMaps(k)
	_, ok := members[orgID][id]
	return ok
}

// ---- role assignments ----

// checkAssignable: the role exists (*RelationTargetError) and is of the member's type
// (*OrganizationConstraintError); the batch is made conditional on it.
func (d *Directory) checkAssignable(b *batch, t RoleType, roleID string) error {
	r, ok := d.st.org.roles[roleID]
	if !ok {
		return relTarget(EntityOrganizationRole, roleID)
	}
	if r.Type != t {
		return &OrganizationConstraintError{Entity: EntityOrganizationRole, ID: roleID, Reason: "the role is not of type " + string(t)}
	}
	b.check(kindOrgRole, roleID, r.Version)
	return nil
}

// AssignOrganizationRoles gives every member in memberIDs every role in roleIDs in
// the organization, skipping pairs that exist (Logto's POST
// /organizations/:id/users/roles and /users/:userId/roles). A member that is not one
// is a *RelationTargetError (the role relation's foreign key is the membership), a
// missing role too, a role of the wrong type an *OrganizationConstraintError.
func (d *Directory) AssignOrganizationRoles(ctx context.Context, orgID string, k MemberKind, memberIDs, roleIDs []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	memberIDs, roleIDs = dedupe(memberIDs), dedupe(roleIDs)
	return d.commit(ctx, func(b *batch) error {
		memberKind, roleKind, members, roles, t := d.memberMaps(k)
		for _, roleID := range roleIDs {
			if err := d.checkAssignable(b, t, roleID); err != nil {
				return err
			}
		}
		val := assignmentValue{CreatedAt: d.nowMs()}
		for _, id := range memberIDs {
			ver, ok := members[orgID][id]
			if !ok {
				return relTarget(memberEntity(k), id)
			}
			mk := memberKey(orgID, id)
			b.check(memberKind, mk, ver)
			for _, roleID := range roleIDs {
				if _, has := roles[mk][roleID]; !has {
					b.put(roleKind, memberKey(mk, roleID), 0, val)
				}
			}
		}
		return nil
	})
}

// ReplaceOrganizationRoles sets the member's roles in the organization to roleIDs.
// The member must be one (ErrMembershipRequired).
func (d *Directory) ReplaceOrganizationRoles(ctx context.Context, orgID string, k MemberKind, memberID string, roleIDs []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	roleIDs = dedupe(roleIDs)
	return d.commit(ctx, func(b *batch) error {
		memberKind, roleKind, members, roles, t := d.memberMaps(k)
		ver, ok := members[orgID][memberID]
		if !ok {
			return ErrMembershipRequired
		}
		mk := memberKey(orgID, memberID)
		b.check(memberKind, mk, ver)
		val := assignmentValue{CreatedAt: d.nowMs()}
		for _, roleID := range roleIDs {
			if err := d.checkAssignable(b, t, roleID); err != nil {
				return err
			}
			if _, has := roles[mk][roleID]; !has {
				b.put(roleKind, memberKey(mk, roleID), 0, val)
			}
		}
		for roleID, rv := range roles[mk] {
			if !slices.Contains(roleIDs, roleID) {
				b.del(roleKind, memberKey(mk, roleID), rv)
			}
		}
		return nil
	})
}

// UnassignOrganizationRole takes one role from the member in the organization
// (*NotFoundError when it does not hold it).
func (d *Directory) UnassignOrganizationRole(ctx context.Context, orgID string, k MemberKind, memberID, roleID string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		_, roleKind, _, roles, _ := d.memberMaps(k)
		mk := memberKey(orgID, memberID)
		ver, ok := roles[mk][roleID]
		if !ok {
			entity := EntityOrganizationUserRole
			if k == MemberApp {
				entity = EntityOrganizationAppRole
			}
			return notFound(entity, roleID)
		}
		b.del(roleKind, memberKey(mk, roleID), ver)
		return nil
	})
}

// MemberOrganizationRoles returns the member's roles in the organization, by name.
// A member that is not one is ErrMembershipRequired.
func (d *Directory) MemberOrganizationRoles(orgID string, k MemberKind, memberID string) ([]*OrganizationRole, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, _, members, roles, _ := d.memberMaps(k)
	if _, ok := members[orgID][memberID]; !ok {
		return nil, ErrMembershipRequired
	}
	return d.orgRolesOf(roles[memberKey(orgID, memberID)]), nil
}

// orgRolesOf resolves role ids (those that exist), by name. Callers hold mu.
func (d *Directory) orgRolesOf(ids map[string]uint64) []*OrganizationRole {
	out := make([]*OrganizationRole, 0, len(ids))
	for id := range ids {
		if r, ok := d.st.org.roles[id]; ok {
			out = append(out, r)
		}
	}
	sortOrgRoles(out)
	return out
}

// OrganizationUser is a member user with its roles in the organization.
type OrganizationUser struct {
	User  *User
	Roles []*OrganizationRole // by name
}

// OrganizationUsers returns the organization's users whose id, username, primary
// email, primary phone or name contains search (case-insensitive; "" = all), and
// that hold roleID when it is not "", by user id (Logto's order), with their roles.
func (d *Directory) OrganizationUsers(orgID, search, roleID string) []OrganizationUser {
	search = strings.ToLower(search)
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []OrganizationUser
	for userID := range d.st.org.users[orgID] {
		u, ok := d.st.users[userID]
		if !ok {
			continue
		}
		roles := d.st.org.userRoles[memberKey(orgID, userID)]
		if roleID != "" {
			if _, has := roles[roleID]; !has {
				continue
			}
		}
		if search != "" && !containsFold(u.ID, search) && !containsFold(deref(u.Username), search) &&
			!containsFold(deref(u.PrimaryEmail), search) && !containsFold(deref(u.PrimaryPhone), search) &&
			!containsFold(deref(u.Name), search) {
			continue
		}
		out = append(out, OrganizationUser{User: u, Roles: d.orgRolesOf(roles)})
	}
	slices.SortFunc(out, func(a, b OrganizationUser) int { return strings.Compare(a.User.ID, b.User.ID) })
	return out
}

// OrganizationApp is a member application with its roles in the organization.
type OrganizationApp struct {
	App   *Application
	Roles []*OrganizationRole
}

// OrganizationApps returns the organization's applications whose id, name or
// description contains search ("" = all), oldest first, with their roles.
func (d *Directory) OrganizationApps(orgID, search string) []OrganizationApp {
	search = strings.ToLower(search)
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []OrganizationApp
	for appID := range d.st.org.apps[orgID] {
		a, ok := d.st.apps[appID]
		if !ok {
			continue
		}
		if search != "" && !containsFold(a.ID, search) && !containsFold(a.Name, search) && !containsFold(a.Description, search) {
			continue
		}
		out = append(out, OrganizationApp{App: a, Roles: d.orgRolesOf(d.st.org.appRoles[memberKey(orgID, appID)])})
	}
	sortOldestFirst(out, func(m OrganizationApp) int64 { return m.App.CreatedAt }, func(m OrganizationApp) string { return m.App.ID })
	return out
}

// OrganizationWithRoles is an organization with a member's roles in it.
type OrganizationWithRoles struct {
	Organization *Organization
	Roles        []*OrganizationRole // by name
}

// MemberOrganizations returns the organizations the user (or application) belongs
// to, oldest first, each with the member's roles in it.
func (d *Directory) MemberOrganizations(k MemberKind, memberID string) []OrganizationWithRoles {
	d.mu.RLock()
	defer d.mu.RUnlock()
	orgs, roles := d.st.org.userOrgs[memberID], d.st.org.userRoles
	if k == MemberApp {
		orgs, roles = d.st.org.appOrgs[memberID], d.st.org.appRoles
	}
	out := make([]OrganizationWithRoles, 0, len(orgs))
	for orgID := range orgs {
		if o, ok := d.st.org.orgs[orgID]; ok {
			out = append(out, OrganizationWithRoles{Organization: o, Roles: d.orgRolesOf(roles[memberKey(orgID, memberID)])})
		}
	}
	sortOldestFirst(out, func(m OrganizationWithRoles) int64 { return m.Organization.CreatedAt },
		func(m OrganizationWithRoles) string { return m.Organization.ID })
	return out
}

// OrganizationUserCount returns how many users belong to the organization and up to
// n of them (Logto's featured users), by user id.
func (d *Directory) OrganizationUserCount(orgID string, n int) (int, []*User) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ids := make([]string, 0, len(d.st.org.users[orgID]))
	for id := range d.st.org.users[orgID] {
		if _, ok := d.st.users[id]; ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := make([]*User, 0, min(n, len(ids)))
	for _, id := range ids[:min(n, len(ids))] {
		out = append(out, d.st.users[id])
	}
	return len(ids), out
}
