package directory

import (
	"context"
	"slices"
)

// Valid reports whether t is User or MachineToMachine.
func (t RoleType) Valid() bool { return t == RoleUser || t == RoleMachineToMachine }

// Clone returns a deep copy of r, safe to modify.
func (r *Role) Clone() *Role {
	c := *r
	c.ScopeIDs = cloneStrings(r.ScopeIDs)
	return &c
}

// NewRole is the input of CreateRole.
type NewRole struct {
	Name        string
	Description string
	Type        RoleType // empty means RoleUser, as in Logto
	IsDefault   bool
	ScopeIDs    []string
}

// Role returns the role with id; shared, must not be mutated.
func (d *Directory) Role(id string) (*Role, bool) {
	d.mu.RLock()
	r, ok := d.st.roles[id]
	d.mu.RUnlock()
	return r, ok
}

// RoleByName returns the role called name.
func (d *Directory) RoleByName(name string) (*Role, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	r, ok := d.st.roles[d.st.roleNames[name]]
	return r, ok
}

// Roles returns every role (of type t, or all when t is empty), newest first.
func (d *Directory) Roles(t RoleType) []*Role {
	d.mu.RLock()
	out := make([]*Role, 0, len(d.st.roles))
	for _, r := range d.st.roles {
		if t == "" || r.Type == t {
			out = append(out, r)
		}
	}
	d.mu.RUnlock()
	sortRoles(out)
	return out
}

func sortRoles(rs []*Role) {
	sortByCreated(rs, func(r *Role) int64 { return r.CreatedAt }, func(r *Role) string { return r.ID })
}

func validateRole(r *Role) error {
	if err := validName("name", r.Name); err != nil {
		return err
	}
	if !r.Type.Valid() {
		return invalid("type", "must be User or MachineToMachine")
	}
	if len(r.Description) > maxNameLen*4 {
		return invalid("description", "must be at most %d bytes", maxNameLen*4)
	}
	return nil
}

// checkRoleScopes verifies that every id names an existing scope and that a User role
// gets no Management API scope. Callers hold wmu.
func (d *Directory) checkRoleScopes(t RoleType, ids []string) error {
	for _, id := range ids {
		s, ok := d.st.scopes[id]
		if !ok {
			return notFound(EntityScope, id)
		}
		if t == RoleUser && d.isManagementScope(s) {
			return ErrManagementScopeForUser
		}
	}
	return nil
}

// CreateRole creates a role, optionally with scopes. Names are unique.
func (d *Directory) CreateRole(ctx context.Context, in NewRole) (*Role, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.createRole(ctx, in)
}

func (d *Directory) createRole(ctx context.Context, in NewRole) (*Role, error) {
	var id string
	err := d.commit(ctx, func(b *batch) error {
		r := &Role{
			Name:        in.Name,
			Description: in.Description,
			Type:        in.Type,
			IsDefault:   in.IsDefault,
			ScopeIDs:    dedupe(in.ScopeIDs),
			CreatedAt:   d.nowMs(),
		}
		if r.Type == "" {
			r.Type = RoleUser
		}
		if err := validateRole(r); err != nil {
			return err
		}
		if _, taken := d.st.roleNames[r.Name]; taken {
			return conflict(EntityRole, "name", r.Name)
		}
		if err := d.checkRoleScopes(r.Type, r.ScopeIDs); err != nil {
			return err
		}
		var err error
		if id, err = d.newID(); err != nil {
			return err
		}
		r.ID = id
		if err := d.checkScopesExist(b, r.ScopeIDs); err != nil {
			return err
		}
		b.put(kindRole, id, 0, r)
		b.claim(kindIdxRoleName, r.Name, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.roles, EntityRole, id)
}

// checkScopesExist makes b conditional on the scopes still existing at the versions
// memory holds, so a role never gains a scope another node deleted meanwhile. Callers
// hold wmu and checked that the scopes exist.
func (d *Directory) checkScopesExist(b *batch, ids []string) error {
	for _, id := range ids {
		s, ok := d.st.scopes[id]
		if !ok { // deleted while a replicated write was in flight
			return notFound(EntityScope, id)
		}
		b.check(kindScope, id, s.Version)
	}
	return nil
}

// UpdateRole applies mutate to a copy of the role and stores it. Names stay unique;
// the type is immutable (*InvalidError); id, createdAt and scopes are kept (use
// AddRoleScopes / RemoveRoleScope). mutate runs under the write lock and must not call
// back into the Directory.
func (d *Directory) UpdateRole(ctx context.Context, id string, mutate func(*Role) error) (*Role, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.roles[id]
	if !ok {
		return nil, notFound(EntityRole, id)
	}
	next := old.Clone()
	if err := mutate(next); err != nil {
		return nil, err
	}
	if next.Type != old.Type {
		return nil, invalid("type", "the role type cannot be changed")
	}
	next.ID, next.CreatedAt, next.Version, next.ScopeIDs = old.ID, old.CreatedAt, old.Version, old.ScopeIDs
	if err := validateRole(next); err != nil {
		return nil, err
	}
	err := d.commit(ctx, func(b *batch) error {
		if other, taken := d.st.roleNames[next.Name]; taken && other != id {
			return conflict(EntityRole, "name", next.Name)
		}
		b.put(kindRole, id, old.Version, next)
		b.reindex(kindIdxRoleName, old.Name, next.Name, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.roles, EntityRole, id)
}

// storeRole writes a new version of an existing role (name unchanged), expecting
// r.Version, and returns the published role. Callers hold wmu.
func (d *Directory) storeRole(ctx context.Context, r *Role) (*Role, error) {
	err := d.commit(ctx, func(b *batch) error {
		b.put(kindRole, r.ID, r.Version, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.roles, EntityRole, r.ID)
}

// DeleteRole deletes the role and every assignment of it; not the admin
// application's last Management API role (*AdminAppError).
func (d *Directory) DeleteRole(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	r, ok := d.st.roles[id]
	if !ok {
		return notFound(EntityRole, id)
	}
	if err := d.guardAdminRoleDelete(id); err != nil {
		return err
	}
	return d.commit(ctx, func(b *batch) error {
		for userID := range d.st.roleUsers[id] {
			b.del(kindUserRole, assignmentKey(userID, id), d.st.userRoles[userID][id])
		}
		for appID := range d.st.roleApps[id] {
			b.del(kindAppRole, assignmentKey(appID, id), d.st.appRoles[appID][id])
		}
		b.del(kindRole, id, r.Version)
		b.release(kindIdxRoleName, r.Name)
		return nil
	})
}

// RoleScopes returns the role's scopes (those that still exist), newest first.
func (d *Directory) RoleScopes(roleID string) ([]*Scope, error) {
	d.mu.RLock()
	r, ok := d.st.roles[roleID]
	if !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityRole, roleID)
	}
	out := make([]*Scope, 0, len(r.ScopeIDs))
	for _, id := range r.ScopeIDs {
		if s, ok := d.st.scopes[id]; ok {
			out = append(out, s)
		}
	}
	d.mu.RUnlock()
	sortByCreated(out, func(s *Scope) int64 { return s.CreatedAt }, func(s *Scope) string { return s.ID })
	return out, nil
}

// AddRoleScopes adds scopes to the role. A scope the role already has is a
// *ConflictError (Logto's role.scope_exists); an unknown scope a *NotFoundError.
func (d *Directory) AddRoleScopes(ctx context.Context, roleID string, scopeIDs []string) (*Role, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.roles[roleID]
	if !ok {
		return nil, notFound(EntityRole, roleID)
	}
	for _, id := range scopeIDs {
		if slices.Contains(old.ScopeIDs, id) {
			return nil, conflict(EntityRoleScope, "scopeId", id)
		}
	}
	add := dedupe(scopeIDs)
	if err := d.checkRoleScopes(old.Type, add); err != nil {
		return nil, err
	}
	next := old.Clone()
	next.ScopeIDs = append(next.ScopeIDs, add...)
	err := d.commit(ctx, func(b *batch) error {
		if err := d.checkScopesExist(b, add); err != nil {
			return err
		}
		b.put(kindRole, roleID, old.Version, next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.roles, EntityRole, roleID)
}

// RemoveRoleScope removes one scope from the role; not the Management API scope
// from the admin application's last role carrying it (*AdminAppError).
func (d *Directory) RemoveRoleScope(ctx context.Context, roleID, scopeID string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.roles[roleID]
	if !ok {
		return notFound(EntityRole, roleID)
	}
	if !slices.Contains(old.ScopeIDs, scopeID) {
		return notFound(EntityRoleScope, scopeID)
	}
	if err := d.guardAdminRoleScopeRemove(roleID, scopeID); err != nil {
		return err
	}
	next := old.Clone()
	next.ScopeIDs = slices.DeleteFunc(next.ScopeIDs, func(s string) bool { return s == scopeID })
	_, err := d.storeRole(ctx, next)
	return err
}

// ---- assignments ----

// UserRoles returns the user's roles, newest first.
func (d *Directory) UserRoles(userID string) ([]*Role, error) {
	d.mu.RLock()
	if _, ok := d.st.users[userID]; !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityUser, userID)
	}
	out := d.rolesOf(d.st.userRoles[userID])
	d.mu.RUnlock()
	return out, nil
}

// AppRoles returns the application's roles, newest first.
func (d *Directory) AppRoles(appID string) ([]*Role, error) {
	d.mu.RLock()
	if _, ok := d.st.apps[appID]; !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityApplication, appID)
	}
	out := d.rolesOf(d.st.appRoles[appID])
	d.mu.RUnlock()
	return out, nil
}

func (d *Directory) rolesOf(ids map[string]uint64) []*Role {
	out := make([]*Role, 0, len(ids))
	for id := range ids {
		if r, ok := d.st.roles[id]; ok {
			out = append(out, r)
		}
	}
	sortRoles(out)
	return out
}

// RoleUsers returns the users holding the role, newest first.
func (d *Directory) RoleUsers(roleID string) ([]*User, error) {
	d.mu.RLock()
	if _, ok := d.st.roles[roleID]; !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityRole, roleID)
	}
	out := make([]*User, 0, len(d.st.roleUsers[roleID]))
	for id := range d.st.roleUsers[roleID] {
		if u, ok := d.st.users[id]; ok {
			out = append(out, u)
		}
	}
	d.mu.RUnlock()
	sortByCreated(out, func(u *User) int64 { return u.CreatedAt }, func(u *User) string { return u.ID })
	return out, nil
}

// RoleApplications returns the applications holding the role, newest first.
func (d *Directory) RoleApplications(roleID string) ([]*Application, error) {
	d.mu.RLock()
	if _, ok := d.st.roles[roleID]; !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityRole, roleID)
	}
	out := make([]*Application, 0, len(d.st.roleApps[roleID]))
	for id := range d.st.roleApps[roleID] {
		if a, ok := d.st.apps[id]; ok {
			out = append(out, a)
		}
	}
	d.mu.RUnlock()
	sortByCreated(out, func(a *Application) int64 { return a.CreatedAt }, func(a *Application) string { return a.ID })
	return out, nil
}

// AssignUserRoles gives the user the roles, skipping those it already has (Logto's
// POST /users/:userId/roles), and returns the ids it added. Every role must exist and
// be a User role (*RoleTypeError); nothing is written unless all are valid.
func (d *Directory) AssignUserRoles(ctx context.Context, userID string, roleIDs []string) ([]string, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, ok := d.st.users[userID]; !ok {
		return nil, notFound(EntityUser, userID)
	}
	var add []string
	for _, roleID := range dedupe(roleIDs) {
		if err := d.checkUserRole(userID, roleID); err != nil {
			return nil, err
		}
		if _, has := d.st.userRoles[userID][roleID]; !has {
			add = append(add, roleID)
		}
	}
	if err := d.putUserRoles(ctx, []string{userID}, add); err != nil {
		return nil, err
	}
	return add, nil
}

// AddRoleUsers gives the role to the users (Logto's POST /roles/:id/users): a user
// that already has it is a *ConflictError, and nothing is written unless all are
// valid.
func (d *Directory) AddRoleUsers(ctx context.Context, roleID string, userIDs []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, ok := d.st.roles[roleID]; !ok {
		return notFound(EntityRole, roleID)
	}
	userIDs = dedupe(userIDs)
	for _, userID := range userIDs {
		if _, ok := d.st.users[userID]; !ok {
			return notFound(EntityUser, userID)
		}
		if err := d.checkUserRole(userID, roleID); err != nil {
			return err
		}
		if _, has := d.st.userRoles[userID][roleID]; has {
			return conflict(EntityUserRole, "userId", userID)
		}
	}
	return d.putUserRoles(ctx, userIDs, []string{roleID})
}

// UnassignUserRole takes the role away from the user.
func (d *Directory) UnassignUserRole(ctx context.Context, userID, roleID string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, ok := d.st.users[userID]; !ok {
		return notFound(EntityUser, userID)
	}
	ver, ok := d.st.userRoles[userID][roleID]
	if !ok {
		return notFound(EntityUserRole, roleID)
	}
	return d.commit(ctx, func(b *batch) error {
		b.del(kindUserRole, assignmentKey(userID, roleID), ver)
		return nil
	})
}

// AssignAppRoles is AssignUserRoles for an application: the application must be
// MachineToMachine and the roles MachineToMachine roles (*RoleTypeError).
func (d *Directory) AssignAppRoles(ctx context.Context, appID string, roleIDs []string) ([]string, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.assignAppRoles(ctx, appID, roleIDs)
}

func (d *Directory) assignAppRoles(ctx context.Context, appID string, roleIDs []string) ([]string, error) {
	if _, ok := d.st.apps[appID]; !ok {
		return nil, notFound(EntityApplication, appID)
	}
	var add []string
	for _, roleID := range dedupe(roleIDs) {
		if err := d.checkAppRole(appID, roleID); err != nil {
			return nil, err
		}
		if _, has := d.st.appRoles[appID][roleID]; !has {
			add = append(add, roleID)
		}
	}
	if err := d.putAppRoles(ctx, []string{appID}, add); err != nil {
		return nil, err
	}
	return add, nil
}

// AddRoleApplications is AddRoleUsers for applications.
func (d *Directory) AddRoleApplications(ctx context.Context, roleID string, appIDs []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, ok := d.st.roles[roleID]; !ok {
		return notFound(EntityRole, roleID)
	}
	appIDs = dedupe(appIDs)
	for _, appID := range appIDs {
		if _, ok := d.st.apps[appID]; !ok {
			return notFound(EntityApplication, appID)
		}
		if err := d.checkAppRole(appID, roleID); err != nil {
			return err
		}
		if _, has := d.st.appRoles[appID][roleID]; has {
			return conflict(EntityAppRole, "applicationId", appID)
		}
	}
	return d.putAppRoles(ctx, appIDs, []string{roleID})
}

// UnassignAppRole takes the role away from the application; not the admin
// application's last Management API role (*AdminAppError).
func (d *Directory) UnassignAppRole(ctx context.Context, appID, roleID string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if _, ok := d.st.apps[appID]; !ok {
		return notFound(EntityApplication, appID)
	}
	ver, ok := d.st.appRoles[appID][roleID]
	if !ok {
		return notFound(EntityAppRole, roleID)
	}
	if err := d.guardAdminRoleUnassign(appID, roleID); err != nil {
		return err
	}
	return d.commit(ctx, func(b *batch) error {
		b.del(kindAppRole, assignmentKey(appID, roleID), ver)
		return nil
	})
}

// checkUserRole: the role exists and is a User role. Callers hold wmu.
func (d *Directory) checkUserRole(userID, roleID string) error {
	r, ok := d.st.roles[roleID]
	if !ok {
		return notFound(EntityRole, roleID)
	}
	if r.Type != RoleUser {
		return &RoleTypeError{Subject: EntityUser, SubjectID: userID, RoleID: roleID}
	}
	return nil
}

// checkAppRole: the app is M2M, the role exists and is an M2M role. Callers hold wmu.
func (d *Directory) checkAppRole(appID, roleID string) error {
	if a := d.st.apps[appID]; a != nil && a.Type != AppMachineToMachine {
		return &RoleTypeError{Subject: EntityApplication, SubjectID: appID}
	}
	r, ok := d.st.roles[roleID]
	if !ok {
		return notFound(EntityRole, roleID)
	}
	if r.Type != RoleMachineToMachine {
		return &RoleTypeError{Subject: EntityApplication, SubjectID: appID, RoleID: roleID}
	}
	return nil
}

// putUserRoles writes, in one batch, an assignment of every role to every user,
// conditional on the users and roles still existing at the versions memory holds.
// Callers hold wmu and validated the pairs.
func (d *Directory) putUserRoles(ctx context.Context, userIDs, roleIDs []string) error {
	if len(roleIDs) == 0 {
		return nil
	}
	return d.commit(ctx, func(b *batch) error {
		val := assignmentValue{CreatedAt: d.nowMs()}
		for _, u := range userIDs {
			e, ok := d.st.users[u]
			if !ok { // deleted while a replicated write was in flight
				return notFound(EntityUser, u)
			}
			b.check(kindUser, u, e.Version)
		}
		for _, r := range roleIDs {
			e, ok := d.st.roles[r]
			if !ok { // deleted while a replicated write was in flight
				return notFound(EntityRole, r)
			}
			b.check(kindRole, r, e.Version)
		}
		for _, u := range userIDs {
			for _, r := range roleIDs {
				b.put(kindUserRole, assignmentKey(u, r), 0, val)
			}
		}
		return nil
	})
}

// putAppRoles is putUserRoles for applications.
func (d *Directory) putAppRoles(ctx context.Context, appIDs, roleIDs []string) error {
	if len(roleIDs) == 0 {
		return nil
	}
	return d.commit(ctx, func(b *batch) error {
		val := assignmentValue{CreatedAt: d.nowMs()}
		for _, a := range appIDs {
			e, ok := d.st.apps[a]
			if !ok { // deleted while a replicated write was in flight
				return notFound(EntityApplication, a)
			}
			b.check(kindApp, a, e.Version)
		}
		for _, r := range roleIDs {
			e, ok := d.st.roles[r]
			if !ok { // deleted while a replicated write was in flight
				return notFound(EntityRole, r)
			}
			b.check(kindRole, r, e.Version)
		}
		for _, a := range appIDs {
			for _, r := range roleIDs {
				b.put(kindAppRole, assignmentKey(a, r), 0, val)
			}
		}
		return nil
	})
}

// dedupe returns ids without repeats, in first-seen order, as a new slice.
func dedupe(ids []string) []string {
	out := make([]string, 0, len(ids))
	seen := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// ---- state (callers hold wmu and mu) ----

func (d *Directory) setRole(r *Role) {
	if old := d.st.roles[r.ID]; old != nil && d.st.roleNames[old.Name] == r.ID {
		delete(d.st.roleNames, old.Name)
	}
	d.st.roles[r.ID] = r
	d.st.roleNames[r.Name] = r.ID
	d.invalidateScopes()
}

// deleteRole leaves assignment records alone: DeleteRole erases them first, and
// readers ignore assignments of missing roles.
func (d *Directory) deleteRole(id string) {
	if old := d.st.roles[id]; old != nil && d.st.roleNames[old.Name] == id {
		delete(d.st.roleNames, old.Name)
	}
	delete(d.st.roles, id)
	d.invalidateScopes()
}
