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

// DefaultResource returns the API resource marked isDefault, if any (at most one is).
func (d *Directory) DefaultResource() (*Resource, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, r := range d.st.resources {
		if r.IsDefault {
			return r, true
		}
	}
	return nil, false
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
	var id string
	err := d.commit(ctx, func(b *batch) error {
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
			return err
		}
		if _, taken := d.st.indicators[r.Indicator]; taken {
			return conflict(EntityResource, "indicator", r.Indicator)
		}
		var err error
		if id, err = d.newID(); err != nil {
			return err
		}
		r.ID = id
		b.put(kindResource, id, 0, r)
		b.claim(kindIdxIndicator, r.Indicator, id)
		if r.IsDefault {
			d.clearOtherDefaults(b, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.resources, EntityResource, id)
}

// UpdateResource applies mutate to a copy of the resource and stores it. The
// indicator is immutable (changing it is an *InvalidError); id and createdAt are
// kept. Making a resource the default one clears the flag on the others (Logto keeps
// one default resource). mutate runs under the write lock and must not call back into
// the Directory.
func (d *Directory) UpdateResource(ctx context.Context, id string, mutate func(*Resource) error) (*Resource, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		old, ok := d.st.resources[id]
		if !ok {
			return notFound(EntityResource, id)
		}
		next := *old
		if err := mutate(&next); err != nil {
			return err
		}
		if next.Indicator != old.Indicator {
			return invalid("indicator", "the resource indicator cannot be changed")
		}
		next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version
		if err := validateResource(&next); err != nil {
			return err
		}
		b.put(kindResource, id, old.Version, &next)
		if next.IsDefault && !old.IsDefault {
			d.clearOtherDefaults(b, id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.resources, EntityResource, id)
}

// clearOtherDefaults adds to b the writes that unset IsDefault on every resource but
// except. Callers hold wmu.
func (d *Directory) clearOtherDefaults(b *batch, except string) {
	for id, r := range d.st.resources {
		if id == except || !r.IsDefault {
			continue
		}
		next := *r
		next.IsDefault = false
		b.put(kindResource, id, r.Version, &next)
	}
}

// DeleteResource deletes the API resource, its scopes, and removes those scopes from
// every role. The Management API resource is protected (ErrProtected).
func (d *Directory) DeleteResource(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
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
		// One batch: the roles without the scopes, the scopes, then the resource.
		d.removeScopesFromRoles(b, scopeIDs)
		for sid := range scopeIDs {
			s := d.st.scopes[sid]
			b.del(kindScope, sid, s.Version)
			b.release(kindIdxScopeName, scopeNameKey(s.ResourceID, s.Name))
		}
		b.del(kindResource, id, r.Version)
		b.release(kindIdxIndicator, r.Indicator)
		return nil
	})
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
	var id string
	err := d.commit(ctx, func(b *batch) error {
		res, ok := d.st.resources[resourceID]
		if !ok {
			return notFound(EntityResource, resourceID)
		}
		s := &Scope{ResourceID: resourceID, Name: name, Description: description, CreatedAt: d.nowMs()}
		if err := validateScope(s); err != nil {
			return err
		}
		if d.scopeNameTaken(resourceID, name, "") {
			return conflict(EntityScope, "name", name)
		}
		var err error
		if id, err = d.newID(); err != nil {
			return err
		}
		s.ID = id
		b.check(kindResource, resourceID, res.Version) // the resource still exists
		b.put(kindScope, id, 0, s)
		b.claim(kindIdxScopeName, scopeNameKey(resourceID, name), id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.scopes, EntityScope, id)
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
	err = d.commit(ctx, func(b *batch) error {
		cur, err := d.resourceScope(resourceID, scopeID) // rebuilt after a lost claim
		if err != nil {
			return err
		}
		if d.scopeNameTaken(resourceID, next.Name, scopeID) {
			return conflict(EntityScope, "name", next.Name)
		}
		b.put(kindScope, scopeID, cur.Version, &next)
		b.reindex(kindIdxScopeName, scopeNameKey(resourceID, cur.Name), scopeNameKey(resourceID, next.Name), scopeID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.scopes, EntityScope, scopeID)
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
	return d.commit(ctx, func(b *batch) error {
		s, err := d.resourceScope(resourceID, scopeID)
		if err != nil {
			return err
		}
		d.removeScopesFromRoles(b, map[string]bool{scopeID: true})
		b.del(kindScope, scopeID, s.Version)
		b.release(kindIdxScopeName, scopeNameKey(resourceID, s.Name))
		return nil
	})
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

// removeScopesFromRoles adds to b the writes of every role that holds one of ids,
// without them. Callers hold wmu.
func (d *Directory) removeScopesFromRoles(b *batch, ids map[string]bool) {
	d.cascadeResourceScopes(b, ids)
	for _, role := range d.st.roles {
		if !slices.ContainsFunc(role.ScopeIDs, func(s string) bool { return ids[s] }) {
			continue
		}
		next := role.Clone()
		next.ScopeIDs = slices.DeleteFunc(next.ScopeIDs, func(s string) bool { return ids[s] })
		b.put(kindRole, next.ID, role.Version, next)
	}
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
