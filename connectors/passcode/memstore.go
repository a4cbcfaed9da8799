package passcode

import (
	"context"
	"sync"
	"time"

	"github.com/latchid/latch/persistence"
)

// MemoryStore is a Store in this process's memory, with persistence.Store's
// conditional-write and expiry rules: the fallback when no store is wired (tests,
// and a Server built without one). Records do not survive a restart and are not
// shared with other nodes.
type MemoryStore struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[[2]string]persistence.Record
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore judging expiry by now.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	return &MemoryStore{now: now, m: map[[2]string]persistence.Record{}}
}

// live returns the live record (callers hold mu).
func (s *MemoryStore) live(kind, key string) (persistence.Record, bool) {
	r, ok := s.m[[2]string{kind, key}]
	if ok && r.Expired(s.now()) {
		delete(s.m, [2]string{kind, key})
		return persistence.Record{}, false
	}
	return r, ok
}

// Get implements Store.
func (s *MemoryStore) Get(_ context.Context, kind, key string) (persistence.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(kind, key)
	if !ok {
		return persistence.Record{}, persistence.ErrNotFound
	}
	r.Value = append([]byte(nil), r.Value...)
	return r, nil
}

// Put implements Store.
func (s *MemoryStore) Put(_ context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, _ := s.live(kind, key)
	if r.Version != expect {
		return 0, persistence.ErrConflict
	}
	if len(s.m) > 1_000_000 { // bounded: sweep what expired
		for k, v := range s.m {
			if v.Expired(s.now()) {
				delete(s.m, k)
			}
		}
	}
	s.m[[2]string{kind, key}] = persistence.Record{Version: expect + 1, ExpiresAt: expiresAt, Value: append([]byte(nil), value...)}
	return expect + 1, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(_ context.Context, kind, key string, expect uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.live(kind, key)
	if expect != 0 && (!ok || r.Version != expect) {
		return persistence.ErrConflict
	}
	delete(s.m, [2]string{kind, key})
	return nil
}

// Range calls fn for every live record (tests and diagnostics).
func (s *MemoryStore) Range(fn func(kind, key string, value []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, r := range s.m {
		if !r.Expired(s.now()) {
			fn(k[0], k[1], r.Value)
		}
	}
}
