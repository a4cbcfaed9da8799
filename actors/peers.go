package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// peerTimeout bounds one grain-to-grain request. A grain waiting on another blocks its
// own mailbox meanwhile, so this stays short.
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
// Grains never wait on each other in a cycle (DESIGN.md "The grain contract"): the only
// blocking grain-to-grain request is RefreshFamily -> Grant (GrantCheck); everything
// else (Grant -> RefreshFamily revocations, RefreshFamily -> Grant on reuse) is a
// fire-and-forget message sent by tell. Peers is safe for concurrent use.
type Peers struct {
	once  sync.Once
	bound chan struct{}
	node  *cluster.Node // written once, before bound is closed
}

// NewPeers returns an unbound Peers.
func NewPeers() *Peers { return &Peers{bound: make(chan struct{})} }

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
// (Ack, or a Failure it decided) ends the delivery; giving up is logged.
func (p *Peers) tell(logger *slog.Logger, kind, key string, m proto.Message) {
	go func() {
		backoff := tellBackoff
		for attempt := 1; ; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
			_, err := peerCall[*msg.Ack](ctx, p, kind, key, m)
			cancel()
			var oe *oauth.Error
			if err == nil || errors.As(err, &oe) {
				if err != nil {
					logger.Debug("peer refused message", "to", kind+"/"+key, "message", proto.MessageName(m), "error", err)
				}
				return
			}
			if attempt == tellAttempts || p == nil {
				logger.Warn("message to peer grain lost", "to", kind+"/"+key,
					"message", proto.MessageName(m), "attempts", attempt, "error", err)
				return
			}
			time.Sleep(backoff)
			backoff *= 2
		}
	}()
}
