package httpapi

import (
	"crypto/sha256"
	"sync"
	"time"
)

// throttleConfig bounds password guessing per identifier.
type throttleConfig struct {
	// MaxFailures failed verifications of one identifier within Window lock it.
	MaxFailures int
	Window      time.Duration
	// Lockout is how long the identifier stays locked after its last counted failure.
	Lockout time.Duration
	// MaxEntries bounds the memory held: identifiers tracked at once.
	MaxEntries int
}

// defaultThrottle: 5 failures within 10 minutes lock the identifier for 10 minutes.
// (Logto's Sentinel counts failures per identifier hash the same way, with its own
// numbers.)
var defaultThrottle = throttleConfig{MaxFailures: 5, Window: 10 * time.Minute, Lockout: 10 * time.Minute, MaxEntries: 100_000}

// passwordThrottle limits password verifications per identifier (username, email or
// phone, whether or not an account has it, so the throttle does not reveal which
// identifiers exist).
//
// State is in memory on this node only: a restart forgets it, and with N nodes behind a
// load balancer a guesser gets up to N times the budget. That is accepted for now; the
// rule is small enough to move into a grain keyed by the identifier hash later.
//
// Every attempt is charged as a failure before the password is checked and refunded
// when it succeeds, so concurrent guesses cannot overrun the budget. Safe for
// concurrent use; it never blocks on I/O.
type passwordThrottle struct {
	cfg throttleConfig
	now func() time.Time

	mu      sync.Mutex
	entries map[[sha256.Size]byte]*throttleEntry
}

type throttleEntry struct {
	failures     []time.Time // within the window, oldest first
	blockedUntil time.Time
}

func newPasswordThrottle(now func() time.Time, cfg throttleConfig) *passwordThrottle {
	return &passwordThrottle{cfg: cfg, now: now, entries: make(map[[sha256.Size]byte]*throttleEntry)}
}

// throttleKey hashes a normalized identifier, so the throttle holds no identifiers.
func throttleKey(idType, normalizedValue string) [sha256.Size]byte {
	return sha256.Sum256([]byte(idType + "\x00" + normalizedValue))
}

// attempt charges one attempt to key. It returns ok = false and the end of the lockout
// when key is locked; then nothing is charged.
func (t *passwordThrottle) attempt(key [sha256.Size]byte) (ok bool, until time.Time) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[key]
	if e == nil {
		t.makeRoom(now)
		e = &throttleEntry{}
		t.entries[key] = e
	}
	if now.Before(e.blockedUntil) {
		return false, e.blockedUntil
	}
	e.prune(now, t.cfg.Window)
	if len(e.failures) >= t.cfg.MaxFailures {
		e.blockedUntil = e.failures[len(e.failures)-1].Add(t.cfg.Lockout)
		if now.Before(e.blockedUntil) {
			return false, e.blockedUntil
		}
		e.failures = e.failures[:0]
	}
	e.failures = append(e.failures, now)
	return true, time.Time{}
}

// succeeded refunds key's charge: a correct password clears its failures.
func (t *passwordThrottle) succeeded(key [sha256.Size]byte) {
	t.mu.Lock()
	delete(t.entries, key)
	t.mu.Unlock()
}

// prune drops failures that left the window.
func (e *throttleEntry) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(e.failures) && !now.Before(e.failures[i].Add(window)) {
		i++
	}
	e.failures = append(e.failures[:0], e.failures[i:]...)
}

// makeRoom keeps the map under MaxEntries: first it drops entries with nothing left to
// remember, then, if still full, arbitrary unlocked ones (map order is random), so a
// flood of identifiers costs the guesser its own budget, not memory. Callers hold mu.
func (t *passwordThrottle) makeRoom(now time.Time) {
	if len(t.entries) < t.cfg.MaxEntries {
		return
	}
	for k, e := range t.entries {
		e.prune(now, t.cfg.Window)
		if len(e.failures) == 0 && !now.Before(e.blockedUntil) {
			delete(t.entries, k)
		}
	}
	for k, e := range t.entries {
		if len(t.entries) < t.cfg.MaxEntries {
			return
		}
		if !now.Before(e.blockedUntil) {
			delete(t.entries, k)
		}
	}
}
