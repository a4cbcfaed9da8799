package directory

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
)

// Field limits of Logto's organization tables (varchar(128) names, varchar(256)
// descriptions).
const (
	maxOrgNameLen        = 128
	maxOrgDescriptionLen = 256
	// OrganizationIDLength is the length of generated organization ids (Logto's
	// SchemaRouter idLength for organizations).
	OrganizationIDLength = 12
)

// NewOrganization is the input of CreateOrganization.
type NewOrganization struct {
	Name          string
	Description   *string
	CustomData    json.RawMessage
	IsMfaRequired bool
	Color         json.RawMessage
	Branding      json.RawMessage
	CustomCSS     *string
}

func validateOrgText(name string, description *string) error {
	if name == "" {
		return invalid("name", "must not be empty")
	}
	if len(name) > maxOrgNameLen {
		return invalid("name", "must be at most %d bytes", maxOrgNameLen)
	}
	if description != nil && len(*description) > maxOrgDescriptionLen {
		return invalid("description", "must be at most %d bytes", maxOrgDescriptionLen)
	}
	return nil
}

// Organization returns the organization with id; shared, must not be mutated.
func (d *Directory) Organization(id string) (*Organization, bool) { return orgRecord(d, orgsOf, id) }

// Organizations returns the organizations whose id or name contains search
// (case-insensitive; "" = all), oldest first (Logto lists them in insertion order).
func (d *Directory) Organizations(search string) []*Organization {
	out := searchOrgRecords(d, orgsOf, search, func(o *Organization, q string) bool {
		return containsFold(o.ID, q) || containsFold(o.Name, q)
	})
	sortOldestFirst(out, func(o *Organization) int64 { return o.CreatedAt }, func(o *Organization) string { return o.ID })
	return out
}

// containsFold reports whether s contains lowerSub (already lower-cased),
// case-insensitively: SQL's ilike '%sub%'.
func containsFold(s, lowerSub string) bool { return strings.Contains(strings.ToLower(s), lowerSub) }

func sortOldestFirst[T any](items []T, created func(T) int64, id func(T) string) {
	slices.SortFunc(items, func(a, b T) int {
		if ca, cb := created(a), created(b); ca != cb {
			if ca < cb {
				return -1
			}
			return 1
		}
		return strings.Compare(id(a), id(b))
	})
}

// CreateOrganization creates an organization.
func (d *Directory) CreateOrganization(ctx context.Context, in NewOrganization) (*Organization, error) {
	if err := validateOrgText(in.Name, in.Description); err != nil {
		return nil, err
	}
	return createOrgRecord(ctx, d, orgsOf, EntityOrganization, func(b *batch) (string, error) {
		id, err := randomString(d.rand, OrganizationIDLength, idAlphabet)
		if err != nil {
			return "", err
		}
		b.put(kindOrg, id, 0, &Organization{
			ID: id, Name: in.Name, Description: clonePtr(in.Description), CustomData: cloneRaw(in.CustomData),
			IsMfaRequired: in.IsMfaRequired, Color: cloneRaw(in.Color), Branding: cloneRaw(in.Branding),
			CustomCSS: clonePtr(in.CustomCSS), CreatedAt: d.nowMs(),
		})
		return id, nil
	})
}

// UpdateOrganization applies mutate to a copy of the organization and stores it; id
// and createdAt are kept. mutate runs under the write lock and must not call back
// into the Directory.
func (d *Directory) UpdateOrganization(ctx context.Context, id string, mutate func(*Organization) error) (*Organization, error) {
	return updateOrgRecord(ctx, d, orgsOf, EntityOrganization, id, func(old *Organization) (*Organization, error) {
		next := old.Clone()
		if err := mutate(next); err != nil {
			return nil, err
		}
		next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version
		return next, validateOrgText(next.Name, next.Description)
	}, func(b *batch, old, next *Organization) error {
		b.put(kindOrg, id, old.Version, next)
		return nil
	})
}

// DeleteOrganization deletes the organization with its memberships, role
// assignments, just-in-time settings and invitations, in one batch.
func (d *Directory) DeleteOrganization(ctx context.Context, id string) error {
	return deleteOrgRecord(ctx, d, orgsOf, EntityOrganization, id, func(b *batch, st *orgState, o *Organization) {
		for userID := range st.users[id] {
			d.delOrgUser(b, id, userID)
		}
		for appID := range st.apps[id] {
			d.delOrgApp(b, id, appID)
		}
		if j := st.jit[id]; j != nil {
			b.del(kindOrgJIT, id, j.Version)
		}
		for invID, inv := range st.invitations {
			if inv.OrganizationID == id {
				d.delInvitation(b, invID)
			}
		}
		b.del(kindOrg, id, o.Version)
	})
}

// delOrgUser deletes a user's membership and its role assignments. Callers hold wmu.
func (d *Directory) delOrgUser(b *batch, orgID, userID string) {
	st := &d.st.org
	mk := memberKey(orgID, userID)
	for roleID, ver := range st.userRoles[mk] {
		b.del(kindOrgUserRole, memberKey(mk, roleID), ver)
	}
	b.del(kindOrgUser, mk, st.users[orgID][userID])
}

// delOrgApp is delOrgUser for an application.
func (d *Directory) delOrgApp(b *batch, orgID, appID string) {
	st := &d.st.org
	mk := memberKey(orgID, appID)
	for roleID, ver := range st.appRoles[mk] {
		b.del(kindOrgAppRole, memberKey(mk, roleID), ver)
	}
	b.del(kindOrgApp, mk, st.apps[orgID][appID])
}

// delInvitation deletes an invitation and releases its Pending claim.
func (d *Directory) delInvitation(b *batch, id string) {
	inv := d.st.org.invitations[id]
	if inv.Status == InvitationPending {
		b.release(kindIdxOrgInvitation, pendingKey(inv.OrganizationID, inv.Invitee))
	}
	b.del(kindOrgInvitation, id, inv.Version)
}

// cascadeUserOrganizations adds to b the removal of everything of the organizations
// that references the user: memberships, role assignments, and the invitations it
// sent or accepted (Logto's on delete cascade). DeleteUser calls it in its batch.
// Callers hold wmu.
func (d *Directory) cascadeUserOrganizations(b *batch, userID string) {
	for orgID := range d.st.org.userOrgs[userID] {
		d.delOrgUser(b, orgID, userID)
	}
	for id, inv := range d.st.org.invitations {
		if deref(inv.InviterID) == userID || deref(inv.AcceptedUserID) == userID {
			d.delInvitation(b, id)
		}
	}
}

// cascadeAppOrganizations adds to b the removal of the application's memberships and
// organization role assignments. DeleteApplication calls it in its batch.
func (d *Directory) cascadeAppOrganizations(b *batch, appID string) {
	for orgID := range d.st.org.appOrgs[appID] {
		d.delOrgApp(b, orgID, appID)
	}
}

// cascadeResourceScopes adds to b the removal of the API resource scopes ids from
// every organization role holding one. DeleteScope and DeleteResource call it (through
// removeScopesFromRoles) in their batch.
func (d *Directory) cascadeResourceScopes(b *batch, ids map[string]bool) {
	for _, r := range d.st.org.roles {
		if !slices.ContainsFunc(r.ResourceScopeIDs, func(s string) bool { return ids[s] }) {
			continue
		}
		next := r.Clone()
		next.ResourceScopeIDs = slices.DeleteFunc(next.ResourceScopeIDs, func(s string) bool { return ids[s] })
		b.put(kindOrgRole, r.ID, r.Version, next)
	}
}

// ---- organization scopes ----

// OrganizationScope returns the organization scope with id.
func (d *Directory) OrganizationScope(id string) (*OrganizationScope, bool) {
	return orgRecord(d, scopesOf, id)
}

// OrganizationScopes returns the organization scopes whose name contains search
// (case-insensitive; "" = all), by name (Logto's order).
func (d *Directory) OrganizationScopes(search string) []*OrganizationScope {
	out := searchOrgRecords(d, scopesOf, search, func(s *OrganizationScope, q string) bool { return containsFold(s.Name, q) })
	slices.SortFunc(out, func(a, b *OrganizationScope) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// CreateOrganizationScope creates an organization scope; names are unique
// (*ConflictError).
func (d *Directory) CreateOrganizationScope(ctx context.Context, name string, description *string) (*OrganizationScope, error) {
	if err := validateOrgText(name, description); err != nil {
		return nil, err
	}
	return createOrgRecord(ctx, d, scopesOf, EntityOrganizationScope, func(b *batch) (string, error) {
		if _, taken := d.st.org.scopeNames[name]; taken {
			return "", conflict(EntityOrganizationScope, "name", name)
		}
		id, err := d.newID()
		if err != nil {
			return "", err
		}
		b.put(kindOrgScope, id, 0, &OrganizationScope{ID: id, Name: name, Description: clonePtr(description), CreatedAt: d.nowMs()})
		b.claim(kindIdxOrgScopeName, name, id)
		return id, nil
	})
}

// UpdateOrganizationScope sets the scope's name and description (nil: keep); names
// stay unique.
func (d *Directory) UpdateOrganizationScope(ctx context.Context, id string, name, description *string, clearDescription bool) (*OrganizationScope, error) {
	return updateOrgRecord(ctx, d, scopesOf, EntityOrganizationScope, id, func(old *OrganizationScope) (*OrganizationScope, error) {
		next := *old
		if name != nil {
			next.Name = *name
		}
		if description != nil || clearDescription {
			next.Description = clonePtr(description)
		}
		return &next, validateOrgText(next.Name, next.Description)
	}, func(b *batch, old, next *OrganizationScope) error {
		if other, taken := d.st.org.scopeNames[next.Name]; taken && other != id {
			return conflict(EntityOrganizationScope, "name", next.Name)
		}
		b.put(kindOrgScope, id, old.Version, next)
		b.reindex(kindIdxOrgScopeName, old.Name, next.Name, id)
		return nil
	})
}

// DeleteOrganizationScope deletes the scope and removes it from every organization
// role, in one batch.
func (d *Directory) DeleteOrganizationScope(ctx context.Context, id string) error {
	return deleteOrgRecord(ctx, d, scopesOf, EntityOrganizationScope, id, func(b *batch, st *orgState, s *OrganizationScope) {
		for _, r := range st.roles {
			if slices.Contains(r.ScopeIDs, id) {
				next := r.Clone()
				next.ScopeIDs = slices.DeleteFunc(next.ScopeIDs, func(s string) bool { return s == id })
				b.put(kindOrgRole, r.ID, r.Version, next)
			}
		}
		b.del(kindOrgScope, id, s.Version)
		b.release(kindIdxOrgScopeName, s.Name)
	})
}

// ---- organization roles ----

// NewOrganizationRole is the input of CreateOrganizationRole.
type NewOrganizationRole struct {
	Name             string
	Description      *string
	Type             RoleType // empty means RoleUser, as in Logto
	ScopeIDs         []string // organization scopes
	ResourceScopeIDs []string // API resource scopes
}

// OrganizationRole returns the organization role with id.
func (d *Directory) OrganizationRole(id string) (*OrganizationRole, bool) {
	return orgRecord(d, rolesOf, id)
}

// OrganizationRolesByName returns the roles named in names that exist.
func (d *Directory) OrganizationRolesByName(names []string) []*OrganizationRole {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []*OrganizationRole
	for _, n := range dedupe(names) {
		if r, ok := d.st.org.roles[d.st.org.roleNames[n]]; ok {
			out = append(out, r)
		}
	}
	return out
}

// OrganizationRoles returns the organization roles whose id, name or description
// contains search (case-insensitive; "" = all), by name (Logto's order).
func (d *Directory) OrganizationRoles(search string) []*OrganizationRole {
	out := searchOrgRecords(d, rolesOf, search, func(r *OrganizationRole, q string) bool {
		return containsFold(r.ID, q) || containsFold(r.Name, q) || containsFold(deref(r.Description), q)
	})
	sortOrgRoles(out)
	return out
}

func sortOrgRoles(rs []*OrganizationRole) {
	slices.SortFunc(rs, func(a, b *OrganizationRole) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// checkOrgScopes: every id names an organization scope (*RelationTargetError); the
// batch is made conditional on them. Callers hold wmu.
func (d *Directory) checkOrgScopes(b *batch, ids []string) error {
	return checkRelTargets(d, b, scopesOf, kindOrgScope, EntityOrganizationScope, func(s *OrganizationScope) uint64 { return s.Version }, ids)
}

// checkResourceScopes: every id names an API resource scope.
func (d *Directory) checkResourceScopes(b *batch, ids []string) error {
	return checkRelTargets(d, b, resourceScopesOf, kindScope, EntityScope, func(s *Scope) uint64 { return s.Version }, ids)
}

// CreateOrganizationRole creates a role of the organization template with its
// scopes, in one batch. Names are unique (*ConflictError); unknown scopes are a
// *RelationTargetError.
func (d *Directory) CreateOrganizationRole(ctx context.Context, in NewOrganizationRole) (*OrganizationRole, error) {
	if in.Type == "" {
		in.Type = RoleUser
	}
	if !in.Type.Valid() {
		return nil, invalid("type", "must be User or MachineToMachine")
	}
	if err := validateOrgText(in.Name, in.Description); err != nil {
		return nil, err
	}
	return createOrgRecord(ctx, d, rolesOf, EntityOrganizationRole, func(b *batch) (string, error) {
		if _, taken := d.st.org.roleNames[in.Name]; taken {
			return "", conflict(EntityOrganizationRole, "name", in.Name)
		}
		r := &OrganizationRole{Name: in.Name, Description: clonePtr(in.Description), Type: in.Type,
			ScopeIDs: dedupe(in.ScopeIDs), ResourceScopeIDs: dedupe(in.ResourceScopeIDs), CreatedAt: d.nowMs()}
		if err := d.checkOrgScopes(b, r.ScopeIDs); err != nil {
			return "", err
		}
		if err := d.checkResourceScopes(b, r.ResourceScopeIDs); err != nil {
			return "", err
		}
		id, err := d.newID()
		if err != nil {
			return "", err
		}
		r.ID = id
		b.put(kindOrgRole, id, 0, r)
		b.claim(kindIdxOrgRoleName, r.Name, id)
		return id, nil
	})
}

// UpdateOrganizationRole applies mutate to a copy of the role (name, description,
// type: Logto lets PATCH change the type) and stores it; names stay unique; id,
// createdAt and scopes are kept. mutate must not call back into the Directory.
func (d *Directory) UpdateOrganizationRole(ctx context.Context, id string, mutate func(*OrganizationRole) error) (*OrganizationRole, error) {
	return updateOrgRecord(ctx, d, rolesOf, EntityOrganizationRole, id, func(old *OrganizationRole) (*OrganizationRole, error) {
		next := old.Clone()
		if err := mutate(next); err != nil {
			return nil, err
		}
		next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version
		next.ScopeIDs, next.ResourceScopeIDs = old.ScopeIDs, old.ResourceScopeIDs
		if !next.Type.Valid() {
			return nil, invalid("type", "must be User or MachineToMachine")
		}
		return next, validateOrgText(next.Name, next.Description)
	}, func(b *batch, old, next *OrganizationRole) error {
		if other, taken := d.st.org.roleNames[next.Name]; taken && other != id {
			return conflict(EntityOrganizationRole, "name", next.Name)
		}
		b.put(kindOrgRole, id, old.Version, next)
		b.reindex(kindIdxOrgRoleName, old.Name, next.Name, id)
		return nil
	})
}

// DeleteOrganizationRole deletes the role, its assignments to users and
// applications in every organization, and removes it from just-in-time roles and
// invitations, in one batch.
func (d *Directory) DeleteOrganizationRole(ctx context.Context, id string) error {
	return deleteOrgRecord(ctx, d, rolesOf, EntityOrganizationRole, id, func(b *batch, st *orgState, r *OrganizationRole) {
		for mk := range st.roleUsers[id] {
			b.del(kindOrgUserRole, memberKey(mk, id), st.userRoles[mk][id])
		}
		for mk := range st.roleApps[id] {
			b.del(kindOrgAppRole, memberKey(mk, id), st.appRoles[mk][id])
		}
		for orgID, j := range st.jit {
			if slices.Contains(j.RoleIDs, id) {
				next := j.clone()
				next.RoleIDs = slices.DeleteFunc(next.RoleIDs, func(s string) bool { return s == id })
				d.putJIT(b, orgID, j, next)
			}
		}
		for invID, inv := range st.invitations {
			if slices.Contains(inv.RoleIDs, id) {
				next := inv.clone()
				next.RoleIDs = slices.DeleteFunc(next.RoleIDs, func(s string) bool { return s == id })
				b.put(kindOrgInvitation, invID, inv.Version, next)
			}
		}
		b.del(kindOrgRole, id, r.Version)
		b.release(kindIdxOrgRoleName, r.Name)
	})
}

// OrganizationRoleScopes returns the role's organization scopes, by name.
func (d *Directory) OrganizationRoleScopes(roleID string) ([]*OrganizationScope, error) {
	return roleScopeRecords(d, roleID, OrgScopes, scopesOf, func(s *OrganizationScope) string { return s.Name })
}

// OrganizationRoleResourceScopes returns the role's API resource scopes, by name.
func (d *Directory) OrganizationRoleResourceScopes(roleID string) ([]*Scope, error) {
	return roleScopeRecords(d, roleID, ResourceScopes, resourceScopesOf, func(s *Scope) string { return s.Name })
}

// roleScopeRecords returns the records of table that the role's scope list of set
// names, by name (a scope deleted meanwhile is left out).
func roleScopeRecords[T any](d *Directory, roleID string, set RoleScopeSet, table func(*state) map[string]*T, name func(*T) string) ([]*T, error) {
	d.mu.RLock()
	r, ok := d.st.org.roles[roleID]
	if !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityOrganizationRole, roleID)
	}
	ids, rows := *roleScopeList(r, set), table(&d.st)
	out := make([]*T, 0, len(ids))
	for _, id := range ids {
		if s, ok := rows[id]; ok {
			out = append(out, s)
		}
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b *T) int { return strings.Compare(name(a), name(b)) })
	return out, nil
}

// RoleScopeSet says which scope list of an organization role a change is about.
type RoleScopeSet int

const (
	OrgScopes      RoleScopeSet = iota // organization scopes
	ResourceScopes                     // API resource scopes
)

// AddOrganizationRoleScopes adds scopes to the role, skipping those it has (Logto's
// insert ... on conflict do nothing). A missing role or scope is a
// *RelationTargetError.
func (d *Directory) AddOrganizationRoleScopes(ctx context.Context, roleID string, set RoleScopeSet, ids []string) error {
	return d.changeRoleScopes(ctx, roleID, set, func(cur []string) []string {
		return append(cur, slices.DeleteFunc(dedupe(ids), func(s string) bool { return slices.Contains(cur, s) })...)
	})
}

// ReplaceOrganizationRoleScopes sets the role's scopes of that set to ids.
func (d *Directory) ReplaceOrganizationRoleScopes(ctx context.Context, roleID string, set RoleScopeSet, ids []string) error {
	return d.changeRoleScopes(ctx, roleID, set, func([]string) []string { return dedupe(ids) })
}

// RemoveOrganizationRoleScope removes one scope from the role (*NotFoundError when
// the role does not hold it).
func (d *Directory) RemoveOrganizationRoleScope(ctx context.Context, roleID string, set RoleScopeSet, id string) error {
	d.wmu.Lock()
	held := false
	if r, ok := d.st.org.roles[roleID]; ok {
		held = slices.Contains(*roleScopeList(r, set), id)
	}
	d.wmu.Unlock()
	if !held {
		entity := EntityOrganizationRoleScope
		if set == ResourceScopes {
			entity = EntityOrganizationRoleRScope
		}
		return notFound(entity, id)
	}
	return d.changeRoleScopes(ctx, roleID, set, func(cur []string) []string {
		return slices.DeleteFunc(cur, func(s string) bool { return s == id })
	})
}

// roleScopeList is the role's scope list of set.
func roleScopeList(r *OrganizationRole, set RoleScopeSet) *[]string {
	if set == ResourceScopes {
		return &r.ResourceScopeIDs
	}
	return &r.ScopeIDs
}

// checkOrgRoleScopes: every id names a scope of set (checkOrgScopes, checkResourceScopes).
func (d *Directory) checkOrgRoleScopes(b *batch, set RoleScopeSet, ids []string) error {
	if set == ResourceScopes {
		return d.checkResourceScopes(b, ids)
	}
	return d.checkOrgScopes(b, ids)
}

// changeRoleScopes stores the role with one scope list replaced by change(copy).
func (d *Directory) changeRoleScopes(ctx context.Context, roleID string, set RoleScopeSet, change func([]string) []string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		r, ok := d.st.org.roles[roleID]
		if !ok {
			return relTarget(EntityOrganizationRole, roleID)
		}
		next := r.Clone()
		list, had := roleScopeList(next, set), *roleScopeList(r, set)
		*list = change(*list)
		added := slices.DeleteFunc(cloneStrings(*list), func(s string) bool { return slices.Contains(had, s) })
		if err := d.checkOrgRoleScopes(b, set, added); err != nil {
			return err
		}
		if slices.Equal(next.ScopeIDs, r.ScopeIDs) && slices.Equal(next.ResourceScopeIDs, r.ResourceScopeIDs) {
			return nil
		}
		b.put(kindOrgRole, roleID, r.Version, next)
		return nil
	})
}

// ---- the shapes shared by the organization tables ----

// The tables of state that the shapes below read and write.
func orgsOf(st *state) map[string]*Organization        { return st.org.orgs }
func scopesOf(st *state) map[string]*OrganizationScope { return st.org.scopes }
func rolesOf(st *state) map[string]*OrganizationRole   { return st.org.roles }
func resourceScopesOf(st *state) map[string]*Scope     { return st.scopes }

// orgRecord returns the record stored as id in table; shared, must not be mutated.
func orgRecord[T any](d *Directory, table func(*state) map[string]*T, id string) (*T, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	v, ok := table(&d.st)[id]
	return v, ok
}

// searchOrgRecords returns the records of table that match the lower-cased search
// ("" = all), unordered.
func searchOrgRecords[T any](d *Directory, table func(*state) map[string]*T, search string, match func(v *T, lowerSearch string) bool) []*T {
	search = strings.ToLower(search)
	d.mu.RLock()
	defer d.mu.RUnlock()
	rows := table(&d.st)
	out := make([]*T, 0, len(rows))
	for _, v := range rows {
		if search == "" || match(v, search) {
			out = append(out, v)
		}
	}
	return out
}

// checkRelTargets: every id names a record of table (else a *RelationTargetError of
// entity); the batch is made conditional on their versions. Callers hold wmu.
func checkRelTargets[T any](d *Directory, b *batch, table func(*state) map[string]*T, kind, entity string, version func(*T) uint64, ids []string) error {
	rows := table(&d.st)
	for _, id := range ids {
		v, ok := rows[id]
		if !ok {
			return relTarget(entity, id)
		}
		b.check(kind, id, version(v))
	}
	return nil
}

// createOrgRecord is the shape of the organization creates: under the write lock, put
// adds the new record to one batch and returns its id; the answer is the record as
// published in table. Callers validate the input first.
func createOrgRecord[T any](ctx context.Context, d *Directory, table func(*state) map[string]*T, entity string, put func(b *batch) (string, error)) (*T, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var id string
	err := d.commit(ctx, func(b *batch) error {
		var err error
		id, err = put(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return published(table(&d.st), entity, id)
}

// updateOrgRecord is the shape of the organization updates: under the write lock,
// next builds (and checks) the new record from the one stored as id in table (a
// missing one is a *NotFoundError of entity), put adds it to one batch; the answer is
// the record as published.
func updateOrgRecord[T any](ctx context.Context, d *Directory, table func(*state) map[string]*T, entity, id string,
	next func(old *T) (*T, error), put func(b *batch, old, next *T) error) (*T, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := table(&d.st)[id]
	if !ok {
		return nil, notFound(entity, id)
	}
	n, err := next(old)
	if err != nil {
		return nil, err
	}
	if err := d.commit(ctx, func(b *batch) error { return put(b, old, n) }); err != nil {
		return nil, err
	}
	return published(table(&d.st), entity, id)
}

// deleteOrgRecord is the shape of the organization deletes: under the write lock, del
// adds to one batch the removal of the record stored as id in table (a missing one is
// a *NotFoundError of entity) and of what references it.
func deleteOrgRecord[T any](ctx context.Context, d *Directory, table func(*state) map[string]*T, entity, id string,
	del func(b *batch, st *orgState, old *T)) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		old, ok := table(&d.st)[id]
		if !ok {
			return notFound(entity, id)
		}
		del(b, &d.st.org, old)
		return nil
	})
}
