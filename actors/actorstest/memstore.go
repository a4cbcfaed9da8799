// Package actorstest holds test helpers for grains: an in-memory persistence.Store.
package actorstest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/latchid/latch/persistence"
)

// MemStore is a minimal in-memory persistence.Store for grain tests: one mutex, one
// map, versions as the contract says, TTL against Now. It is safe for concurrent use;
// share one between members to simulate replication.
type MemStore struct {
	// Now is the TTL clock; nil means time.Now. Set it before first use.
	Now func() time.Time

	mu     sync.Mutex
	recs   map[string]map[string]persistence.Record // kind -> key -> record
	closed bool
}

var _ persistence.Store = (*MemStore)(nil)

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{recs: map[string]map[string]persistence.Record{}}
}

func (s *MemStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// live returns kind/key if it exists and has not expired; s.mu must be held.
func (s *MemStore) live(kind, key string) (persistence.Record, bool) {
	rec, ok := s.recs[kind][key]
	if !ok || rec.Expired(s.now()) {
		return persistence.Record{}, false
	}
	return rec, true
}

func (s *MemStore) check(ctx context.Context) error {
	if s.closed {
		return persistence.ErrClosed
	}
	return ctx.Err()
}

// Get implements persistence.Store.
func (s *MemStore) Get(ctx context.Context, kind, key string) (persistence.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return persistence.Record{}, err
	}
	rec, ok := s.live(kind, key)
	if !ok {
		return persistence.Record{}, persistence.ErrNotFound
	}
	rec.Value = slices.Clone(rec.Value)
	return rec, nil
}

// Put implements persistence.Store.
func (s *MemStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	cur, ok := s.live(kind, key)
	if (ok && cur.Version != expect) || (!ok && expect != 0) {
		return 0, persistence.ErrConflict
	}
	if s.recs[kind] == nil {
		s.recs[kind] = map[string]persistence.Record{}
	}
	rec := persistence.Record{Version: expect + 1, ExpiresAt: expiresAt, Value: slices.Clone(value)}
	if rec.Value == nil {
		rec.Value = []byte{}
	}
	s.recs[kind][key] = rec
	return rec.Version, nil
}

// Delete implements persistence.Store.
func (s *MemStore) Delete(ctx context.Context, kind, key string, expect uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return err
	}
	cur, ok := s.live(kind, key)
	if expect != 0 && (!ok || cur.Version != expect) {
		return persistence.ErrConflict
	}
	delete(s.recs[kind], key)
	return nil
}

// Scan implements persistence.Store. fn runs on a snapshot, without the lock held.
func (s *MemStore) Scan(ctx context.Context, kind string, fn func(key string, rec persistence.Record) error) error {
	s.mu.Lock()
	if err := s.check(ctx); err != nil {
		s.mu.Unlock()
		return err
	}
	keys := make([]string, 0, len(s.recs[kind]))
	snap := make(map[string]persistence.Record, len(s.recs[kind]))
	for k := range s.recs[kind] {
		if rec, ok := s.live(kind, k); ok {
			keys = append(keys, k)
			rec.Value = slices.Clone(rec.Value)
			snap[k] = rec
		}
	}
	s.mu.Unlock()
	slices.Sort(keys)
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(k, snap[k]); err != nil {
			return err
		}
	}
	return nil
}

var _ persistence.Counter = (*MemStore)(nil)

// Count implements persistence.Counter.
func (s *MemStore) Count(ctx context.Context, kind string) (persistence.KindCount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return persistence.KindCount{}, err
	}
	c := persistence.KindCount{Stored: len(s.recs[kind])}
	for k := range s.recs[kind] {
		if _, ok := s.live(kind, k); ok {
			c.Live++
		}
	}
	return c, nil
}

// SweepExpired implements persistence.Store.
func (s *MemStore) SweepExpired(ctx context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	n := 0
	now := s.now()
	for _, recs := range s.recs {
		for k, rec := range recs {
			if rec.Expired(now) {
				delete(recs, k)
				n++
			}
		}
	}
	return n, nil
}

// Apply implements persistence.Store: all preconditions are checked, then all
// mutations written, under the one lock.
func (s *MemStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	if err := persistence.ValidateBatch(muts); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	for _, m := range muts {
		cur, _ := s.live(m.Kind, m.Key)
		if !m.Holds(cur.Version) {
			return nil, persistence.ErrConflict
		}
	}
	versions := make([]uint64, len(muts))
	for i, m := range muts {
		switch {
		case m.Check:
		case m.Delete:
			delete(s.recs[m.Kind], m.Key)
		default:
			if s.recs[m.Kind] == nil {
				s.recs[m.Kind] = map[string]persistence.Record{}
			}
			v := slices.Clone(m.Value)
			if v == nil {
				v = []byte{}
			}
			s.recs[m.Kind][m.Key] = persistence.Record{Version: m.Expect + 1, ExpiresAt: m.ExpiresAt, Value: v}
			versions[i] = m.Expect + 1
		}
	}
	return versions, nil
}

// Close implements persistence.Store; later calls return persistence.ErrClosed.
func (s *MemStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return persistence.ErrClosed
	}
	s.closed = true
	return nil
}
