// Package persistence is the durable seam under Latch's state: versioned records with
// conditional writes and TTL expiry. Grains and the directory never talk to Pebble
// directly; they use Store, so the cluster can later swap in "local Pebble + the key's
// replicas" with the same contract (DESIGN.md, "The grain contract").
package persistence

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrNotFound is returned when a record is absent or has expired.
var ErrNotFound = errors.New("persistence: record not found")

// ErrConflict is returned by a conditional write whose expected version is not the
// record's current version: another writer won; reload and re-decide.
var ErrConflict = errors.New("persistence: version conflict")

// ErrClosed is returned by every call on a closed store.
var ErrClosed = errors.New("persistence: store closed")

// Record is one entity's whole state: kind/key -> {version, expiresAt, value}.
type Record struct {
	// Version starts at 1 on creation and grows by one on every write.
	Version uint64
	// ExpiresAt is when the record stops existing; the zero time means never.
	ExpiresAt time.Time
	// Value is opaque to the store.
	Value []byte
}

// Expired reports whether the record has expired at now.
func (r Record) Expired(now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !now.Before(r.ExpiresAt)
}

// Store is the storage contract used by grains and the directory. Implementations are
// safe for concurrent use. A write returns only after it is durable at the store's
// configured durability (Sync by default).
type Store interface {
	// Get returns the live record for kind/key, or ErrNotFound when it is absent or
	// expired.
	Get(ctx context.Context, kind, key string) (Record, error)
	// Put writes value for kind/key if the record's current version equals expect
	// (0 means "must not exist": an absent or expired record). It returns the new
	// version (expect+1), or ErrConflict. A zero expiresAt means the record never expires.
	// The store does not keep value after Put returns: callers may reuse its memory.
	Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error)
	// Delete removes kind/key if its current version equals expect, or unconditionally
	// when expect is 0. Deleting an absent record is not an error when expect is 0;
	// with expect > 0 it is ErrConflict.
	Delete(ctx context.Context, kind, key string, expect uint64) error
	// Scan calls fn for every live record of kind in key order. fn must not call back
	// into the store for writes of the same kind. Returning an error from fn stops the
	// scan and is returned.
	Scan(ctx context.Context, kind string, fn func(key string, rec Record) error) error
	// SweepExpired deletes the records that have expired at the store's clock and
	// returns how many it removed.
	SweepExpired(ctx context.Context) (int, error)
	// Apply writes a batch of conditional mutations atomically: when every
	// mutation's precondition holds, all of them are written (durable at the store's
	// durability before Apply returns) and Apply returns one version per mutation (the
	// new version of a put, 0 for a delete or a check); otherwise nothing is written
	// and the error is ErrConflict. Each mutation means what Put, Delete or a version
	// check would mean alone (see Mutation). A batch may not name a kind/key twice;
	// an empty batch is a no-op. The store keeps no reference to muts.
	Apply(ctx context.Context, muts []Mutation) ([]uint64, error)
	// Close flushes and releases the store. Further calls return ErrClosed.
	Close() error
}

// Mutation is one conditional write of a batch given to Store.Apply.
type Mutation struct {
	Kind, Key string
	// Expect is the version the record must have: for a put, as Put's expect (0 =
	// absent or expired); for a delete, as Delete's expect (0 = unconditional); for a
	// check, the exact live version (0 = absent or expired).
	Expect uint64
	// Delete removes the record instead of writing Value.
	Delete bool
	// Check only asserts Expect and writes nothing (a precondition on a record the
	// batch reads but does not change, such as the owner of a new child).
	Check bool
	// Value and ExpiresAt are the record written by a put.
	Value     []byte
	ExpiresAt time.Time
	// Insert writes the put at version 1 without reading the key first (Inserter): only
	// for a key the caller made unique (a fresh random id), which no record can hold.
	// Expect must be 0; an existing record would be replaced.
	Insert bool
}

// ValidateBatch reports a malformed batch: an empty kind or key, a kind with NUL, a
// mutation that is both Delete and Check, or a kind/key named twice. Stores call it
// before looking at any record.
func ValidateBatch(muts []Mutation) error {
	seen := make(map[[2]string]struct{}, len(muts))
	for i, m := range muts {
		if err := validKind(m.Kind); err != nil {
			return fmt.Errorf("persistence: batch mutation %d: %w", i, err)
		}
		if m.Key == "" {
			return fmt.Errorf("persistence: batch mutation %d: empty key", i)
		}
		if m.Delete && m.Check {
			return fmt.Errorf("persistence: batch mutation %d (%s/%s): both Delete and Check", i, m.Kind, m.Key)
		}
		if m.Insert && (m.Delete || m.Check || m.Expect != 0) {
			return fmt.Errorf("persistence: batch mutation %d (%s/%s): an Insert is a put expecting 0", i, m.Kind, m.Key)
		}
		if !m.Delete && !m.Check && m.Expect == math.MaxUint64 {
			return fmt.Errorf("persistence: batch mutation %d (%s/%s): version overflow", i, m.Kind, m.Key)
		}
		k := [2]string{m.Kind, m.Key}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("persistence: batch names %s/%s twice", m.Kind, m.Key)
		}
		seen[k] = struct{}{}
	}
	return nil
}

// Holds reports whether a mutation's precondition holds for a record whose live
// version is cur (0 when absent or expired). Shared by every Store's Apply.
func (m Mutation) Holds(cur uint64) bool {
	if m.Delete && m.Expect == 0 {
		return true
	}
	return cur == m.Expect
}
