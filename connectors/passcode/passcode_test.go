package passcode_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// outbox is a Sender that keeps the last code per recipient.
type outbox struct {
	mu    sync.Mutex
	codes map[string]string
	fail  error
}

func (o *outbox) Send(_ context.Context, _ connectors.Channel, to, _, code string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.codes[to] = code
	return nil
}

func (o *outbox) code(to string) string { o.mu.Lock(); defer o.mu.Unlock(); return o.codes[to] }

type env struct {
	c     *passcode.Codes
	clk   *clock
	out   *outbox
	store *passcode.MemoryStore
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	out := &outbox{codes: map[string]string{}}
	store := passcode.NewMemoryStore(clk.Now)
	c, err := passcode.New(passcode.Config{Store: store, Sender: out, Now: clk.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return &env{c: c, clk: clk, out: out, store: store}
}

var alice = passcode.Identifier{Type: passcode.Email, Value: "alice@example.com"}

func (e *env) send(t *testing.T, binding string, ident passcode.Identifier) string {
	t.Helper()
	sent, err := e.c.Send(t.Context(), passcode.Request{Binding: binding, Identifier: ident, UsageType: "SignIn", Source: "192.0.2.1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return sent.ID
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var pe *passcode.Error
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

func wrong(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestVerifyOnceThenUsable(t *testing.T) {
	e := newEnv(t)
	id := e.send(t, "b", alice)
	code := e.out.code(alice.Value)
	if len(code) != passcode.CodeLength {
		t.Fatalf("code %q", code)
	}
	if _, err := e.c.VerifiedIdentifier(t.Context(), "b", id); !errors.Is(err, passcode.ErrNotVerified) {
		t.Fatalf("before verification: %v", err)
	}
	wantCode(t, e.c.Verify(t.Context(), "b", id, alice, wrong(code)), passcode.CodeMismatch)
	if err := e.c.Verify(t.Context(), "b", id, alice, code); err != nil {
		t.Fatal(err)
	}
	// Reused: a verified record has no code left.
	wantCode(t, e.c.Verify(t.Context(), "b", id, alice, code), passcode.CodeNotFound)
	got, err := e.c.VerifiedIdentifier(t.Context(), "b", id)
	if err != nil || got != alice {
		t.Fatalf("VerifiedIdentifier = %v, %v", got, err)
	}
	// Another binding sees nothing.
	if _, err := e.c.VerifiedIdentifier(t.Context(), "other", id); !errors.Is(err, passcode.ErrRecordNotFound) {
		t.Fatalf("other binding: %v", err)
	}
	if _, err := e.c.Use(t.Context(), "b", id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Use(t.Context(), "b", id); !errors.Is(err, passcode.ErrNotVerified) {
		t.Fatalf("second use: %v", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	e := newEnv(t)
	id := e.send(t, "b", alice)
	code := e.out.code(alice.Value)
	if err := e.c.Verify(t.Context(), "other", id, alice, code); !errors.Is(err, passcode.ErrRecordNotFound) {
		t.Fatalf("other binding: %v", err)
	}
	if err := e.c.Verify(t.Context(), "b", id, passcode.Identifier{Type: passcode.Phone, Value: "15551234567"}, code); !errors.Is(err, passcode.ErrRecordNotFound) {
		t.Fatalf("other type: %v", err)
	}
	wantCode(t, e.c.Verify(t.Context(), "b", id, passcode.Identifier{Type: passcode.Email, Value: "eve@example.com"}, code), passcode.CodeEmailMismatch)
	for range passcode.MaxAttempts {
		wantCode(t, e.c.Verify(t.Context(), "b", id, alice, wrong(code)), passcode.CodeMismatch)
	}
	// Dead: even the right code is refused now.
	wantCode(t, e.c.Verify(t.Context(), "b", id, alice, code), passcode.CodeExceedMaxTry)

	id2 := e.send(t, "b", alice)
	code2 := e.out.code(alice.Value)
	e.clk.Add(passcode.CodeTTL)
	wantCode(t, e.c.Verify(t.Context(), "b", id2, alice, code2), passcode.CodeExpired)
}

func TestCodeStoredHashed(t *testing.T) {
	e := newEnv(t)
	id := e.send(t, "b", alice)
	code := e.out.code(alice.Value)
	found := false
	for _, key := range []string{id} {
		if _, err := e.store.Get(t.Context(), passcode.Kind, key); err == nil {
			t.Fatal("the record is stored under its id in the clear")
		}
	}
	// The record is under SHA-256(id); neither its key nor its value holds the code
	// or the id.
	e.store.Range(func(kind, key string, value []byte) {
		if kind != passcode.Kind {
			return
		}
		found = true
		if bytes.Contains(value, []byte(code)) || bytes.Contains(value, []byte(id)) || key == id {
			t.Fatalf("record %s = %s holds the code or the id", key, value)
		}
	})
	if !found {
		t.Fatal("no record stored")
	}
}

func TestSendLimits(t *testing.T) {
	e := newEnv(t)
	for range passcode.DefaultRecipientLimit.Max {
		e.send(t, "b", alice)
	}
	_, err := e.c.Send(t.Context(), passcode.Request{Binding: "b", Identifier: alice, UsageType: "SignIn", Source: "192.0.2.1"})
	wantCode(t, err, passcode.CodeRateLimited)
	var pe *passcode.Error
	if errors.As(err, &pe) && pe.RetryAfter <= 0 {
		t.Fatalf("retry after %v", pe.RetryAfter)
	}
	// A failed send does not count.
	bob := passcode.Identifier{Type: passcode.Email, Value: "bob@example.com"}
	e.out.fail = errors.New("down")
	for range passcode.DefaultRecipientLimit.Max + 1 {
		if _, err := e.c.Send(t.Context(), passcode.Request{Binding: "b", Identifier: bob, UsageType: "SignIn"}); err == nil {
			t.Fatal("send succeeded")
		}
	}
	e.out.fail = nil
	e.send(t, "b", bob)
	// The window slides.
	e.clk.Add(passcode.DefaultRecipientLimit.Window)
	e.send(t, "b", alice)
	// Per source: many recipients from one address.
	e2 := newEnv(t)
	for i := range passcode.DefaultSourceLimit.Max {
		e2.send(t, "b", passcode.Identifier{Type: passcode.Email, Value: string(rune('a'+i%26)) + string(rune('a'+i/26)) + "@example.com"})
	}
	_, err = e2.c.Send(t.Context(), passcode.Request{Binding: "b", Identifier: alice, UsageType: "SignIn", Source: "192.0.2.1"})
	wantCode(t, err, passcode.CodeRateLimited)
	if _, err := e2.c.Send(t.Context(), passcode.Request{Binding: "b", Identifier: alice, UsageType: "SignIn", Source: "198.51.100.7"}); err != nil {
		t.Fatalf("another source: %v", err)
	}
}

// TestConcurrentGuessesSpendAttempts: racing checks of one record each spend an
// attempt (conditional writes), so no more than MaxAttempts wrong codes are judged.
func TestConcurrentGuessesSpendAttempts(t *testing.T) {
	e := newEnv(t)
	id := e.send(t, "b", alice)
	code := e.out.code(alice.Value)
	var wg sync.WaitGroup
	var mu sync.Mutex
	mismatches := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.c.Verify(context.Background(), "b", id, alice, wrong(code))
			var pe *passcode.Error
			if errors.As(err, &pe) && pe.Code == passcode.CodeMismatch {
				mu.Lock()
				mismatches++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if mismatches > passcode.MaxAttempts {
		t.Fatalf("%d wrong codes judged, want at most %d", mismatches, passcode.MaxAttempts)
	}
}
