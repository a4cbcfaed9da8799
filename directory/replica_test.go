package directory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/persistence"
)

// testLog is a replicated log without Raft: each proposal gets the next index and is
// applied, under one lock, to every replica in the same order; the proposer gets what
// its own replica returned. With hold set, a proposal first announces itself on
// arrived and waits for a token on release, so a test can have several writers
// decide their batches before any is applied.
type testLog struct {
	mu       sync.Mutex
	index    uint64
	replicas []*Replica

	hold    bool
	arrived chan struct{}
	release chan struct{}
}

func newTestLog(hold bool) *testLog {
	return &testLog{hold: hold, arrived: make(chan struct{}, 16), release: make(chan struct{}, 16)}
}

// member is one node's handle on the log.
type member struct {
	l    *testLog
	self *Replica
}

func (m member) Propose(ctx context.Context, data []byte) (any, error) {
	l := m.l
	if l.hold {
		l.arrived <- struct{}{}
		select {
		case <-l.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.index++
	var mine any
	for _, r := range l.replicas {
		v := r.Apply(l.index, data)
		if r == m.self {
			mine = v
		}
	}
	return mine, nil
}

// join adds d to the log: it applies every later entry, and its writes go through it.
func (l *testLog) join(d *Directory) {
	r := d.Replica()
	l.mu.Lock()
	l.replicas = append(l.replicas, r)
	l.mu.Unlock()
	d.Replicate(member{l: l, self: r})
}

// waitArrived waits for n proposals to reach the log; a writer that never gets there
// is stuck on a lock.
func (l *testLog) waitArrived(t *testing.T, n int, what string) {
	t.Helper()
	for range n {
		select {
		case <-l.arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never reached the log: blocked", what)
		}
	}
}

// pebbleNode is one node's Pebble store on an in-memory filesystem.
type pebbleNode struct {
	fs    vfs.FS
	store *persistence.PebbleStore
}

func openPebbleNode(t *testing.T, fs vfs.FS) *pebbleNode {
	t.Helper()
	s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: fs})
	if err != nil {
		t.Fatalf("OpenPebble: %v", err)
	}
	n := &pebbleNode{fs: fs, store: s}
	t.Cleanup(func() { _ = n.store.Close() })
	return n
}

// cluster opens n directories, each on its own Pebble store, all on one testLog.
func cluster(t *testing.T, n int, hold bool) (*testLog, []*Directory, []*pebbleNode) {
	t.Helper()
	l := newTestLog(hold)
	var dirs []*Directory
	var nodes []*pebbleNode
	for range n {
		node := openPebbleNode(t, vfs.NewMem())
		d, _ := openTest(t, node.store)
		l.join(d)
		dirs = append(dirs, d)
		nodes = append(nodes, node)
	}
	return l, dirs, nodes
}

// storeDump renders every directory record of a store, versions included (but for the
// applied-index record's).
func storeDump(t *testing.T, s persistence.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, kind := range directoryKinds {
		err := s.Scan(t.Context(), kind, func(key string, rec persistence.Record) error {
			if kind == kindMeta && key == metaRaftApplied {
				// Node-local bookkeeping: its value is compared, not its version.
				out[kind+"/"+key] = fmt.Sprintf("%x", rec.Value)
				return nil
			}
			out[kind+"/"+key] = fmt.Sprintf("v%d %s", rec.Version, rec.Value)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sameEverywhere(t *testing.T, dirs []*Directory, nodes []*pebbleNode) {
	t.Helper()
	want, wantStore := snapshot(t, dirs[0]), storeDump(t, nodes[0].store)
	for i := 1; i < len(dirs); i++ {
		if got := snapshot(t, dirs[i]); got != want {
			t.Fatalf("node %d memory differs:\n got %s\nwant %s", i, got, want)
		}
		if got := storeDump(t, nodes[i].store); !maps.Equal(got, wantStore) {
			t.Fatalf("node %d store differs:\n got %v\nwant %v", i, got, wantStore)
		}
		if dirs[i].AppliedIndex() != dirs[0].AppliedIndex() {
			t.Fatalf("node %d applied index %d, node 0 %d", i, dirs[i].AppliedIndex(), dirs[0].AppliedIndex())
		}
	}
}

// A write through any node is applied by every node: same memory, same store records
// at the same versions, same applied index.
func TestReplicatedWritesVisibleOnEveryNode(t *testing.T) {
	ctx := t.Context()
	_, dirs, nodes := cluster(t, 3, false)
	want := populate(t, dirs[0])
	userID := splitLast(want, 6)[4]
	sameEverywhere(t, dirs, nodes)

	u, err := dirs[1].UpdateUser(ctx, userID, func(u *User) error { u.Username = ptr("franz"); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if u.Version != 2 {
		t.Fatalf("updated user version %d, want 2", u.Version)
	}
	if _, err := dirs[2].CreateUser(ctx, NewUser{Username: ptr("frank")}); err != nil {
		t.Fatalf("frank was released by the rename on node 1: %v", err)
	}
	if err := dirs[2].DeleteResource(ctx, splitLast(want, 6)[5]); err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		if _, ok := d.UserByUsername("franz"); !ok {
			t.Fatalf("node %d does not see the rename", i)
		}
		if !d.Ready() {
			t.Fatalf("node %d not ready after bootstrap and a Current key", i)
		}
	}
	sameEverywhere(t, dirs, nodes)
	if dirs[0].AppliedIndex() == 0 {
		t.Fatal("applied index not recorded")
	}
}

// Two nodes that both decided to take one username before either write was applied:
// the log orders them, the second fails on every node, and its writer answers with
// the usual *ConflictError after reloading the winner.
func TestReplicatedUniquenessConflict(t *testing.T) {
	for _, tc := range []struct {
		name          string
		write         func(d *Directory) error
		entity, field string
	}{
		{"username", func(d *Directory) error {
			_, err := d.CreateUser(context.Background(), NewUser{Username: ptr("ann")})
			return err
		}, EntityUser, "username"},
		{"resource indicator", func(d *Directory) error {
			_, err := d.CreateResource(context.Background(), NewResource{Name: "api", Indicator: "https://api.example"})
			return err
		}, EntityResource, "indicator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, dirs, nodes := cluster(t, 3, true)
			var errs [2]error
			var wg sync.WaitGroup
			for i, d := range dirs[:2] {
				wg.Go(func() { errs[i] = tc.write(d) })
				l.waitArrived(t, 1, fmt.Sprintf("node %d's write", i))
			}
			// Both batches are decided; apply them (the loser's rebuilt batch is not
			// proposed again: validation refuses it).
			l.release <- struct{}{}
			l.release <- struct{}{}
			wg.Wait()
			oneWinner(t, errs, tc.entity, tc.field)
			sameEverywhere(t, dirs, nodes)
		})
	}
}

// A Snapshot of one node Restored on a fresh node gives the same memory, the same
// directory records at the same versions and the same applied index; the store's
// other kinds are left alone, and stale directory records are gone. The restored node
// then follows the log like the others, and a reopened store keeps all of it.
func TestReplicaSnapshotRestore(t *testing.T) {
	ctx := t.Context()
	l, dirs, nodes := cluster(t, 3, false)
	populate(t, dirs[0])
	if _, err := dirs[1].CreateUser(ctx, NewUser{Username: ptr("bob"), PrimaryEmail: ptr("b@example.com")}); err != nil {
		t.Fatal(err)
	}
	snap, err := dirs[2].Replica().Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	fs := vfs.NewMem()
	fourth := openPebbleNode(t, fs)
	if _, err := fourth.store.Put(ctx, "session", "s1", 0, []byte("not the directory's"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	d4, _ := openTest(t, fourth.store)
	ghost, err := d4.CreateUser(ctx, NewUser{Username: ptr("bob")}) // a stale local record
	if err != nil {
		t.Fatal(err)
	}
	if err := d4.Replica().Restore(snap); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if _, ok := d4.User(ghost.ID); ok {
		t.Fatal("a record the snapshot does not hold survived in memory")
	}
	if rec, err := fourth.store.Get(ctx, "session", "s1"); err != nil || string(rec.Value) != "not the directory's" {
		t.Fatalf("Restore touched another kind: %+v, %v", rec, err)
	}
	all := []*Directory{dirs[0], dirs[1], dirs[2], d4}
	allNodes := []*pebbleNode{nodes[0], nodes[1], nodes[2], fourth}
	sameEverywhere(t, all, allNodes)

	// The restored node follows later entries; its writes go through the log too.
	l.join(d4)
	if _, err := d4.CreateUser(ctx, NewUser{Username: ptr("carol")}); err != nil {
		t.Fatal(err)
	}
	if _, err := dirs[0].UpdateUser(ctx, mustUserID(t, dirs[0], "bob"), func(u *User) error { u.Name = ptr("Bob"); return nil }); err != nil {
		t.Fatal(err)
	}
	sameEverywhere(t, all, allNodes)

	// Reopening the fourth store gives the same directory and applied index.
	wantSnap, wantIndex := snapshot(t, d4), d4.AppliedIndex()
	if err := fourth.store.Close(); err != nil {
		t.Fatal(err)
	}
	fourth.store = openPebbleNode(t, fs).store
	d4b, _ := openTest(t, fourth.store)
	if got := snapshot(t, d4b); got != wantSnap {
		t.Fatalf("after reopen:\n got %s\nwant %s", got, wantSnap)
	}
	if d4b.AppliedIndex() != wantIndex {
		t.Fatalf("applied index after reopen %d, want %d", d4b.AppliedIndex(), wantIndex)
	}
}

func mustUserID(t *testing.T, d *Directory, username string) string {
	t.Helper()
	u, ok := d.UserByUsername(username)
	if !ok {
		t.Fatalf("no user %q", username)
	}
	return u.ID
}

// The applied index is persisted with each entry and survives reopening the store; an
// entry at or below it (a restart replaying the log) is skipped.
func TestAppliedIndexSurvivesReopen(t *testing.T) {
	ctx := t.Context()
	fs := vfs.NewMem()
	node := openPebbleNode(t, fs)
	d, _ := openTest(t, node.store)
	if d.AppliedIndex() != 0 {
		t.Fatalf("fresh applied index %d", d.AppliedIndex())
	}
	l := newTestLog(false)
	l.join(d)
	if _, err := d.CreateUser(ctx, NewUser{Username: ptr("ann")}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateUser(ctx, NewUser{Username: ptr("ben")}); err != nil {
		t.Fatal(err)
	}
	// A batch whose precondition fails still advances the index.
	data, err := encodeBatch([]persistence.Mutation{{Kind: kindUser, Key: "nobody", Expect: 7, Value: []byte(`{}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if v := d.Replica().Apply(3, data); !isErr(v, persistence.ErrConflict) {
		t.Fatalf("Apply of a stale batch = %v, want persistence.ErrConflict", v)
	}
	// So does one that does not decode.
	if v := d.Replica().Apply(4, []byte("garbage")); !isErr(v, errMalformed) {
		t.Fatalf("Apply of garbage = %v, want errMalformed", v)
	}
	if d.AppliedIndex() != 4 {
		t.Fatalf("applied index %d, want 4", d.AppliedIndex())
	}
	want := snapshot(t, d)
	if err := node.store.Close(); err != nil {
		t.Fatal(err)
	}
	node.store = openPebbleNode(t, fs).store
	d2, _ := openTest(t, node.store)
	if d2.AppliedIndex() != 4 {
		t.Fatalf("applied index after reopen %d, want 4", d2.AppliedIndex())
	}
	if got := snapshot(t, d2); got != want {
		t.Fatalf("after reopen:\n got %s\nwant %s", got, want)
	}
	// Replaying entry 2 (ben) changes nothing.
	ben, _ := d2.UserByUsername("ben")
	del, err := encodeBatch([]persistence.Mutation{{Kind: kindUser, Key: ben.ID, Expect: ben.Version, Delete: true}})
	if err != nil {
		t.Fatal(err)
	}
	if v := d2.Replica().Apply(2, del); v == nil || isErr(v, persistence.ErrConflict) {
		t.Fatalf("Apply of an old index = %v, want an already-applied error", v)
	}
	if _, ok := d2.UserByUsername("ben"); !ok || d2.AppliedIndex() != 4 {
		t.Fatal("an entry at an old index was applied")
	}
	// The next index applies.
	if v := d2.Replica().Apply(5, del); !isVersions(v) {
		t.Fatalf("Apply(5) = %v", v)
	}
	if _, ok := d2.UserByUsername("ben"); ok || d2.AppliedIndex() != 5 {
		t.Fatal("entry 5 not applied")
	}
}

func isErr(v any, target error) bool {
	err, ok := v.(error)
	return ok && errors.Is(err, target)
}

func isVersions(v any) bool { _, ok := v.([]uint64); return ok }

// commit releases wmu while its proposal waits for a quorum: reads and another
// writer's validation and build go on, and the proposer's own entry can be applied.
func TestCommitReleasesWriteLockWhileProposing(t *testing.T) {
	ctx := t.Context()
	l := newTestLog(true)
	d, _ := openTest(t, newMemStore())
	l.join(d)

	first := make(chan error, 1)
	go func() {
		_, err := d.CreateUser(ctx, NewUser{Username: ptr("ann")})
		first <- err
	}()
	l.waitArrived(t, 1, "the first write")

	// While it waits: reads answer, and a second writer reaches the log.
	if users := d.Users(""); len(users) != 0 {
		t.Fatalf("users %v before any write applied", users)
	}
	second := make(chan error, 1)
	go func() {
		_, err := d.CreateResource(ctx, NewResource{Name: "api", Indicator: "https://api.example"})
		second <- err
	}()
	l.waitArrived(t, 1, "the second write (the first holds the write lock)")

	l.release <- struct{}{}
	l.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if _, ok := d.UserByUsername("ann"); !ok {
		t.Fatal("first write not visible")
	}
	if _, ok := d.ResourceByIndicator("https://api.example"); !ok {
		t.Fatal("second write not visible")
	}
}

// unavailableLog fails every proposal as the cmd adapter does without a quorum.
type unavailableLog struct{}

func (unavailableLog) Propose(context.Context, []byte) (any, error) {
	return nil, fmt.Errorf("%w: raftgroup: no leader or no quorum", ErrUnavailable)
}

// A write that cannot be replicated fails with ErrUnavailable, changes nothing, and
// leaves the write lock free.
func TestReplicatedWriteUnavailable(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	d, _ := openTest(t, store)
	d.Replicate(unavailableLog{})
	_, err := d.CreateUser(ctx, NewUser{Username: ptr("ann")})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if _, ok := d.UserByUsername("ann"); ok || store.count(kindUser) != 0 {
		t.Fatal("an unreplicated write was applied")
	}
	l := newTestLog(false)
	l.join(d)
	if _, err := d.CreateUser(ctx, NewUser{Username: ptr("ann")}); err != nil {
		t.Fatalf("a write after an unavailable one: %v", err)
	}
}

func TestReady(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	if d.Ready() {
		t.Fatal("an empty directory is ready")
	}
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if d.Ready() {
		t.Fatal("ready without a signing key")
	}
	if err := d.PutSigningKey(ctx, &SigningKey{ID: "k0", Alg: "ES384", JWK: []byte(`{}`), Status: KeyNext}); err != nil {
		t.Fatal(err)
	}
	if d.Ready() {
		t.Fatal("ready without a Current signing key")
	}
	if err := d.PutSigningKey(ctx, &SigningKey{ID: "k1", Alg: "ES384", JWK: []byte(`{}`), Status: KeyCurrent}); err != nil {
		t.Fatal(err)
	}
	if !d.Ready() {
		t.Fatal("not ready with an admin application and a Current key")
	}
}

// A snapshot that does not decode, or that holds a record that does not load,
// changes nothing.
func TestRestoreRejectsBadSnapshots(t *testing.T) {
	node := openPebbleNode(t, vfs.NewMem())
	d, _ := openTest(t, node.store)
	populate(t, d)
	want, wantStore := snapshot(t, d), storeDump(t, node.store)
	badJSON := encodeSnapshot(snapshotData{applied: 9, recs: []persistence.KindRecord{
		{Kind: kindUser, Key: "u", Record: persistence.Record{Version: 1, Value: []byte("{not json")}}}})
	otherKind := encodeSnapshot(snapshotData{recs: []persistence.KindRecord{
		{Kind: "session", Key: "s", Record: persistence.Record{Version: 1, Value: []byte("x")}}}})
	for name, snap := range map[string][]byte{"garbage": []byte("\x01\x05"), "bad json": badJSON, "other kind": otherKind, "empty": nil} {
		if err := d.Replica().Restore(snap); err == nil {
			t.Fatalf("%s: Restore accepted it", name)
		}
	}
	if got := snapshot(t, d); got != want {
		t.Fatal("a refused snapshot changed memory")
	}
	if got := storeDump(t, node.store); !maps.Equal(got, wantStore) {
		t.Fatal("a refused snapshot changed the store")
	}
}

func sampleBatch() []persistence.Mutation {
	return []persistence.Mutation{
		{Kind: kindUser, Key: "u1", Expect: 3, Value: []byte(`{"username":"ann"}`)},
		{Kind: kindIdxUsername, Key: "ann", Value: []byte("u1")},
		{Kind: kindRole, Key: "r1", Expect: 2, Check: true},
		{Kind: kindUserRole, Key: "u1/r2", Expect: 1, Delete: true},
	}
}

func TestBatchEncodingRoundTrip(t *testing.T) {
	muts := sampleBatch()
	data, err := encodeBatch(muts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, muts) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, muts)
	}
	if _, err := encodeBatch([]persistence.Mutation{{Kind: kindUser, Key: "u", ExpiresAt: time.Unix(1, 0)}}); err == nil {
		t.Fatal("a mutation with an expiry was encoded")
	}
	for name, bad := range map[string][]persistence.Mutation{
		"applied index": {{Kind: kindMeta, Key: metaRaftApplied, Value: []byte("x")}},
		"other kind":    {{Kind: "session", Key: "s", Value: []byte("x")}},
		"twice":         {{Kind: kindUser, Key: "u"}, {Kind: kindUser, Key: "u"}},
	} {
		data, err := encodeBatch(bad)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeBatch(data); !errors.Is(err, errMalformed) {
			t.Fatalf("%s: decode = %v, want errMalformed", name, err)
		}
	}
	for i := range len(data) { // every truncation is refused
		if _, err := decodeBatch(data[:i]); err == nil {
			t.Fatalf("a batch truncated to %d bytes decoded", i)
		}
	}
	if _, err := decodeBatch(append(slices.Clone(data), 0)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

// FuzzDecodeBatch: log entries come from other nodes; decoding never panics, and
// what decodes encodes back to something that decodes the same.
func FuzzDecodeBatch(f *testing.F) {
	data, _ := encodeBatch(sampleBatch())
	f.Add(data)
	f.Add([]byte{batchFormatV1, 0})
	f.Add([]byte{batchFormatV1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, data []byte) {
		muts, err := decodeBatch(data)
		if err != nil {
			return
		}
		again, err := encodeBatch(muts)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		muts2, err := decodeBatch(again)
		if err != nil || !reflect.DeepEqual(muts, muts2) {
			t.Fatalf("unstable: %+v vs %+v (%v)", muts, muts2, err)
		}
	})
}

// FuzzDecodeSnapshot: snapshots come from other nodes; same properties.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(snapshotData{applied: 42, recs: []persistence.KindRecord{
		{Kind: kindUser, Key: "u1", Record: persistence.Record{Version: 3, Value: []byte(`{"username":"ann"}`)}},
		{Kind: kindMeta, Key: metaAdminApp, Record: persistence.Record{Version: 1, Value: []byte(`{"applicationId":"a"}`)}},
	}}))
	f.Add([]byte{snapshotFormatV1, 0, 0})
	f.Add([]byte{snapshotFormatV1, 1, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeSnapshot(data)
		if err != nil {
			return
		}
		s2, err := decodeSnapshot(encodeSnapshot(s))
		if err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("unstable: %+v vs %+v (%v)", s, s2, err)
		}
	})
}

// Writers on every node at once, some on the same entities, with readers running:
// no deadlock between the writers' locks and the log applying to every node, every
// write either applied everywhere or refused, and every node ends identical.
func TestReplicatedConcurrentWriters(t *testing.T) {
	ctx := t.Context()
	_, dirs, nodes := cluster(t, 3, false)
	shared, err := dirs[0].CreateUser(ctx, NewUser{Username: ptr("shared")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, d := range dirs {
		wg.Go(func() { // a reader
			for {
				select {
				case <-stop:
					return
				default:
					_ = d.Users("")
					_, _ = d.UserByUsername("shared")
				}
			}
		})
	}
	var writers sync.WaitGroup
	for i, d := range dirs {
		for w := range 2 {
			writers.Go(func() {
				for n := range 10 {
					name := fmt.Sprintf("u_%d_%d_%d", i, w, n)
					if _, err := d.CreateUser(ctx, NewUser{Username: &name}); err != nil {
						t.Errorf("create %s: %v", name, err)
					}
					_, err := d.UpdateUser(ctx, shared.ID, func(u *User) error { u.Name = &name; return nil })
					if err != nil && !errors.Is(err, persistence.ErrConflict) {
						t.Errorf("update shared: %v", err)
					}
					// Everyone wants this one name: at most one holds it.
					_, err = d.CreateUser(ctx, NewUser{Username: ptr("contested")})
					if err != nil && !errors.Is(err, ErrConflict) {
						t.Errorf("create contested: %v", err)
					}
				}
			})
		}
	}
	writers.Wait()
	close(stop)
	wg.Wait()
	if got := len(dirs[0].Users("")); got != 1+3*2*10+1 {
		t.Fatalf("%d users, want %d", got, 1+3*2*10+1)
	}
	sameEverywhere(t, dirs, nodes)
}

// Memory's idea of the applied-index record's version out of step with the store
// (something else rewrote the record) does not wedge the replica: the next entry
// still applies, and so does one whose batch fails.
func TestApplyRecoversAppliedRecordVersion(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	d, _ := openTest(t, store)
	add := func(index uint64, name string) any {
		data, err := encodeBatch([]persistence.Mutation{{Kind: kindUser, Key: name, Value: []byte(`{"username":"` + name + `"}`)}})
		if err != nil {
			t.Fatal(err)
		}
		return d.Replica().Apply(index, data)
	}
	if v := add(1, "a"); !isVersions(v) {
		t.Fatalf("Apply(1) = %v", v)
	}
	if _, err := store.Put(ctx, kindMeta, metaRaftApplied, 1, []byte("12345678"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v := add(2, "b"); !isVersions(v) {
		t.Fatalf("Apply(2) after the record moved = %v", v)
	}
	if _, err := store.Put(ctx, kindMeta, metaRaftApplied, 3, []byte("12345678"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if v := add(3, "b"); !isErr(v, persistence.ErrConflict) {
		t.Fatalf("Apply(3) of a taken key = %v, want ErrConflict", v)
	}
	if v := add(4, "c"); !isVersions(v) {
		t.Fatalf("Apply(4) = %v", v)
	}
	d2 := reopen(t, store)
	if d2.AppliedIndex() != 4 || d2.st.users["c"] == nil {
		t.Fatalf("after reopen: applied %d, users %v", d2.AppliedIndex(), d2.st.users)
	}
}
