package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/latchid/latch/persistence"
)

// ThrottleStore keeps the sign-in throttle's lockouts across restarts: one record per
// lockout, expiring when the lockout ends. persistence.Store satisfies it.
type ThrottleStore interface {
	Get(ctx context.Context, kind, key string) (persistence.Record, error)
	Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error)
}

// ThrottleKind is the store kind of sign-in lockout records.
const ThrottleKind = "signin-lockout"

// throttleConfig bounds password guessing on three tiers. Every lockout lasts a fixed
// time from the failure that caused it; attempts refused while locked never extend it.
type throttleConfig struct {
	// MaxFailures failed verifications of one identifier from one source within Window
	// lock that pair for Lockout: someone guessing from one address is stopped, and
	// the account's owner, elsewhere, is not.
	MaxFailures int
	// MaxIdentifierFailures failures of one identifier from all sources within Window
	// lock the identifier for everyone for Lockout (guessing from many addresses).
	// Larger than MaxFailures, so one source alone cannot lock an account out.
	MaxIdentifierFailures int
	Window                time.Duration
	Lockout               time.Duration
	// A source (client address; an IPv6 /64) with failures of more than
	// MaxSourceIdentifiers distinct identifiers within Window (password spraying), or
	// MaxSourceFailures failures in all, is locked for SourceLockout. Attempts refused
	// because their identifier is locked count as failures of the source, so a source
	// that keeps hammering a locked account is itself locked, for longer than the
	// account, and cannot lock it again when its lockout ends.
	MaxSourceIdentifiers int
	MaxSourceFailures    int
	SourceLockout        time.Duration
	// MaxEntries bounds the memory held: identifiers, pairs and sources tracked at once.
	MaxEntries int
}

// defaultThrottle: 5 failures of an identifier from one address within 10 minutes lock
// that pair for 10 minutes; 20 from anywhere lock the identifier; an address failing on
// more than 10 identifiers (or 50 times) within 10 minutes is locked for an hour.
// (Logto's Sentinel counts failures per identifier and blocks for a fixed time the same
// way, with its own numbers.)
var defaultThrottle = throttleConfig{
	MaxFailures: 5, MaxIdentifierFailures: 20, Window: 10 * time.Minute, Lockout: 10 * time.Minute,
	MaxSourceIdentifiers: 10, MaxSourceFailures: 50, SourceLockout: time.Hour,
	MaxEntries: 100_000,
}

// Throttle tiers; each keys its own entries and lockout records.
const (
	tierPair       byte = 'p' // identifier x source
	tierIdentifier byte = 'i'
	tierSource     byte = 's'
)

func tierName(t byte) string {
	switch t {
	case tierPair:
		return "identifier+source"
	case tierIdentifier:
		return "identifier"
	}
	return "source"
}

type throttleEntryKey struct {
	tier byte
	hash [sha256.Size]byte
}

// recordKey is the entry's key in ThrottleStore: tier, then the hash in hex.
func (k throttleEntryKey) recordKey() string {
	return string(k.tier) + ":" + hex.EncodeToString(k.hash[:])
}

// passwordThrottle limits password verifications per identifier (username, email or
// phone, whether or not an account has it, so the throttle does not reveal which
// identifiers exist), per identifier and source, and per source (throttleConfig).
//
// Failure counts are in memory on this node; lockouts are also written to the store
// (ThrottleStore), so a restart keeps them, and read back the first time this node
// sees an identifier, pair or source. With N nodes behind a load balancer a guesser
// gets up to N times the failure budget before the first lockout.
//
// Every attempt is charged as a failure before the password is checked and refunded
// when it succeeds, so concurrent guesses cannot overrun the budget. Safe for
// concurrent use; the mutex is never held across I/O.
type passwordThrottle struct {
	cfg   throttleConfig
	now   func() time.Time
	store ThrottleStore // nil: lockouts are in memory only
	// onLockout counts each lockout (Metrics.Lockout); nil counts nothing.
	onLockout func()
	log       *slog.Logger

	mu      sync.Mutex
	entries map[throttleEntryKey]*throttleEntry
}

type throttleEntry struct {
	failures     []throttleFailure // within the window, oldest first
	blockedUntil time.Time
	loaded       bool // the store was asked for a lockout of this key
}

type throttleFailure struct {
	at time.Time
	id [sha256.Size]byte // the identifier (source entries count distinct ones)
}

// lockout is a lockout decided under the mutex, persisted and logged after it.
type lockout struct {
	key    throttleEntryKey
	until  time.Time
	source string
}

func newPasswordThrottle(now func() time.Time, cfg throttleConfig, store ThrottleStore, log *slog.Logger) *passwordThrottle {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &passwordThrottle{cfg: cfg, now: now, store: store, log: log, entries: make(map[throttleEntryKey]*throttleEntry)}
}

// throttleKey hashes a normalized identifier, so the throttle holds no identifiers.
func throttleKey(idType, normalizedValue string) [sha256.Size]byte {
	return sha256.Sum256([]byte(idType + "\x00" + normalizedValue))
}

// signInSourceKey is the context key of the request's source (withSignInSource).
type signInSourceKey struct{}

// withSignInSource returns r with its source address in the context, for the
// throttle: the connection's remote IP (an IPv6 address as its /64, which one host
// usually holds whole). X-Forwarded-For is not read: Latch has no setting that says
// which proxies to trust, and a client can write the header itself.
func withSignInSource(r *http.Request) *http.Request {
	return r.WithContext(contextWithSignInSource(r.Context(), requestSource(r)))
}

func contextWithSignInSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, signInSourceKey{}, source)
}

// signInSource returns the source withSignInSource recorded, or "unknown".
func signInSource(ctx context.Context) string {
	if s, ok := ctx.Value(signInSourceKey{}).(string); ok && s != "" {
		return s
	}
	return "unknown"
}

func requestSource(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// keys returns the pair, identifier and source keys of an attempt.
func (t *passwordThrottle) keys(id [sha256.Size]byte, source string) (pair, ident, src throttleEntryKey) {
	pair = throttleEntryKey{tierPair, sha256.Sum256(append(id[:], source...))}
	ident = throttleEntryKey{tierIdentifier, id}
	src = throttleEntryKey{tierSource, sha256.Sum256([]byte(source))}
	return pair, ident, src
}

// attempt charges one attempt on identifier id from the context's source. It returns
// ok = false and the end of the lockout when the source, the pair or the identifier is
// locked; then nothing is charged to the identifier (a locked identifier's lockout
// does not grow), and an attempt on a locked identifier is charged to the source.
func (t *passwordThrottle) attempt(ctx context.Context, id [sha256.Size]byte) (ok bool, until time.Time) {
	source := signInSource(ctx)
	pk, ik, sk := t.keys(id, source)
	t.load(ctx, pk, ik, sk)

	now := t.now()
	var locks []lockout
	defer func() { t.persist(ctx, locks) }()
	t.mu.Lock()
	defer t.mu.Unlock()
	pair, ident, src := t.entries3(now, pk, ik, sk)
	if now.Before(src.blockedUntil) {
		return false, src.blockedUntil
	}
	if now.Before(pair.blockedUntil) || now.Before(ident.blockedUntil) {
		until = pair.blockedUntil
		if ident.blockedUntil.After(until) {
			until = ident.blockedUntil
		}
		src.failures = append(src.failures, throttleFailure{at: now, id: id})
		locks = t.checkSource(now, sk, src, source, locks)
		return false, until
	}
	pair.prune(now, t.cfg.Window)
	ident.prune(now, t.cfg.Window)
	pair.failures = append(pair.failures, throttleFailure{at: now})
	ident.failures = append(ident.failures, throttleFailure{at: now})
	src.failures = append(src.failures, throttleFailure{at: now, id: id})
	return true, time.Time{}
}

// failed confirms the failure attempt charged: it locks whichever tier reached its
// limit, for a fixed time from now.
func (t *passwordThrottle) failed(ctx context.Context, id [sha256.Size]byte) {
	source := signInSource(ctx)
	pk, ik, sk := t.keys(id, source)
	now := t.now()
	var locks []lockout
	t.mu.Lock()
	pair, ident, src := t.entries3(now, pk, ik, sk)
	pair.prune(now, t.cfg.Window)
	if len(pair.failures) >= t.cfg.MaxFailures && !now.Before(pair.blockedUntil) {
		pair.blockedUntil, pair.failures = now.Add(t.cfg.Lockout), pair.failures[:0]
		locks = append(locks, lockout{key: pk, until: pair.blockedUntil, source: source})
	}
	ident.prune(now, t.cfg.Window)
	if len(ident.failures) >= t.cfg.MaxIdentifierFailures && !now.Before(ident.blockedUntil) {
		ident.blockedUntil, ident.failures = now.Add(t.cfg.Lockout), ident.failures[:0]
		locks = append(locks, lockout{key: ik, until: ident.blockedUntil, source: source})
	}
	locks = t.checkSource(now, sk, src, source, locks)
	t.mu.Unlock()
	t.persist(ctx, locks)
}

// succeeded refunds the attempt's charge: a correct password clears the failures of
// its identifier and pair, and takes back the one charge on the source (the source's
// other failures stand, so a sprayer cannot clear them with an account of its own).
func (t *passwordThrottle) succeeded(ctx context.Context, id [sha256.Size]byte) {
	pk, ik, sk := t.keys(id, signInSource(ctx))
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []throttleEntryKey{pk, ik} {
		if e := t.entries[k]; e != nil {
			e.failures = e.failures[:0]
		}
	}
	if e := t.entries[sk]; e != nil {
		for i := len(e.failures) - 1; i >= 0; i-- {
			if e.failures[i].id == id {
				e.failures = append(e.failures[:i], e.failures[i+1:]...)
				break
			}
		}
	}
}

// checkSource locks the source when its failures within the window cover more than
// MaxSourceIdentifiers identifiers or reach MaxSourceFailures. Callers hold mu.
func (t *passwordThrottle) checkSource(now time.Time, sk throttleEntryKey, src *throttleEntry, source string, locks []lockout) []lockout {
	src.prune(now, t.cfg.Window)
	if !now.Before(src.blockedUntil) && (len(src.failures) >= t.cfg.MaxSourceFailures || src.distinct() > t.cfg.MaxSourceIdentifiers) {
		src.blockedUntil, src.failures = now.Add(t.cfg.SourceLockout), src.failures[:0]
		locks = append(locks, lockout{key: sk, until: src.blockedUntil, source: source})
	}
	if len(src.failures) > t.cfg.MaxSourceFailures {
		src.failures = src.failures[len(src.failures)-t.cfg.MaxSourceFailures:]
	}
	return locks
}

// distinct counts the distinct identifiers among the failures.
func (e *throttleEntry) distinct() int {
	seen := make(map[[sha256.Size]byte]struct{}, len(e.failures))
	for _, f := range e.failures {
		seen[f.id] = struct{}{}
	}
	return len(seen)
}

// entries3 returns the entries of the three keys, created when absent (room is made
// for all three first, so making room cannot drop one just returned). Callers hold mu.
func (t *passwordThrottle) entries3(now time.Time, a, b, c throttleEntryKey) (ea, eb, ec *throttleEntry) {
	if t.entries[a] == nil || t.entries[b] == nil || t.entries[c] == nil {
		t.makeRoom(now, 3)
	}
	return t.entry(a), t.entry(b), t.entry(c)
}

// entry returns the entry of k, created when absent, without making room. Callers
// hold mu.
func (t *passwordThrottle) entry(k throttleEntryKey) *throttleEntry {
	e := t.entries[k]
	if e == nil {
		e = &throttleEntry{}
		t.entries[k] = e
	}
	return e
}

// throttleRecord is the value of a lockout record (its expiry is the lockout's end).
type throttleRecord struct {
	UntilMs int64  `json:"untilMs"`
	Tier    string `json:"tier"`
}

// load reads, once per key this node tracks, a lockout an earlier run (or another
// node) wrote. A store error is logged and treated as no lockout.
func (t *passwordThrottle) load(ctx context.Context, keys ...throttleEntryKey) {
	if t.store == nil {
		return
	}
	for _, k := range keys {
		t.mu.Lock()
		e := t.entries[k]
		known := e != nil && e.loaded
		t.mu.Unlock()
		if known {
			continue
		}
		var until time.Time
		rec, err := t.store.Get(ctx, ThrottleKind, k.recordKey())
		switch {
		case err == nil:
			var v throttleRecord
			if jerr := json.Unmarshal(rec.Value, &v); jerr == nil {
				until = time.UnixMilli(v.UntilMs)
			} else {
				until = rec.ExpiresAt
			}
		case errors.Is(err, persistence.ErrNotFound):
		default:
			t.log.Warn("sign-in throttle: reading a lockout failed", "tier", tierName(k.tier), "err", err)
			continue
		}
		t.mu.Lock()
		if t.entries[k] == nil {
			t.makeRoom(t.now(), 1)
		}
		e = t.entry(k)
		if until.After(e.blockedUntil) {
			e.blockedUntil = until
		}
		e.loaded = true
		t.mu.Unlock()
	}
}

// persist logs each new lockout and writes it to the store, expiring at its end. A
// write that fails is logged; the lockout still holds in memory.
func (t *passwordThrottle) persist(ctx context.Context, locks []lockout) {
	for _, l := range locks {
		if t.onLockout != nil {
			t.onLockout()
		}
		attrs := []any{"tier", tierName(l.key.tier), "until", l.until.UTC().Format(time.RFC3339)}
		if l.key.tier != tierSource {
			attrs = append(attrs, "identifier_hash", hex.EncodeToString(l.key.hash[:6]))
		}
		t.log.Warn("sign-in lockout", append(attrs, "source", l.source)...)
		if t.store == nil {
			continue
		}
		b, _ := json.Marshal(throttleRecord{UntilMs: l.until.UnixMilli(), Tier: tierName(l.key.tier)})
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_, err := t.store.Put(wctx, ThrottleKind, l.key.recordKey(), 0, b, l.until)
		cancel()
		if err != nil && !errors.Is(err, persistence.ErrConflict) {
			t.log.Warn("sign-in throttle: saving a lockout failed", "tier", tierName(l.key.tier), "err", err)
		}
	}
}

// prune drops failures that left the window.
func (e *throttleEntry) prune(now time.Time, window time.Duration) {
	i := 0
	for i < len(e.failures) && !now.Before(e.failures[i].at.Add(window)) {
		i++
	}
	e.failures = append(e.failures[:0], e.failures[i:]...)
}

// makeRoom makes room for n more entries under MaxEntries: first it drops entries with
// nothing left to remember, then, if still full, arbitrary unlocked ones (map order is random), so a
// flood of identifiers costs the guesser its own budget, not memory. A dropped entry
// that was locked is read back from the store when seen again. Callers hold mu.
func (t *passwordThrottle) makeRoom(now time.Time, n int) {
	if len(t.entries)+n <= t.cfg.MaxEntries {
		return
	}
	for k, e := range t.entries {
		e.prune(now, t.cfg.Window)
		if len(e.failures) == 0 && !now.Before(e.blockedUntil) {
			delete(t.entries, k)
		}
	}
	for k, e := range t.entries {
		if len(t.entries)+n <= t.cfg.MaxEntries {
			return
		}
		if !now.Before(e.blockedUntil) {
			delete(t.entries, k)
		}
	}
}
