package persistence_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/persistence"
	"github.com/latchid/latch/persistence/persistencetest"
)

// conformanceKinds are the kinds persistencetest writes.
var conformanceKinds = []string{"`", "a", "ab", "b", "c", "cas", "code", "counter", "entity", "family", "grant", "grant-at",
	"grants", "index", "interaction", "k", "other", "outbo", "outbox", "outboxes", "ov", "r", "session"}

// hotKinds stand for Latch's sharded kinds in these tests.
var hotKinds = []string{"session", "grant", "grant-at", "refresh", "outbox"}

// replicas is an in-test Raft: every proposal is applied, in one order, by the
// state machine of its shard on each of several replicas, each on its own Pebble store,
// and the first replica's result is the answer (the proposing node's).
type replicas struct {
	mu       sync.Mutex
	stores   []*persistence.PebbleStore
	machines [][]*persistence.ShardMachine // [replica][shard]
	index    []uint64                      // last index per shard
	proposed int
}

// newReplicas opens n replicas of shards shards over kinds; clocks[i] is replica i's
// local clock (reads only: applies use the entries' time).
func newReplicas(t testing.TB, n int, shards uint32, kinds []string, clocks ...func() time.Time) *replicas {
	t.Helper()
	r := &replicas{index: make([]uint64, shards)}
	for i := range n {
		cfg := persistence.PebbleConfig{Dir: "/db", FS: vfs.NewMem()}
		if i < len(clocks) {
			cfg.Now = clocks[i]
		}
		st := openPebble(t, cfg)
		r.stores = append(r.stores, st)
		r.machines = append(r.machines, newMachines(t, st, shards, kinds))
	}
	return r
}

func newMachines(t testing.TB, st *persistence.PebbleStore, shards uint32, kinds []string) []*persistence.ShardMachine {
	t.Helper()
	var ms []*persistence.ShardMachine
	for s := range shards {
		m, err := persistence.NewShardMachine(persistence.ShardMachineConfig{Store: st, Shard: s, Shards: shards, Kinds: kinds})
		if err != nil {
			t.Fatalf("NewShardMachine(%d): %v", s, err)
		}
		ms = append(ms, m)
	}
	return ms
}

func (r *replicas) Propose(ctx context.Context, shard uint32, data []byte) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.proposed++
	r.index[shard]++
	var out any
	for i := range r.machines {
		v := r.machines[i][shard].Apply(r.index[shard], data)
		if i == 0 {
			out = v
		}
	}
	return out, nil
}

// requireIdentical fails unless every replica holds the same records (versions and
// expiries included) and applied index in every shard.
func (r *replicas) requireIdentical(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.machines[0] {
		want, err := r.machines[0][s].Snapshot()
		if err != nil {
			t.Fatalf("replica 0 shard %d: Snapshot: %v", s, err)
		}
		for i := 1; i < len(r.machines); i++ {
			got, err := r.machines[i][s].Snapshot()
			if err != nil {
				t.Fatalf("replica %d shard %d: Snapshot: %v", i, s, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("shard %d: replica %d differs from replica 0", s, i)
			}
		}
	}
}

// view returns a ShardedStore reading replica i's store (its writes would go through
// r, as any node's): the way to read what a replica holds in the shard key layout.
func (r *replicas) view(t testing.TB, i int, shards uint32, kinds []string) *persistence.ShardedStore {
	t.Helper()
	s, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: r.stores[i], Proposer: r, Shards: shards, Kinds: kinds})
	if err != nil {
		t.Fatalf("NewShardedStore: %v", err)
	}
	return s
}

func newSharded(t testing.TB, r *replicas, shards uint32, kinds []string, now func() time.Time) *persistence.ShardedStore {
	t.Helper()
	s, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: r.stores[0], Proposer: r, Shards: shards, Kinds: kinds, Now: now})
	if err != nil {
		t.Fatalf("NewShardedStore: %v", err)
	}
	return s
}

// The conformance suite, on one shard (its batches name unrelated keys) replicated
// three times: the sharded store keeps every promise of the Store contract.
func TestShardedStoreConformance(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		r := newReplicas(t, 3, 1, conformanceKinds, now, now, now)
		t.Cleanup(func() {
			if !t.Failed() {
				r.requireIdentical(t)
			}
		})
		return newSharded(t, r, 1, conformanceKinds, now)
	})
}

func TestShardOf(t *testing.T) {
	const shards = 64
	for _, g := range []string{"AAAAAAAAAAAAAAAAAAAAAA", "q3Zx-_09aZ", "grant-1", ""} {
		want := persistence.ShardOf("grant", g, shards)
		for _, kind := range []string{"grant", "grant-at", "refresh", "session"} {
			for _, key := range []string{g, g + "/hash", g + "/a/b"} {
				if got := persistence.ShardOf(kind, key, shards); got != want {
					t.Errorf("ShardOf(%s, %q) = %d, want %d (the shard of %q)", kind, key, got, want, g)
				}
			}
		}
	}
	// Pinned values (FNV-1a 64 of the routing key, as hash/fnv computes it): the hash is
	// part of the cluster's contract, a change moves every record.
	for _, tc := range []struct {
		key    string
		shards uint32
		want   uint32
	}{
		{"a", 64, 12}, {"a", 7, 5}, {"AAAAAAAAAAAAAAAAAAAAAA", 64, 27}, {"q3Zx-_09aZ/x", 64, 11},
		{"q3Zx-_09aZ", 7, 1}, {"abc", 1, 0}, {"abc", 0, 0},
	} {
		if got := persistence.ShardOf("k", tc.key, tc.shards); got != tc.want {
			t.Errorf("ShardOf(%q, %d) = %d, want %d", tc.key, tc.shards, got, tc.want)
		}
	}
	// Spread: 64k random grain keys fill 64 shards within 20% of even.
	counts := make([]int, shards)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1 << 16 {
		counts[persistence.ShardOf("session", fmt.Sprintf("%016x", rng.Uint64()), shards)]++
	}
	for s, c := range counts {
		if c < 1024*8/10 || c > 1024*12/10 {
			t.Errorf("shard %d holds %d of 65536 keys", s, c)
		}
	}
}

// Every operation gives the same answer on a ShardedStore over 4 shards x 3 replicas as
// on a plain PebbleStore with the same clock, and the replicas stay identical.
func TestShardedStoreMatchesPebble(t *testing.T) {
	clock := persistencetest.NewClock(persistencetest.Epoch)
	const shards = 4
	r := newReplicas(t, 3, shards, hotKinds, clock.Now, clock.Now, clock.Now)
	sharded := newSharded(t, r, shards, hotKinds, clock.Now)
	plain := openPebble(t, persistence.PebbleConfig{Dir: "/p", FS: vfs.NewMem(), Now: clock.Now})
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(7, 7))
	grains := []string{"g1", "g2", "g3", "g4", "g5"}
	key := func() (string, string) {
		g := grains[rng.IntN(len(grains))]
		switch rng.IntN(3) {
		case 0:
			return "grant", g
		case 1:
			return "grant-at", g + "/" + fmt.Sprint(rng.IntN(3))
		}
		return "session", g
	}
	expect := func(kind, k string) uint64 {
		rec, err := plain.Get(ctx, kind, k)
		cur := uint64(0)
		if err == nil {
			cur = rec.Version
		}
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return cur + 1
		}
		return cur
	}
	expiry := func() time.Time {
		if rng.IntN(3) == 0 {
			return time.Time{}
		}
		return clock.Now().Add(time.Duration(rng.IntN(10)) * time.Second)
	}
	for step := range 3000 {
		kind, k := key()
		var what string
		var vp, vs []uint64
		var ep, es error
		switch op := rng.IntN(10); op {
		case 0, 1, 2:
			e, val, exp := expect(kind, k), []byte(fmt.Sprint(step)), expiry()
			what = fmt.Sprintf("Put(%s/%s, %d)", kind, k, e)
			var a, b uint64
			a, ep = plain.Put(ctx, kind, k, e, val, exp)
			b, es = sharded.Put(ctx, kind, k, e, val, exp)
			vp, vs = []uint64{a}, []uint64{b}
		case 3:
			e := expect(kind, k)
			what = fmt.Sprintf("Delete(%s/%s, %d)", kind, k, e)
			ep, es = plain.Delete(ctx, kind, k, e), sharded.Delete(ctx, kind, k, e)
		case 4, 5, 6:
			// A batch over one grain's records (one shard).
			g := grains[rng.IntN(len(grains))]
			var muts []persistence.Mutation
			for _, mk := range [][2]string{{"grant", g}, {"grant-at", g + "/0"}, {"session", g}} {
				if rng.IntN(2) == 0 {
					continue
				}
				m := persistence.Mutation{Kind: mk[0], Key: mk[1], Expect: expect(mk[0], mk[1])}
				switch rng.IntN(4) {
				case 0:
					m.Delete = true
				case 1:
					m.Check = true
				default:
					m.Value, m.ExpiresAt = []byte(fmt.Sprint(step)), expiry()
				}
				muts = append(muts, m)
			}
			what = fmt.Sprintf("Apply(%+v)", muts)
			vp, ep = plain.Apply(ctx, muts)
			vs, es = sharded.Apply(ctx, muts)
		case 7:
			clock.Advance(time.Duration(rng.IntN(3)) * time.Second)
			continue
		case 8:
			what = "SweepExpired"
			var a, b int
			a, ep = plain.SweepExpired(ctx)
			b, es = sharded.SweepExpired(ctx)
			vp, vs = []uint64{uint64(a)}, []uint64{uint64(b)}
		case 9:
			what = fmt.Sprintf("Get(%s/%s)", kind, k)
			a, err1 := plain.Get(ctx, kind, k)
			b, err2 := sharded.Get(ctx, kind, k)
			ep, es = err1, err2
			if a.Version != b.Version || !bytes.Equal(a.Value, b.Value) || !a.ExpiresAt.Equal(b.ExpiresAt) {
				t.Fatalf("step %d %s: plain %+v, sharded %+v", step, what, a, b)
			}
		}
		if !errors.Is(es, ep) && !errors.Is(ep, es) || (ep == nil) != (es == nil) {
			t.Fatalf("step %d %s: plain err %v, sharded err %v", step, what, ep, es)
		}
		if fmt.Sprint(vp) != fmt.Sprint(vs) {
			t.Fatalf("step %d %s: plain %v, sharded %v", step, what, vp, vs)
		}
	}
	r.requireIdentical(t)
}

// Expiry is decided by the entry's time, never by a replica's clock: replicas whose
// clocks are an hour apart agree on what a write finds.
func TestShardExpiryByEntryTime(t *testing.T) {
	leader := persistencetest.NewClock(persistencetest.Epoch)
	ahead := func() time.Time { return leader.Now().Add(time.Hour) }
	behind := func() time.Time { return leader.Now().Add(-time.Hour) }
	r := newReplicas(t, 3, 2, hotKinds, leader.Now, ahead, behind)
	s := newSharded(t, r, 2, hotKinds, leader.Now)
	ctx := t.Context()
	if _, err := s.Put(ctx, "refresh", "f", 0, []byte("a"), leader.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	leader.Advance(30 * time.Second)
	// Live by the entry's time (expired by replica 1's clock): the CAS wins everywhere.
	if v, err := s.Put(ctx, "refresh", "f", 1, []byte("b"), leader.Now().Add(time.Minute)); err != nil || v != 2 {
		t.Fatalf("Put at version 1 = %d, %v; want 2", v, err)
	}
	leader.Advance(2 * time.Minute)
	// Expired by the entry's time (live by replica 2's clock): expect 0 recreates it.
	if v, err := s.Put(ctx, "refresh", "f", 0, []byte("c"), time.Time{}); err != nil || v != 1 {
		t.Fatalf("Put over an expired record = %d, %v; want 1", v, err)
	}
	r.requireIdentical(t)
	for i := range r.stores {
		rec, err := r.view(t, i, 2, hotKinds).Get(ctx, "refresh", "f")
		if err != nil || rec.Version != 1 || string(rec.Value) != "c" {
			t.Fatalf("replica %d: %+v, %v", i, rec, err)
		}
	}
}

// A sweep deletes on every replica what expired by the entry's time.
func TestShardSweepReplicated(t *testing.T) {
	clock := persistencetest.NewClock(persistencetest.Epoch)
	r := newReplicas(t, 3, 4, hotKinds, clock.Now, clock.Now, clock.Now)
	s := newSharded(t, r, 4, hotKinds, clock.Now)
	ctx := t.Context()
	for i := range 300 {
		if _, err := s.Put(ctx, "session", fmt.Sprint(i), 0, []byte("x"), clock.Now().Add(time.Duration(i%2+1)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Minute)
	n, err := s.SweepExpired(ctx)
	if err != nil || n != 150 {
		t.Fatalf("SweepExpired = %d, %v; want 150", n, err)
	}
	r.requireIdentical(t)
	for i := range r.stores {
		c, err := persistence.Count(ctx, r.view(t, i, 4, hotKinds), "session")
		if err != nil || c.Stored != 150 {
			t.Fatalf("replica %d holds %+v, %v; want 150 stored", i, c, err)
		}
	}
	// Leads filters the shards swept.
	clock.Advance(time.Minute)
	only1, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: r.stores[0], Proposer: r, Shards: 4,
		Kinds: hotKinds, Now: clock.Now, Leads: func(s uint32) bool { return s == 1 }})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for i := range 300 {
		if i%2 == 1 && persistence.ShardOf("session", fmt.Sprint(i), 4) == 1 {
			want++
		}
	}
	if n, err := only1.SweepExpired(ctx); err != nil || n != want {
		t.Fatalf("SweepExpired of shard 1 = %d, %v; want %d", n, err, want)
	}
}

func TestShardedStoreRefuses(t *testing.T) {
	r := newReplicas(t, 1, 8, hotKinds)
	s := newSharded(t, r, 8, hotKinds, nil)
	ctx := t.Context()
	// Two grains in different shards.
	a, b := "a", ""
	for i := 0; b == ""; i++ {
		if k := fmt.Sprint("b", i); persistence.ShardOf("grant", k, 8) != persistence.ShardOf("grant", a, 8) {
			b = k
		}
	}
	_, err := s.Apply(ctx, []persistence.Mutation{{Kind: "grant", Key: a}, {Kind: "grant", Key: b}})
	if !errors.Is(err, persistence.ErrCrossShard) {
		t.Fatalf("cross-shard Apply: %v, want ErrCrossShard", err)
	}
	// One grain's records share a shard, whatever their kind.
	if _, err := s.Apply(ctx, []persistence.Mutation{{Kind: "grant", Key: b}, {Kind: "grant-at", Key: b + "/h"}, {Kind: "session", Key: b}}); err != nil {
		t.Fatalf("one grain's batch: %v", err)
	}
	if _, err := s.Put(ctx, "app", "x", 0, nil, time.Time{}); !errors.Is(err, persistence.ErrWrongShard) {
		t.Fatalf("Put of an unsharded kind: %v, want ErrWrongShard", err)
	}
	if r.proposed != 1 {
		t.Fatalf("%d proposals, want 1 (refused batches are never proposed)", r.proposed)
	}
}

// Apply skips replayed entries, refuses foreign records and garbage the same way on
// every node, and persists the applied index even when nothing else is written.
func TestShardMachineApply(t *testing.T) {
	fs := vfs.NewMem()
	st := openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: fs})
	m := newMachines(t, st, 2, hotKinds)
	other := persistence.ShardMachineConfig{Store: st, Shards: 2, Kinds: hotKinds}
	r := &replicas{stores: []*persistence.PebbleStore{st}, machines: [][]*persistence.ShardMachine{m}, index: make([]uint64, 2)}
	s := newSharded(t, r, 2, hotKinds, nil)
	ctx := t.Context()
	key := "k"
	shard := persistence.ShardOf("grant", key, 2)
	if _, err := s.Put(ctx, "grant", key, 0, []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "grant", key, 0, []byte("v"), time.Time{}); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("second create: %v, want ErrConflict", err)
	}
	if got := m[shard].AppliedIndex(); got != 2 {
		t.Fatalf("applied index after a conflict = %d, want 2", got)
	}
	res := m[shard].Apply(2, nil).(persistence.ShardResult)
	if !errors.Is(res.Err, persistence.ErrAppliedBefore) {
		t.Fatalf("replayed entry: %v", res.Err)
	}
	res = m[shard].Apply(3, []byte("garbage")).(persistence.ShardResult)
	if !errors.Is(res.Err, persistence.ErrMalformedShardData) || m[shard].AppliedIndex() != 3 {
		t.Fatalf("garbage: %v, applied %d", res.Err, m[shard].AppliedIndex())
	}
	// An entry proposed to the wrong shard is refused.
	r.index[1-shard] = 0
	_, err := (&wrongShard{r, 1 - shard}).Propose(ctx, "grant", key, s)
	if !errors.Is(err, persistence.ErrWrongShard) {
		t.Fatalf("entry of another shard: %v, want ErrWrongShard", err)
	}
	if rec, err := s.Get(ctx, "grant", key); err != nil || string(rec.Value) != "v" {
		t.Fatalf("record after refusals: %+v, %v", rec, err)
	}
	// The applied index survives a reopen.
	other.Shard = shard
	again, err := persistence.NewShardMachine(other)
	if err != nil || again.AppliedIndex() != 3 {
		t.Fatalf("reopened machine: applied %d, %v; want 3", again.AppliedIndex(), err)
	}
}

// wrongShard proposes a write to a shard that does not hold its key.
type wrongShard struct {
	r     *replicas
	shard uint32
}

func (w *wrongShard) Propose(ctx context.Context, kind, key string, s *persistence.ShardedStore) (uint64, error) {
	// Capture the entry the store would propose, then deliver it to the wrong shard.
	var data []byte
	capture := proposerFunc(func(_ context.Context, _ uint32, d []byte) (any, error) {
		data = d
		return persistence.ShardResult{Versions: []uint64{1}}, nil
	})
	cs, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: w.r.stores[0], Proposer: capture, Shards: 2, Kinds: hotKinds})
	if err != nil {
		return 0, err
	}
	if _, err := cs.Put(ctx, kind, key, 1, []byte("w"), time.Time{}); err != nil {
		return 0, err
	}
	w.r.index[w.shard]++
	res := w.r.machines[0][w.shard].Apply(w.r.index[w.shard], data).(persistence.ShardResult)
	if res.Err != nil {
		return 0, res.Err
	}
	return res.Versions[0], nil
}

type proposerFunc func(ctx context.Context, shard uint32, data []byte) (any, error)

func (f proposerFunc) Propose(ctx context.Context, shard uint32, data []byte) (any, error) {
	return f(ctx, shard, data)
}

// A snapshot restored on another node replaces exactly the shard's records there:
// other shards and the directory's kinds are untouched, and the restored shard
// snapshots to the same bytes.
func TestShardSnapshotRestore(t *testing.T) {
	clock := persistencetest.NewClock(persistencetest.Epoch)
	const shards = 4
	r := newReplicas(t, 1, shards, hotKinds, clock.Now)
	s := newSharded(t, r, shards, hotKinds, clock.Now)
	ctx := t.Context()
	for i := range 200 {
		g := fmt.Sprint("g", i)
		if _, err := s.Apply(ctx, []persistence.Mutation{
			{Kind: "grant", Key: g, Value: []byte(g), ExpiresAt: clock.Now().Add(time.Duration(i%3) * time.Second)},
			{Kind: "grant-at", Key: g + "/h", Value: []byte("t")},
		}); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(time.Second) // a third expired, not swept: snapshots carry them too
	const shard = 2
	snap, err := r.machines[0][shard].Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	// The target: its own records of every shard, and directory records.
	target := newReplicas(t, 1, shards, hotKinds, clock.Now)
	ts := newSharded(t, target, shards, hotKinds, clock.Now)
	for i := range 100 {
		if _, err := ts.Put(ctx, "session", fmt.Sprint("s", i), 0, []byte("old"), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := target.stores[0].Put(ctx, "app", "a1", 0, []byte("dir"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	before := make([][]byte, shards)
	for sh := range shards {
		before[sh], _ = target.machines[0][sh].Snapshot()
	}
	if err := target.machines[0][shard].Restore([]byte("not a snapshot")); err == nil {
		t.Fatal("Restore of garbage succeeded")
	}
	if err := target.machines[0][(shard+1)%shards].Restore(snap); err == nil {
		t.Fatal("Restore of another shard's snapshot succeeded")
	}
	if got, _ := target.machines[0][shard].Snapshot(); !bytes.Equal(got, before[shard]) {
		t.Fatal("a refused restore changed the shard")
	}
	if err := target.machines[0][shard].Restore(snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	for sh := range shards {
		got, err := target.machines[0][sh].Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		want := before[sh]
		if sh == shard {
			want = snap
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("shard %d after restoring shard %d: not as expected", sh, shard)
		}
	}
	if rec, err := target.stores[0].Get(ctx, "app", "a1"); err != nil || string(rec.Value) != "dir" {
		t.Fatalf("directory record after restore: %+v, %v", rec, err)
	}
	if got, want := target.machines[0][shard].AppliedIndex(), r.machines[0][shard].AppliedIndex(); got != want || got == 0 {
		t.Fatalf("applied index after restore = %d, want %d", got, want)
	}
	// The restored replica goes on applying the shard's log where the snapshot ended.
	for sh := range shards {
		target.index[sh] = r.index[sh]
	}
	var g string
	for i := 0; g == ""; i++ {
		if k := fmt.Sprint("g", i); persistence.ShardOf("grant", k, shards) == shard && i%3 == 2 {
			g = k
		}
	}
	rec, err := ts.Get(ctx, "grant", g)
	if err != nil {
		t.Fatalf("restored record %s: %v", g, err)
	}
	if v, err := ts.Put(ctx, "grant", g, rec.Version, []byte("next"), time.Time{}); err != nil || v != rec.Version+1 {
		t.Fatalf("Put after restore = %d, %v", v, err)
	}
}
