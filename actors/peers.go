package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// peerTimeout bounds one delivery attempt of a fire-and-forget message (tell). A
// blocking grain-to-grain request has its message's deadline instead.
const peerTimeout = 3 * time.Second

// tellAttempts bounds how often a fire-and-forget message is retried while its target
// is unreachable (a member died and gossip has not converged yet); the backoff between
// attempts starts at tellBackoff and doubles.
const (
	tellAttempts = 5
	tellBackoff  = 50 * time.Millisecond
)

// Peers is how grains reach other grains: through the member that hosts them. The grain
// kinds are built before cluster.Start returns that member, so it is bound afterwards
// (Bind); until then requests wait for it within their deadline.
//
// Grains never wait on each other in a cycle (DESIGN.md "The grain contract"). The
// blocking grain-to-grain requests, each within its message's budget, are:
//   - RefreshFamily -> Grant (GrantCheck before every use);
//   - Grant -> RefreshFamily (RefreshFamilyCreate in a code exchange, to a family id the
//     grant has just drawn, which nothing else knows yet, so it cannot be waiting on the
//     grant);
//   - Session -> Grant and Session -> Account (the logout fan-out: GrantCheck,
//     GrantRevoke, AccountTrack/AccountForget; neither Grant nor Account ever sends to
//     a Session).
//
// Everything else (Grant -> RefreshFamily revocations, RefreshFamily -> Grant on reuse,
// Grant -> Account) is a fire-and-forget message sent by tell. Peers is safe for
// concurrent use.
//
// Peers owns the goroutines that carry those messages and wait on other grains: Stop
// abandons their pending retries and waits for them, so none outlives the node. Call it
// after the HTTP server stopped and before the member and the store do.
type Peers struct {
	once  sync.Once
	bound chan struct{}
	node  *cluster.Node // written once, before bound is closed

	life context.Context // ends at Stop
	end  context.CancelFunc
	mu   sync.Mutex // guards stopped and the wg.Add that must not follow it
	wg   sync.WaitGroup
	stop bool
	// running counts this Peers' live delivery goroutines (tests: a process-wide
	// goroutine count also sees other tests' leftovers).
	running atomic.Int64
}

// NewPeers returns an unbound Peers.
func NewPeers() *Peers {
	life, end := context.WithCancel(context.Background())
	return &Peers{bound: make(chan struct{}), life: life, end: end}
}

// Stop abandons pending deliveries (a retry waiting for its backoff gives up at once, a
// request in flight is canceled) and waits until every goroutine Peers started has
// returned. Messages told afterwards are dropped (logged). Idempotent.
func (p *Peers) Stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stop = true
	p.mu.Unlock()
	p.end()
	p.wg.Wait()
}

// spawn runs fn on a goroutine that Stop cancels (fn's ctx) and waits for. After Stop
// (or on a nil Peers) it starts nothing and reports false.
func (p *Peers) spawn(fn func(ctx context.Context)) bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	if p.stop {
		p.mu.Unlock()
		return false
	}
	p.wg.Add(1)
	p.running.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		defer p.running.Add(-1)
		fn(p.life)
	}()
	return true
}

// Bind sets the member grains send through. Only the first call has an effect.
func (p *Peers) Bind(n *cluster.Node) {
	p.once.Do(func() {
		p.node = n
		close(p.bound)
	})
}

// member waits for Bind within ctx.
func (p *Peers) member(ctx context.Context) (*cluster.Node, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: grains have no Peers (actors.Options.Peers)", cluster.ErrUnavailable)
	}
	select {
	case <-p.bound:
		return p.node, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: member not bound yet: %w", cluster.ErrUnavailable, ctx.Err())
	}
}

// call is a blocking grain-to-grain request; see Call.
func peerCall[T proto.Message](ctx context.Context, p *Peers, kind, key string, m proto.Message) (T, error) {
	n, err := p.member(ctx)
	if err != nil {
		var zero T
		return zero, err
	}
	return Call[T](ctx, n, kind, key, m)
}

// tell sends m to kind/key without waiting: the caller (a grain) goes on at once while a
// goroutine delivers m, retrying while the target is unreachable. The target's answer
// (Ack, or a Failure it decided) ends the delivery; giving up, and Stop abandoning it,
// are logged.
func (p *Peers) tell(logger *slog.Logger, kind, key string, m proto.Message) {
	lost := func(attempts int, err error) {
		logger.Warn("message to peer grain lost", "to", kind+"/"+key,
			"message", proto.MessageName(m), "attempts", attempts, "error", err)
	}
	started := p.spawn(func(life context.Context) {
		backoff := tellBackoff
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(life, peerTimeout)
			_, err := peerCall[*msg.Ack](ctx, p, kind, key, m)
			cancel()
			var oe *oauth.Error
			if err == nil || errors.As(err, &oe) {
				if err != nil {
					logger.Debug("peer refused message", "to", kind+"/"+key, "message", proto.MessageName(m), "error", err)
				}
				return
			}
			if attempt == tellAttempts || life.Err() != nil {
				lost(attempt, err)
				return
			}
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-life.Done():
				t.Stop()
				lost(attempt, fmt.Errorf("node stopping: %w", err))
				return
			}
			backoff *= 2
		}
	})
	if !started {
		lost(0, fmt.Errorf("%w: node stopping or grains have no Peers", cluster.ErrUnavailable))
	}
}
