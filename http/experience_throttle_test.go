package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/persistence"
)

// throttleTry plays one password verification as verifyPassword does: charge, then
// confirm the failure or refund the success.
func throttleTry(t *testing.T, th *passwordThrottle, source, identifier string, correct bool) (ok bool, until time.Time) {
	t.Helper()
	ctx := contextWithSignInSource(t.Context(), source)
	id := throttleKey("username", identifier)
	ok, until = th.attempt(ctx, id)
	if !ok {
		return false, until
	}
	if correct {
		th.succeeded(ctx, id)
	} else {
		th.failed(ctx, id)
	}
	return true, time.Time{}
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func memThrottleStore(t *testing.T, now func() time.Time) persistence.Store {
	t.Helper()
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

func TestPasswordThrottle(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clock := &expClock{t: start}
	cfg := throttleConfig{MaxFailures: 3, MaxIdentifierFailures: 100, Window: time.Minute, Lockout: 5 * time.Minute,
		MaxSourceIdentifiers: 100, MaxSourceFailures: 1000, SourceLockout: time.Hour, MaxEntries: 12}
	th := newPasswordThrottle(clock.Now, cfg, nil, nil)
	const src = "192.0.2.1"

	for i := range 3 {
		if ok, _ := throttleTry(t, th, src, "a", false); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		clock.Advance(10 * time.Second)
	}
	// Locked from the third failure (at +20 s) for Lockout.
	ok, until := throttleTry(t, th, src, "a", true)
	if ok || !until.Equal(start.Add(20*time.Second+cfg.Lockout)) {
		t.Fatalf("4th attempt: ok=%v until=%v", ok, until)
	}
	if ok, _ := throttleTry(t, th, src, "b", true); !ok {
		t.Fatal("another identifier is locked too")
	}

	// Failures that left the window do not count.
	for range 2 {
		throttleTry(t, th, src, "c", false)
	}
	clock.Advance(cfg.Window)
	for i := range 3 {
		if ok, _ := throttleTry(t, th, src, "c", false); !ok {
			t.Fatalf("attempt %d after the window refused", i+1)
		}
	}

	// A success clears the failures.
	throttleTry(t, th, src, "d", false)
	throttleTry(t, th, src, "d", false)
	throttleTry(t, th, src, "d", true)
	for range 3 {
		if ok, _ := throttleTry(t, th, src, "d", false); !ok {
			t.Fatal("failures survived a success")
		}
	}

	// The lock lifts after Lockout.
	clock.Advance(cfg.Lockout)
	if ok, _ := throttleTry(t, th, src, "a", true); !ok {
		t.Fatal("still locked after the lockout")
	}

	// Memory stays bounded.
	for i := range 50 {
		throttleTry(t, th, src, fmt.Sprint("id", i), false)
	}
	th.mu.Lock()
	n := len(th.entries)
	th.mu.Unlock()
	if n > cfg.MaxEntries {
		t.Fatalf("%d entries, want at most %d", n, cfg.MaxEntries)
	}
}

// Password spraying: one source failing on many identifiers (a few guesses each, under
// the per-identifier limit) is locked out, for every identifier, real accounts with
// the right password included; other sources are not.
func TestThrottleStopsPasswordSpraying(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	path := "/api/experience/verification/password"
	post := func(remote, identifier, password string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, strings.NewReader(
			`{"identifier":{"type":"username","value":"`+identifier+`"},"password":"`+password+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = remote
		r.AddCookie(&http.Cookie{Name: cookieInteraction, Value: e.uid})
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w
	}
	const sprayer = "203.0.113.9:40000"
	for i := range defaultThrottle.MaxSourceIdentifiers {
		for range 2 { // well under the per-identifier limit
			if w := post(sprayer, fmt.Sprint("victim", i), "Summer2026!"); w.Code != http.StatusUnprocessableEntity {
				t.Fatalf("guess on victim%d = %d %s, want 422 until the source is locked", i, w.Code, w.Body)
			}
		}
		e.clock.Advance(time.Second)
	}
	// One identifier more than the limit: this failure locks the source.
	if w := post(sprayer, "one-too-many", "Summer2026!"); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("guess on one-too-many = %d %s", w.Code, w.Body)
	}
	// The sprayer is locked out, even with a right password, from any port.
	wantAPIError(t, post("203.0.113.9:40001", tUsername, tPassword), http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")
	// Another source is not.
	if w := post("198.51.100.20:50000", tUsername, tPassword); w.Code != http.StatusOK {
		t.Fatalf("another source = %d %s", w.Code, w.Body)
	}
	// One IPv6 host is one /64.
	for i := range defaultThrottle.MaxSourceIdentifiers + 1 {
		post(fmt.Sprintf("[2001:db8:1:2::%x]:443", i+1), fmt.Sprint("other", i), "guess")
	}
	wantAPIError(t, post("[2001:db8:1:2:ffff::1]:443", tUsername, tPassword), http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")
	if w := post("[2001:db8:1:3::1]:443", tUsername, tPassword); w.Code != http.StatusOK {
		t.Fatalf("another /64 = %d %s", w.Code, w.Body)
	}
	// X-Forwarded-For is not trusted: the sprayer cannot claim another address.
	r := httptest.NewRequest("POST", path, strings.NewReader(`{"identifier":{"type":"username","value":"alice"},"password":"`+tPassword+`"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Forwarded-For", "198.51.100.77")
	r.RemoteAddr = sprayer
	r.AddCookie(&http.Cookie{Name: cookieInteraction, Value: e.uid})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	wantAPIError(t, w, http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")
}

// A lockout written by one throttle is honoured by the next one over the same store
// (a restart), until it ends; and each lockout is logged, without the identifier.
func TestThrottleLockoutSurvivesRestart(t *testing.T) {
	clock := &expClock{t: time.Unix(1_700_000_000, 0)}
	store := memThrottleStore(t, clock.Now)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := defaultThrottle

	th := newPasswordThrottle(clock.Now, cfg, store, log)
	const attacker, sprayer = "203.0.113.9", "203.0.113.66"
	for range cfg.MaxFailures {
		throttleTry(t, th, attacker, "alice", false)
	}
	for i := range cfg.MaxSourceIdentifiers + 1 {
		throttleTry(t, th, sprayer, fmt.Sprint("victim", i), false)
	}
	_, pairUntil := throttleTry(t, th, attacker, "alice", false)
	_, sourceUntil := throttleTry(t, th, sprayer, "bob", true)
	if pairUntil.IsZero() || sourceUntil.IsZero() {
		t.Fatalf("not locked before the restart: pair until %v, source until %v", pairUntil, sourceUntil)
	}
	out := logs.String()
	for _, want := range []string{
		`level=WARN msg="sign-in lockout" tier=identifier+source`, "identifier_hash=", "source=" + attacker,
		`msg="sign-in lockout" tier=source`, "source=" + sprayer,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "alice") || strings.Contains(out, "victim") {
		t.Errorf("the log names an identifier:\n%s", out)
	}

	// Restart: a new throttle (no counts in memory) over the same store.
	clock.Advance(time.Minute)
	th = newPasswordThrottle(clock.Now, cfg, store, nil)
	if ok, until := throttleTry(t, th, attacker, "alice", true); ok || !until.Equal(pairUntil) {
		t.Fatalf("after a restart the pair lockout is gone: ok=%v until=%v, want until %v", ok, until, pairUntil)
	}
	if ok, until := throttleTry(t, th, sprayer, "carol", true); ok || !until.Equal(sourceUntil) {
		t.Fatalf("after a restart the source lockout is gone: ok=%v until=%v, want until %v", ok, until, sourceUntil)
	}
	if ok, _ := throttleTry(t, th, "198.51.100.20", "alice", true); !ok {
		t.Fatal("the owner, from elsewhere, is locked out")
	}
	// The lockouts still end on time after the restart.
	clock.t = pairUntil
	th = newPasswordThrottle(clock.Now, cfg, store, nil)
	if ok, _ := throttleTry(t, th, attacker, "alice", true); !ok {
		t.Fatal("the pair lockout outlived its end")
	}
	clock.t = sourceUntil
	if ok, _ := throttleTry(t, th, sprayer, "carol", true); !ok {
		t.Fatal("the source lockout outlived its end")
	}
}

// Nobody can lock an account out for good: one attacker's guesses lock only the
// attacker; attackers on several addresses lock the identifier for a fixed time that
// their further attempts do not extend, and the owner signs in when it ends although
// they keep trying.
func TestThrottleLockoutIsFixed(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clock := &expClock{t: start}
	cfg := defaultThrottle
	th := newPasswordThrottle(clock.Now, cfg, memThrottleStore(t, clock.Now), nil)
	const owner = "198.51.100.20"

	// One attacker, guessing for an hour at the pace that never trips its source limit:
	// the owner is never locked out.
	for i := range 60 {
		throttleTry(t, th, "203.0.113.1", "alice", false)
		if i%10 == 0 {
			if ok, _ := throttleTry(t, th, owner, "alice", true); !ok {
				t.Fatalf("minute %d: one attacker locked the owner out", i)
			}
		}
		clock.Advance(time.Minute)
	}

	// Four attackers together reach the identifier's limit.
	attackers := []string{"203.0.113.11", "203.0.113.12", "203.0.113.13", "203.0.113.14"}
	for range cfg.MaxIdentifierFailures / len(attackers) {
		for _, a := range attackers {
			throttleTry(t, th, a, "alice", false)
		}
	}
	lockedAt := clock.Now()
	ok, until := throttleTry(t, th, owner, "alice", true)
	if ok || !until.Equal(lockedAt.Add(cfg.Lockout)) {
		t.Fatalf("identifier not locked for Lockout: ok=%v until=%v", ok, until)
	}
	// They keep trying, every second; the lockout does not move.
	for clock.Now().Before(lockedAt.Add(cfg.Lockout)) {
		for _, a := range attackers {
			if ok, _ := throttleTry(t, th, a, "alice", false); ok {
				t.Fatalf("at +%s an attacker's guess was checked during the lockout", clock.Now().Sub(lockedAt))
			}
		}
		if clock.Now().Sub(lockedAt)%time.Minute == 0 {
			if ok, u := throttleTry(t, th, owner, "alice", true); ok || !u.Equal(until) {
				t.Fatalf("at +%s: ok=%v until=%v, want the fixed end %v", clock.Now().Sub(lockedAt), ok, u, until)
			}
		}
		clock.Advance(time.Second)
	}
	// The lockout ended; the attackers are still at it, and the owner gets in.
	for _, a := range attackers {
		throttleTry(t, th, a, "alice", false)
	}
	if ok, u := throttleTry(t, th, owner, "alice", true); !ok {
		t.Fatalf("the owner is still locked out after the fixed lockout (until %v)", u)
	}
}

func TestRequestSource(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.1:1234":              "192.0.2.1",
		"[::ffff:192.0.2.1]:1234":     "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":  "2001:db8:1:2::/64",
		"[fe80::1%eth0]:443":          "fe80::/64",
		"not an address":              "not an address",
		"@":                           "@",
		"192.0.2.1":                   "192.0.2.1",
		"[2001:db8::1]:1":             "2001:db8::/64",
		"[2001:db8:0:0:1::1]:1":       "2001:db8::/64",
		"[2001:db8:0:1:0:0:0:1]:9999": "2001:db8:0:1::/64",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		if got := requestSource(r); got != want {
			t.Errorf("requestSource(%q) = %q, want %q", remote, got, want)
		}
	}
	if got := signInSource(context.Background()); got != "unknown" {
		t.Errorf("signInSource without a source = %q", got)
	}
}
