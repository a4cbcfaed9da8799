// Package persistencetest is the conformance suite every persistence.Store
// implementation passes: Run(t, newStore) runs named subtests, each on a fresh store.
package persistencetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/persistence"
)

// Clock is a fake clock for TTL tests, safe for concurrent use. The zero value reads
// as the Unix epoch; NewClock starts at a fixed date.
type Clock struct {
	nanos atomic.Int64
}

// NewClock returns a clock set to start.
func NewClock(start time.Time) *Clock {
	c := &Clock{}
	c.nanos.Store(start.UnixNano())
	return c
}

// Now returns the clock's current time.
func (c *Clock) Now() time.Time { return time.Unix(0, c.nanos.Load()) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.nanos.Add(int64(d)) }

// Epoch is where the suite's clocks start.
var Epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// Run runs the conformance suite: named subtests, in parallel, each on a fresh store.
// newStore must return a new, empty store whose TTL clock is now (a fake Clock the
// subtest advances). The suite closes the store when the subtest ends; Close must
// tolerate being called twice (returning nil or ErrClosed).
func Run(t *testing.T, newStore func(t *testing.T, now func() time.Time) persistence.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s persistence.Store, clock *Clock)
	}{
		{"CRUDRoundTrip", testCRUD},
		{"GetAbsent", testGetAbsent},
		{"CreateExistingConflicts", testCreateExisting},
		{"StaleVersionConflicts", testStaleVersion},
		{"VersionIncrements", testVersionIncrements},
		{"DeleteConditional", testDeleteConditional},
		{"DeleteUnconditional", testDeleteUnconditional},
		{"EmptyValue", testEmptyValue},
		{"TTLExpiry", testTTLExpiry},
		{"SweepExpired", testSweepExpired},
		{"SweepRacesRecreate", testSweepRacesRecreate},
		{"ScanOrderAndKindIsolation", testScanOrder},
		{"ScanStopsOnError", testScanStops},
		{"CountLiveAndStored", testCount},
		{"InsertNewKey", testInsert},
		{"ApplyVersions", testApplyVersions},
		{"ApplyAllOrNothing", testApplyAllOrNothing},
		{"ApplyCheck", testApplyCheck},
		{"ApplyExpiredIsAbsent", testApplyExpired},
		{"ApplyMalformed", testApplyMalformed},
		{"ApplyConcurrentClaimOneWinner", testApplyConcurrentClaim},
		{"ApplyConcurrentOverlapOneWinner", testApplyConcurrentOverlap},
		{"ConcurrentCASOneWinner", testConcurrentCAS},
		{"ConcurrentCreateOneWinner", testConcurrentCreate},
		{"ConcurrentIncrements", testConcurrentIncrements},
		{"ValuesAreCopied", testValuesCopied},
		{"CanceledContext", testCanceledContext},
		{"ClosedStore", testClosed},
		{"CloseDuringUse", testCloseDuringUse},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := NewClock(Epoch)
			s := newStore(t, clock.Now)
			t.Cleanup(func() {
				if err := s.Close(); err != nil && !errors.Is(err, persistence.ErrClosed) {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s, clock)
		})
	}
}

func mustPut(t *testing.T, s persistence.Store, kind, key string, expect uint64, value string, expiresAt time.Time) uint64 {
	t.Helper()
	v, err := s.Put(t.Context(), kind, key, expect, []byte(value), expiresAt)
	if err != nil {
		t.Fatalf("Put(%s/%s, expect %d): %v", kind, key, expect, err)
	}
	if v != expect+1 {
		t.Fatalf("Put(%s/%s, expect %d) = version %d, want %d", kind, key, expect, v, expect+1)
	}
	return v
}

func wantRecord(t *testing.T, s persistence.Store, kind, key string, version uint64, value string) persistence.Record {
	t.Helper()
	rec, err := s.Get(t.Context(), kind, key)
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", kind, key, err)
	}
	if rec.Version != version || string(rec.Value) != value {
		t.Fatalf("Get(%s/%s) = {v%d %q}, want {v%d %q}", kind, key, rec.Version, rec.Value, version, value)
	}
	return rec
}

func wantNotFound(t *testing.T, s persistence.Store, kind, key string) {
	t.Helper()
	rec, err := s.Get(t.Context(), kind, key)
	if !errors.Is(err, persistence.ErrNotFound) {
		t.Fatalf("Get(%s/%s) = %+v, %v; want ErrNotFound", kind, key, rec, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: err = %v, want %v", what, err, want)
	}
}

func scanAll(t *testing.T, s persistence.Store, kind string) (keys []string, recs []persistence.Record) {
	t.Helper()
	err := s.Scan(t.Context(), kind, func(key string, rec persistence.Record) error {
		keys = append(keys, key)
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%s): %v", kind, err)
	}
	return keys, recs
}

func testCRUD(t *testing.T, s persistence.Store, _ *Clock) {
	exp := Epoch.Add(time.Hour)
	mustPut(t, s, "session", "s1", 0, "one", exp)
	rec := wantRecord(t, s, "session", "s1", 1, "one")
	if !rec.ExpiresAt.Equal(exp) {
		t.Fatalf("ExpiresAt = %v, want %v", rec.ExpiresAt, exp)
	}
	mustPut(t, s, "session", "s1", 1, "two", time.Time{})
	rec = wantRecord(t, s, "session", "s1", 2, "two")
	if !rec.ExpiresAt.IsZero() {
		t.Fatalf("ExpiresAt = %v, want zero (never)", rec.ExpiresAt)
	}
	if err := s.Delete(t.Context(), "session", "s1", 2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "session", "s1")
}

func testGetAbsent(t *testing.T, s persistence.Store, _ *Clock) {
	wantNotFound(t, s, "grant", "nope")
	mustPut(t, s, "grant", "other", 0, "x", time.Time{})
	wantNotFound(t, s, "grant", "nope")
	wantNotFound(t, s, "grants", "other") // same key, other kind
	if keys, _ := scanAll(t, s, "empty"); len(keys) != 0 {
		t.Fatalf("Scan(empty) = %q, want nothing", keys)
	}
}

func testCreateExisting(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "grant", "g", 0, "first", time.Time{})
	_, err := s.Put(t.Context(), "grant", "g", 0, []byte("second"), time.Time{})
	wantErr(t, "Put expect 0 on existing", err, persistence.ErrConflict)
	wantRecord(t, s, "grant", "g", 1, "first")
}

func testStaleVersion(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "family", "f", 0, "a", time.Time{})
	mustPut(t, s, "family", "f", 1, "b", time.Time{})
	_, err := s.Put(t.Context(), "family", "f", 1, []byte("stale"), time.Time{})
	wantErr(t, "Put with stale version", err, persistence.ErrConflict)
	_, err = s.Put(t.Context(), "family", "f", 7, []byte("future"), time.Time{})
	wantErr(t, "Put with future version", err, persistence.ErrConflict)
	_, err = s.Put(t.Context(), "family", "absent", 1, []byte("x"), time.Time{})
	wantErr(t, "Put expect 1 on absent", err, persistence.ErrConflict)
	wantNotFound(t, s, "family", "absent")
	wantRecord(t, s, "family", "f", 2, "b")
}

func testVersionIncrements(t *testing.T, s persistence.Store, _ *Clock) {
	var v uint64
	for i := range 10 {
		v = mustPut(t, s, "k", "x", v, fmt.Sprint(i), time.Time{})
		wantRecord(t, s, "k", "x", uint64(i+1), fmt.Sprint(i))
	}
}

func testDeleteConditional(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "k", "x", 0, "a", time.Time{})
	mustPut(t, s, "k", "x", 1, "b", time.Time{})
	wantErr(t, "Delete stale", s.Delete(t.Context(), "k", "x", 1), persistence.ErrConflict)
	wantErr(t, "Delete future", s.Delete(t.Context(), "k", "x", 3), persistence.ErrConflict)
	wantRecord(t, s, "k", "x", 2, "b")
	if err := s.Delete(t.Context(), "k", "x", 2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "k", "x")
	wantErr(t, "Delete absent with expect", s.Delete(t.Context(), "k", "x", 2), persistence.ErrConflict)
	// A recreated record starts again at version 1.
	mustPut(t, s, "k", "x", 0, "c", time.Time{})
	wantRecord(t, s, "k", "x", 1, "c")
}

func testDeleteUnconditional(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "k", "x", 0, "a", time.Time{})
	mustPut(t, s, "k", "x", 1, "b", time.Time{})
	if err := s.Delete(t.Context(), "k", "x", 0); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, "k", "x")
	if err := s.Delete(t.Context(), "k", "x", 0); err != nil {
		t.Fatalf("Delete of absent record with expect 0: %v", err)
	}
	if err := s.Delete(t.Context(), "k", "never", 0); err != nil {
		t.Fatalf("Delete of never-written record with expect 0: %v", err)
	}
}

func testEmptyValue(t *testing.T, s persistence.Store, _ *Clock) {
	if _, err := s.Put(t.Context(), "k", "nil", 0, nil, time.Time{}); err != nil {
		t.Fatalf("Put(nil): %v", err)
	}
	rec := wantRecord(t, s, "k", "nil", 1, "")
	if len(rec.Value) != 0 {
		t.Fatalf("Value = %q, want empty", rec.Value)
	}
}

func testTTLExpiry(t *testing.T, s persistence.Store, clock *Clock) {
	ttl := time.Minute
	mustPut(t, s, "interaction", "i1", 0, "pending", clock.Now().Add(ttl))
	mustPut(t, s, "interaction", "i1", 1, "pending2", clock.Now().Add(ttl))
	mustPut(t, s, "interaction", "forever", 0, "f", time.Time{})
	mustPut(t, s, "interaction", "later", 0, "l", clock.Now().Add(2*ttl))

	clock.Advance(ttl - time.Nanosecond)
	wantRecord(t, s, "interaction", "i1", 2, "pending2")

	clock.Advance(time.Nanosecond) // exactly at expiresAt: expired
	wantNotFound(t, s, "interaction", "i1")
	keys, _ := scanAll(t, s, "interaction")
	if want := []string{"forever", "later"}; !slices.Equal(keys, want) {
		t.Fatalf("Scan after expiry = %q, want %q", keys, want)
	}
	// An expired record is absent: only expect 0 may write it.
	_, err := s.Put(t.Context(), "interaction", "i1", 2, []byte("x"), time.Time{})
	wantErr(t, "Put with the expired record's version", err, persistence.ErrConflict)
	wantErr(t, "Delete with the expired record's version", s.Delete(t.Context(), "interaction", "i1", 2), persistence.ErrConflict)
	mustPut(t, s, "interaction", "i1", 0, "fresh", clock.Now().Add(ttl))
	wantRecord(t, s, "interaction", "i1", 1, "fresh")

	clock.Advance(24 * time.Hour)
	wantRecord(t, s, "interaction", "forever", 1, "f")
	wantNotFound(t, s, "interaction", "later")
	wantNotFound(t, s, "interaction", "i1")
}

func testSweepExpired(t *testing.T, s persistence.Store, clock *Clock) {
	ctx := t.Context()
	n, err := s.SweepExpired(ctx)
	if err != nil || n != 0 {
		t.Fatalf("SweepExpired on empty store = %d, %v; want 0, nil", n, err)
	}
	for i := range 5 {
		mustPut(t, s, "code", fmt.Sprintf("c%d", i), 0, "x", clock.Now().Add(time.Minute))
	}
	mustPut(t, s, "code", "keep", 0, "k", clock.Now().Add(time.Hour))
	mustPut(t, s, "session", "forever", 0, "f", time.Time{})
	mustPut(t, s, "session", "short", 0, "s", clock.Now().Add(time.Second))

	n, err = s.SweepExpired(ctx)
	if err != nil || n != 0 {
		t.Fatalf("SweepExpired before expiry = %d, %v; want 0, nil", n, err)
	}
	clock.Advance(time.Minute)
	// Recreated after expiry (and before the sweep): must survive it.
	mustPut(t, s, "code", "c0", 0, "again", time.Time{})

	n, err = s.SweepExpired(ctx)
	if err != nil || n != 5 {
		t.Fatalf("SweepExpired = %d, %v; want 5, nil", n, err)
	}
	n, err = s.SweepExpired(ctx)
	if err != nil || n != 0 {
		t.Fatalf("second SweepExpired = %d, %v; want 0, nil", n, err)
	}
	wantRecord(t, s, "code", "c0", 1, "again")
	wantRecord(t, s, "code", "keep", 1, "k")
	wantRecord(t, s, "session", "forever", 1, "f")
	for i := 1; i < 5; i++ {
		wantNotFound(t, s, "code", fmt.Sprintf("c%d", i))
	}
	// A swept record is gone, not merely hidden: expect 0 creates version 1 and a
	// conditional delete of the old version conflicts.
	wantErr(t, "Delete swept record", s.Delete(ctx, "code", "c1", 1), persistence.ErrConflict)
	mustPut(t, s, "code", "c1", 0, "new", time.Time{})
	wantRecord(t, s, "code", "c1", 1, "new")
}

// testSweepRacesRecreate recreates expired records while a sweep runs: whichever
// happens first, every recreated record must survive.
func testSweepRacesRecreate(t *testing.T, s persistence.Store, clock *Clock) {
	const n = 200
	for i := range n {
		mustPut(t, s, "r", fmt.Sprintf("%04d", i), 0, "old", clock.Now().Add(time.Second))
	}
	clock.Advance(time.Second)

	start := make(chan struct{})
	var wg sync.WaitGroup
	var swept atomic.Int64
	wg.Go(func() {
		<-start
		for range 3 {
			k, err := s.SweepExpired(t.Context())
			if err != nil {
				t.Errorf("SweepExpired: %v", err)
				return
			}
			swept.Add(int64(k))
		}
	})
	for w := range 4 {
		wg.Go(func() {
			<-start
			for i := w; i < n; i += 4 {
				if _, err := s.Put(t.Context(), "r", fmt.Sprintf("%04d", i), 0, []byte("new"), time.Time{}); err != nil {
					t.Errorf("recreate %d: %v", i, err)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	if got := swept.Load(); got > n {
		t.Fatalf("swept %d records, only %d existed", got, n)
	}
	keys, recs := scanAll(t, s, "r")
	if len(keys) != n {
		t.Fatalf("%d records survive, want %d", len(keys), n)
	}
	for i, rec := range recs {
		if rec.Version != 1 || string(rec.Value) != "new" {
			t.Fatalf("%s = {v%d %q}, want {v1 \"new\"}", keys[i], rec.Version, rec.Value)
		}
	}
}

func testScanOrder(t *testing.T, s persistence.Store, _ *Clock) {
	aKeys := []string{"m", "b", "z", "a", "b0", "\xff", "a\x00b", "A"}
	for _, k := range aKeys {
		mustPut(t, s, "a", k, 0, "a:"+k, time.Time{})
	}
	for _, k := range []string{"0", "a", "zz"} {
		mustPut(t, s, "ab", k, 0, "ab:"+k, time.Time{})
	}
	mustPut(t, s, "b", "a", 0, "b:a", time.Time{})
	mustPut(t, s, "`", "a", 0, "`:a", time.Time{}) // '`' sorts just before 'a'

	keys, recs := scanAll(t, s, "a")
	want := []string{"A", "a", "a\x00b", "b", "b0", "m", "z", "\xff"} // byte order
	if !slices.Equal(keys, want) {
		t.Fatalf("Scan(a) keys = %q, want %q", keys, want)
	}
	for i, rec := range recs {
		if string(rec.Value) != "a:"+keys[i] || rec.Version != 1 {
			t.Fatalf("Scan(a) %q = {v%d %q}", keys[i], rec.Version, rec.Value)
		}
	}
	keys, _ = scanAll(t, s, "ab")
	if want := []string{"0", "a", "zz"}; !slices.Equal(keys, want) {
		t.Fatalf("Scan(ab) keys = %q, want %q", keys, want)
	}
	keys, _ = scanAll(t, s, "b")
	if want := []string{"a"}; !slices.Equal(keys, want) {
		t.Fatalf("Scan(b) keys = %q, want %q", keys, want)
	}
}

func testScanStops(t *testing.T, s persistence.Store, _ *Clock) {
	for _, k := range []string{"1", "2", "3"} {
		mustPut(t, s, "k", k, 0, k, time.Time{})
	}
	stop := errors.New("stop here")
	var seen []string
	err := s.Scan(t.Context(), "k", func(key string, _ persistence.Record) error {
		seen = append(seen, key)
		if key == "2" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Scan err = %v, want the callback's error", err)
	}
	if want := []string{"1", "2"}; !slices.Equal(seen, want) {
		t.Fatalf("Scan visited %q, want %q", seen, want)
	}
}

// raceCAS runs n goroutines that each Put kind/key with expect at the same moment,
// and returns the winners' values.
func raceCAS(t *testing.T, s persistence.Store, key string, expect uint64, n int) []string {
	t.Helper()
	start := make(chan struct{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
	)
	for i := range n {
		wg.Go(func() {
			<-start
			val := fmt.Sprintf("writer-%d", i)
			v, err := s.Put(t.Context(), "cas", key, expect, []byte(val), time.Time{})
			switch {
			case err == nil:
				if v != expect+1 {
					t.Errorf("winner got version %d, want %d", v, expect+1)
				}
				mu.Lock()
				winners = append(winners, val)
				mu.Unlock()
			case errors.Is(err, persistence.ErrConflict):
			default:
				t.Errorf("Put: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	return winners
}

func testConcurrentCAS(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "cas", "x", 0, "base", time.Time{})
	winners := raceCAS(t, s, "x", 1, 32)
	if len(winners) != 1 {
		t.Fatalf("%d writers won the CAS on version 1, want exactly 1: %q", len(winners), winners)
	}
	wantRecord(t, s, "cas", "x", 2, winners[0])
}

func testConcurrentCreate(t *testing.T, s persistence.Store, _ *Clock) {
	winners := raceCAS(t, s, "new", 0, 32)
	if len(winners) != 1 {
		t.Fatalf("%d writers created the record, want exactly 1: %q", len(winners), winners)
	}
	wantRecord(t, s, "cas", "new", 1, winners[0])
}

// testConcurrentIncrements runs read-modify-write loops that retry on conflict, the
// way grains do; no increment may be lost.
func testConcurrentIncrements(t *testing.T, s persistence.Store, _ *Clock) {
	const workers, each = 8, 15
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for done := 0; done < each; {
				var (
					cur uint64
					n   int
				)
				rec, err := s.Get(t.Context(), "counter", "c")
				switch {
				case err == nil:
					cur = rec.Version
					if _, err := fmt.Sscan(string(rec.Value), &n); err != nil {
						t.Errorf("counter value %q: %v", rec.Value, err)
						return
					}
				case errors.Is(err, persistence.ErrNotFound):
				default:
					t.Errorf("Get: %v", err)
					return
				}
				_, err = s.Put(t.Context(), "counter", "c", cur, []byte(fmt.Sprint(n+1)), time.Time{})
				switch {
				case err == nil:
					done++
				case errors.Is(err, persistence.ErrConflict):
				default:
					t.Errorf("Put: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	wantRecord(t, s, "counter", "c", workers*each, fmt.Sprint(workers*each))
}

func testValuesCopied(t *testing.T, s persistence.Store, _ *Clock) {
	buf := []byte("original")
	if _, err := s.Put(t.Context(), "k", "x", 0, buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXX")
	rec := wantRecord(t, s, "k", "x", 1, "original")
	copy(rec.Value, "YYYYYYYY")
	wantRecord(t, s, "k", "x", 1, "original")
	_, recs := scanAll(t, s, "k")
	copy(recs[0].Value, "ZZZZZZZZ")
	wantRecord(t, s, "k", "x", 1, "original")
	// Two Gets do not share a buffer.
	a := wantRecord(t, s, "k", "x", 1, "original")
	b := wantRecord(t, s, "k", "x", 1, "original")
	a.Value[0] = 'Q'
	if !bytes.Equal(b.Value, []byte("original")) {
		t.Fatalf("two Gets share a buffer: %q", b.Value)
	}
}

func testCanceledContext(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "k", "x", 0, "a", time.Time{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "k", "y", 0, []byte("b"), time.Time{})
	wantErr(t, "Put with canceled context", err, context.Canceled)
	wantNotFound(t, s, "k", "y")
	_, err = s.Get(ctx, "k", "x")
	wantErr(t, "Get with canceled context", err, context.Canceled)
	wantErr(t, "Delete with canceled context", s.Delete(ctx, "k", "x", 1), context.Canceled)
	wantRecord(t, s, "k", "x", 1, "a")
	err = s.Scan(ctx, "k", func(string, persistence.Record) error { return nil })
	wantErr(t, "Scan with canceled context", err, context.Canceled)
}

func testClosed(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "k", "x", 0, "a", time.Time{})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := t.Context()
	_, err := s.Get(ctx, "k", "x")
	wantErr(t, "Get", err, persistence.ErrClosed)
	_, err = s.Put(ctx, "k", "x", 1, []byte("b"), time.Time{})
	wantErr(t, "Put", err, persistence.ErrClosed)
	wantErr(t, "Delete", s.Delete(ctx, "k", "x", 0), persistence.ErrClosed)
	wantErr(t, "Scan", s.Scan(ctx, "k", func(string, persistence.Record) error { return nil }), persistence.ErrClosed)
	_, err = s.Apply(ctx, []persistence.Mutation{put("k", "x", 0, "v")})
	wantErr(t, "Apply", err, persistence.ErrClosed)
	_, err = s.SweepExpired(ctx)
	wantErr(t, "SweepExpired", err, persistence.ErrClosed)
	if err := s.Close(); err != nil && !errors.Is(err, persistence.ErrClosed) {
		t.Fatalf("second Close: %v, want nil or ErrClosed", err)
	}
}

// testCloseDuringUse closes the store under concurrent readers, writers and scans:
// every call either works or reports ErrClosed, and nothing panics.
func testCloseDuringUse(t *testing.T, s persistence.Store, _ *Clock) {
	const workers = 8
	var (
		wg      sync.WaitGroup
		started sync.WaitGroup
	)
	started.Add(workers)
	for w := range workers {
		wg.Go(func() {
			first := true
			key := fmt.Sprintf("w%d", w)
			var version uint64
			for i := 0; ; i++ {
				var err error
				switch i % 4 {
				case 0:
					var v uint64
					if v, err = s.Put(t.Context(), "k", key, version, []byte("v"), time.Time{}); err == nil {
						version = v
					}
				case 1:
					_, err = s.Get(t.Context(), "k", key)
				case 2:
					err = s.Scan(t.Context(), "k", func(string, persistence.Record) error { return nil })
				case 3:
					_, err = s.SweepExpired(t.Context())
				}
				if first {
					started.Done()
					first = false
				}
				if errors.Is(err, persistence.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("op %d: %v", i%4, err)
					return
				}
			}
		})
	}
	started.Wait()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	wg.Wait()
}

// testCount checks persistence.Count: live records per kind, kinds kept apart, expired
// records no longer live (and, for a Counter, still stored until swept).
func testCount(t *testing.T, s persistence.Store, clock *Clock) {
	ctx := t.Context()
	want := func(what, kind string, live, stored int) {
		t.Helper()
		c, err := persistence.Count(ctx, s, kind)
		if err != nil {
			t.Fatalf("%s: Count(%s): %v", what, kind, err)
		}
		if _, ok := s.(persistence.Counter); !ok {
			stored = live // Scan cannot see expired records
		}
		if c.Live != live || c.Stored != stored {
			t.Fatalf("%s: Count(%s) = %+v, want live %d stored %d", what, kind, c, live, stored)
		}
	}
	want("empty store", "outbox", 0, 0)
	for i := range 10 {
		mustPut(t, s, "outbox", fmt.Sprintf("o%02d", i), 0, "x", clock.Now().Add(time.Minute))
	}
	mustPut(t, s, "outbox", "long", 0, "x", clock.Now().Add(time.Hour))
	mustPut(t, s, "outboxes", "other-kind", 0, "x", time.Time{})
	mustPut(t, s, "outbo", "prefix-kind", 0, "x", time.Time{})
	want("before expiry", "outbox", 11, 11)
	want("kind isolation", "outboxes", 1, 1)

	clock.Advance(time.Minute)
	want("after expiry", "outbox", 1, 11)
	if _, err := s.SweepExpired(ctx); err != nil {
		t.Fatal(err)
	}
	want("after sweep", "outbox", 1, 1)
	want("after sweep, other kind", "outboxes", 1, 1)
}

// testInsert checks persistence.Insert (with the store's Inserter, or Put as the
// fallback): a new key gets version 1 and its expiry, and behaves as a Put record
// afterwards; a key that exists after all is either refused with ErrConflict or
// replaced, never anything else.
func testInsert(t *testing.T, s persistence.Store, clock *Clock) {
	ctx := t.Context()
	v, err := persistence.Insert(ctx, s, "grant-at", "g1/h1", []byte("tok"), clock.Now().Add(time.Minute))
	if err != nil || v != 1 {
		t.Fatalf("Insert new key = %d, %v; want 1, nil", v, err)
	}
	rec := wantRecord(t, s, "grant-at", "g1/h1", 1, "tok")
	if !rec.ExpiresAt.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("ExpiresAt %v, want %v", rec.ExpiresAt, clock.Now().Add(time.Minute))
	}
	mustPut(t, s, "grant-at", "g1/h1", 1, "tok2", time.Time{})
	wantRecord(t, s, "grant-at", "g1/h1", 2, "tok2")

	_, err = persistence.Insert(ctx, s, "grant-at", "g1/h1", []byte("again"), time.Time{})
	switch {
	case errors.Is(err, persistence.ErrConflict):
		wantRecord(t, s, "grant-at", "g1/h1", 2, "tok2")
	case err == nil:
		wantRecord(t, s, "grant-at", "g1/h1", 1, "again")
	default:
		t.Fatalf("Insert over an existing key: %v, want nil or ErrConflict", err)
	}

	clock.Advance(time.Minute)
	if _, err := persistence.Insert(ctx, s, "grant-at", "g2/h2", []byte("x"), clock.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	wantNotFound(t, s, "grant-at", "g2/h2")
}

func mustApply(t *testing.T, s persistence.Store, muts ...persistence.Mutation) []uint64 {
	t.Helper()
	v, err := s.Apply(t.Context(), muts)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(v) != len(muts) {
		t.Fatalf("Apply returned %d versions for %d mutations", len(v), len(muts))
	}
	return v
}

func put(kind, key string, expect uint64, value string) persistence.Mutation {
	return persistence.Mutation{Kind: kind, Key: key, Expect: expect, Value: []byte(value)}
}

func testApplyVersions(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "b", "upd", 0, "one", time.Time{})
	mustPut(t, s, "b", "del", 0, "gone", time.Time{})
	mustPut(t, s, "b", "chk", 0, "kept", time.Time{})
	got := mustApply(t, s,
		put("b", "new", 0, "fresh"),
		put("b", "upd", 1, "two"),
		persistence.Mutation{Kind: "b", Key: "del", Expect: 1, Delete: true},
		persistence.Mutation{Kind: "b", Key: "chk", Expect: 1, Check: true},
		persistence.Mutation{Kind: "b", Key: "absent", Delete: true},
		put("other", "new", 0, "x"),
	)
	if want := []uint64{1, 2, 0, 0, 0, 1}; !slices.Equal(got, want) {
		t.Fatalf("Apply versions = %v, want %v", got, want)
	}
	wantRecord(t, s, "b", "new", 1, "fresh")
	wantRecord(t, s, "b", "upd", 2, "two")
	wantNotFound(t, s, "b", "del")
	wantRecord(t, s, "b", "chk", 1, "kept")
	wantNotFound(t, s, "b", "absent")
	wantRecord(t, s, "other", "new", 1, "x")
	if v, err := s.Apply(t.Context(), nil); err != nil || len(v) != 0 {
		t.Fatalf("Apply(empty) = %v, %v; want no versions, nil", v, err)
	}
}

// A batch whose last precondition fails writes none of its mutations, whatever
// their kind.
func testApplyAllOrNothing(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "b", "a", 0, "a1", time.Time{})
	mustPut(t, s, "b", "d", 0, "d1", time.Time{})
	mustPut(t, s, "b", "e", 0, "e1", time.Time{})
	failing := []persistence.Mutation{
		put("b", "a", 0, "exists already"),                   // create over an existing record
		put("b", "a", 2, "stale"),                            // stale version
		{Kind: "b", Key: "e", Expect: 7, Delete: true},       // stale delete
		{Kind: "b", Key: "missing", Expect: 1, Delete: true}, // delete of an absent record at a version
		{Kind: "b", Key: "a", Expect: 3, Check: true},        // failing check
		{Kind: "b", Key: "missing", Expect: 1, Check: true},  // check of an absent record
		put("b", "missing", 1, "update of an absent record"), // update of an absent record
	}
	for i, bad := range failing {
		_, err := s.Apply(t.Context(), []persistence.Mutation{
			put("b", "new", 0, "must not appear"),
			{Kind: "b", Key: "d", Expect: 1, Delete: true},
			put("c", "other-kind", 0, "must not appear"),
			bad,
		})
		wantErr(t, fmt.Sprintf("Apply with failing mutation %d", i), err, persistence.ErrConflict)
		wantNotFound(t, s, "b", "new")
		wantNotFound(t, s, "c", "other-kind")
		wantRecord(t, s, "b", "d", 1, "d1")
		wantRecord(t, s, "b", "a", 1, "a1")
		wantRecord(t, s, "b", "e", 1, "e1")
	}
}

func testApplyCheck(t *testing.T, s persistence.Store, _ *Clock) {
	mustPut(t, s, "b", "parent", 0, "p", time.Time{})
	mustApply(t, s,
		persistence.Mutation{Kind: "b", Key: "parent", Expect: 1, Check: true},
		persistence.Mutation{Kind: "b", Key: "nobody", Check: true}, // absent, as expected
		put("b", "child", 0, "c"),
	)
	wantRecord(t, s, "b", "parent", 1, "p") // a check writes nothing
	wantNotFound(t, s, "b", "nobody")
	wantRecord(t, s, "b", "child", 1, "c")
	// A check of an absent record fails once it exists.
	_, err := s.Apply(t.Context(), []persistence.Mutation{{Kind: "b", Key: "parent", Check: true}, put("b", "child2", 0, "c")})
	wantErr(t, "Apply with a check for absence of an existing record", err, persistence.ErrConflict)
	wantNotFound(t, s, "b", "child2")
}

func testApplyExpired(t *testing.T, s persistence.Store, clock *Clock) {
	mustPut(t, s, "b", "ttl", 0, "short", clock.Now().Add(time.Minute))
	clock.Advance(time.Hour)
	got := mustApply(t, s,
		persistence.Mutation{Kind: "b", Key: "ttl", Check: true},
		put("b", "ttl2", 0, "x"),
	)
	if got[1] != 1 {
		t.Fatalf("versions = %v", got)
	}
	got = mustApply(t, s, put("b", "ttl", 0, "again"))
	if got[0] != 1 {
		t.Fatalf("recreating an expired record: version %d, want 1", got[0])
	}
	wantRecord(t, s, "b", "ttl", 1, "again")
}

func testApplyMalformed(t *testing.T, s persistence.Store, _ *Clock) {
	bad := [][]persistence.Mutation{
		{put("b", "x", 0, "1"), put("b", "x", 0, "2")},
		{put("b", "x", 0, "1"), {Kind: "b", Key: "x", Delete: true}},
		{put("b", "", 0, "1")},
		{put("", "x", 0, "1")},
		{put("b\x00c", "x", 0, "1")},
		{{Kind: "b", Key: "y", Delete: true, Check: true}},
	}
	for i, muts := range bad {
		_, err := s.Apply(t.Context(), muts)
		if err == nil || errors.Is(err, persistence.ErrConflict) {
			t.Fatalf("malformed batch %d: err = %v, want a non-conflict error", i, err)
		}
	}
	wantNotFound(t, s, "b", "x")
}

// Writers each claim one shared index key and write a record of their own in the same
// batch, as the directory claims a unique value: exactly one batch wins, and no loser
// leaves its own record behind.
func testApplyConcurrentClaim(t *testing.T, s persistence.Store, _ *Clock) {
	const n = 32
	start := make(chan struct{})
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := range n {
		wg.Go(func() {
			<-start
			owner := fmt.Sprint("owner-", i)
			_, err := s.Apply(t.Context(), []persistence.Mutation{
				put("entity", owner, 0, "e"),
				put("index", "alice", 0, owner),
			})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, persistence.ErrConflict):
			default:
				t.Errorf("Apply: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d batches claimed the key, want exactly 1", wins.Load())
	}
	rec, err := s.Get(t.Context(), "index", "alice")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := scanAll(t, s, "entity")
	if len(keys) != 1 || keys[0] != string(rec.Value) {
		t.Fatalf("entities %q after the race, want only the winner %q", keys, rec.Value)
	}
}

// Batches update the same keys, each in another order: exactly one wins (the others
// saw version 1 taken) and none deadlocks.
func testApplyConcurrentOverlap(t *testing.T, s persistence.Store, _ *Clock) {
	const keys, writers = 8, 16
	for k := range keys {
		mustPut(t, s, "ov", fmt.Sprint("k", k), 0, "base", time.Time{})
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	winners := make(chan string, writers)
	for w := range writers {
		wg.Go(func() {
			muts := make([]persistence.Mutation, keys)
			for k := range keys {
				j := (k*3 + w) % keys // a different order per writer
				muts[k] = put("ov", fmt.Sprint("k", j), 1, fmt.Sprint("w", w))
			}
			<-start
			_, err := s.Apply(t.Context(), muts)
			switch {
			case err == nil:
				winners <- fmt.Sprint("w", w)
			case errors.Is(err, persistence.ErrConflict):
			default:
				t.Errorf("Apply: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(winners)
	var won []string
	for w := range winners {
		won = append(won, w)
	}
	if len(won) != 1 {
		t.Fatalf("%d batches won, want exactly 1: %q", len(won), won)
	}
	for k := range keys {
		wantRecord(t, s, "ov", fmt.Sprint("k", k), 2, won[0])
	}
}
