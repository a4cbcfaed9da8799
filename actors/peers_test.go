package actors

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchid/latch/actors/msg"
)

// TestPeersStopAbandonsRetriesAndJoins: Stop cancels a delivery that is still trying
// (here: waiting for a member that is never bound), waits for its goroutine, and leaves
// no goroutine of Peers behind; a message told after Stop starts none.
func TestPeersStopAbandonsRetriesAndJoins(t *testing.T) {
	var logs bytes.Buffer // written by the delivery goroutines, read after Stop joined them
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := NewPeers()
	const n = 3
	for range n {
		p.tell(logger, GrantKindName, "g", &msg.GrantRevoke{})
	}
	if got := p.running.Load(); got != n {
		t.Fatalf("%d delivery goroutines running, want %d", got, n)
	}
	p.Stop()
	if got := p.running.Load(); got != 0 {
		t.Fatalf("%d delivery goroutines left after Stop", got)
	}
	out := logs.String()
	if c := strings.Count(out, "message to peer grain lost"); c != n || strings.Count(out, "attempts=1 ") != n {
		t.Fatalf("want %d deliveries abandoned at their first attempt, logs:\n%s", n, out)
	}
	p.tell(logger, GrantKindName, "g", &msg.GrantRevoke{})
	if got := p.running.Load(); got != 0 {
		t.Fatalf("tell after Stop started %d goroutines", got)
	}
	if !strings.Contains(logs.String(), "attempts=0 ") {
		t.Fatalf("tell after Stop not reported lost, logs:\n%s", logs.String())
	}
	p.Stop() // idempotent
}
