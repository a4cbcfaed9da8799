package outbox_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/outbox"
)

// hooksTable is a WebhookTargets over a map the test changes.
type hooksTable struct {
	mu sync.Mutex
	m  map[string]outbox.WebhookTarget
}

func (h *hooksTable) WebhookTarget(id string) (outbox.WebhookTarget, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := h.m[id]
	return t, ok
}

func (h *hooksTable) set(id string, t outbox.WebhookTarget) {
	h.mu.Lock()
	h.m[id] = t
	h.mu.Unlock()
}

type hookRequest struct {
	header http.Header
	body   []byte
}

// hookEndpoint answers the statuses in order (the last repeats) and records requests.
func hookEndpoint(t *testing.T, statuses ...int) (*httptest.Server, chan hookRequest) {
	got := make(chan hookRequest, 100)
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		st := statuses[min(n, len(statuses)-1)]
		n++
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = w.Write([]byte(`{"ok":true}`))
		got <- hookRequest{header: r.Header.Clone(), body: body}
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func hmacHex(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// A webhook is posted as its exact body with Logto's headers, signed with the hook's
// current key; a hook's own headers cannot replace the signature; failed attempts are
// retried and every attempt is reported, the last as final.
func TestWebhookDeliveryRetriedSignedAndReported(t *testing.T) {
	store := openStore(t, "/db", vfs.NewMem(), nil)
	srv, got := hookEndpoint(t, http.StatusInternalServerError, http.StatusAccepted)
	hooks := &hooksTable{m: map[string]outbox.WebhookTarget{}}
	hooks.set("h1", outbox.WebhookTarget{URL: srv.URL, SigningKey: "key-1", Enabled: true,
		Headers: map[string]string{"X-Api-Key": "k", outbox.SignatureHeader: "forged"}})
	var mu sync.Mutex
	var attempts []outbox.WebhookAttempt
	w, err := outbox.New(outbox.Config{Store: store, Signer: newRing(t), BaseBackoff: 10 * time.Millisecond,
		Webhooks: hooks, OnWebhookAttempt: func(a outbox.WebhookAttempt) {
			mu.Lock()
			attempts = append(attempts, a)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"event":"User.Created","hookId":"h1",  "data":{"id":"u1"}}`)
	if err := w.EnqueueWebhooks(t.Context(), outbox.Webhook{HookID: "h1", Event: "User.Created", Body: body}); err != nil {
		t.Fatal(err)
	}
	run(t, w)
	for i := range 2 {
		r := <-got
		if string(r.body) != string(body) {
			t.Fatalf("attempt %d body %q, want the exact bytes queued", i, r.body)
		}
		if sig := r.header.Get(outbox.SignatureHeader); sig != hmacHex("key-1", body) {
			t.Fatalf("attempt %d signature %q", i, sig)
		}
		if r.header.Get("User-Agent") != "Logto (https://logto.io/)" || r.header.Get("X-Api-Key") != "k" || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("attempt %d headers %v", i, r.header)
		}
	}
	eventually(t, "delivered", func() bool { return w.Stats().Delivered == 1 && pending(t, w) == 0 })
	eventually(t, "two attempts reported", func() bool { mu.Lock(); defer mu.Unlock(); return len(attempts) == 2 })
	mu.Lock()
	defer mu.Unlock()
	a0, a1 := attempts[0], attempts[1]
	if a0.Err == nil || a0.Final || a0.StatusCode != 500 || a0.Attempt != 1 || a0.HookID != "h1" || a0.Event != "User.Created" {
		t.Errorf("first attempt %+v", a0)
	}
	if a1.Err != nil || !a1.Final || a1.StatusCode != 202 || a1.Attempt != 2 || string(a1.ResponseBody) != `{"ok":true}` {
		t.Errorf("second attempt %+v", a1)
	}
}

// The hook is looked up at each attempt: a rotated key signs the retry, and the events
// of a deleted or disabled hook are dropped without a request.
func TestWebhookFollowsItsHook(t *testing.T) {
	store := openStore(t, "/db", vfs.NewMem(), nil)
	// The first request is answered (503) only once the test has rotated the key, so
	// the retry is certainly signed after the rotation.
	got := make(chan hookRequest, 100)
	rotated := make(chan struct{})
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- hookRequest{header: r.Header.Clone(), body: body}
		if calls.Add(1) == 1 {
			<-rotated
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	hooks := &hooksTable{m: map[string]outbox.WebhookTarget{}}
	hooks.set("h1", outbox.WebhookTarget{URL: srv.URL, SigningKey: "old", Enabled: true})
	w, err := outbox.New(outbox.Config{Store: store, Signer: newRing(t), BaseBackoff: 10 * time.Millisecond, Webhooks: hooks})
	if err != nil {
		t.Fatal(err)
	}
	run(t, w)
	body := []byte(`{"event":"PostSignIn"}`)
	if err := w.EnqueueWebhooks(t.Context(), outbox.Webhook{HookID: "h1", Event: "PostSignIn", Body: body}); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r.header.Get(outbox.SignatureHeader) != hmacHex("old", body) {
		t.Fatal("first attempt not signed with the key of the time")
	}
	hooks.set("h1", outbox.WebhookTarget{URL: srv.URL, SigningKey: "new", Enabled: true})
	close(rotated)
	if r := <-got; r.header.Get(outbox.SignatureHeader) != hmacHex("new", body) {
		t.Fatal("retry not signed with the rotated key")
	}
	eventually(t, "delivered", func() bool { return w.Stats().Delivered == 1 })

	// Deleted and disabled hooks: their entries leave the queue, nothing is posted.
	hooks.set("h2", outbox.WebhookTarget{URL: srv.URL, SigningKey: "k", Enabled: false})
	if err := w.EnqueueWebhooks(t.Context(),
		outbox.Webhook{HookID: "h2", Event: "PostSignIn", Body: body},
		outbox.Webhook{HookID: "gone", Event: "PostSignIn", Body: body}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "dropped", func() bool { return pending(t, w) == 0 })
	select {
	case r := <-got:
		t.Fatalf("a request for a disabled or deleted hook: %s", r.body)
	default:
	}
}

func TestEnqueueWebhooksValidates(t *testing.T) {
	store := openStore(t, "/db", vfs.NewMem(), nil)
	w, err := outbox.New(outbox.Config{Store: store, Signer: newRing(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []outbox.Webhook{
		{Event: "PostSignIn", Body: []byte(`{}`)},
		{HookID: "h", Body: []byte(`{}`)},
		{HookID: "h", Event: "PostSignIn", Body: []byte(`{not json`)},
	} {
		if err := w.EnqueueWebhooks(t.Context(), h); err == nil {
			t.Errorf("EnqueueWebhooks(%+v) accepted", h)
		}
	}
	if n := pending(t, w); n != 0 {
		t.Fatalf("pending %d", n)
	}
}
