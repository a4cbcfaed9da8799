package outbox_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
	"github.com/latchid/latch/persistence/persistencetest"
)

const issuer = "https://id.example/oidc"

func newRing(t *testing.T) *oidcflow.KeyRing {
	t.Helper()
	k, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := oidcflow.NewKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	return ring
}

func openStore(t *testing.T, dir string, fs vfs.FS, now func() time.Time) *persistence.PebbleStore {
	t.Helper()
	s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: dir, FS: fs, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// receiver is an RP's back-channel logout endpoint: it answers with the statuses in
// order (the last one repeats) and records each logout token it got.
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	statuses []int
	tokens   []string
	got      chan string
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{t: t, statuses: statuses, got: make(chan string, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			t.Errorf("back-channel request %s with Content-Type %q", req.Method, req.Header.Get("Content-Type"))
		}
		tok := req.PostFormValue("logout_token")
		r.mu.Lock()
		st := r.statuses[min(len(r.tokens), len(r.statuses)-1)]
		r.tokens = append(r.tokens, tok)
		r.mu.Unlock()
		if st == http.StatusFound {
			w.Header().Set("Location", "/elsewhere")
		}
		w.WriteHeader(st)
		r.got <- tok
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.tokens)
}

// claims verifies a logout token against ring and returns its claims.
func claims(t *testing.T, ring *oidcflow.KeyRing, tok string) map[string]any {
	t.Helper()
	payload, typ, err := ring.Verify(tok)
	if err != nil {
		t.Fatalf("logout token does not verify: %v", err)
	}
	if typ != oidcflow.TypLogoutToken {
		t.Fatalf("typ = %q", typ)
	}
	var c map[string]any
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// run starts w.Run and stops it when the test ends (or when the returned stop is called).
func run(t *testing.T, w *outbox.Worker) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// eventually polls cond every 5 ms for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pending(t *testing.T, w *outbox.Worker) int {
	t.Helper()
	n, err := w.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestDeliversAFreshLogoutToken(t *testing.T) {
	ring := newRing(t)
	store := openStore(t, "/db", vfs.NewMem(), nil)
	rp := newReceiver(t, http.StatusOK)
	w, err := outbox.New(outbox.Config{Store: store, Signer: ring, BaseBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Enqueued before Run starts: the entry is durable and waits.
	if err := w.Enqueue(t.Context(), outbox.Logout{ClientID: "app1", URI: rp.srv.URL, Issuer: issuer, Subject: "user1", SID: "sid1"}); err != nil {
		t.Fatal(err)
	}
	if n := pending(t, w); n != 1 {
		t.Fatalf("pending after Enqueue = %d, want 1", n)
	}
	before := time.Now().Unix()
	run(t, w)
	tok := <-rp.got
	c := claims(t, ring, tok)
	if c["iss"] != issuer || c["aud"] != "app1" || c["sub"] != "user1" || c["sid"] != "sid1" || c["jti"] == "" {
		t.Fatalf("claims %v", c)
	}
	iat, _ := c["iat"].(float64)
	exp, _ := c["exp"].(float64)
	if int64(iat) < before || exp-iat != 120 {
		t.Fatalf("iat %v exp %v: want a fresh token living 120 s", iat, exp)
	}
	eventually(t, "delivered count", func() bool { return w.Stats().Delivered == 1 })
	if n := pending(t, w); n != 0 {
		t.Fatalf("pending after delivery = %d", n)
	}
	if s := w.Stats(); s.Retried != 0 || s.GivenUp != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Failed attempts are retried with backoff; every attempt carries a freshly minted
// token (new jti); 204 counts as delivered (Back-Channel Logout 2.8), a redirect does
// not.
func TestRetriesWithBackoffAndFreshTokens(t *testing.T) {
	ring := newRing(t)
	store := openStore(t, "/db", vfs.NewMem(), nil)
	rp := newReceiver(t, http.StatusServiceUnavailable, http.StatusFound, http.StatusNoContent)
	base := 40 * time.Millisecond
	w, err := outbox.New(outbox.Config{Store: store, Signer: ring, BaseBackoff: base, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	run(t, w)
	start := time.Now()
	if err := w.Enqueue(t.Context(), outbox.Logout{ClientID: "app1", URI: rp.srv.URL, Issuer: issuer, SID: "sid1"}); err != nil {
		t.Fatal(err)
	}
	var at []time.Duration
	jtis := map[string]bool{}
	for range 3 {
		tok := <-rp.got
		at = append(at, time.Since(start))
		jti, _ := claims(t, ring, tok)["jti"].(string)
		if jtis[jti] {
			t.Fatalf("jti %q reused across attempts", jti)
		}
		jtis[jti] = true
	}
	eventually(t, "delivery", func() bool { return w.Stats().Delivered == 1 })
	if s := w.Stats(); s.Retried != 2 || s.GivenUp != 0 {
		t.Fatalf("stats %+v, want 2 retries then delivered", s)
	}
	// Equal jitter: the n-th retry waits at least half of base*2^(n-1).
	if gap := at[1] - at[0]; gap < base/2 {
		t.Errorf("first retry after %v, want >= %v", gap, base/2)
	}
	if gap := at[2] - at[1]; gap < base {
		t.Errorf("second retry after %v, want >= %v", gap, base)
	}
	if n := pending(t, w); n != 0 || rp.count() != 3 {
		t.Fatalf("pending %d, attempts %d", n, rp.count())
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	store := openStore(t, "/db", vfs.NewMem(), nil)
	rp := newReceiver(t, http.StatusInternalServerError)
	w, err := outbox.New(outbox.Config{Store: store, Signer: newRing(t), BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	run(t, w)
	if err := w.Enqueue(t.Context(), outbox.Logout{ClientID: "app1", URI: rp.srv.URL, Issuer: issuer, Subject: "u"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "give-up", func() bool { return w.Stats().GivenUp == 1 })
	if s := w.Stats(); s.Retried != 2 || s.Delivered != 0 || rp.count() != 3 {
		t.Fatalf("stats %+v after %d attempts, want 2 retries, 3 attempts", s, rp.count())
	}
	if n := pending(t, w); n != 0 {
		t.Fatalf("a given-up entry is still pending (%d)", n)
	}
}

// A logout that is still undelivered TTL after it was enqueued is given up, and its
// record is swept at the latest an hour later, so the outbox stays bounded.
func TestGivesUpAfterTTLAndStaysBounded(t *testing.T) {
	clock := persistencetest.NewClock(time.Now())
	store := openStore(t, "/db", vfs.NewMem(), clock.Now)
	rp := newReceiver(t, http.StatusBadGateway)
	w, err := outbox.New(outbox.Config{
		Store: store, Signer: newRing(t), Now: clock.Now,
		BaseBackoff: 10 * time.Minute, MaxBackoff: time.Hour, TTL: time.Hour, PollInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, w)
	if err := w.Enqueue(t.Context(), outbox.Logout{ClientID: "app1", URI: rp.srv.URL, Issuer: issuer, Subject: "u"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "first retry scheduled", func() bool { return w.Stats().Retried == 1 })
	clock.Advance(55 * time.Minute) // due again; the retry after it would pass the TTL
	w.Wake()
	eventually(t, "give-up", func() bool { return w.Stats().GivenUp == 1 })
	if rp.count() != 2 {
		t.Fatalf("%d attempts, want 2", rp.count())
	}

	// Many undelivered entries (no worker running: the first one would pick them up,
	// give up on one and delete it before the sweep) leave nothing once past TTL and swept.
	stop()
	w2, err := outbox.New(outbox.Config{Store: store, Signer: newRing(t), Now: clock.Now, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if err := w2.Enqueue(t.Context(), outbox.Logout{ClientID: "app1", URI: "http://127.0.0.1:9/bc", Issuer: issuer, SID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if c, _ := persistence.Count(t.Context(), store, outbox.Kind); c.Live != 200 {
		t.Fatalf("count %+v, want 200 live", c)
	}
	clock.Advance(2*time.Hour + time.Second)
	if n, err := store.SweepExpired(t.Context()); err != nil || n != 200 {
		t.Fatalf("swept %d, %v; want 200", n, err)
	}
	if c, _ := persistence.Count(t.Context(), store, outbox.Kind); c.Stored != 0 {
		t.Fatalf("count after sweep %+v, want nothing stored", c)
	}
}

// An entry outlives the worker and the store: a new worker on the reopened store
// delivers it once the RP is reachable.
func TestSurvivesRestart(t *testing.T) {
	ring := newRing(t)
	dir := t.TempDir()
	// An address where nothing listens yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	store1, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	w1, err := outbox.New(outbox.Config{Store: store1, Signer: ring, BaseBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	stop1 := run(t, w1)
	if err := w1.Enqueue(t.Context(), outbox.Logout{ClientID: "app1", URI: "http://" + addr + "/bc", Issuer: issuer, Subject: "u", SID: "s"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a failed attempt", func() bool { return w1.Stats().Retried >= 1 })
	stop1()
	if err := store1.Close(); err != nil {
		t.Fatal(err)
	}

	store2 := openStore(t, dir, nil, nil)
	rpLn, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	got := make(chan string, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.PostFormValue("logout_token")
	})}
	go func() { _ = srv.Serve(rpLn) }()
	t.Cleanup(func() { _ = srv.Close() })
	w2, err := outbox.New(outbox.Config{Store: store2, Signer: ring, BaseBackoff: 20 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run(t, w2)
	select {
	case tok := <-got:
		if c := claims(t, ring, tok); c["sid"] != "s" || c["aud"] != "app1" {
			t.Fatalf("claims after restart %v", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the entry was not delivered after the restart")
	}
	eventually(t, "delivered", func() bool { return w2.Stats().Delivered == 1 })
}

// Many logouts to one RP, delivered concurrently: each exactly once.
func TestConcurrentDeliveriesOncePerEntry(t *testing.T) {
	ring := newRing(t)
	store := openStore(t, "/db", vfs.NewMem(), nil)
	var mu sync.Mutex
	seen := map[string]int{}
	var inflight, peak atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		payload, _, err := ring.Verify(r.PostFormValue("logout_token"))
		if err != nil {
			t.Error(err)
		}
		var c struct{ SID string }
		_ = json.Unmarshal(payload, &c)
		mu.Lock()
		seen[c.SID]++
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	w, err := outbox.New(outbox.Config{Store: store, Signer: ring, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	var ls []outbox.Logout
	for i := range n {
		ls = append(ls, outbox.Logout{ClientID: "app1", URI: srv.URL, Issuer: issuer, SID: fmt.Sprint(i)})
	}
	if err := w.Enqueue(t.Context(), ls...); err != nil {
		t.Fatal(err)
	}
	run(t, w)
	eventually(t, "all delivered", func() bool { return w.Stats().Delivered == n })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != n {
		t.Fatalf("%d distinct sids delivered, want %d", len(seen), n)
	}
	for sid, k := range seen {
		if k != 1 {
			t.Errorf("sid %s delivered %d times", sid, k)
		}
	}
	if p := peak.Load(); p > 4 || p < 2 {
		t.Errorf("peak concurrency %d, want 2..4", p)
	}
}

func TestEnqueueValidates(t *testing.T) {
	store := openStore(t, "/db", vfs.NewMem(), nil)
	w, err := outbox.New(outbox.Config{Store: store, Signer: newRing(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []outbox.Logout{
		{ClientID: "a", URI: "ftp://x/bc", Issuer: issuer, Subject: "u"},
		{ClientID: "a", URI: "/relative", Issuer: issuer, Subject: "u"},
		{ClientID: "a", URI: "https://rp.example/bc", Issuer: issuer},
		{URI: "https://rp.example/bc", Issuer: issuer, Subject: "u"},
	} {
		if err := w.Enqueue(t.Context(), l); err == nil {
			t.Errorf("Enqueue(%+v) accepted", l)
		}
	}
	if n := pending(t, w); n != 0 {
		t.Fatalf("invalid logouts stored: %d", n)
	}
	if _, err := outbox.New(outbox.Config{}); err == nil || !strings.Contains(err.Error(), "Store") || !strings.Contains(err.Error(), "Signer") {
		t.Fatalf("New without Store and Signer: %v", err)
	}
	// A closed store fails the enqueue: the caller learns the logout was not queued.
	_ = store.Close()
	if err := w.Enqueue(t.Context(), outbox.Logout{ClientID: "a", URI: "https://rp.example/bc", Issuer: issuer, Subject: "u"}); !errors.Is(err, persistence.ErrClosed) {
		t.Fatalf("Enqueue on a closed store: %v", err)
	}
}

func TestBackoff(t *testing.T) {
	base, maxDelay := time.Second, 5*time.Minute
	tests := []struct {
		n      int
		jitter float64
		want   time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.999999999, time.Second},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second},
		{9, 0.999999999, 256 * time.Second},
		{10, 0.999999999, 5 * time.Minute},
		{10, 0, 150 * time.Second},
		{1000, 0.999999999, 5 * time.Minute},
	}
	for _, tt := range tests {
		got := outbox.Backoff(tt.n, base, maxDelay, tt.jitter)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Backoff(%d, jitter %v) = %v, want %v", tt.n, tt.jitter, got, tt.want)
		}
	}
}
