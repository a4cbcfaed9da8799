package persistence

import (
	"context"
	"time"
)

// Inserter is an optional capability of a Store: writing a new record without reading
// its key first. Insert finds it by type assertion.
type Inserter interface {
	// Insert writes value for kind/key at version 1 without checking whether a record
	// exists there. Only for keys the caller made unique (see Insert).
	Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (uint64, error)
}

// Insert stores a new record for kind/key in s and returns its version (1). It is for
// keys that are unique by construction, such as one derived from a fresh 256-bit secret,
// which no record can already hold: a store with Inserter then skips the read that
// Put(expect 0) makes to prove the key absent (for a new key that read has to visit every
// level of an LSM tree, the costliest part of such a write). Should the key exist after
// all, the outcome depends on the store: ErrConflict (Put's answer, the fallback here)
// or the record replaced (Inserter); either way nothing else is touched.
func Insert(ctx context.Context, s Store, kind, key string, value []byte, expiresAt time.Time) (uint64, error) {
	if i, ok := s.(Inserter); ok {
		return i.Insert(ctx, kind, key, value, expiresAt)
	}
	return s.Put(ctx, kind, key, 0, value, expiresAt)
}

var _ Inserter = (*PebbleStore)(nil)

// Insert implements Inserter: one write, no read (PebbleStore.write without check).
func (s *PebbleStore) Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (uint64, error) {
	return s.write(ctx, "insert", kind, key, 0, false, value, expiresAt)
}
