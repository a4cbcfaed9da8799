package persistence

import (
	"context"
	"fmt"
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

// Insert implements Inserter: one write, no read. It takes the key's stripe like Put,
// so it never lands between a conditional writer's check and its write.
func (s *PebbleStore) Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (uint64, error) {
	k, err := recordKey(kind, key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.gate.enter() {
		return 0, ErrClosed
	}
	defer s.gate.leave()
	buf := getEncodeBuffer()
	defer putEncodeBuffer(buf)
	enc := encodeRecord((*buf)[:0], 1, expiresAt, value)
	*buf = enc

	mu := s.stripe(k)
	mu.Lock()
	defer mu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := s.db.Set(k, enc, s.wo); err != nil {
		return 0, fmt.Errorf("persistence: insert %s/%s: %w", kind, key, err)
	}
	return 1, nil
}
