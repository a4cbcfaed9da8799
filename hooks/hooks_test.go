package hooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/hooks"
	"github.com/latchid/latch/outbox"
)

type fakeSource []*directory.Hook

func (f fakeSource) Hooks() []*directory.Hook { return f }
func (f fakeSource) HookByID(id string) (*directory.Hook, bool) {
	for _, h := range f {
		if h.ID == id {
			return h, true
		}
	}
	return nil, false
}

type fakeQueue struct{ got []outbox.Webhook }

func (q *fakeQueue) EnqueueWebhooks(_ context.Context, hs ...outbox.Webhook) error {
	q.got = append(q.got, hs...)
	return nil
}

func strp(s string) *string { return &s }

var clock = func() time.Time { return time.Date(2026, 12, 3, 6, 0, 0, 123e6, time.UTC) }

// Emit queues one body per enabled hook subscribed to the event (events, else the
// legacy single event), each naming its hook.
func TestEmitQueuesOnePerSubscribedHook(t *testing.T) {
	src := fakeSource{
		{ID: "a", Events: []string{"PostSignIn", "User.Created"}, Enabled: true},
		{ID: "b", Events: []string{}, Event: strp("PostSignIn"), Enabled: true}, // legacy
		{ID: "c", Events: []string{"PostSignIn"}, Enabled: false},               // disabled
		{ID: "d", Events: []string{"User.Created"}, Enabled: true},              // another event
	}
	q := &fakeQueue{}
	d, err := hooks.New(hooks.Config{Hooks: src, Queue: q, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Wants("PostSignIn") || d.Wants("Role.Created") {
		t.Error("Wants")
	}
	d.Emit(t.Context(), hooks.Payload{Event: "PostSignIn", UserID: "u1", SessionID: "s1"})
	if len(q.got) != 2 || q.got[0].HookID != "a" || q.got[1].HookID != "b" {
		t.Fatalf("queued %+v", q.got)
	}
	for _, w := range q.got {
		var p map[string]any
		if err := json.Unmarshal(w.Body, &p); err != nil {
			t.Fatal(err)
		}
		if p["hookId"] != w.HookID || p["event"] != "PostSignIn" || p["createdAt"] != "2026-12-03T06:00:00.123Z" ||
			p["userId"] != "u1" || p["sessionId"] != "s1" || w.Event != "PostSignIn" {
			t.Errorf("body %s", w.Body)
		}
		if _, ok := p["data"]; ok {
			t.Errorf("an interaction payload with data: %s", w.Body)
		}
	}
}

type recorder struct{ got []audit.Entry }

func (r *recorder) Record(e audit.Entry) { r.got = append(r.got, e) }

// Every attempt becomes Logto's TriggerHook.<event> log.
func TestDeliveryLog(t *testing.T) {
	r := &recorder{}
	log := hooks.DeliveryLog(r)
	log(outbox.WebhookAttempt{Webhook: outbox.Webhook{HookID: "h", Event: "User.Created", Body: []byte(`{"a":1}`)}, StatusCode: 200, ResponseBody: []byte("ok"), At: clock()})
	log(outbox.WebhookAttempt{Webhook: outbox.Webhook{HookID: "h", Event: "User.Created", Body: []byte(`{"a":1}`)}, Err: errors.New("connection refused"), At: clock()})
	if len(r.got) != 2 || r.got[0].Key != "TriggerHook.User.Created" || r.got[0].HookID != "h" || r.got[0].Result != "" ||
		r.got[0].HookResponseStatus != 200 || r.got[1].Result != audit.Error || r.got[1].Error.Message != "connection refused" {
		t.Fatalf("entries %+v", r.got)
	}
}

// The test send: Logto's payload for each event, signed; a non-2xx answer is a
// TestError with the status and body.
func TestSendTest(t *testing.T) {
	var bodies []map[string]any
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p map[string]any
		_ = json.NewDecoder(r.Body).Decode(&p)
		bodies = append(bodies, p)
		if r.Header.Get(outbox.SignatureHeader) == "" {
			t.Error("unsigned test send")
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte("nope"))
	}))
	defer srv.Close()
	h := &directory.Hook{ID: "h1", SigningKey: "k"}
	if err := hooks.SendTest(t.Context(), nil, h, []string{"PostRegister", "Role.Created"}, directory.HookConfig{URL: srv.URL}, clock()); err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 || bodies[0]["userIp"] != "fake-user-ip" || bodies[1]["matchedRoute"] != nil || bodies[1]["path"] != "/fake-path/:id" || bodies[0]["hookId"] != "h1" {
		t.Fatalf("test payloads %v", bodies)
	}
	status = http.StatusBadGateway
	var te *hooks.TestError
	if err := hooks.SendTest(t.Context(), nil, h, []string{"PostSignIn"}, directory.HookConfig{URL: srv.URL}, clock()); !errors.As(err, &te) || te.Status != 502 || te.Body != "nope" {
		t.Fatalf("err %v", err)
	}
}

func TestEvents(t *testing.T) {
	for _, e := range []string{"PostSignIn", "User.SuspensionStatus.Updated", "OrganizationScope.Data.Updated", "Organization.Membership.Updated"} {
		if !hooks.IsEvent(e) {
			t.Errorf("%s is not an event", e)
		}
	}
	if hooks.IsEvent("TrustedDevice.Created") || hooks.IsEvent("User.Exploded") {
		t.Error("a dev-feature or unknown event is accepted")
	}
	if hooks.InteractionEvent("ForgotPassword") != "PostResetPassword" || hooks.InteractionEvent("Nope") != "" {
		t.Error("InteractionEvent")
	}
}
