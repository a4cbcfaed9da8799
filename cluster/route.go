package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/latchid/latch/cluster/clusterpb"
)

// Router places the grains of sharded kinds (DESIGN.md "Durability and the cluster",
// issue 14): a grain lives on the leader of its shard's Raft group, whose replica holds
// every committed write of the grain, and nowhere else. Kinds the Router does not shard
// keep Placement's rendezvous owner. cluster/shards' Manager, adapted in cmd/latch,
// implements it.
type Router interface {
	// Shard returns the shard of kind/identity; false when kind is not sharded.
	Shard(kind, identity string) (shard uint32, sharded bool)
	// Leader returns the node id of shard's leader as this node knows it (0: none
	// known), and whether this node leads the shard and its replica holds every
	// committed entry (grains may activate here).
	Leader(shard uint32) (leader uint64, readyHere bool)
	// Replicas returns the node ids placed for shard, which know its leader when this
	// node holds no replica of it.
	Replicas(shard uint32) []uint64
	// Holds reports whether this node holds a replica of shard: it then learns the
	// shard's leader from the shard's own group (Leader, Changed).
	Holds(shard uint32) bool
	// Changed returns a channel closed at the next change of shard's leadership as this
	// node sees it.
	Changed(shard uint32) <-chan struct{}
}

// routeBox holds a Router in an atomic.Pointer.
type routeBox struct{ r Router }

// Route makes r place the grains of the kinds it shards, from now on. Call it before
// the first request to a sharded kind (until then every kind is placed by rendezvous).
// LeadershipLost must be called for every shard this node stops leading.
func (n *Node) Route(r Router) { n.lookup.router.Store(&routeBox{r: r}) }

// LeadershipLost stops this node's activations of shard's grains at once: the node no
// longer leads the shard, so its grains' state may be stale and their writes would be
// refused. The shard's new leader activates them from its replica. It does not block
// (it may be called from a Raft group's goroutine).
func (n *Node) LeadershipLost(shard uint32) { n.lookup.shardLost(shard) }

// shardPoll bounds how long a sharded lookup waits for a leadership change before it
// looks again: a leader becoming ready, or a remote leader's readiness, is not always
// signaled to this node.
const shardPoll = 25 * time.Millisecond

// replicaAskTimeout bounds the ask of one placed replica by a node without a replica of
// the shard: a live one answers in well under it.
const replicaAskTimeout = 300 * time.Millisecond

// router returns the Router, nil before Route.
func (l *identityLookup) currentRouter() Router {
	if b := l.router.Load(); b != nil {
		return b.r
	}
	return nil
}

// shardOf reports the shard of kind/identity when the Router shards kind (never before
// Route).
func (l *identityLookup) shardOf(kind, identity string) (Router, uint32, bool) {
	r := l.currentRouter()
	if r == nil {
		return nil, 0, false
	}
	s, ok := r.Shard(kind, identity)
	return r, s, ok
}

// resolveSharded returns the PID of a sharded grain: on this node when it leads the
// shard and is ready, else on the leader named by this node's replica or, without a
// replica here, by the shard's placed replicas (their placement actors redirect to the
// leader). It waits for a leader within ctx, then fails with ErrUnavailable.
func (l *identityLookup) resolveSharded(ctx context.Context, r Router, shard uint32, kind, identity string) (*actor.PID, error) {
	var last error
	for {
		changed := r.Changed(shard)
		leader, ready := r.Leader(shard)
		switch {
		case leader == l.selfID && ready:
			pid, err := l.activateLocal(kind, identity)
			if err == nil {
				return pid, nil
			}
			last = err
			if errors.Is(err, errStopping) {
				return nil, err
			}
		case leader != 0 && leader != l.selfID:
			addr := l.addrOf(leader)
			if addr == "" {
				last = fmt.Errorf("%w: the leader of shard %d (node %s) is not a live member", ErrUnavailable, shard, FormatNodeID(leader))
				break
			}
			if pid, ok := l.c.PidCache.Get(identity, kind); ok {
				if pid.Address == addr {
					return pid, nil
				}
				l.c.PidCache.RemoveByValue(identity, kind, pid)
			}
			pid, err := l.activateRemoteUnless(ctx, addr, kind, identity, changed)
			if err == nil {
				l.c.PidCache.Set(identity, kind, pid)
				return pid, nil
			}
			last = err
			if errors.Is(err, errLeadershipChanged) {
				continue
			}
		case leader == 0 && r.Holds(shard):
			// An election is under way in the shard's group, which this node takes part
			// in: Changed tells when it is over.
			last = fmt.Errorf("%w: shard %d is electing a leader", ErrUnavailable, shard)
		case leader == 0:
			// No replica here: the placed replicas know the leader.
			if pid, err := l.askReplicas(ctx, r, shard, kind, identity); err == nil {
				l.c.PidCache.Set(identity, kind, pid)
				return pid, nil
			} else if err != nil {
				last = err
			}
		default: // this node leads but has not applied its term's first entry yet
			last = fmt.Errorf("%w: shard %d: the new leader is catching up", ErrUnavailable, shard)
		}
		t := time.NewTimer(shardPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if last == nil {
				last = fmt.Errorf("%w: shard %d has no leader", ErrUnavailable, shard)
			}
			return nil, fmt.Errorf("%w: %w", last, context.Cause(ctx))
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

// askReplicas asks the live members placed for shard, other than this node, to
// activate kind/identity: the leader does; a follower names the leader, which is asked
// in turn.
func (l *identityLookup) askReplicas(ctx context.Context, r Router, shard uint32, kind, identity string) (*actor.PID, error) {
	var last error = fmt.Errorf("%w: no leader known for shard %d", ErrUnavailable, shard)
	for _, id := range r.Replicas(shard) {
		if id == l.selfID {
			continue
		}
		addr := l.addrOf(id)
		if addr == "" {
			continue
		}
		// A replica that does not answer at once is likely dead (gossip has not
		// noticed yet): the next one is asked.
		actx, cancel := context.WithTimeout(ctx, replicaAskTimeout)
		pid, err := l.activateRemote(actx, addr, kind, identity)
		cancel()
		if err == nil {
			return pid, nil
		}
		var redirect *notOwnerError
		if errors.As(err, &redirect) && redirect.owner != "" && redirect.owner != l.self {
			if pid, err := l.activateRemote(ctx, redirect.owner, kind, identity); err == nil {
				return pid, nil
			}
		}
		last = err
	}
	return nil, last
}

// activateSharded serves a peer's ActivateRequest for a sharded kind: it activates
// only when this node leads the shard and serves it, and otherwise names the leader it
// knows. It never waits (the placement actor serves every peer).
func (l *identityLookup) activateSharded(r Router, shard uint32, kind, identity string) *clusterpb.ActivateResponse {
	leader, ready := r.Leader(shard)
	switch {
	case leader == l.selfID && ready:
		pid, err := l.activateLocal(kind, identity)
		if err != nil {
			return &clusterpb.ActivateResponse{Error: err.Error()}
		}
		return &clusterpb.ActivateResponse{Address: pid.Address, Id: pid.Id}
	case leader == l.selfID:
		return &clusterpb.ActivateResponse{Error: fmt.Sprintf("shard %d: the new leader is catching up", shard)}
	case leader != 0:
		if addr := l.addrOf(leader); addr != "" {
			return &clusterpb.ActivateResponse{Owner: addr}
		}
	}
	return &clusterpb.ActivateResponse{Error: fmt.Sprintf("shard %d: no leader known", shard)}
}

// shardLost poisons the local activations of shard's grains.
func (l *identityLookup) shardLost(shard uint32) {
	r := l.currentRouter()
	if r == nil || l.c == nil {
		return
	}
	var lost []activation
	l.mu.Lock()
	for key, a := range l.active {
		if s, ok := r.Shard(a.kind, a.identity); ok && s == shard {
			lost = append(lost, a)
			delete(l.active, key)
		}
	}
	l.mu.Unlock()
	for _, a := range lost {
		l.forgotten(a)
		l.c.ActorSystem.Root.Poison(a.pid)
	}
	if len(lost) > 0 {
		l.logger.Info("shard leadership lost: grains stopped", "shard", shard, "grains", len(lost))
	}
}

// addrOf returns the remoting address of the live member with node id id, "" when
// gossip knows no such live member.
func (l *identityLookup) addrOf(id uint64) string {
	if m := l.nodeAddrs.Load(); m != nil {
		return (*m)[id]
	}
	return ""
}

// setNodeAddrs records the live members' remoting addresses by node id.
func (l *identityLookup) setNodeAddrs(nodes []NodeInfo) {
	m := make(map[uint64]string, len(nodes))
	for _, n := range nodes {
		if n.NodeID != 0 && n.Address != "" {
			m[n.NodeID] = n.Address
		}
	}
	l.nodeAddrs.Store(&m)
}

// notOwnerError is activateRemote's refusal by a member that names another owner.
type notOwnerError struct {
	owner string
	err   error
}

func (e *notOwnerError) Error() string { return e.err.Error() }
func (e *notOwnerError) Unwrap() error { return e.err }

// errLeadershipChanged ends a request to a remote sharded grain whose shard changed
// leader meanwhile (as this node sees it): the leader died or stepped down, so the
// request is sent again to the new leader instead of waiting out its deadline on a dead
// member.
var errLeadershipChanged = errors.New("the shard's leadership changed")
