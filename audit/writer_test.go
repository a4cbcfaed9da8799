package audit_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/persistence"
)

// recordingStore is a real (in-memory Pebble) store whose Apply calls are recorded and
// can be held until release is closed.
type recordingStore struct {
	persistence.Store
	mu      sync.Mutex
	applies [][]persistence.Mutation
	entered chan struct{} // receives once per Apply, when set
	release chan struct{} // Apply waits for it, when set
}

func (s *recordingStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.release != nil {
		<-s.release
	}
	s.mu.Lock()
	s.applies = append(s.applies, append([]persistence.Mutation(nil), muts...)) // the store keeps no reference
	s.mu.Unlock()
	return s.Store.Apply(ctx, muts)
}

func (s *recordingStore) batches() [][]persistence.Mutation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]persistence.Mutation(nil), s.applies...)
}

func newStore(t testing.TB, now func() time.Time) *recordingStore {
	t.Helper()
	st, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "/db", FS: vfs.NewMem(), NoSync: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &recordingStore{Store: st}
}

func newWriter(t *testing.T, st persistence.Store, mutate func(*audit.WriterConfig)) *audit.Writer {
	t.Helper()
	cfg := audit.WriterConfig{Store: st, Now: time.Now, Rand: rand.Reader, FlushInterval: time.Hour}
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := audit.NewWriter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// TestWriterBatches: full batches are written as they fill, each one compressed record
// (so one shard of a sharded store) in one Apply, and the rest on Close; an entry's id
// names its batch's record.
func TestWriterBatches(t *testing.T) {
	st := newStore(t, time.Now)
	w := newWriter(t, st, func(c *audit.WriterConfig) { c.BatchSize = 10 })
	for i := range 25 {
		w.Record(audit.Entry{Key: audit.KeyExchangeByRefreshToken, ApplicationID: fmt.Sprint("app", i)})
	}
	waitFor(t, "two full batches", func() bool { return len(st.batches()) == 2 })
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	bs := st.batches()
	if got := entryCounts(t, bs); !slices.Equal(got, []int{10, 10, 5}) {
		t.Fatalf("entries per Apply %v, want [10 10 5]", got)
	}
	seen := map[string]bool{}
	apps := map[string]bool{}
	for _, b := range bs {
		m := b[0]
		if seen[m.Key] || m.Kind != audit.Kind || strings.Contains(m.Key, "/") {
			t.Errorf("record %s/%s: want a new batch id of kind %s", m.Kind, m.Key, audit.Kind)
		}
		seen[m.Key] = true
		logs, _ := audit.DecodeRecord(m.Value)
		for i, l := range logs {
			if want := m.Key + "-" + strconv.FormatInt(int64(i), 36); l.ID != want {
				t.Errorf("entry %d of batch %s has id %s, want %s", i, m.Key, l.ID, want)
			}
			apps[l.Payload.ApplicationID] = true
		}
		if len(m.Value) >= len(logs)*60 {
			t.Errorf("%d entries stored in %d bytes: not compressed", len(logs), len(m.Value))
		}
	}
	if len(apps) != 25 {
		t.Errorf("%d distinct entries stored, want 25", len(apps))
	}
	if s := w.Stats(); s.Written != 25 || s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("stats %+v, want 25 written", s)
	}
}

// TestWriterBoundsBatchBytes: long fields are clipped, and a batch whose encoding
// would pass 256 KiB is split, each part a record of its own, so that one write stays
// within a Raft message.
func TestWriterBoundsBatchBytes(t *testing.T) {
	st := newStore(t, time.Now)
	w := newWriter(t, st, nil)
	long := strings.Repeat("x", 64<<10)
	for range 256 {
		w.Record(audit.Entry{Key: audit.KeyExchangeByRefreshToken, UserAgent: long, Path: long})
	}
	w.Close()
	bs := st.batches()
	if len(bs) < 2 {
		t.Fatalf("one Apply for %d entries of ~2 KiB each", 256)
	}
	total := 0
	for _, b := range bs {
		logs, err := audit.DecodeRecord(b[0].Value)
		if len(b) != 1 || err != nil {
			t.Fatalf("Apply of %d records (%v), want one batch", len(b), err)
		}
		size := 0
		for _, l := range logs {
			if len(l.Payload.UserAgent) > 1024 || len(l.Payload.Path) > 1024 {
				t.Fatalf("fields of %d and %d bytes: not clipped", len(l.Payload.UserAgent), len(l.Payload.Path))
			}
			raw, _ := json.Marshal(l)
			size += len(raw)
		}
		if size > 256<<10+4<<10 {
			t.Errorf("one record of %d bytes of JSON", size)
		}
		total += len(logs)
	}
	if total != 256 || w.Stats().Written != 256 {
		t.Errorf("%d written (%+v), want 256", total, w.Stats())
	}
}

// TestWriterFlushesOnInterval: a batch that does not fill is written FlushInterval
// after its first entry, without Close.
func TestWriterFlushesOnInterval(t *testing.T) {
	st := newStore(t, time.Now)
	w := newWriter(t, st, func(c *audit.WriterConfig) { c.FlushInterval = 5 * time.Millisecond })
	w.Record(audit.Entry{Key: "Interaction.SignIn.Submit"})
	waitFor(t, "the interval flush", func() bool { return len(st.batches()) == 1 })
	w.Record(audit.Entry{Key: "Interaction.SignIn.Submit"})
	waitFor(t, "a second interval flush", func() bool { return len(st.batches()) == 2 })
}

// TestWriterDropsWhenFull: with the writer stuck in a slow store, Record still returns
// at once; what does not fit the queue is dropped and counted, the rest is written.
func TestWriterDropsWhenFull(t *testing.T) {
	st := newStore(t, time.Now)
	st.entered, st.release = make(chan struct{}, 16), make(chan struct{})
	w := newWriter(t, st, func(c *audit.WriterConfig) { c.BatchSize, c.QueueSize = 1, 4 })
	w.Record(audit.Entry{Key: "first"})
	<-st.entered // the writer holds "first", inside Apply
	for i := range 4 + 3 {
		w.Record(audit.Entry{Key: fmt.Sprint("queued", i)}) // must not block
	}
	if d := w.Stats().Dropped; d != 3 {
		t.Fatalf("dropped %d, want 3 (queue of 4)", d)
	}
	close(st.release)
	w.Close()
	if s := w.Stats(); s.Written != 5 || s.Dropped != 3 {
		t.Errorf("stats %+v, want 5 written, 3 dropped", s)
	}
}

// TestWriterFlushOnClose: Close writes what waits, with the retention as TTL, and
// Reader finds it by id and by filters, newest first.
func TestWriterFlushOnClose(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	st := newStore(t, clock)
	w := newWriter(t, st, func(c *audit.WriterConfig) { c.Now, c.Retention = clock, 48*time.Hour })
	idt := fakeJWT(map[string]any{"sub": "user-1", "aud": "app-1"})
	w.Record(audit.Entry{Key: audit.KeyExchangeByRefreshToken, GrantType: "refresh_token", TokenTypes: audit.AccessToken | audit.IDToken,
		Token: idt, CreatedAt: now.Add(-time.Minute), IP: "127.0.0.1"})
	w.Record(audit.Entry{Key: "Interaction.SignIn.Verification.Password.Submit", Result: audit.Error,
		Error: audit.ErrorInfo{Code: "session.invalid_credentials", Message: "bad"}, Identifier: audit.Identifier{Type: "username", Value: "alice"}})
	w.Record(audit.Entry{Key: audit.KeyExchangeByClientCredentials, Token: fakeJWT(map[string]any{"sub": "m2m", "client_id": "m2m"})})
	if len(st.batches()) != 0 {
		t.Fatal("written before Close with an hour's interval")
	}
	w.Close()
	bs := st.batches()
	if got := entryCounts(t, bs); !slices.Equal(got, []int{3}) {
		t.Fatalf("entries per Apply %v, want one batch of 3", got)
	}
	if got, want := bs[0][0].ExpiresAt, now.Add(48*time.Hour); !got.Equal(want) {
		t.Errorf("ExpiresAt %v, want the newest CreatedAt + retention %v", got, want)
	}

	r := audit.Reader{Store: st}
	all, err := r.List(t.Context(), audit.Query{})
	if err != nil || len(all) != 3 {
		t.Fatalf("List = %d, %v", len(all), err)
	}
	if all[2].Key != audit.KeyExchangeByRefreshToken {
		t.Errorf("oldest last: got %s", all[2].Key)
	}
	refresh := all[2]
	if p := refresh.Payload; p.UserID != "user-1" || p.ApplicationID != "app-1" || p.Result != audit.Success ||
		p.Params == nil || p.Params.GrantType != "refresh_token" || len(p.TokenTypes) != 2 || p.IP != "127.0.0.1" {
		t.Errorf("refresh payload %+v", p)
	}
	got, err := r.Get(t.Context(), refresh.ID)
	if err != nil || got.ID != refresh.ID || got.CreatedAt != now.Add(-time.Minute).UnixMilli() {
		t.Errorf("Get(%s) = %+v, %v", refresh.ID, got, err)
	}
	if _, err := r.Get(t.Context(), "nope-0"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get(unknown) = %v, want ErrNotFound", err)
	}
	byUser, _ := r.List(t.Context(), audit.Query{UserID: "user-1"})
	if len(byUser) != 1 {
		t.Errorf("by user: %d, want 1", len(byUser))
	}
	m2m, _ := r.List(t.Context(), audit.Query{ApplicationID: "m2m"})
	if len(m2m) != 1 || m2m[0].Payload.UserID != "" {
		t.Errorf("a machine token's sub is no user: %+v", m2m)
	}
	failed, _ := r.List(t.Context(), audit.Query{Key: "Interaction.SignIn.Verification.Password.Submit"})
	if len(failed) != 1 || failed[0].Payload.Result != audit.Error || failed[0].Payload.Error.Code != "session.invalid_credentials" {
		t.Errorf("failed sign-in: %+v", failed)
	}
	raw, _ := json.Marshal(failed[0])
	var shape map[string]any
	_ = json.Unmarshal(raw, &shape)
	for _, k := range []string{"id", "key", "payload", "createdAt"} {
		if _, ok := shape[k]; !ok {
			t.Errorf("log JSON lacks %q: %s", k, raw)
		}
	}
	old, _ := r.List(t.Context(), audit.Query{Until: now.Add(-30 * time.Second)})
	if len(old) != 1 {
		t.Errorf("until: %d, want 1", len(old))
	}

	// Past the retention the store's TTL hides them.
	now = now.Add(49 * time.Hour)
	if left, _ := r.List(t.Context(), audit.Query{}); len(left) != 0 {
		t.Errorf("%d logs past retention", len(left))
	}
}

func fakeJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	return "eyJhbGciOiJFUzI1NiJ9." + base64.RawURLEncoding.EncodeToString(b) + ".sig"
}

// entryCounts is the number of entries each Apply wrote, failing t unless each wrote
// one batch record.
func entryCounts(t *testing.T, bs [][]persistence.Mutation) []int {
	t.Helper()
	out := make([]int, len(bs))
	for i, b := range bs {
		if len(b) != 1 {
			t.Fatalf("Apply %d wrote %d records, want one batch", i, len(b))
		}
		logs, err := audit.DecodeRecord(b[0].Value)
		if err != nil {
			t.Fatalf("Apply %d: %v", i, err)
		}
		out[i] = len(logs)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// A webhook delivery log keeps Logto's hook fields (hookId, hookRequest.body,
// response {statusCode, body}: JSON when it parses, else a string) and is found by
// its hook and the TriggerHook. prefix.
func TestHookDeliveryLog(t *testing.T) {
	store := newStore(t, time.Now)
	w := newWriter(t, store, nil)
	w.Record(audit.Entry{Key: "TriggerHook.User.Created", HookID: "h1", HookRequestBody: []byte(`{"event":"User.Created"}`),
		HookResponseStatus: 500, HookResponseBody: []byte("<html>oops</html>"), Result: audit.Error, Error: audit.ErrorInfo{Message: "answered 500"}})
	w.Record(audit.Entry{Key: "TriggerHook.User.Created", HookID: "h2", HookRequestBody: []byte(`{}`), HookResponseStatus: 200, HookResponseBody: []byte(`{"ok":true}`)})
	w.Record(audit.Entry{Key: "ManagementApi.Create"})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	logs, err := audit.Reader{Store: store}.List(t.Context(), audit.Query{HookID: "h1", KeyPrefix: audit.KeyTriggerHookPrefix})
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != 1 {
		t.Fatalf("%d logs for h1", len(logs))
	}
	p := logs[0].Payload
	if p.HookID != "h1" || p.HookRequest == nil || string(p.HookRequest.Body) != `{"event":"User.Created"}` ||
		p.Response == nil || p.Response.StatusCode != 500 || string(p.Response.Body) != `"\u003chtml\u003eoops\u003c/html\u003e"` || p.Result != audit.Error {
		t.Fatalf("payload %+v %s", p, p.Response.Body)
	}
	all, _ := audit.Reader{Store: store}.List(t.Context(), audit.Query{KeyPrefix: audit.KeyTriggerHookPrefix})
	if len(all) != 2 {
		t.Fatalf("%d TriggerHook logs", len(all))
	}
}

// flakyStore answers ErrUnavailable to its first fails Apply calls (as a shard without a
// reachable leader for a moment), then writes.
type flakyStore struct {
	persistence.Store
	mu    sync.Mutex
	fails int
	calls int
}

func (s *flakyStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	s.mu.Lock()
	s.calls++
	fail := s.calls <= s.fails
	s.mu.Unlock()
	if fail {
		return nil, fmt.Errorf("%w: shard 3: no leader", persistence.ErrUnavailable)
	}
	return s.Store.Apply(ctx, muts)
}

// TestWriterRetriesAnUnavailableShard: a batch whose shard is unavailable for a moment
// is written once it is back, not lost.
func TestWriterRetriesAnUnavailableShard(t *testing.T) {
	st := &flakyStore{Store: newStore(t, time.Now), fails: 2}
	w := newWriter(t, st, nil)
	w.Record(audit.Entry{Key: audit.KeyExchangeByClientCredentials})
	w.Close()
	if s := w.Stats(); s.Written != 1 || s.Failed != 0 || st.calls != 3 {
		t.Fatalf("stats %+v after %d applies, want the entry written on the third", s, st.calls)
	}
}

// TestReaderReadsRecordsPerEntry: logs that an earlier release stored a record each
// ("<batch id>/<id>", the log's JSON) are listed and found by id beside batches, and a
// record in neither form is skipped.
func TestReaderReadsRecordsPerEntry(t *testing.T) {
	st := newStore(t, time.Now)
	old := audit.Log{ID: "0abc-0", Key: audit.KeyExchangeByRefreshToken, CreatedAt: time.Now().Add(-time.Hour).UnixMilli(),
		Payload: audit.Payload{Key: audit.KeyExchangeByRefreshToken, Result: audit.Success, UserID: "u1"}}
	raw, _ := json.Marshal(old)
	if _, err := st.Apply(t.Context(), []persistence.Mutation{
		{Kind: audit.Kind, Key: "0abc/0abc-0", Value: raw, Insert: true},
		{Kind: audit.Kind, Key: "junk", Value: []byte{0x01, 0xff, 0xff}, Insert: true},
	}); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, st, nil)
	w.Record(audit.Entry{Key: audit.KeyExchangeByClientCredentials, UserID: "u1"})
	w.Close()
	r := audit.Reader{Store: st}
	logs, err := r.List(t.Context(), audit.Query{UserID: "u1"})
	if err != nil || len(logs) != 2 || logs[1].ID != old.ID || logs[0].Key != audit.KeyExchangeByClientCredentials {
		t.Fatalf("List = %+v, %v; want the new entry, then the old", logs, err)
	}
	for _, l := range logs {
		got, err := r.Get(t.Context(), l.ID)
		if err != nil || got.ID != l.ID || got.Key != l.Key {
			t.Errorf("Get(%s) = %+v, %v", l.ID, got, err)
		}
	}
	if _, err := r.Get(t.Context(), logs[0].ID+"0"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get of an id its batch lacks = %v, want ErrNotFound", err)
	}
}

// FuzzDecodeRecord: a stored value of any bytes decodes or is refused, never panics,
// and never decodes to more than a batch may hold.
func FuzzDecodeRecord(f *testing.F) {
	st := newStore(f, time.Now)
	w, _ := audit.NewWriter(audit.WriterConfig{Store: st, Now: time.Now, Rand: rand.Reader})
	w.Record(audit.Entry{Key: audit.KeyExchangeByRefreshToken, UserAgent: "ua"})
	w.Close()
	for _, b := range st.batches() {
		f.Add(b[0].Value)
	}
	f.Add([]byte(`{"id":"a-0","key":"k","payload":{},"createdAt":1}`))
	f.Add([]byte{0x01, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, value []byte) {
		logs, err := audit.DecodeRecord(value)
		if err != nil && logs != nil {
			t.Fatalf("logs and an error")
		}
	})
}
