package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/cluster/clusterpb"
)

// ErrUnavailable means the grain could not be reached in time: no live member hosts its
// kind, its owner is dead or unreachable, members disagree on its owner while gossip
// converges, or the caller's deadline passed. A deadline miss also satisfies
// errors.Is(err, context.DeadlineExceeded). The HTTP boundary maps it to 503
// temporarily_unavailable; retrying later may succeed.
var ErrUnavailable = errors.New("cluster: grain unavailable")

// ErrUnsupported means the receiving member does not know the message's protobuf type
// (it runs an older release), or this member does not know the reply's type.
var ErrUnsupported = errors.New("cluster: message type not supported by the receiver")

// Request sends m to the grain kind/identity and waits for its reply.
//
// The timeout is ctx's deadline (Config.RequestTimeout when ctx has none). A dead or
// unreachable owner makes Request fail by that deadline with an error satisfying both
// errors.Is(err, ErrUnavailable) and errors.Is(err, context.DeadlineExceeded); a
// canceled ctx returns ctx.Err(). When the grain's PID turns out to be gone (dead
// letter) or its owner refuses the activation, Request drops the cached PID and retries
// once within the same deadline.
//
// m and the reply must be protobuf messages: only those cross members.
func (n *Node) Request(ctx context.Context, kind, identity string, m proto.Message) (proto.Message, error) {
	if m == nil {
		return nil, errors.New("cluster: request message is nil")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
		defer cancel()
	}
	// A sharded grain is sent again as long as its shard's leadership moves (a failover)
	// and the deadline allows; another grain at most once more.
	router, shard, sharded := n.lookup.shardOf(kind, identity)
	attempts := 2
	if sharded {
		attempts = maxShardedAttempts
	}
	var lastErr error
	for attempt := 0; attempt < attempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, n.ctxErr(ctx, kind, identity, lastErr)
		}
		pid, err := n.lookup.resolve(ctx, kind, identity)
		if err != nil {
			if ctx.Err() != nil {
				return nil, n.ctxErr(ctx, kind, identity, err)
			}
			if errors.Is(err, ErrUnavailable) || errors.Is(err, errDeadLetter) {
				lastErr = err
				if errors.Is(err, errNotOwner) {
					pause(ctx, convergePause) // let gossip converge before asking again
				}
				continue
			}
			return nil, fmt.Errorf("cluster: %s/%s: %w", kind, identity, err)
		}
		var abort <-chan struct{}
		if sharded && pid.Address != n.lookup.self {
			abort = router.Changed(shard)
		}
		res, err := askUnless(ctx, n.system, pid, m, abort)
		n.cfg.Observer.GrainCall(kind, pid.Address == n.lookup.self, err != nil)
		switch {
		case err == nil:
			return replyMessage(kind, identity, pid, res)
		case errors.Is(err, errLeadershipChanged):
			n.cluster.PidCache.RemoveByValue(identity, kind, pid)
			lastErr = fmt.Errorf("%s/%s at %s: %w", kind, identity, pid, err)
		case errors.Is(err, errDeadLetter):
			n.cluster.PidCache.RemoveByValue(identity, kind, pid)
			lastErr = fmt.Errorf("%s/%s at %s: %w", kind, identity, pid, err)
		default:
			// The deadline passed or ctx was canceled; the PID may belong to a dead
			// member, so do not trust it next time.
			n.cluster.PidCache.RemoveByValue(identity, kind, pid)
			return nil, n.ctxErr(ctx, kind, identity, fmt.Errorf("waiting for %s: %w", pid.Address, err))
		}
	}
	return nil, fmt.Errorf("cluster: %s/%s: %w: %w", kind, identity, ErrUnavailable, lastErr)
}

// maxShardedAttempts bounds how often Request sends one request to a sharded grain
// whose shard keeps changing leader (each change is an election: a few per failover).
const maxShardedAttempts = 6

// convergePause is how long Request waits before retrying a refused activation.
const convergePause = 20 * time.Millisecond

// pause waits for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ctxErr turns the end of ctx into Request's error.
func (n *Node) ctxErr(ctx context.Context, kind, identity string, cause error) error {
	err := ctx.Err()
	if cause == nil {
		cause = err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cluster: %s/%s: %w (%w): %v", kind, identity, ErrUnavailable, context.DeadlineExceeded, cause)
	}
	return fmt.Errorf("cluster: %s/%s: %w: %v", kind, identity, err, cause)
}

// replyMessage checks that a grain's reply is a protobuf message Latch can use.
func replyMessage(kind, identity string, pid *actor.PID, res any) (proto.Message, error) {
	switch r := res.(type) {
	case *clusterpb.Unsupported:
		return nil, fmt.Errorf("cluster: %s/%s at %s: %w: %s", kind, identity, pid.Address, ErrUnsupported, r.TypeName)
	case proto.Message:
		return r, nil
	case nil:
		return nil, fmt.Errorf("cluster: %s/%s at %s replied nil", kind, identity, pid.Address)
	default:
		return nil, fmt.Errorf("cluster: %s/%s at %s replied %T, which is not a protobuf message", kind, identity, pid.Address, res)
	}
}

// errDeadLetter means the target PID does not exist (any more) on its member.
var errDeadLetter = errors.New("dead letter")

// budgetHeader is the message header that carries a request's budget: the
// milliseconds left of the caller's deadline when the request was sent. Remote calls
// cannot carry a context, and an instant of the caller's clock would mean nothing on
// another member's, so the budget travels as a duration.
const budgetHeader = "latch-budget-ms"

// Budget returns the budget the sender of c's current message gave it (what was left
// of its caller's deadline when Request sent it); ok is false when the message carries
// none (not sent by Request: a tell, a system message, an older sender). A grain
// bounds the work it does for the message, store writes and requests to other grains,
// by that budget counted from when it handles the message.
func Budget(c actor.Context) (d time.Duration, ok bool) {
	h := c.MessageHeader()
	if h == nil {
		return 0, false
	}
	v := h.Get(budgetHeader)
	if v == "" {
		return 0, false
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// budgetValue encodes what is left until deadline for budgetHeader: whole milliseconds,
// rounded up so a budget under 1 ms is not mistaken for none.
func budgetValue(left time.Duration) string {
	return strconv.FormatInt(int64((left+time.Millisecond-1)/time.Millisecond), 10)
}

// ask sends m to pid and waits for one reply or the end of ctx. It uses a private reply
// process instead of protoactor's Future: the wait honours ctx (cancellation as well as
// deadline) with no timer or goroutine per call, and a reply racing the deadline is
// handled under a channel rather than the Future's unsynchronized result field. What is
// left of ctx's deadline travels with m (budgetHeader; see Budget).
func ask(ctx context.Context, system *actor.ActorSystem, pid *actor.PID, m any) (any, error) {
	return askUnless(ctx, system, pid, m, nil)
}

// askUnless is ask that also gives up with errLeadershipChanged when abort closes.
func askUnless(ctx context.Context, system *actor.ActorSystem, pid *actor.PID, m any, abort <-chan struct{}) (any, error) {
	var header map[string]string
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d)
		if left <= 0 {
			return nil, context.DeadlineExceeded
		}
		header = map[string]string{budgetHeader: budgetValue(left)}
	}
	slot := &replySlot{ch: make(chan any, 1)}
	self, ok := system.ProcessRegistry.Add(slot, "latch-reply"+system.ProcessRegistry.NextId())
	if !ok {
		return nil, errors.New("cluster: reply process id collision")
	}
	defer system.ProcessRegistry.Remove(self)
	system.Root.Send(pid, &actor.MessageEnvelope{Header: header, Message: m, Sender: self})
	select {
	case res := <-slot.ch:
		if _, dead := res.(*actor.DeadLetterResponse); dead {
			return nil, errDeadLetter
		}
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-abort:
		return nil, errLeadershipChanged
	}
}

// replySlot is an actor.Process that keeps the first message sent to it. Its methods
// are called from protoactor's goroutines and never block.
type replySlot struct{ ch chan any }

var _ actor.Process = (*replySlot)(nil)

func (s *replySlot) SendUserMessage(_ *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	select {
	case s.ch <- msg:
	default: // a late duplicate; the first reply wins
	}
}

func (s *replySlot) SendSystemMessage(pid *actor.PID, message any) { s.SendUserMessage(pid, message) }

func (s *replySlot) Stop(*actor.PID) {}
