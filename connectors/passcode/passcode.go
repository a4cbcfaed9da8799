// Package passcode issues and checks verification codes sent by email or SMS (Logto's
// passcodes): 6 digits, valid 10 minutes, one use, at most MaxAttempts guesses, sends
// rate-limited per recipient and per source address.
//
// A code lives in a verification record: the record id is what the client holds (the
// Experience API's verificationId, the Account API's verificationRecordId), the code
// is what the user reads from the message. Records are short-lived hot state, kept in
// an injected Store (persistence.Store satisfies it: the node's local store, or the
// cluster's sharded store), one record per id under kind Kind, keyed by the SHA-256 of
// the id so a store reader learns no usable id. The code itself is stored only as
// SHA-256(id, code) and compared in constant time. Every change of a record is a
// conditional write on its version, so two nodes racing on one record cannot both
// spend the same attempt or both accept one code.
//
// A record is bound to what created it (Binding: an interaction, a user, the
// Management API); checking or using it under another binding finds nothing.
package passcode

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/persistence"
)

// Store kinds (hot state: a cluster shards them).
const (
	// Kind holds the verification records.
	Kind = "verification-code"
	// RateKind holds the send counters of the per-recipient and per-source limits.
	RateKind = "verification-code-rate"
)

// Code rules.
const (
	CodeLength = 6
	// CodeTTL is how long a code can be verified after it was sent (Logto's
	// passcodeExpiration, 10 minutes).
	CodeTTL = 10 * time.Minute
	// MaxAttempts is how many wrong codes a record takes; the next check of that record
	// fails with exceed_max_try whatever the code (Logto allows 10; we allow 5).
	MaxAttempts = 5
)

// Limit allows Max sends within Window.
type Limit struct {
	Max    int
	Window time.Duration
}

// Default limits. Per recipient: Logto's defaultMessageRateLimitPolicy (5 sends to
// one address or number per hour, then 429 request.message_rate_limited). Per source
// (client address; an IPv6 /64): 30 sends per hour, so one client cannot spray codes
// across many recipients.
var (
	DefaultRecipientLimit = Limit{Max: 5, Window: time.Hour}
	DefaultSourceLimit    = Limit{Max: 30, Window: time.Hour}
)

// Store keeps the records: persistence.Store satisfies it.
type Store interface {
	Get(ctx context.Context, kind, key string) (persistence.Record, error)
	Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error)
	Delete(ctx context.Context, kind, key string, expect uint64) error
}

// Identifier types.
const (
	Email = "email"
	Phone = "phone"
)

// Identifier is where a code goes: Type Email or Phone, Value normalized by the caller
// (emails lower-cased, phones as digits).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// Error is a refusal with Logto's code.
type Error struct {
	Code string
	// RetryAfter is set for CodeRateLimited.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return "passcode: " + e.Code }

// Logto's codes (packages/phrases errors/verification-code.ts, request.message_rate_limited).
const (
	CodeNotFound      = "verification_code.not_found"
	CodeEmailMismatch = "verification_code.email_mismatch"
	CodePhoneMismatch = "verification_code.phone_mismatch"
	CodeExpired       = "verification_code.expired"
	CodeExceedMaxTry  = "verification_code.exceed_max_try"
	CodeMismatch      = "verification_code.code_mismatch"
	CodeRateLimited   = "request.message_rate_limited"
)

// ErrRecordNotFound: no live record with that id under that binding (or for that
// identifier type). Each API answers it with its own code.
var ErrRecordNotFound = errors.New("passcode: verification record not found")

// ErrNotVerified: the record exists but its code was not verified (or the record was
// already used).
var ErrNotVerified = errors.New("passcode: verification record not verified")

// Config wires Codes.
type Config struct {
	Store  Store
	Sender connectors.Sender
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// Limits; zero values take the defaults.
	RecipientLimit Limit
	SourceLimit    Limit
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("passcode: Store is required"))
	}
	if c.Sender == nil {
		errs = append(errs, errors.New("passcode: Sender is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("passcode: Now is required"))
	}
	if c.Rand == nil {
		errs = append(errs, errors.New("passcode: Rand is required"))
	}
	return errors.Join(errs...)
}

// Codes issues and checks verification codes. Safe for concurrent use: all state is
// in the Store.
type Codes struct {
	store     Store
	sender    connectors.Sender
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger
	recipient Limit
	source    Limit
}

// New builds Codes.
func New(cfg Config) (*Codes, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Codes{store: cfg.Store, sender: cfg.Sender, now: cfg.Now, rand: cfg.Rand, log: cfg.Logger,
		recipient: cfg.RecipientLimit, source: cfg.SourceLimit}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.recipient.Max == 0 {
		c.recipient = DefaultRecipientLimit
	}
	if c.source.Max == 0 {
		c.source = DefaultSourceLimit
	}
	return c, nil
}

// record is a stored verification record.
type record struct {
	Binding    string     `json:"binding"`
	Identifier Identifier `json:"identifier"`
	UsageType  string     `json:"usageType"`
	CodeHash   []byte     `json:"codeHash"`
	Attempts   int        `json:"attempts"`
	Verified   bool       `json:"verified"`
	Used       bool       `json:"used"`
	CreatedAt  int64      `json:"createdAt"`
	CodeUntil  int64      `json:"codeUntil"`
	ExpiresAt  int64      `json:"expiresAt"`
}

// Request is a code to send.
type Request struct {
	// Binding names who may verify and use the record.
	Binding    string
	Identifier Identifier
	// UsageType picks the connector's template (connectors.UsageSignIn...).
	UsageType string
	// Source is the client's address for the per-source limit; "" skips that limit
	// (the Management API, whose caller is an administrator).
	Source string
	// TTL is the record's lifetime, at least CodeTTL (0: CodeTTL). A verified record
	// can be used (VerifiedIdentifier) until then.
	TTL time.Duration
	// ID is the record id; "" picks a random one. A fixed id replaces the record it
	// names (the Management API keeps one record per identifier, as Logto's generic
	// passcodes).
	ID string
}

// Sent is a record whose code went out.
type Sent struct {
	ID        string
	ExpiresAt time.Time
}

// Send creates a record with a fresh code and sends the code through the connector
// of the identifier's channel. The send counts against the recipient's and the
// source's limits only when it succeeds; over a limit it fails with
// CodeRateLimited without creating a record or sending anything.
func (c *Codes) Send(ctx context.Context, req Request) (Sent, error) {
	channel := connectors.Email
	if req.Identifier.Type == Phone {
		channel = connectors.SMS
	} else if req.Identifier.Type != Email {
		return Sent{}, fmt.Errorf("passcode: identifier type %q", req.Identifier.Type)
	}
	id := req.ID
	if id == "" {
		var err error
		if id, err = randomID(c.rand); err != nil {
			return Sent{}, err
		}
	}
	code, err := randomCode(c.rand)
	if err != nil {
		return Sent{}, err
	}
	now := c.now()
	ttl := max(req.TTL, CodeTTL)
	rec := record{Binding: req.Binding, Identifier: req.Identifier, UsageType: req.UsageType,
		CodeHash: codeHash(id, code), CreatedAt: now.UnixMilli(),
		CodeUntil: now.Add(CodeTTL).UnixMilli(), ExpiresAt: now.Add(ttl).UnixMilli()}

	var refunds []func()
	refund := func() {
		for _, f := range refunds {
			f()
		}
	}
	rkey := "r:" + digest(req.Identifier.Type+":"+req.Identifier.Value)
	undo, err := c.reserve(ctx, rkey, c.recipient, now)
	if err != nil {
		return Sent{}, err
	}
	refunds = append(refunds, undo)
	if req.Source != "" {
		undo, err := c.reserve(ctx, "s:"+digest(req.Source), c.source, now)
		if err != nil {
			refund()
			return Sent{}, err
		}
		refunds = append(refunds, undo)
	}

	key := digest(id)
	version, err := c.put(ctx, key, rec)
	if err != nil {
		refund()
		return Sent{}, err
	}
	if err := c.sender.Send(ctx, channel, req.Identifier.Value, req.UsageType, code); err != nil {
		refund()
		// The code never went out: nobody can know it, but a record nobody can verify
		// is no use either.
		_ = c.store.Delete(context.WithoutCancel(ctx), Kind, key, version)
		return Sent{}, err
	}
	return Sent{ID: id, ExpiresAt: time.UnixMilli(rec.ExpiresAt)}, nil
}

// put writes rec under key, replacing what is there.
func (c *Codes) put(ctx context.Context, key string, rec record) (uint64, error) {
	raw, err := json.Marshal(rec)
	if err != nil {
		return 0, err
	}
	for attempt := 0; ; attempt++ {
		var expect uint64
		cur, err := c.store.Get(ctx, Kind, key)
		switch {
		case err == nil:
			expect = cur.Version
		case !errors.Is(err, persistence.ErrNotFound):
			return 0, err
		}
		v, err := c.store.Put(ctx, Kind, key, expect, raw, time.UnixMilli(rec.ExpiresAt))
		if errors.Is(err, persistence.ErrConflict) && attempt < 3 {
			continue
		}
		return v, err
	}
}

// load returns the record with id under binding.
func (c *Codes) load(ctx context.Context, binding, id string) (record, uint64, error) {
	if id == "" || len(id) > 256 {
		return record{}, 0, ErrRecordNotFound
	}
	got, err := c.store.Get(ctx, Kind, digest(id))
	if errors.Is(err, persistence.ErrNotFound) {
		return record{}, 0, ErrRecordNotFound
	}
	if err != nil {
		return record{}, 0, err
	}
	var rec record
	if err := json.Unmarshal(got.Value, &rec); err != nil {
		return record{}, 0, fmt.Errorf("passcode: decoding a record: %w", err)
	}
	if rec.Binding != binding || rec.ExpiresAt <= c.now().UnixMilli() {
		return record{}, 0, ErrRecordNotFound
	}
	return rec, got.Version, nil
}

// Verify checks code for the record with id, as Logto's verifyPasscode: a record of
// another identifier type is ErrRecordNotFound; then, in order, a used code
// (CodeNotFound: a verified record has no code left), another address or number
// (CodeEmailMismatch / CodePhoneMismatch), an expired code (CodeExpired), a record
// that took MaxAttempts wrong codes (CodeExceedMaxTry), a wrong code (CodeMismatch,
// which spends an attempt). The right code verifies the record.
func (c *Codes) Verify(ctx context.Context, binding, id string, ident Identifier, code string) error {
	for attempt := 0; ; attempt++ {
		rec, version, err := c.load(ctx, binding, id)
		if err != nil {
			return err
		}
		if rec.Identifier.Type != ident.Type {
			return ErrRecordNotFound
		}
		if rec.Verified {
			return &Error{Code: CodeNotFound}
		}
		if rec.Identifier.Value != ident.Value {
			if ident.Type == Phone {
				return &Error{Code: CodePhoneMismatch}
			}
			return &Error{Code: CodeEmailMismatch}
		}
		if c.now().UnixMilli() >= rec.CodeUntil {
			return &Error{Code: CodeExpired}
		}
		if rec.Attempts >= MaxAttempts {
			return &Error{Code: CodeExceedMaxTry}
		}
		ok := subtle.ConstantTimeCompare(codeHash(id, code), rec.CodeHash) == 1
		var answer error
		if ok {
			rec.Verified = true
			rec.CodeHash = nil // one use: nothing left to match
		} else {
			rec.Attempts++
			answer = &Error{Code: CodeMismatch}
		}
		raw, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		_, err = c.store.Put(ctx, Kind, digest(id), version, raw, time.UnixMilli(rec.ExpiresAt))
		if errors.Is(err, persistence.ErrConflict) && attempt < 3 {
			continue // another check of this record won: decide again on its result
		}
		if err != nil {
			return err
		}
		return answer
	}
}

// VerifiedIdentifier returns the identifier the record with id proved, when its code
// was verified and the record was not used yet: what the register, passwordless and
// forgot-password flows read to trust an email address or a phone number.
func (c *Codes) VerifiedIdentifier(ctx context.Context, binding, id string) (Identifier, error) {
	rec, _, err := c.load(ctx, binding, id)
	if err != nil {
		return Identifier{}, err
	}
	if !rec.Verified || rec.Used {
		return Identifier{}, ErrNotVerified
	}
	return rec.Identifier, nil
}

// Use marks a verified record used, so the identifier it proved serves one flow only,
// and returns that identifier. A record that is not verified, or was used already, is
// ErrNotVerified.
func (c *Codes) Use(ctx context.Context, binding, id string) (Identifier, error) {
	for attempt := 0; ; attempt++ {
		rec, version, err := c.load(ctx, binding, id)
		if err != nil {
			return Identifier{}, err
		}
		if !rec.Verified || rec.Used {
			return Identifier{}, ErrNotVerified
		}
		rec.Used = true
		raw, err := json.Marshal(rec)
		if err != nil {
			return Identifier{}, err
		}
		_, err = c.store.Put(ctx, Kind, digest(id), version, raw, time.UnixMilli(rec.ExpiresAt))
		if errors.Is(err, persistence.ErrConflict) && attempt < 3 {
			continue
		}
		if err != nil {
			return Identifier{}, err
		}
		return rec.Identifier, nil
	}
}

// ---- rate limits ----

type rateRecord struct {
	Sends []int64 `json:"sends"` // unix ms, oldest first
}

// reserve counts one send under key if the limit allows it, and returns how to take
// it back; over the limit it is *Error CodeRateLimited with the wait.
func (c *Codes) reserve(ctx context.Context, key string, l Limit, now time.Time) (func(), error) {
	stamp := now.UnixMilli()
	for attempt := 0; ; attempt++ {
		var rr rateRecord
		var expect uint64
		got, err := c.store.Get(ctx, RateKind, key)
		switch {
		case err == nil:
			expect = got.Version
			_ = json.Unmarshal(got.Value, &rr)
		case !errors.Is(err, persistence.ErrNotFound):
			return nil, err
		}
		live := rr.Sends[:0:0]
		for _, t := range rr.Sends {
			if t > stamp-l.Window.Milliseconds() {
				live = append(live, t)
			}
		}
		if len(live) >= l.Max {
			wait := time.UnixMilli(live[len(live)-l.Max]).Add(l.Window).Sub(now)
			return nil, &Error{Code: CodeRateLimited, RetryAfter: max(wait, time.Second)}
		}
		live = append(live, stamp)
		raw, _ := json.Marshal(rateRecord{Sends: live})
		_, err = c.store.Put(ctx, RateKind, key, expect, raw, now.Add(l.Window))
		if errors.Is(err, persistence.ErrConflict) && attempt < 5 {
			continue
		}
		if err != nil {
			return nil, err
		}
		return func() { c.unreserve(context.WithoutCancel(ctx), key, stamp) }, nil
	}
}

// unreserve takes back one send stamped stamp (best effort: a failed send that stays
// counted only makes the limit stricter).
func (c *Codes) unreserve(ctx context.Context, key string, stamp int64) {
	for attempt := 0; attempt < 3; attempt++ {
		got, err := c.store.Get(ctx, RateKind, key)
		if err != nil {
			return
		}
		var rr rateRecord
		if json.Unmarshal(got.Value, &rr) != nil {
			return
		}
		for i, t := range rr.Sends {
			if t == stamp {
				rr.Sends = append(rr.Sends[:i], rr.Sends[i+1:]...)
				break
			}
		}
		raw, _ := json.Marshal(rr)
		_, err = c.store.Put(ctx, RateKind, key, got.Version, raw, got.ExpiresAt)
		if !errors.Is(err, persistence.ErrConflict) {
			return
		}
	}
}

// ---- secrets ----

// codeHash is SHA-256 over the record id and the code: a stored hash matches one code
// of one record only.
func codeHash(id, code string) []byte {
	h := sha256.New()
	h.Write([]byte("latch verification code\x00"))
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write([]byte(code))
	return h.Sum(nil)
}

func digest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// randomCode returns CodeLength uniformly random digits.
func randomCode(r io.Reader) (string, error) {
	const space = 1_000_000
	const limit = (1 << 32) / space * space // rejection sampling keeps it uniform
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return "", fmt.Errorf("passcode: random: %w", err)
		}
		if n := binary.BigEndian.Uint32(b[:]); n < limit {
			return fmt.Sprintf("%06d", n%space), nil
		}
	}
}

const idAlphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomID returns 32 characters of idAlphabet (190 bits): the record id is a bearer
// value within its binding, so it must not be guessable.
func randomID(r io.Reader) (string, error) {
	out := make([]byte, 0, 32)
	var buf [48]byte
	for len(out) < 32 {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("passcode: random: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < 32 { // 248 = 4 * 62
				out = append(out, idAlphabet[b%62])
			}
		}
	}
	return string(out), nil
}

// ManagementID is the fixed record id of the Management API's code for ident: one
// record per identifier, replaced by the next send (Logto's generic passcodes).
func ManagementID(ident Identifier) string {
	return "mgmt-" + digest("management\x00" + ident.Type + "\x00" + ident.Value)[:40]
}
