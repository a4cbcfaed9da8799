package directory

import (
	"context"
	"slices"
	"strings"
)

// NewResource is the input of CreateResource.
type NewResource struct {
	Name      string
	Indicator string // RFC 8707 resource indicator: an absolute URI without fragment
	// AccessTokenTTL in seconds; 0 means DefaultAccessTokenTTL.
	AccessTokenTTL int
	IsDefault      bool
}

// Resource returns the API resource with id; shared, must not be mutated.
func (d *Directory) Resource(id string) (*Resource, bool) {
	d.mu.RLock()
	r, ok := d.st.resources[id]
	d.mu.RUnlock()
	return r, ok
}

// ResourceByIndicator returns the API resource whose indicator is exactly indicator.
// Hot path: a map lookup under a read lock.
func (d *Directory) ResourceByIndicator(indicator string) (*Resource, bool) {
	d.mu.RLock()
	r, ok := d.st.indicators[indicator]
	d.mu.RUnlock()
	return r, ok
}

// Resources returns every API resource, newest first.
func (d *Directory) Resources() []*Resource {
	d.mu.RLock()
	out := make([]*Resource, 0, len(d.st.resources))
	for _, r := range d.st.resources {
		out = append(out, r)
	}
	d.mu.RUnlock()
	sortByCreated(out, func(r *Resource) int64 { return r.CreatedAt }, func(r *Resource) string { return r.ID })
	return out
}

func validateResource(r *Resource) error {
	if err := validName("name", r.Name); err != nil {
		return err
	}
	if !absoluteURI(r.Indicator) {
		return invalid("indicator", "must be an absolute URI without a fragment")
	}
	if r.AccessTokenTTL <= 0 {
		return invalid("accessTokenTtl", "must be a positive number of seconds")
	}
	return nil
}

// CreateResource creates an API resource. The indicator must be unique.
func (d *Directory) CreateResource(ctx context.Context, in NewResource) (*Resource, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.createResource(ctx, in)
}

func (d *Directory) createResource(ctx context.Context, in NewResource) (*Resource, error) {
	r := &Resource{
		Name:           in.Name,
		Indicator:      in.Indicator,
		IsDefault:      in.IsDefault,
		AccessTokenTTL: in.AccessTokenTTL,
		CreatedAt:      d.nowMs(),
	}
	if r.AccessTokenTTL == 0 {
		r.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if err := validateResource(r); err != nil {
		return nil, err
	}
	if _, taken := d.st.indicators[r.Indicator]; taken {
		return nil, conflict(EntityResource, "indicator", r.Indicator)
	}
	id, err := d.newID()
	if err != nil {
		return nil, err
	}
	r.ID = id
	ver, err := d.persist(ctx, kindResource, id, 0, r)
	if err != nil {
		return nil, err
	}
	r.Version = ver
	d.publish(func() { d.setResource(r) })
	if r.IsDefault {
		if err := d.clearOtherDefaults(ctx, r.ID); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// UpdateResource applies mutate to a copy of the resource and stores it. The
// indicator is immutable (changing it is an *InvalidError); id and createdAt are
// kept. Making a resource the default one clears the flag on the others (Logto keeps
// one default resource). mutate runs under the write lock and must not call back into
// the Directory.
func (d *Directory) UpdateResource(ctx context.Context, id string, mutate func(*Resource) error) (*Resource, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.resources[id]
	if !ok {
		return nil, notFound(EntityResource, id)
	}
	next := *old
	if err := mutate(&next); err != nil {
		return nil, err
	}
	if next.Indicator != old.Indicator {
		return nil, invalid("indicator", "the resource indicator cannot be changed")
	}
	next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version
	if err := validateResource(&next); err != nil {
		return nil, err
	}
	ver, err := d.persist(ctx, kindResource, id, next.Version, &next)
	if err != nil {
		return nil, err
	}
	next.Version = ver
	d.publish(func() { d.setResource(&next) })
	if next.IsDefault && !old.IsDefault {
		if err := d.clearOtherDefaults(ctx, id); err != nil {
			return nil, err
		}
	}
	return &next, nil
}

// clearOtherDefaults unsets IsDefault on every resource but except. Callers hold wmu.
func (d *Directory) clearOtherDefaults(ctx context.Context, except string) error {
	for id, r := range d.st.resources {
		if id == except || !r.IsDefault {
			continue
		}
		next := *r
		next.IsDefault = false
		ver, err := d.persist(ctx, kindResource, id, next.Version, &next)
		if err != nil {
			return err
		}
		next.Version = ver
		d.publish(func() { d.setResource(&next) })
	}
	return nil
}

// DeleteResource deletes the API resource, its scopes, and removes those scopes from
// every role. The Management API resource is protected (ErrProtected).
func (d *Directory) DeleteResource(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	r, ok := d.st.resources[id]
	if !ok {
		return notFound(EntityResource, id)
	}
	if r.Indicator == ManagementAPIIndicator {
		return ErrProtected
	}
	scopeIDs := make(map[string]bool, len(d.st.resourceScopes[id]))
	for sid := range d.st.resourceScopes[id] {
		scopeIDs[sid] = true
	}
	// Roles first: a scope id left in a role after a failure half-way would be
	// ignored anyway, but a role never points at a deleted scope this way.
	if err := d.removeScopesFromRoles(ctx, scopeIDs); err != nil {
		return err
	}
	for sid := range scopeIDs {
		if err := d.erase(ctx, kindScope, sid, d.st.scopes[sid].Version); err != nil {
			return err
		}
		d.publish(func() { d.deleteScope(sid) })
	}
	if err := d.erase(ctx, kindResource, id, r.Version); err != nil {
		return err
	}
	d.publish(func() { d.deleteResource(id) })
	return nil
}

// ---- scopes ----

// Scope returns the scope with id; shared, must not be mutated.
func (d *Directory) Scope(id string) (*Scope, bool) {
	d.mu.RLock()
	s, ok := d.st.scopes[id]
	d.mu.RUnlock()
	return s, ok
}

// ResourceScopes returns the scopes of the resource, newest first.
func (d *Directory) ResourceScopes(resourceID string) ([]*Scope, error) {
	d.mu.RLock()
	if _, ok := d.st.resources[resourceID]; !ok {
		d.mu.RUnlock()
		return nil, notFound(EntityResource, resourceID)
	}
	out := make([]*Scope, 0, len(d.st.resourceScopes[resourceID]))
	for _, s := range d.st.resourceScopes[resourceID] {
		out = append(out, s)
	}
	d.mu.RUnlock()
	sortByCreated(out, func(s *Scope) int64 { return s.CreatedAt }, func(s *Scope) string { return s.ID })
	return out, nil
}

func validateScope(s *Scope) error {
	if err := validName("name", s.Name); err != nil {
		return err
	}
	if strings.ContainsFunc(s.Name, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return invalid("name", "a scope name cannot contain spaces")
	}
	if len(s.Description) > maxNameLen*4 {
		return invalid("description", "must be at most %d bytes", maxNameLen*4)
	}
	return nil
}

// scopeNameTaken reports whether another scope of the resource has name. Callers
// hold wmu.
func (d *Directory) scopeNameTaken(resourceID, name, except string) bool {
	for id, s := range d.st.resourceScopes[resourceID] {
		if id != except && s.Name == name {
			return true
		}
	}
	return false
}

// CreateScope adds a scope to the resource; its name is unique within the resource.
func (d *Directory) CreateScope(ctx context.Context, resourceID, name, description string) (*Scope, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.createScope(ctx, resourceID, name, description)
}

func (d *Directory) createScope(ctx context.Context, resourceID, name, description string) (*Scope, error) {
	if _, ok := d.st.resources[resourceID]; !ok {
		return nil, notFound(EntityResource, resourceID)
	}
	s := &Scope{ResourceID: resourceID, Name: name, Description: description, CreatedAt: d.nowMs()}
	if err := validateScope(s); err != nil {
		return nil, err
	}
	if d.scopeNameTaken(resourceID, name, "") {
		return nil, conflict(EntityScope, "name", name)
	}
	id, err := d.newID()
	if err != nil {
		return nil, err
	}
	s.ID = id
	ver, err := d.persist(ctx, kindScope, id, 0, s)
	if err != nil {
		return nil, err
	}
	s.Version = ver
	d.publish(func() { d.setScope(s) })
	return s, nil
}

// UpdateScope applies mutate to a copy of the scope of resourceID and stores it (name
// unique within the resource; id, resource and createdAt kept). mutate runs under the
// write lock and must not call back into the Directory.
func (d *Directory) UpdateScope(ctx context.Context, resourceID, scopeID string, mutate func(*Scope) error) (*Scope, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, err := d.resourceScope(resourceID, scopeID)
	if err != nil {
		return nil, err
	}
	next := *old
	if err := mutate(&next); err != nil {
		return nil, err
	}
	next.ID, next.ResourceID, next.CreatedAt, next.Version = old.ID, old.ResourceID, old.CreatedAt, old.Version
	if err := validateScope(&next); err != nil {
		return nil, err
	}
	if d.isManagementScope(old) && next.Name != old.Name {
		return nil, ErrProtected
	}
	if d.scopeNameTaken(resourceID, next.Name, scopeID) {
		return nil, conflict(EntityScope, "name", next.Name)
	}
	ver, err := d.persist(ctx, kindScope, scopeID, next.Version, &next)
	if err != nil {
		return nil, err
	}
	next.Version = ver
	d.publish(func() { d.setScope(&next) })
	return &next, nil
}

// DeleteScope removes the scope from every role, then deletes it. Scopes of the
// Management API resource are protected (ErrProtected).
func (d *Directory) DeleteScope(ctx context.Context, resourceID, scopeID string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	s, err := d.resourceScope(resourceID, scopeID)
	if err != nil {
		return err
	}
	if d.isManagementScope(s) {
		return ErrProtected
	}
	if err := d.removeScopesFromRoles(ctx, map[string]bool{scopeID: true}); err != nil {
		return err
	}
	if err := d.erase(ctx, kindScope, scopeID, s.Version); err != nil {
		return err
	}
	d.publish(func() { d.deleteScope(scopeID) })
	return nil
}

// resourceScope finds scopeID under resourceID. Callers hold wmu or mu.
func (d *Directory) resourceScope(resourceID, scopeID string) (*Scope, error) {
	if _, ok := d.st.resources[resourceID]; !ok {
		return nil, notFound(EntityResource, resourceID)
	}
	s, ok := d.st.resourceScopes[resourceID][scopeID]
	if !ok {
		return nil, notFound(EntityScope, scopeID)
	}
	return s, nil
}

func (d *Directory) isManagementScope(s *Scope) bool {
	r := d.st.resources[s.ResourceID]
	return r != nil && r.Indicator == ManagementAPIIndicator
}

// removeScopesFromRoles stores every role that holds one of ids without them.
// Callers hold wmu.
func (d *Directory) removeScopesFromRoles(ctx context.Context, ids map[string]bool) error {
	if len(ids) == 0 {
		return nil
	}
	for _, role := range d.st.roles {
		if !slices.ContainsFunc(role.ScopeIDs, func(s string) bool { return ids[s] }) {
			continue
		}
		next := role.Clone()
		next.ScopeIDs = slices.DeleteFunc(next.ScopeIDs, func(s string) bool { return ids[s] })
		if _, err := d.storeRole(ctx, next); err != nil {
			return err
		}
	}
	return nil
}

// ---- state (callers hold wmu and mu) ----

func (d *Directory) setResource(r *Resource) {
	if old := d.st.resources[r.ID]; old != nil && d.st.indicators[old.Indicator] == old {
		delete(d.st.indicators, old.Indicator)
	}
	d.st.resources[r.ID] = r
	d.st.indicators[r.Indicator] = r
	d.invalidateScopes()
}

func (d *Directory) deleteResource(id string) {
	if old := d.st.resources[id]; old != nil && d.st.indicators[old.Indicator] == old {
		delete(d.st.indicators, old.Indicator)
	}
	delete(d.st.resources, id)
	d.invalidateScopes()
}

func (d *Directory) setScope(s *Scope) {
	if old := d.st.scopes[s.ID]; old != nil && old.ResourceID != s.ResourceID {
		d.deleteScope(s.ID)
	}
	d.st.scopes[s.ID] = s
	m := d.st.resourceScopes[s.ResourceID]
	if m == nil {
		m = map[string]*Scope{}
		d.st.resourceScopes[s.ResourceID] = m
	}
	m[s.ID] = s
	d.invalidateScopes()
}

func (d *Directory) deleteScope(id string) {
	if old := d.st.scopes[id]; old != nil {
		if m := d.st.resourceScopes[old.ResourceID]; m != nil {
			delete(m, id)
			if len(m) == 0 {
				delete(d.st.resourceScopes, old.ResourceID)
			}
		}
	}
	delete(d.st.scopes, id)
	d.invalidateScopes()
}
