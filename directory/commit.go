package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/latchid/latch/persistence"
)

// Uniqueness index kinds. Each unique value is a record claimed by its owner: key the
// normalized value, value the owner's id. A write that takes a value claims its record
// with expected version 0 in the same batch as the entity, and a write that gives it up
// deletes it there too, so two nodes that both validated against a stale memory
// cannot both take one value: the second batch fails at apply with a version conflict.
const (
	kindIdxUsername  = "idx-user-username"      // username as is
	kindIdxEmail     = "idx-user-email"         // primary email, lower-cased
	kindIdxPhone     = "idx-user-phone"         // primary phone
	kindIdxIndicator = "idx-resource-indicator" // resource indicator
	kindIdxRoleName  = "idx-role-name"          // role name
	kindIdxScopeName = "idx-scope-name"         // resourceID + "/" + scope name
)

// indexOwnerKind maps an index kind to the kind of the entities that own its values.
var indexOwnerKind = map[string]string{
	kindIdxUsername:  kindUser,
	kindIdxEmail:     kindUser,
	kindIdxPhone:     kindUser,
	kindIdxIndicator: kindResource,
	kindIdxRoleName:  kindRole,
	kindIdxScopeName: kindScope,

	kindIdxOrgRoleName: kindOrgRole, kindIdxOrgScopeName: kindOrgScope, kindIdxOrgInvitation: kindOrgInvitation,
}

// maxCommitAttempts bounds how many times commit rebuilds a batch whose uniqueness
// claims lost to another writer.
const maxCommitAttempts = 5

// batch collects the mutations of one directory write. Everything nondeterministic
// (ids, timestamps, secrets, password hashes) is decided while building it; applying
// it is deterministic.
type batch struct {
	muts []persistence.Mutation
	err  error // the first encoding error
}

// put writes v (as JSON) to kind/key at expected version expect (0: must not exist).
func (b *batch) put(kind, key string, expect uint64, v any) {
	raw, err := json.Marshal(v)
	if err != nil {
		if b.err == nil {
			b.err = fmt.Errorf("directory: encoding %s/%s: %w", kind, key, err)
		}
		return
	}
	b.muts = append(b.muts, persistence.Mutation{Kind: kind, Key: key, Expect: expect, Value: raw})
}

// del deletes kind/key at expected version expect.
func (b *batch) del(kind, key string, expect uint64) {
	b.muts = append(b.muts, persistence.Mutation{Kind: kind, Key: key, Expect: expect, Delete: true})
}

// check makes the batch conditional on kind/key being at version (0: absent).
func (b *batch) check(kind, key string, version uint64) {
	b.muts = append(b.muts, persistence.Mutation{Kind: kind, Key: key, Expect: version, Check: true})
}

// claim takes the unique value for owner: the index record must not exist.
func (b *batch) claim(kind, value, owner string) {
	b.muts = append(b.muts, persistence.Mutation{Kind: kind, Key: value, Value: []byte(owner)})
}

// release gives up a unique value. The delete is unconditional: the batch also holds
// the owner's record at its current version, and the owner holding the value is what
// made its claim succeed, so no other writer can hold that index record meanwhile.
func (b *batch) release(kind, value string) {
	b.muts = append(b.muts, persistence.Mutation{Kind: kind, Key: value, Delete: true})
}

// reindex releases old and claims next for owner when the value changes ("" = none).
func (b *batch) reindex(kind, old, next, owner string) {
	if old == next {
		return
	}
	if old != "" {
		b.release(kind, old)
	}
	if next != "" {
		b.claim(kind, next, owner)
	}
}

// commit builds a batch against the current state, applies it to the store atomically
// (through the replicated log once Replicate was called: see write) and publishes the
// applied mutations through applied, the one path by which memory follows the store.
// Callers hold wmu; with a log, commit releases it while the batch is replicated, so
// after commit returns the caller must re-read what it returns from the state rather
// than assume the state it validated against. build may run more than once (after
// the lock was released) and must decide everything afresh each time.
//
// On a store version conflict the records of the batch are reloaded. When an entity
// record the batch expected at some version has moved on (another writer changed it),
// the conflict is returned wrapped, as before: the caller's change was decided on a
// state that no longer holds. When only uniqueness claims lost, the batch is built
// again, so validation sees the winner's value and answers with the usual
// *ConflictError.
func (d *Directory) commit(ctx context.Context, build func(b *batch) error) error {
	for attempt := 1; ; attempt++ {
		var b batch
		if err := build(&b); err != nil {
			return err
		}
		if b.err != nil {
			return b.err
		}
		if !slices.ContainsFunc(b.muts, func(m persistence.Mutation) bool { return !m.Check }) {
			return nil // nothing to write (only checks, or nothing at all)
		}
		err := d.write(ctx, b.muts)
		if err == nil {
			return nil
		}
		if !errors.Is(err, persistence.ErrConflict) {
			return fmt.Errorf("directory: writing %s: %w", describe(b.muts), err)
		}
		if stale := d.refresh(ctx, b.muts); stale || attempt == maxCommitAttempts {
			return fmt.Errorf("directory: writing %s: %w", describe(b.muts), err)
		}
	}
}

// commitSweeping is commit for a batch that creates a fresh record and sweeps expired
// ones beside it: a conflict can then only be a swept record that another node swept
// first (the new record's key is fresh), which the refreshed memory no longer holds,
// so the batch is built again, up to three times.
func (d *Directory) commitSweeping(ctx context.Context, build func(b *batch) error) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if err = d.commit(ctx, build); err == nil || !errors.Is(err, persistence.ErrConflict) {
			return err
		}
	}
	return err
}

// write applies a batch and publishes it: through the replicated log when there is
// one (Replica.Apply publishes it on every node, this one included, before Propose
// returns), else to the local store. It returns persistence.ErrConflict, unwrapped or
// wrapped, when a precondition did not hold. Callers hold wmu; with a log, write
// releases it while the proposal is in flight (Replica.Apply needs it to apply this
// very entry, and reads and other writers' builds must not wait on a quorum) and takes
// it again before it returns, so the caller's state may have moved on meanwhile.
func (d *Directory) write(ctx context.Context, muts []persistence.Mutation) error {
	if d.repl == nil {
		versions, err := d.store.Apply(ctx, muts)
		if err != nil {
			return err
		}
		d.applied(muts, versions)
		return nil
	}
	data, err := encodeBatch(muts)
	if err != nil {
		return err
	}
	l := d.repl
	var res any
	func() {
		d.wmu.Unlock()
		defer d.wmu.Lock() // even if Propose panics: the caller's deferred Unlock follows
		res, err = l.Propose(ctx, data)
	}()
	if err != nil {
		return err // ErrUnavailable (wrapped by the adapter), a context error...
	}
	switch v := res.(type) {
	case []uint64:
		return nil // applied and published by Replica.Apply
	case error:
		return v
	default:
		return fmt.Errorf("directory: the log returned %T for a write", res)
	}
}

// ApplyReplicated applies a batch that a directory write decided, possibly on another
// node (a committed entry of the directory's replicated log), to this node's store and
// memory: all of it, or nothing when a precondition fails (persistence.ErrConflict),
// which it does on every node alike since every node applies the same batches in the
// same order. It returns the versions the store gave the records. Replica.Apply is
// the same step for an encoded log entry, recording the entry's index with it.
func (d *Directory) ApplyReplicated(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	versions, err := d.store.Apply(ctx, muts)
	if err != nil {
		return nil, err
	}
	d.applied(muts, versions)
	return versions, nil
}

// published returns the entity id of m once a write committed it, or a
// *NotFoundError when another write deleted it meanwhile (commit releases wmu while a
// replicated write is in flight). Callers hold wmu.
func published[T any](m map[string]*T, entity, id string) (*T, error) {
	if v, ok := m[id]; ok {
		return v, nil
	}
	return nil, notFound(entity, id)
}

// describe names the first record of a batch, for error messages.
func describe(muts []persistence.Mutation) string {
	s := muts[0].Kind + "/" + muts[0].Key
	if len(muts) > 1 {
		s += fmt.Sprintf(" and %d more", len(muts)-1)
	}
	return s
}

// applied publishes the mutations of a batch the store has applied, with the versions
// it returned: the one function through which writes reach memory (a replica will
// call it for every batch it applies). Callers hold wmu.
func (d *Directory) applied(muts []persistence.Mutation, versions []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, m := range muts {
		switch {
		case m.Check:
		case m.Delete:
			d.remove(m.Kind, m.Key)
		default:
			if err := d.apply(m.Kind, m.Key, persistence.Record{Version: versions[i], Value: m.Value}); err != nil {
				d.log.Error("directory: applied record does not decode", "kind", m.Kind, "key", m.Key, "err", err)
			}
		}
	}
}

// refresh reloads every record a conflicting batch named (for an index record, its
// owner) and reports whether an entity record had moved on from the version the batch
// expected.
func (d *Directory) refresh(ctx context.Context, muts []persistence.Mutation) (stale bool) {
	for _, m := range muts {
		if owner, ok := indexOwnerKind[m.Kind]; ok {
			rec, err := d.store.Get(ctx, m.Kind, m.Key)
			if err == nil && len(rec.Value) > 0 {
				d.reload(ctx, owner, string(rec.Value))
			}
			continue
		}
		cur := d.reload(ctx, m.Kind, m.Key)
		if m.Kind == kindMeta && m.Key == metaAdminApp && d.st.adminApp != "" {
			d.reload(ctx, kindApp, d.st.adminApp) // the admin application it names
		}
		// A create (put at 0) that lost is like a lost claim: the rebuilt batch sees
		// the winner and reports the duplicate. Any other failed expectation means
		// the write was decided on a state that no longer holds.
		if !m.Holds(cur) && !(m.Expect == 0 && !m.Delete) {
			stale = true
		}
	}
	return stale
}

// reload re-reads one record after a version conflict, publishes what the store
// holds, and returns its version (0 when absent; MaxUint64 when the read fails, which
// counts as stale). Callers hold wmu.
func (d *Directory) reload(ctx context.Context, kind, key string) uint64 {
	rec, err := d.store.Get(ctx, kind, key)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		d.publish(func() { d.remove(kind, key) })
		return 0
	case err != nil:
		d.log.Warn("directory: reload after conflict failed", "kind", kind, "key", key, "err", err)
		return ^uint64(0)
	default:
		var aerr error
		d.publish(func() { aerr = d.apply(kind, key, rec) })
		if aerr != nil {
			d.log.Warn("directory: reload after conflict failed", "kind", kind, "key", key, "err", aerr)
		}
		return rec.Version
	}
}

// ---- index records for data written before them ----

// indexClaim is one index record the loaded state implies: value is held by the
// entity ownerKind/owner at ownerVersion.
type indexClaim struct {
	value, owner, ownerKind string
	ownerVersion            uint64
}

// wantIndexes returns every index record the loaded state implies, by index kind.
// Callers own d exclusively.
func (d *Directory) wantIndexes() map[string][]indexClaim {
	want := map[string][]indexClaim{}
	add := func(kind, value, owner string, version uint64) {
		if value != "" {
			want[kind] = append(want[kind], indexClaim{value, owner, indexOwnerKind[kind], version})
		}
	}
	for id, u := range d.st.users {
		add(kindIdxUsername, deref(u.Username), id, u.Version)
		add(kindIdxEmail, strings.ToLower(deref(u.PrimaryEmail)), id, u.Version)
		add(kindIdxPhone, deref(u.PrimaryPhone), id, u.Version)
	}
	for id, r := range d.st.resources {
		add(kindIdxIndicator, r.Indicator, id, r.Version)
	}
	for id, r := range d.st.roles {
		add(kindIdxRoleName, r.Name, id, r.Version)
	}
	for id, s := range d.st.scopes {
		add(kindIdxScopeName, scopeNameKey(s.ResourceID, s.Name), id, s.Version)
	}
	return want
}

// migrateIndexes claims the index records that entities loaded from the store hold
// but the store lacks (data written before index records existed). Each claim is
// conditional on its owner still being at the version loaded, so a writer that
// changed the owner meanwhile (and moved its claims) never leaves a claim behind that
// nobody holds. A value that cannot be claimed is logged and left alone. Callers own
// d exclusively.
func (d *Directory) migrateIndexes(ctx context.Context) error {
	const chunk = 128 // claims per batch; one kind per batch, so owners do not repeat
	for kind, claims := range d.wantIndexes() {
		have := map[string]bool{}
		err := d.store.Scan(ctx, kind, func(key string, _ persistence.Record) error {
			have[key] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("directory: loading %s: %w", kind, err)
		}
		claims = slices.DeleteFunc(claims, func(c indexClaim) bool { return have[c.value] })
		for len(claims) > 0 {
			part := claims[:min(chunk, len(claims))]
			claims = claims[len(part):]
			err := d.claimAll(ctx, kind, part)
			if err == nil {
				continue
			}
			if !errors.Is(err, persistence.ErrConflict) {
				return fmt.Errorf("directory: creating %s records: %w", kind, err)
			}
			for _, c := range part { // one was taken or changed meanwhile: one at a time
				err := d.claimAll(ctx, kind, []indexClaim{c})
				if errors.Is(err, persistence.ErrConflict) {
					d.log.Warn("directory: cannot claim a unique value at load", "kind", kind, "value", c.value, "owner", c.owner)
					continue
				}
				if err != nil {
					return fmt.Errorf("directory: creating %s/%s: %w", kind, c.value, err)
				}
			}
		}
	}
	return nil
}

// claimAll applies the claims in one batch, each conditional on its owner's version.
func (d *Directory) claimAll(ctx context.Context, kind string, claims []indexClaim) error {
	var b batch
	for _, c := range claims {
		b.check(c.ownerKind, c.owner, c.ownerVersion)
		b.claim(kind, c.value, c.owner)
	}
	_, err := d.store.Apply(ctx, b.muts)
	return err
}

func scopeNameKey(resourceID, name string) string { return resourceID + "/" + name }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
