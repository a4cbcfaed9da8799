// Package outbox delivers OpenID Connect Back-Channel Logout 1.0 logout tokens from a
// durable queue: an entry is written to the store (kind "outbox") before the user's
// logout is answered, and a Worker posts it to the RP's back-channel logout URI,
// retrying with exponential backoff and jitter, across restarts, until the RP answers
// 200 or 204, the entry has been tried MaxAttempts times, or it is older than TTL.
//
// The logout token is minted at each attempt, not at enqueue time: a token lives 120 s
// (oidcflow.LogoutTokenTTL) and a retry may come hours later, so each attempt signs a
// fresh token (new iat, exp and jti) from the stored claims inputs (iss, aud, sub, sid).
//
// The same queue delivers webhooks (Logto's hooks): an entry then carries the exact JSON
// body to post and the hook's id; each attempt looks the hook up (Config.Webhooks) for
// its current URL, headers and signing key, signs the body (logto-signature-sha-256:
// HMAC-SHA256 of the body with the signing key, hex) and reports the attempt
// (Config.OnWebhookAttempt) for the hook's delivery logs. A 2xx answer delivers it.
//
// It depends on persistence (the queue) and oidcflow (the token), never on http.
package outbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/persistence"
)

// Kind is the store kind of outbox entries.
const Kind = "outbox"

// Defaults of Config.
const (
	DefaultBaseBackoff  = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
	DefaultMaxAttempts  = 40 // about 2.7 h of retries with the default backoff
	DefaultTTL          = 24 * time.Hour
	DefaultConcurrency  = 16
	DefaultPollInterval = time.Minute
	defaultHTTPTimeout  = 10 * time.Second
)

// expiryGrace keeps an entry in the store a while past its TTL, so the worker (and not
// the sweeper) is the one that gives it up and counts it; an entry whose node was down
// for longer than this is swept without being counted.
const expiryGrace = time.Hour

// maxResponseBytes bounds how much of an RP's answer is read (and discarded).
const maxResponseBytes = 64 << 10

// Logout is one back-channel logout to deliver: the inputs of its logout token and
// where to post it.
type Logout struct {
	// ClientID is the RP: the token's aud.
	ClientID string `json:"clientId"`
	// URI is the RP's backchannel_logout_uri.
	URI string `json:"uri"`
	// Issuer is the token's iss.
	Issuer string `json:"iss"`
	// Subject (the account) and SID (the session id the RP got in its ID token): at
	// least one is required (Back-Channel Logout 1.0, 2.4).
	Subject string `json:"sub,omitempty"`
	SID     string `json:"sid,omitempty"`
}

func (l Logout) validate() error {
	var errs []error
	if l.ClientID == "" || l.Issuer == "" {
		errs = append(errs, errors.New("outbox: logout needs a client id and an issuer"))
	}
	if l.Subject == "" && l.SID == "" {
		errs = append(errs, errors.New("outbox: logout needs a subject or a sid"))
	}
	if u, err := url.Parse(l.URI); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("outbox: back-channel logout URI %q is not an absolute http(s) URL", l.URI))
	}
	return errors.Join(errs...)
}

// Webhook is one webhook event to deliver to one hook.
type Webhook struct {
	// HookID names the hook; its URL, headers and signing key are looked up at each
	// attempt (Config.Webhooks), so a hook changed meanwhile gets its new settings and
	// a deleted hook gets nothing.
	HookID string `json:"hookId"`
	// Event is the hook event (e.g. "PostSignIn"), for the delivery log.
	Event string `json:"event"`
	// Body is the exact JSON payload posted and signed.
	Body []byte `json:"body"`
}

func (h Webhook) validate() error {
	if h.HookID == "" || h.Event == "" || !json.Valid(h.Body) {
		return errors.New("outbox: a webhook needs a hook id, an event and a JSON body")
	}
	return nil
}

// WebhookTarget is where and how a hook's events are posted.
type WebhookTarget struct {
	URL        string
	Headers    map[string]string
	SigningKey string
	// Enabled: a disabled hook's pending events are dropped.
	Enabled bool
}

// WebhookTargets looks hooks up by id; ok is false for a hook that no longer exists.
type WebhookTargets interface {
	WebhookTarget(hookID string) (t WebhookTarget, ok bool)
}

// WebhookAttempt is one finished delivery attempt of a webhook.
type WebhookAttempt struct {
	Webhook
	// Attempt counts from 1.
	Attempt int
	// StatusCode and ResponseBody are the receiver's answer (0 and nil when there
	// was none: a connection error); ResponseBody is at most maxResponseBytes.
	StatusCode   int
	ResponseBody []byte
	// Err is nil when the receiver answered 2xx.
	Err error
	// Final: no attempt follows (delivered, given up, or the hook is gone).
	Final bool
	At    time.Time
}

// SignatureHeader is Logto's webhook signature header.
const SignatureHeader = "logto-signature-sha-256"

// webhookUserAgent is the user-agent Logto sends (a hook's headers may replace it).
const webhookUserAgent = "Logto (https://logto.io/)"

// Sign is Logto's webhook signature: HMAC-SHA256 of body keyed by signingKey, hex.
func Sign(signingKey string, body []byte) string {
	m := hmac.New(sha256.New, []byte(signingKey))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// entry is the stored record: the logout or the webhook, and its delivery state.
type entry struct {
	Logout
	Webhook         *Webhook `json:"webhook,omitempty"`
	CreatedAtMs     int64    `json:"createdAtMs"`
	Attempts        int      `json:"attempts"`
	NextAttemptAtMs int64    `json:"nextAttemptAtMs"`
	LastError       string   `json:"lastError,omitempty"`
}

// Config configures a Worker. Store and Signer are required; every other field has a
// working default.
type Config struct {
	Store persistence.Store
	// Owns reports whether this node delivers the entry keyed key: in a cluster, the
	// leader of the entry's shard (the store replicates the entries to every replica
	// of their shard, and only one of them may deliver). Nil: every entry.
	Owns func(key string) bool
	// Signer signs logout tokens (typ logout+jwt); *oidcflow.KeyRing implements it.
	Signer oidcflow.Signer
	// Client posts the logout tokens; nil means a client with a 10 s timeout that does
	// not follow redirects (a 3xx is a failed attempt).
	Client *http.Client
	// Now is the clock for schedules and tokens; nil means time.Now.
	Now func() time.Time
	// Rand is the source of entry ids, jtis and jitter; nil means crypto/rand.Reader.
	Rand io.Reader
	// Logger; nil discards.
	Logger *slog.Logger
	// BaseBackoff is the delay before the first retry; each further retry doubles it,
	// up to MaxBackoff. Each delay is jittered to between half and all of it.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// MaxAttempts: after this many failed attempts the logout is given up.
	MaxAttempts int
	// TTL: a logout not delivered this long after it was enqueued is given up.
	TTL time.Duration
	// Concurrency bounds the deliveries in flight.
	Concurrency int
	// PollInterval bounds how long the worker sleeps without looking at the queue
	// (it is woken by Enqueue and by finished attempts, too).
	PollInterval time.Duration
	// Webhooks looks up the hook of a webhook entry at each attempt; nil drops
	// webhook entries.
	Webhooks WebhookTargets
	// OnWebhookAttempt, when set, is called after every webhook attempt (the hook's
	// delivery log). It must not block for long: it runs on the attempt's goroutine.
	OnWebhookAttempt func(WebhookAttempt)
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("outbox: Config.Store is required"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("outbox: Config.Signer is required"))
	}
	for name, d := range map[string]time.Duration{"BaseBackoff": c.BaseBackoff, "MaxBackoff": c.MaxBackoff, "TTL": c.TTL, "PollInterval": c.PollInterval} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("outbox: Config.%s must not be negative", name))
		}
	}
	if c.MaxAttempts < 0 || c.Concurrency < 0 {
		errs = append(errs, errors.New("outbox: Config.MaxAttempts and Concurrency must not be negative"))
	}
	if c.BaseBackoff > 0 && c.MaxBackoff > 0 && c.BaseBackoff > c.MaxBackoff {
		errs = append(errs, errors.New("outbox: Config.BaseBackoff must not exceed MaxBackoff"))
	}
	return errors.Join(errs...)
}

// Stats counts what a Worker did since it started.
type Stats struct {
	// Delivered: logouts the RP acknowledged (200 or 204).
	Delivered uint64
	// Retried: failed attempts after which another was scheduled.
	Retried uint64
	// GivenUp: logouts dropped after MaxAttempts or TTL.
	GivenUp uint64
}

// Worker owns the outbox of one node: Enqueue writes entries, Run delivers them. It is
// safe for concurrent use; run one Run per store.
type Worker struct {
	cfg    Config
	log    *slog.Logger
	client *http.Client
	wake   chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
	randMu   sync.Mutex

	delivered, retried, givenUp atomic.Uint64
}

// New returns a Worker for cfg (defaults filled in).
func New(cfg Config) (*Worker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = DefaultBaseBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.BaseBackoff)
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = DefaultConcurrency
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	client := cfg.Client
	if client == nil {
		client = &http.Client{
			Timeout:       defaultHTTPTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return &Worker{
		cfg:      cfg,
		log:      log.With("component", "outbox"),
		client:   client,
		wake:     make(chan struct{}, 1),
		inflight: map[string]bool{},
	}, nil
}

// Stats returns the counters. Safe to call at any time.
func (w *Worker) Stats() Stats {
	return Stats{Delivered: w.delivered.Load(), Retried: w.retried.Load(), GivenUp: w.givenUp.Load()}
}

// Pending counts the entries waiting in the store (live records of Kind).
func (w *Worker) Pending(ctx context.Context) (int, error) {
	c, err := persistence.Count(ctx, w.cfg.Store, Kind)
	return c.Live, err
}

// Wake makes Run look at the queue now (after a clock change in tests, for instance).
// It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Enqueue stores the logouts, each due now, and returns once every write is durable
// (the store's durability): call it before answering the logout, so a crash after the
// answer cannot lose a delivery. It then wakes Run; it never waits for a delivery.
func (w *Worker) Enqueue(ctx context.Context, logouts ...Logout) error {
	for _, l := range logouts {
		if err := l.validate(); err != nil {
			return err
		}
	}
	now := w.cfg.Now()
	var errs []error
	for _, l := range logouts {
		id, err := w.randomID()
		if err != nil {
			return err
		}
		e := entry{Logout: l, CreatedAtMs: now.UnixMilli(), NextAttemptAtMs: now.UnixMilli()}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := w.cfg.Store.Put(ctx, Kind, id, 0, b, now.Add(w.cfg.TTL+expiryGrace)); err != nil {
			errs = append(errs, fmt.Errorf("outbox: enqueue logout for %s: %w", l.ClientID, err))
		}
	}
	w.Wake()
	return errors.Join(errs...)
}

// EnqueueWebhooks stores the webhooks, each due now, like Enqueue: call it before
// answering the request that caused them, so a crash after the answer cannot lose one.
func (w *Worker) EnqueueWebhooks(ctx context.Context, hooks ...Webhook) error {
	for _, h := range hooks {
		if err := h.validate(); err != nil {
			return err
		}
	}
	now := w.cfg.Now()
	var errs []error
	for _, h := range hooks {
		id, err := w.randomID()
		if err != nil {
			return err
		}
		wh := h
		e := entry{Webhook: &wh, CreatedAtMs: now.UnixMilli(), NextAttemptAtMs: now.UnixMilli()}
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		if _, err := w.cfg.Store.Put(ctx, Kind, id, 0, b, now.Add(w.cfg.TTL+expiryGrace)); err != nil {
			errs = append(errs, fmt.Errorf("outbox: enqueue webhook %s for hook %s: %w", h.Event, h.HookID, err))
		}
	}
	w.Wake()
	return errors.Join(errs...)
}

// Run delivers due entries until ctx is done, then waits for the attempts in flight to
// stop (they are cancelled with ctx and not counted) and returns. On start it scans the
// store, so entries left by an earlier run are delivered too.
func (w *Worker) Run(ctx context.Context) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, w.cfg.Concurrency)
	defer func() {
		wg.Wait()
		s := w.Stats()
		w.log.Info("outbox worker stopped", "delivered", s.Delivered, "retried", s.Retried, "given_up", s.GivenUp)
	}()
	for {
		next := w.dispatch(ctx, sem, &wg)
		wait := w.cfg.PollInterval
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(w.cfg.Now()), time.Millisecond))
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// dispatch starts an attempt for every due entry not already in flight, while a
// concurrency slot is free, and returns when the earliest entry it left waiting is due
// (zero when none). A finished attempt wakes Run, so entries left for want of a slot are
// picked up then.
func (w *Worker) dispatch(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) (next time.Time) {
	type due struct {
		key     string
		version uint64
		e       entry
	}
	var (
		now       = w.cfg.Now()
		ready     []due
		corrupt   []due
		free      = cap(sem) - len(sem)
		scanError error
	)
	if free == 0 {
		return next // every slot busy: a finished attempt wakes Run
	}
	scanError = w.cfg.Store.Scan(ctx, Kind, func(key string, rec persistence.Record) error {
		if w.cfg.Owns != nil && !w.cfg.Owns(key) {
			return nil
		}
		var e entry
		if err := json.Unmarshal(rec.Value, &e); err != nil {
			corrupt = append(corrupt, due{key: key, version: rec.Version})
			return nil
		}
		at := time.UnixMilli(e.NextAttemptAtMs)
		if at.After(now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			return nil
		}
		w.mu.Lock()
		busy := w.inflight[key]
		w.mu.Unlock()
		if !busy {
			ready = append(ready, due{key: key, version: rec.Version, e: e})
			if len(ready) == free {
				return errSlotsFilled // the rest waits for a finished attempt's wake-up
			}
		}
		return nil
	})
	if errors.Is(scanError, errSlotsFilled) {
		scanError, next = nil, time.Time{}
	}
	if scanError != nil && ctx.Err() == nil {
		w.log.Warn("scanning the outbox failed", "err", scanError)
		if next.IsZero() {
			next = now.Add(w.cfg.BaseBackoff)
		}
	}
	for _, c := range corrupt {
		w.log.Warn("dropping an undecodable outbox entry", "key", c.key)
		_ = w.cfg.Store.Delete(ctx, Kind, c.key, c.version)
	}
	for _, d := range ready {
		select {
		case sem <- struct{}{}:
		default:
			return next
		}
		if !w.claim(ctx, d.key, d.version) {
			<-sem
			// Changed since the scan by an attempt that has just finished; its
			// wake-up makes Run look again.
			continue
		}
		wg.Add(1)
		go func() {
			defer func() {
				w.mu.Lock()
				delete(w.inflight, d.key)
				w.mu.Unlock()
				<-sem
				wg.Done()
				w.Wake()
			}()
			w.attempt(ctx, d.key, d.version, d.e)
		}()
	}
	return next
}

var errSlotsFilled = errors.New("outbox: every free delivery slot has an entry")

// claim marks key in flight if it is not already and its stored version is still
// version. The scan reads a snapshot: an attempt that finished after it may already have
// rescheduled or removed the entry, and it removes its in-flight mark only after that
// write, so re-reading after the mark is taken sees the write.
func (w *Worker) claim(ctx context.Context, key string, version uint64) bool {
	w.mu.Lock()
	if w.inflight[key] {
		w.mu.Unlock()
		return false
	}
	w.inflight[key] = true
	w.mu.Unlock()
	rec, err := w.cfg.Store.Get(ctx, Kind, key)
	if err == nil && rec.Version == version {
		return true
	}
	w.mu.Lock()
	delete(w.inflight, key)
	w.mu.Unlock()
	return false
}

// attempt posts one fresh logout token (or the webhook) for e and records the
// outcome.
func (w *Worker) attempt(ctx context.Context, key string, version uint64, e entry) {
	var (
		log    *slog.Logger
		err    error
		report = func(error, bool) {}
	)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if e.Webhook != nil {
		log = w.log.With("hook", e.Webhook.HookID, "event", e.Webhook.Event, "key", key, "attempt", e.Attempts+1)
		status, resp, gone, perr := w.postWebhook(ctx, *e.Webhook)
		if ctx.Err() != nil {
			return // shutting down: the entry stays for the next run
		}
		if gone {
			if derr := w.cfg.Store.Delete(sctx, Kind, key, version); derr != nil && !errors.Is(derr, persistence.ErrConflict) {
				log.Warn("removing a webhook of a deleted hook failed", "err", derr)
			}
			log.Info("webhook dropped: its hook was deleted or disabled")
			return
		}
		err = perr
		attempt := e.Attempts + 1
		report = func(err error, final bool) {
			if w.cfg.OnWebhookAttempt != nil {
				w.cfg.OnWebhookAttempt(WebhookAttempt{Webhook: *e.Webhook, Attempt: attempt,
					StatusCode: status, ResponseBody: resp, Err: err, Final: final, At: w.cfg.Now()})
			}
		}
	} else {
		log = w.log.With("client", e.ClientID, "uri", e.URI, "attempt", e.Attempts+1)
		err = w.post(ctx, e)
		if ctx.Err() != nil {
			return // shutting down: not the RP's failure; the entry stays for the next run
		}
	}
	if err == nil {
		if derr := w.cfg.Store.Delete(sctx, Kind, key, version); derr != nil && !errors.Is(derr, persistence.ErrConflict) {
			log.Warn("delivered, but removing the outbox entry failed (it will be delivered again)", "err", derr)
		}
		w.delivered.Add(1)
		log.Debug("outbox entry delivered")
		report(nil, true)
		return
	}
	now := w.cfg.Now()
	e.Attempts++
	e.LastError = err.Error()
	delay := Backoff(e.Attempts, w.cfg.BaseBackoff, w.cfg.MaxBackoff, w.jitter())
	deadline := time.UnixMilli(e.CreatedAtMs).Add(w.cfg.TTL)
	if e.Attempts >= w.cfg.MaxAttempts || !now.Add(delay).Before(deadline) {
		if derr := w.cfg.Store.Delete(sctx, Kind, key, version); derr != nil && !errors.Is(derr, persistence.ErrConflict) {
			log.Warn("removing a given-up outbox entry failed", "err", derr)
		}
		w.givenUp.Add(1)
		log.Warn("outbox delivery given up", "attempts", e.Attempts, "err", err)
		report(err, true)
		return
	}
	e.NextAttemptAtMs = now.Add(delay).UnixMilli()
	b, jerr := json.Marshal(e)
	if jerr != nil {
		log.Error("encoding an outbox entry failed", "err", jerr)
		return
	}
	if _, perr := w.cfg.Store.Put(sctx, Kind, key, version, b, time.UnixMilli(e.CreatedAtMs).Add(w.cfg.TTL+expiryGrace)); perr != nil {
		log.Warn("rescheduling an outbox entry failed", "err", perr)
		return
	}
	w.retried.Add(1)
	report(err, false)
	level := slog.LevelDebug
	if e.Attempts == 1 {
		level = slog.LevelInfo // the first failure of an entry; the retries after it at Debug
	}
	log.Log(sctx, level, "outbox delivery failed; will retry", "in", delay.Round(time.Millisecond), "err", err)
}

// postWebhook posts one webhook to its hook's current URL, with Logto's headers
// (user-agent, the hook's own headers, content-type, the signature). gone is true when
// the hook no longer exists or is disabled: nothing was sent. A 2xx answer delivers it
// (Logto's ky treats anything else as an error); redirects are not followed.
func (w *Worker) postWebhook(ctx context.Context, h Webhook) (status int, body []byte, gone bool, err error) {
	if w.cfg.Webhooks == nil {
		return 0, nil, true, nil
	}
	t, ok := w.cfg.Webhooks.WebhookTarget(h.HookID)
	if !ok || !t.Enabled {
		return 0, nil, true, nil
	}
	status, body, err = PostWebhook(ctx, w.client, t, h.Body)
	return status, body, false, err
}

// PostWebhook posts body to t once, signed with t's signing key, and returns the
// answer; err is nil only for a 2xx answer. The /api/hooks/{id}/test route uses it too.
func PostWebhook(ctx context.Context, client *http.Client, t WebhookTarget, body []byte) (status int, resp []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("User-Agent", webhookUserAgent)
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if t.SigningKey != "" {
		req.Header.Set(SignatureHeader, Sign(t.SigningKey, body))
	}
	res, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	resp, _ = io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponseBytes))
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return res.StatusCode, resp, fmt.Errorf("webhook endpoint answered %d", res.StatusCode)
	}
	return res.StatusCode, resp, nil
}

// post sends one logout token (Back-Channel Logout 1.0, 2.5: "The OP sends an HTTP POST
// request to the RP's back-channel logout URI ... using the
// application/x-www-form-urlencoded encoding ... logout_token"). 2.8: the RP answers 200
// on success; some frameworks answer 204, which is accepted too. Anything else, a
// redirect included, is a failed attempt.
func (w *Worker) post(ctx context.Context, e entry) error {
	jti, err := w.randomID()
	if err != nil {
		return err
	}
	tok, err := oidcflow.MintLogoutToken(oidcflow.LogoutToken{
		Issuer: e.Issuer, Audience: e.ClientID, Subject: e.Subject, SID: e.SID, JTI: jti, Now: w.cfg.Now(),
	}, w.cfg.Signer)
	if err != nil {
		return err
	}
	body := url.Values{"logout_token": {tok}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URI, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Cache-Control", "no-store")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK, http.StatusNoContent:
		return nil
	}
	return fmt.Errorf("back-channel logout URI answered %d", resp.StatusCode)
}

// Backoff is the delay before the next attempt after n failed ones (n >= 1): base *
// 2^(n-1), at most maxDelay, then jittered to between half and all of it by jitter in
// [0, 1) ("equal jitter": retries of many entries spread out, yet none comes early).
func Backoff(n int, base, maxDelay time.Duration, jitter float64) time.Duration {
	d := base
	for i := 1; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	half := d / 2
	return half + time.Duration(float64(d-half)*jitter)
}

// jitter returns a uniform value in [0, 1) from Rand.
func (w *Worker) jitter() float64 {
	var b [8]byte
	w.randMu.Lock()
	_, err := io.ReadFull(w.cfg.Rand, b[:])
	w.randMu.Unlock()
	if err != nil {
		return 0.5
	}
	return float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
}

// randomID returns 16 random bytes, unpadded base64url.
func (w *Worker) randomID() (string, error) {
	var b [16]byte
	w.randMu.Lock()
	_, err := io.ReadFull(w.cfg.Rand, b[:])
	w.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("outbox: random id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
