package persistence_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/persistence"
	"github.com/latchid/latch/persistence/persistencetest"
)

func openPebble(t testing.TB, cfg persistence.PebbleConfig) *persistence.PebbleStore {
	t.Helper()
	s, err := persistence.OpenPebble(cfg)
	if err != nil {
		t.Fatalf("OpenPebble: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestPebbleConformanceDisk(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		return openPebble(t, persistence.PebbleConfig{Dir: t.TempDir(), Now: now})
	})
}

func TestPebbleConformanceMem(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		return openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: vfs.NewMem(), Now: now})
	})
}

func TestPebbleConformanceMemNoSync(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		return openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: vfs.NewMem(), Now: now, NoSync: true})
	})
}

// The conformance suite on disk with a small cache and a commit delay: the tuning knobs
// change when writes share an fsync, never what a write means.
func TestPebbleConformanceCommitDelay(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		return openPebble(t, persistence.PebbleConfig{Dir: t.TempDir(), Now: now, CacheSize: 1 << 20, CommitDelay: 200 * time.Microsecond})
	})
}

func TestPebbleConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     persistence.PebbleConfig
		wantErr bool
	}{
		{"zero", persistence.PebbleConfig{}, true},
		{"blank dir", persistence.PebbleConfig{Dir: "  "}, true},
		{"nul in dir", persistence.PebbleConfig{Dir: "a\x00b"}, true},
		{"dir only", persistence.PebbleConfig{Dir: "/var/lib/latch"}, false},
		{"negative cache", persistence.PebbleConfig{Dir: "/d", CacheSize: -1}, true},
		{"negative memtable", persistence.PebbleConfig{Dir: "/d", MemTableSize: -1}, true},
		{"memtable of 4 GiB", persistence.PebbleConfig{Dir: "/d", MemTableSize: 4 << 30}, true},
		{"memtable of 8 MiB", persistence.PebbleConfig{Dir: "/d", MemTableSize: 8 << 20}, false},
		{"negative commit delay", persistence.PebbleConfig{Dir: "/d", CommitDelay: -time.Microsecond}, true},
		{"tuned", persistence.PebbleConfig{Dir: "/d", CacheSize: 1 << 20, CommitDelay: time.Millisecond}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err != nil) != tc.wantErr {
				t.Fatalf("Validate() = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
	if _, err := persistence.OpenPebble(persistence.PebbleConfig{}); err == nil {
		t.Fatal("OpenPebble with zero config succeeded")
	}
}

func TestPebbleRejectsBadKeys(t *testing.T) {
	s := openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: vfs.NewMem()})
	ctx := t.Context()
	for _, tc := range []struct{ kind, key string }{
		{"", "k"},
		{"kind", ""},
		{"ki\x00nd", "k"},
	} {
		if _, err := s.Put(ctx, tc.kind, tc.key, 0, []byte("v"), time.Time{}); err == nil {
			t.Errorf("Put(%q, %q) succeeded", tc.kind, tc.key)
		}
		if _, err := s.Get(ctx, tc.kind, tc.key); err == nil || errors.Is(err, persistence.ErrNotFound) {
			t.Errorf("Get(%q, %q) = %v, want a validation error", tc.kind, tc.key, err)
		}
		if err := s.Delete(ctx, tc.kind, tc.key, 0); err == nil {
			t.Errorf("Delete(%q, %q) succeeded", tc.kind, tc.key)
		}
		if _, err := s.Insert(ctx, tc.kind, tc.key, []byte("v"), time.Time{}); err == nil {
			t.Errorf("Insert(%q, %q) succeeded", tc.kind, tc.key)
		}
	}
	for _, kind := range []string{"", "a\x00"} {
		if err := s.Scan(ctx, kind, func(string, persistence.Record) error { return nil }); err == nil {
			t.Errorf("Scan(%q) succeeded", kind)
		}
	}
}

func TestPebbleCorruptValue(t *testing.T) {
	s := openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: vfs.NewMem()})
	ctx := t.Context()
	versionZero := make([]byte, 16)
	for key, raw := range map[string][]byte{"short": {1, 2, 3}, "empty": {}, "v0": versionZero} {
		if err := s.SetRaw("bad", key, raw); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "bad", key); !errors.Is(err, persistence.ErrCorrupt) {
			t.Errorf("Get(%s) = %v, want ErrCorrupt", key, err)
		}
		if _, err := s.Put(ctx, "bad", key, 0, []byte("x"), time.Time{}); !errors.Is(err, persistence.ErrCorrupt) {
			t.Errorf("Put(%s) = %v, want ErrCorrupt", key, err)
		}
	}
	if err := s.Scan(ctx, "bad", func(string, persistence.Record) error { return nil }); !errors.Is(err, persistence.ErrCorrupt) {
		t.Errorf("Scan = %v, want ErrCorrupt", err)
	}
	if n, err := s.SweepExpired(ctx); n != 0 || err != nil {
		t.Errorf("SweepExpired = %d, %v; want corrupt records skipped", n, err)
	}
	// An unconditional Delete is the way out.
	if err := s.Delete(ctx, "bad", "short", 0); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Put(ctx, "bad", "short", 0, []byte("x"), time.Time{}); err != nil {
		t.Fatalf("Put after Delete: %v", err)
	}
}

func TestPebbleReopen(t *testing.T) {
	dir := t.TempDir()
	clock := persistencetest.NewClock(persistencetest.Epoch)
	cfg := persistence.PebbleConfig{Dir: dir, Now: clock.Now}
	ctx := t.Context()

	s, err := persistence.OpenPebble(cfg)
	if err != nil {
		t.Fatal(err)
	}
	exp := clock.Now().Add(time.Hour)
	for i := range 100 {
		if _, err := s.Put(ctx, "session", fmt.Sprintf("s%03d", i), 0, []byte(strconv.Itoa(i)), exp); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, "session", "s000", 1, []byte("updated"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "session", "s099", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openPebble(t, cfg)
	rec, err := s.Get(ctx, "session", "s000")
	if err != nil || rec.Version != 2 || string(rec.Value) != "updated" || !rec.ExpiresAt.IsZero() {
		t.Fatalf("s000 after reopen = %+v, %v", rec, err)
	}
	rec, err = s.Get(ctx, "session", "s042")
	if err != nil || rec.Version != 1 || string(rec.Value) != "42" || !rec.ExpiresAt.Equal(exp) {
		t.Fatalf("s042 after reopen = %+v, %v", rec, err)
	}
	if _, err := s.Get(ctx, "session", "s099"); !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("deleted s099 after reopen: %v", err)
	}
	if v, err := s.Put(ctx, "session", "s000", 2, []byte("again"), time.Time{}); err != nil || v != 3 {
		t.Fatalf("Put after reopen = %d, %v; want 3", v, err)
	}
	clock.Advance(time.Hour)
	if n, err := s.SweepExpired(ctx); err != nil || n != 98 {
		t.Fatalf("SweepExpired after reopen = %d, %v; want 98", n, err)
	}
}

// TestPebbleCrashKeepsAcknowledgedWrites writes concurrently with Sync on a crashable
// in-memory FS, takes a crash clone while writers are still running, and checks that
// the DB reopened on the clone holds every write acknowledged before the clone.
func TestPebbleCrashKeepsAcknowledgedWrites(t *testing.T) {
	tests := []struct {
		name            string
		unsyncedPercent int // share of unsynced blocks the "crash" keeps
		pad             int // value size: 2 KiB fills the 4 MiB memtable, so the
		// clone also catches a memtable flush, a new WAL and a MANIFEST edit
	}{
		{"synced-only", 0, 64},
		{"half-unsynced", 50, 64},
		{"all-unsynced", 100, 64},
		{"half-unsynced-flush", 50, 2048},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			crashTest(t, tc.unsyncedPercent, tc.pad)
		})
	}
}

func crashValue(key string, version uint64, pad int) []byte {
	v := fmt.Appendf(nil, "%s@%d|", key, version)
	return append(v, bytes.Repeat([]byte{'x'}, pad)...)
}

func crashTest(t *testing.T, unsyncedPercent, pad int) {
	const (
		writers       = 16
		keysPerWriter = 4
		ackTarget     = 2500
	)
	ctx := t.Context()
	fs := vfs.NewCrashableMem()
	s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "/db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}

	type writerLog struct {
		mu    sync.Mutex
		acked map[string]uint64 // key -> last acknowledged version
	}
	logs := make([]*writerLog, writers)
	var (
		wg         sync.WaitGroup
		acks       atomic.Int64
		stop       = make(chan struct{})
		enough     = make(chan struct{})
		enoughOnce sync.Once
	)
	for w := range writers {
		logs[w] = &writerLog{acked: map[string]uint64{}}
		wg.Go(func() {
			l := logs[w]
			version := map[string]uint64{}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("w%02d-k%d", w, i%keysPerWriter)
				kind := []string{"session", "grant"}[i%2]
				v, err := s.Put(ctx, kind, key, version[kind+key], crashValue(key, version[kind+key]+1, pad), time.Time{})
				if err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				version[kind+key] = v
				l.mu.Lock()
				l.acked[kind+"/"+key] = v
				l.mu.Unlock()
				if acks.Add(1) >= ackTarget {
					enoughOnce.Do(func() { close(enough) })
				}
			}
		})
	}

	select {
	case <-enough:
	case <-ctx.Done():
		t.Fatal("context done before enough writes")
	}
	// Everything in this snapshot was acknowledged before the crash clone below.
	acked := map[string]uint64{}
	for _, l := range logs {
		l.mu.Lock()
		for k, v := range l.acked {
			acked[k] = v
		}
		l.mu.Unlock()
	}
	// Writers are still running: the clone catches some writes in flight.
	cfg := vfs.CrashCloneCfg{UnsyncedDataPercent: unsyncedPercent}
	if unsyncedPercent > 0 {
		cfg.RNG = rand.New(rand.NewPCG(1, uint64(unsyncedPercent)))
	}
	crashed := fs.CrashClone(cfg)
	close(stop)
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if t.Failed() {
		return
	}

	s2 := openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: crashed})
	for kk, want := range acked {
		kind, key, _ := strings.Cut(kk, "/")
		rec, err := s2.Get(ctx, kind, key)
		if err != nil {
			t.Errorf("%s lost after crash (acked v%d): %v", kk, want, err)
			continue
		}
		// A write in flight at the crash may also have made it: never older.
		if rec.Version < want {
			t.Errorf("%s after crash = v%d, acked v%d", kk, rec.Version, want)
		}
		if !bytes.Equal(rec.Value, crashValue(key, rec.Version, pad)) {
			t.Errorf("%s after crash: value %q does not match v%d", kk, rec.Value, rec.Version)
		}
	}
	// The recovered store takes writes.
	for kk := range acked {
		kind, key, _ := strings.Cut(kk, "/")
		rec, err := s2.Get(ctx, kind, key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s2.Put(ctx, kind, key, rec.Version, []byte("after"), time.Time{}); err != nil {
			t.Fatalf("Put after recovery: %v", err)
		}
		break
	}
	t.Logf("%d keys, %d acknowledged writes before the clone", len(acked), ackTarget)
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3})
	f.Add(make([]byte, 16))
	f.Add(persistence.EncodeRecord(nil, 1, time.Time{}, nil))
	f.Add(persistence.EncodeRecord(nil, 7, time.Unix(1700000000, 5), []byte("value")))
	f.Add(persistence.EncodeRecord(nil, math.MaxUint64, time.Unix(0, -1), []byte{0, 0xff}))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := persistence.DecodeRecord(raw)
		if err != nil {
			if !errors.Is(err, persistence.ErrCorrupt) {
				t.Fatalf("decode error %v is not ErrCorrupt", err)
			}
			return
		}
		enc := persistence.EncodeRecord(nil, rec.Version, rec.ExpiresAt, rec.Value)
		if !bytes.Equal(enc, raw) {
			t.Fatalf("decode->encode changed the bytes:\n in  %x\n out %x", raw, enc)
		}
		again, err := persistence.DecodeRecord(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.Version != rec.Version || !again.ExpiresAt.Equal(rec.ExpiresAt) || !bytes.Equal(again.Value, rec.Value) {
			t.Fatalf("re-decode = %+v, want %+v", again, rec)
		}
	})
}

func TestEncodeRecordExpiryEdges(t *testing.T) {
	now := time.Unix(1800000000, 0)
	tests := []struct {
		name        string
		expiresAt   time.Time
		wantZero    bool
		wantExpired bool
	}{
		{"never", time.Time{}, true, false},
		{"future", now.Add(time.Hour), false, false},
		{"past", now.Add(-time.Hour), false, true},
		{"unix epoch stays expired", time.Unix(0, 0), false, true},
		{"before 1678 clamps", time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), false, true},
		{"after 2262 clamps", time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := persistence.DecodeRecord(persistence.EncodeRecord(nil, 1, tc.expiresAt, []byte("v")))
			if err != nil {
				t.Fatal(err)
			}
			if rec.ExpiresAt.IsZero() != tc.wantZero {
				t.Fatalf("ExpiresAt = %v, zero want %v", rec.ExpiresAt, tc.wantZero)
			}
			if got := rec.Expired(now); got != tc.wantExpired {
				t.Fatalf("Expired = %v, want %v", got, tc.wantExpired)
			}
		})
	}
}

func openBench(b *testing.B) *persistence.PebbleStore {
	b.Helper()
	return openPebble(b, persistence.PebbleConfig{Dir: b.TempDir()})
}

// BenchmarkPutSync is one writer doing Sync writes: about one fsync per write.
func BenchmarkPutSync(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	value := bytes.Repeat([]byte{'v'}, 256)
	n := 0
	for b.Loop() {
		if _, err := s.Put(ctx, "bench", strconv.Itoa(n), 0, value, time.Time{}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkPutSyncParallel is ~64 writers doing Sync writes to distinct keys; Pebble's
// commit pipeline shares each fsync among the writers queued behind it (group commit).
func BenchmarkPutSyncParallel(b *testing.B) {
	benchPutSyncParallel(b, openBench(b))
}

// BenchmarkPutSyncParallelCommitDelay is BenchmarkPutSyncParallel with a 250 µs commit
// delay: fewer, larger fsync groups.
func BenchmarkPutSyncParallelCommitDelay(b *testing.B) {
	benchPutSyncParallel(b, openPebble(b, persistence.PebbleConfig{Dir: b.TempDir(), CommitDelay: 250 * time.Microsecond}))
}

func benchPutSyncParallel(b *testing.B, s *persistence.PebbleStore) {
	ctx := b.Context()
	value := bytes.Repeat([]byte{'v'}, 256)
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((64 + procs - 1) / procs)
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Put(ctx, "bench", strconv.FormatInt(i, 10), 0, value, time.Time{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkNewKey compares the two ways of writing a record under a new key into a store
// that already holds 200,000 records (so its LSM tree has levels to look through):
// Put(expect 0) reads the key first to prove it absent, Insert does not. NoSync, so the
// figures are the CPU cost of the write path, not the fsync.
func BenchmarkNewKey(b *testing.B) {
	s := openPebble(b, persistence.PebbleConfig{Dir: b.TempDir(), NoSync: true})
	ctx := b.Context()
	value := bytes.Repeat([]byte{'v'}, 200)
	for i := range 200_000 {
		if _, err := s.Insert(ctx, "grant-at", "prefill/"+strconv.Itoa(i), value, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	n := 0
	b.Run("Put", func(b *testing.B) {
		for b.Loop() {
			n++
			if _, err := s.Put(ctx, "grant-at", "put/"+strconv.Itoa(n), 0, value, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Insert", func(b *testing.B) {
		for b.Loop() {
			n++
			if _, err := s.Insert(ctx, "grant-at", "insert/"+strconv.Itoa(n), value, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestPebbleCrashKeepsBatchesWhole applies batches of three records each while the
// filesystem "crashes": every acknowledged batch survives, and no batch survives in
// part (the three records of a writer always carry the same version).
func TestPebbleCrashKeepsBatchesWhole(t *testing.T) {
	const writers = 8
	ctx := t.Context()
	fs := vfs.NewCrashableMem()
	s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "/db", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"a", "b", "c"}
	var acked [writers]atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			kind := fmt.Sprint("w", w)
			for v := uint64(0); ; v++ {
				select {
				case <-stop:
					return
				default:
				}
				muts := make([]persistence.Mutation, len(keys))
				for i, k := range keys {
					muts[i] = persistence.Mutation{Kind: kind, Key: k, Expect: v, Value: crashValue(k, v+1, 64)}
				}
				if _, err := s.Apply(ctx, muts); err != nil {
					if !errors.Is(err, persistence.ErrClosed) {
						t.Errorf("Apply: %v", err)
					}
					return
				}
				acked[w].Store(v + 1)
			}
		})
	}
	for w := range writers {
		for acked[w].Load() < 50 && !t.Failed() {
			runtime.Gosched()
		}
	}
	var want [writers]uint64
	for w := range writers {
		want[w] = acked[w].Load()
	}
	crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: rand.New(rand.NewPCG(7, 7))})
	close(stop)
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if t.Failed() {
		return
	}
	s2 := openPebble(t, persistence.PebbleConfig{Dir: "/db", FS: crashed})
	for w := range writers {
		kind := fmt.Sprint("w", w)
		var version uint64
		for i, k := range keys {
			rec, err := s2.Get(ctx, kind, k)
			if err != nil {
				t.Fatalf("%s/%s lost after crash (acked v%d): %v", kind, k, want[w], err)
			}
			if i == 0 {
				version = rec.Version
			}
			if rec.Version != version || rec.Version < want[w] {
				t.Fatalf("%s/%s after crash = v%d; batch at v%d, acked v%d", kind, k, rec.Version, version, want[w])
			}
			if !bytes.Equal(rec.Value, crashValue(k, rec.Version, 64)) {
				t.Fatalf("%s/%s after crash: value %q does not match v%d", kind, k, rec.Value, rec.Version)
			}
		}
	}
}

// An Insert in a batch writes version 1 without reading its key; it must be a put
// expecting 0.
func TestApplyInsert(t *testing.T) {
	s := openPebble(t, persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem()})
	ctx := t.Context()
	v, err := s.Apply(ctx, []persistence.Mutation{
		{Kind: "log", Key: "b1/1", Value: []byte("a"), Insert: true},
		{Kind: "log", Key: "b1/2", Value: []byte("b"), Insert: true},
	})
	if err != nil || len(v) != 2 || v[0] != 1 || v[1] != 1 {
		t.Fatalf("Apply inserts = %v, %v", v, err)
	}
	rec, err := s.Get(ctx, "log", "b1/2")
	if err != nil || string(rec.Value) != "b" || rec.Version != 1 {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	for _, bad := range []persistence.Mutation{
		{Kind: "log", Key: "x", Insert: true, Expect: 1},
		{Kind: "log", Key: "x", Insert: true, Delete: true},
		{Kind: "log", Key: "x", Insert: true, Check: true},
	} {
		if _, err := s.Apply(ctx, []persistence.Mutation{bad}); err == nil || errors.Is(err, persistence.ErrConflict) {
			t.Errorf("Apply %+v = %v, want a malformed batch", bad, err)
		}
	}
}
