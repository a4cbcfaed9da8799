package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/outbox"
)

// Source lists the configured hooks (*directory.Directory).
type Source interface {
	Hooks() []*directory.Hook
	HookByID(id string) (*directory.Hook, bool)
}

// Queue stores webhooks durably for delivery (*outbox.Worker).
type Queue interface {
	EnqueueWebhooks(ctx context.Context, hooks ...outbox.Webhook) error
}

var (
	_ Source = (*directory.Directory)(nil)
	_ Queue  = (*outbox.Worker)(nil)
)

// enqueueTimeout bounds the durable write of one event's webhooks.
const enqueueTimeout = 5 * time.Second

// testTimeout bounds one test send (Logto's ky timeout).
const testTimeout = 10 * time.Second

// Dispatcher turns events into outbox entries, one per enabled hook subscribed to the
// event. It is safe for concurrent use.
type Dispatcher struct {
	hooks  Source
	queue  Queue
	now    func() time.Time
	log    *slog.Logger
	client *http.Client
}

// Config wires a Dispatcher. Hooks, Queue and Now are required.
type Config struct {
	Hooks Source
	Queue Queue
	Now   func() time.Time
	// Client sends the test payloads of /api/hooks/{id}/test; nil: 10 s timeout, no
	// redirects followed.
	Client *http.Client
	Logger *slog.Logger
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Hooks == nil {
		errs = append(errs, errors.New("hooks: Config.Hooks is required"))
	}
	if c.Queue == nil {
		errs = append(errs, errors.New("hooks: Config.Queue is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("hooks: Config.Now is required"))
	}
	return errors.Join(errs...)
}

// New returns a Dispatcher.
func New(cfg Config) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{hooks: cfg.Hooks, queue: cfg.Queue, now: cfg.Now, log: cfg.Logger, client: cfg.Client}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.client == nil {
		d.client = &http.Client{
			Timeout:       testTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return d, nil
}

// Wants reports whether an enabled hook subscribes to event: callers skip building a
// payload nobody receives.
func (d *Dispatcher) Wants(event string) bool {
	for _, h := range d.hooks.Hooks() {
		if h.Subscribes(event) {
			return true
		}
	}
	return false
}

// Emit queues p for every enabled hook subscribed to p.Event, each body with its
// hookId, and returns once the entries are durable (or could not be written, which is
// logged: the write that caused the event has happened and is not undone). A zero
// CreatedAt becomes now. Call it before answering the request that caused the event.
func (d *Dispatcher) Emit(ctx context.Context, p Payload) {
	if p.CreatedAt == "" {
		p.CreatedAt = Timestamp(d.now())
	}
	var batch []outbox.Webhook
	for _, h := range d.hooks.Hooks() {
		if !h.Subscribes(p.Event) {
			continue
		}
		p.HookID = h.ID
		body, err := json.Marshal(p)
		if err != nil {
			d.log.Error("encoding a webhook payload failed", "event", p.Event, "err", err)
			return
		}
		batch = append(batch, outbox.Webhook{HookID: h.ID, Event: p.Event, Body: body})
	}
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	if err := d.queue.EnqueueWebhooks(ctx, batch...); err != nil {
		d.log.Warn("queueing webhooks failed: the event is not delivered", "event", p.Event, "err", err)
	}
}

// Targets adapts a Source to the outbox's hook lookup.
type Targets struct{ Hooks Source }

var _ outbox.WebhookTargets = Targets{}

// WebhookTarget returns the hook's current URL, headers and signing key.
func (t Targets) WebhookTarget(hookID string) (outbox.WebhookTarget, bool) {
	h, ok := t.Hooks.HookByID(hookID)
	if !ok {
		return outbox.WebhookTarget{}, false
	}
	return outbox.WebhookTarget{URL: h.Config.URL, Headers: h.Config.Headers, SigningKey: h.SigningKey, Enabled: h.Enabled}, true
}

// Recorder records audit log entries (*audit.Writer).
type Recorder interface{ Record(audit.Entry) }

// DeliveryLog returns the outbox's OnWebhookAttempt: every attempt becomes Logto's
// TriggerHook.<event> log with payload.hookId, hookRequest.body, response
// {statusCode, body} and, for a failed attempt, result Error with the reason.
func DeliveryLog(rec Recorder) func(outbox.WebhookAttempt) {
	return func(a outbox.WebhookAttempt) {
		e := audit.Entry{
			Key:    audit.KeyTriggerHookPrefix + a.Event,
			HookID: a.HookID, HookRequestBody: a.Body,
			HookResponseStatus: a.StatusCode, HookResponseBody: a.ResponseBody,
			CreatedAt: a.At,
		}
		if a.Err != nil {
			e.Result, e.Error = audit.Error, audit.ErrorInfo{Message: a.Err.Error()}
		}
		rec.Record(e)
	}
}

// TestError is a test send the endpoint answered with a non-2xx status (Logto's 422
// hook.endpoint_responded_with_error, data {responseStatus, responseBody}).
type TestError struct {
	Status int
	Body   string
}

func (e *TestError) Error() string { return fmt.Sprintf("hook endpoint answered %d", e.Status) }

// Test is SendTest with the Dispatcher's client and clock.
func (d *Dispatcher) Test(ctx context.Context, hook *directory.Hook, events []string, cfg directory.HookConfig) error {
	return SendTest(ctx, d.client, hook, events, cfg, d.now())
}

// SendTest posts Logto's test payload of each event to cfg (not the stored config),
// signed with hook's signing key, as POST /api/hooks/{id}/test does. A non-2xx answer
// is a *TestError; any other failure (connection refused, timeout) is returned as is.
// A nil client has a 10 s timeout and follows no redirect.
func SendTest(ctx context.Context, client *http.Client, hook *directory.Hook, events []string, cfg directory.HookConfig, now time.Time) error {
	if client == nil {
		client = &http.Client{
			Timeout:       testTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	t := outbox.WebhookTarget{URL: cfg.URL, Headers: cfg.Headers, SigningKey: hook.SigningKey, Enabled: true}
	for _, ev := range events {
		body, err := json.Marshal(TestPayload(hook.ID, ev, now))
		if err != nil {
			return err
		}
		status, resp, err := outbox.PostWebhook(ctx, client, t, body)
		if err != nil {
			if status != 0 {
				return &TestError{Status: status, Body: string(resp)}
			}
			return err
		}
	}
	return nil
}
