package directory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/latchid/latch/persistence"
)

// memStore is an in-memory persistence.Store honouring versions: Put with a stale
// expected version is ErrConflict, Delete likewise. No TTL clock (the directory never
// sets one).
type memStore struct {
	mu     sync.Mutex
	recs   map[string]map[string]persistence.Record
	closed bool
}

var _ persistence.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{recs: map[string]map[string]persistence.Record{}} }

func (m *memStore) Get(_ context.Context, kind, key string) (persistence.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return persistence.Record{}, persistence.ErrClosed
	}
	r, ok := m.recs[kind][key]
	if !ok {
		return persistence.Record{}, persistence.ErrNotFound
	}
	r.Value = slices.Clone(r.Value)
	return r, nil
}

func (m *memStore) Put(_ context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, persistence.ErrClosed
	}
	cur := m.recs[kind][key].Version // 0 when absent
	if cur != expect {
		return 0, persistence.ErrConflict
	}
	if m.recs[kind] == nil {
		m.recs[kind] = map[string]persistence.Record{}
	}
	m.recs[kind][key] = persistence.Record{Version: cur + 1, ExpiresAt: expiresAt, Value: slices.Clone(value)}
	return cur + 1, nil
}

func (m *memStore) Delete(_ context.Context, kind, key string, expect uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return persistence.ErrClosed
	}
	r, ok := m.recs[kind][key]
	if expect != 0 && (!ok || r.Version != expect) {
		return persistence.ErrConflict
	}
	delete(m.recs[kind], key)
	return nil
}

func (m *memStore) Scan(_ context.Context, kind string, fn func(string, persistence.Record) error) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return persistence.ErrClosed
	}
	keys := make([]string, 0, len(m.recs[kind]))
	for k := range m.recs[kind] {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	recs := make([]persistence.Record, len(keys))
	for i, k := range keys {
		recs[i] = m.recs[kind][k]
		recs[i].Value = slices.Clone(recs[i].Value)
	}
	m.mu.Unlock()
	for i, k := range keys {
		if err := fn(k, recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (m *memStore) Apply(_ context.Context, muts []persistence.Mutation) ([]uint64, error) {
	if err := persistence.ValidateBatch(muts); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, persistence.ErrClosed
	}
	for _, mu := range muts {
		if !mu.Holds(m.recs[mu.Kind][mu.Key].Version) {
			return nil, persistence.ErrConflict
		}
	}
	versions := make([]uint64, len(muts))
	for i, mu := range muts {
		switch {
		case mu.Check:
		case mu.Delete:
			delete(m.recs[mu.Kind], mu.Key)
		default:
			if m.recs[mu.Kind] == nil {
				m.recs[mu.Kind] = map[string]persistence.Record{}
			}
			m.recs[mu.Kind][mu.Key] = persistence.Record{Version: mu.Expect + 1, ExpiresAt: mu.ExpiresAt, Value: slices.Clone(mu.Value)}
			versions[i] = mu.Expect + 1
		}
	}
	return versions, nil
}

var _ persistence.KindReplacer = (*memStore)(nil)

func (m *memStore) ReplaceKinds(_ context.Context, kinds []string, recs []persistence.KindRecord) error {
	if err := persistence.ValidateReplace(kinds, recs); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return persistence.ErrClosed
	}
	for _, k := range kinds {
		delete(m.recs, k)
	}
	for _, r := range recs {
		if m.recs[r.Kind] == nil {
			m.recs[r.Kind] = map[string]persistence.Record{}
		}
		r.Value = slices.Clone(r.Value)
		m.recs[r.Kind][r.Key] = r.Record
	}
	return nil
}

func (m *memStore) SweepExpired(context.Context) (int, error) { return 0, nil }

func (m *memStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// count returns how many records of kind exist.
func (m *memStore) count(kind string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs[kind])
}

// failingStore embeds a Store and fails every write while fail is set.
type failingStore struct {
	persistence.Store
	mu   sync.Mutex
	fail bool
}

var errInjected = errors.New("injected store failure")

func (f *failingStore) setFail(v bool) {
	f.mu.Lock()
	f.fail = v
	f.mu.Unlock()
}

func (f *failingStore) failing() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail
}

func (f *failingStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, exp time.Time) (uint64, error) {
	if f.failing() {
		return 0, errInjected
	}
	return f.Store.Put(ctx, kind, key, expect, value, exp)
}

func (f *failingStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	if f.failing() {
		return nil, errInjected
	}
	return f.Store.Apply(ctx, muts)
}

func (f *failingStore) Delete(ctx context.Context, kind, key string, expect uint64) error {
	if f.failing() {
		return errInjected
	}
	return f.Store.Delete(ctx, kind, key, expect)
}
