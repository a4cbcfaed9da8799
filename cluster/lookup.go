package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/latchid/latch/cluster/clusterpb"
)

// placementActorName is the well-known name of every member's placement actor, which
// activates grains on request of the other members.
const placementActorName = "latch-placement"

// identityLookup is Latch's protoactor IdentityLookup: it finds (and, on the owner,
// activates) the single activation of a grain.
//
//   - The owner of kind/identity is Placement.Owner over the current topology.
//   - On the owner, activateLocal spawns the kind's props with the cluster identity
//     (so cluster.ClusterInit and GrainContext work) and records it in active; a mutex
//     makes concurrent lookups of one identity produce one activation.
//   - Elsewhere, it asks the owner's placement actor (clusterpb.ActivateRequest) within
//     the caller's deadline. An owner that does not see itself as owner refuses, so two
//     members never both activate a key for long while their views converge.
//   - PIDs are cached in cluster.PidCache. A cached PID is only used while its member
//     still owns the key; entries of members that left are dropped.
//   - On every topology change (applyTopology), activations this member no longer owns
//     are poisoned; the new owner reloads their state from the store. Remoting is told
//     that members that left are gone (remote.EndpointTerminatedEvent), which stops its
//     connection attempts to them.
type identityLookup struct {
	logger  *slog.Logger
	timeout time.Duration // for protoactor's context-free Get

	c         *cluster.Cluster
	self      string
	selfID    uint64                            // this node's id (Config.NodeID)
	nodes     func() []NodeInfo                 // the live members (gossip)
	router    atomic.Pointer[routeBox]          // Node.Route; nil: no sharded kinds
	nodeAddrs atomic.Pointer[map[uint64]string] // live members' remoting addresses by node id
	placement atomic.Pointer[Placement]
	ready     chan struct{} // closed once a topology containing self was applied
	readyOnce sync.Once

	mu      sync.Mutex
	active  map[string]activation // kind + "/" + identity
	stopped bool

	subs  []*eventstream.Subscription
	actor *actor.PID
	obs   Observer // Activated
}

type activation struct {
	kind, identity string
	pid            *actor.PID
}

var _ cluster.IdentityLookup = (*identityLookup)(nil)

func newIdentityLookup(logger *slog.Logger, timeout time.Duration, obs Observer, selfID uint64) *identityLookup {
	l := &identityLookup{
		selfID:  selfID,
		obs:     obs,
		logger:  logger,
		timeout: timeout,
		ready:   make(chan struct{}),
		active:  map[string]activation{},
	}
	l.placement.Store(NewPlacement(nil))
	return l
}

// Setup is called by protoactor's Cluster.StartMember once remoting runs.
func (l *identityLookup) Setup(c *cluster.Cluster, _ []string, isClient bool) {
	l.c = c
	l.self = c.ActorSystem.Address()
	es := c.ActorSystem.EventStream
	l.subs = append(l.subs, es.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ActivationTerminating); ok {
			l.onTerminating(t)
		}
	}))
	if isClient {
		return
	}
	pid, err := c.ActorSystem.Root.SpawnNamed(
		actor.PropsFromProducer(func() actor.Actor { return &placementActor{l: l} }),
		placementActorName)
	if err != nil {
		// Only possible if the name is taken, i.e. Setup ran twice on one system.
		panic(fmt.Errorf("cluster: spawn placement actor: %w", err))
	}
	l.actor = pid
}

// Get implements cluster.IdentityLookup for protoactor's own callers (cluster.Request);
// Latch code uses Node.Request, which passes its context deadline instead.
func (l *identityLookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	pid, err := l.resolve(ctx, ci.Kind, ci.Identity)
	if err != nil {
		l.logger.Debug("identity lookup failed", "kind", ci.Kind, "identity", ci.Identity, "error", err)
		return nil
	}
	return pid
}

// RemovePid drops a PID that turned out to be dead from the cache.
func (l *identityLookup) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	l.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
}

// Shutdown stops this member's activations without waiting for them. Safe to call
// more than once; protoactor calls it during a graceful Cluster.Shutdown.
func (l *identityLookup) Shutdown() { l.shutdown(0) }

// shutdown marks the lookup stopped, unsubscribes, poisons every local activation and
// the placement actor, and waits up to wait for them to stop (0: do not wait).
func (l *identityLookup) shutdown(wait time.Duration) {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.stopped = true
	acts := l.active
	l.active = map[string]activation{}
	l.mu.Unlock()

	if l.c == nil {
		return
	}
	for _, s := range l.subs {
		l.c.ActorSystem.EventStream.Unsubscribe(s)
	}
	for _, a := range acts {
		l.forgotten(a)
	}
	root := l.c.ActorSystem.Root
	if wait <= 0 {
		for _, a := range acts {
			root.Poison(a.pid)
		}
		if l.actor != nil {
			root.Stop(l.actor)
		}
		return
	}
	futures := make([]*actor.Future, 0, len(acts)+1)
	for _, a := range acts {
		futures = append(futures, root.PoisonFuture(a.pid))
	}
	if l.actor != nil {
		futures = append(futures, root.StopFuture(l.actor))
	}
	done := make(chan struct{})
	go func() {
		for _, f := range futures {
			_ = f.Wait()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(wait):
		l.logger.Warn("grains still stopping at shutdown", "count", len(acts))
	}
}

// current returns the placement of the last applied topology.
func (l *identityLookup) current() *Placement { return l.placement.Load() }

// applyTopology installs the live members. It is called by the gossip provider's
// rebuild goroutine only (so topologies apply in order) and must not block: memberlist
// events queue behind it.
func (l *identityLookup) applyTopology(members cluster.Members) {
	p := NewPlacement(members)
	prev := l.placement.Swap(p)
	// A member is gone when its address left, or when a new process (another
	// actor-system id) took that address: a node restarted on its fixed ports. Either
	// way the PIDs cached for the old process point at nothing.
	live := make(map[string]string, len(members))
	for _, m := range p.Members() {
		live[m.Address()] = m.Id
	}
	for _, m := range prev.Members() {
		if id, found := live[m.Address()]; !found || id != m.Id {
			l.c.PidCache.RemoveByMember(m)
			l.c.ActorSystem.EventStream.Publish(&remote.EndpointTerminatedEvent{Address: m.Address()})
		}
	}

	if l.nodes != nil {
		l.setNodeAddrs(l.nodes())
	}
	var moved []activation
	l.mu.Lock()
	for key, a := range l.active {
		if _, _, sharded := l.shardOf(a.kind, a.identity); sharded {
			continue // placed by its shard's leadership, not by the topology (shardLost)
		}
		if o := p.Owner(a.kind, a.identity); o == nil || o.Address() != l.self {
			moved = append(moved, a)
			delete(l.active, key)
		}
	}
	l.mu.Unlock()
	for _, a := range moved {
		l.forgotten(a)
		l.c.ActorSystem.Root.Poison(a.pid)
	}
	l.logger.Info("cluster topology", "members", p.Addresses(), "grains_moved_away", len(moved))
	for _, m := range members {
		if m.Address() == l.self {
			l.readyOnce.Do(func() { close(l.ready) })
			break
		}
	}
}

// onTerminating forgets an activation that stopped (passivated, poisoned, or failed
// permanently). It runs in the grain's goroutine and must not block.
func (l *identityLookup) onTerminating(t *cluster.ActivationTerminating) {
	if t.ClusterIdentity == nil || t.Pid == nil {
		return
	}
	key := t.ClusterIdentity.Kind + "/" + t.ClusterIdentity.Identity
	l.mu.Lock()
	a, ok := l.active[key]
	ok = ok && a.pid.Equal(t.Pid)
	if ok {
		delete(l.active, key)
	}
	l.mu.Unlock()
	if ok {
		l.forgotten(a)
	}
}

// forgotten updates the cache and the kind's activation count for an activation just
// removed from active.
func (l *identityLookup) forgotten(a activation) {
	l.c.PidCache.RemoveByValue(a.identity, a.kind, a.pid)
	if k, ok := l.c.TryGetClusterKind(a.kind); ok {
		k.Dec()
	}
	l.obs.Deactivated(a.kind)
}

// resolve returns the PID of kind/identity, activating it on its owner if needed.
func (l *identityLookup) resolve(ctx context.Context, kind, identity string) (*actor.PID, error) {
	if r, shard, ok := l.shardOf(kind, identity); ok {
		return l.resolveSharded(ctx, r, shard, kind, identity)
	}
	owner := l.current().Owner(kind, identity)
	if owner == nil {
		return nil, fmt.Errorf("%w: no live member hosts kind %q", ErrUnavailable, kind)
	}
	addr := owner.Address()
	if pid, ok := l.c.PidCache.Get(identity, kind); ok {
		if pid.Address == addr {
			return pid, nil
		}
		l.c.PidCache.RemoveByValue(identity, kind, pid) // ownership moved
	}
	var (
		pid *actor.PID
		err error
	)
	if addr == l.self {
		pid, err = l.activateLocal(kind, identity)
	} else {
		pid, err = l.activateRemote(ctx, addr, kind, identity)
	}
	if err != nil {
		return nil, err
	}
	l.c.PidCache.Set(identity, kind, pid)
	return pid, nil
}

// activateRemote asks the owner's placement actor for the grain's PID.
func (l *identityLookup) activateRemote(ctx context.Context, owner, kind, identity string) (*actor.PID, error) {
	return l.activateRemoteUnless(ctx, owner, kind, identity, nil)
}

// activateRemoteUnless is activateRemote that gives up when abort closes (see askUnless).
func (l *identityLookup) activateRemoteUnless(ctx context.Context, owner, kind, identity string, abort <-chan struct{}) (*actor.PID, error) {
	target := actor.NewPID(owner, placementActorName)
	res, err := askUnless(ctx, l.c.ActorSystem, target, &clusterpb.ActivateRequest{Kind: kind, Identity: identity}, abort)
	if err != nil {
		return nil, fmt.Errorf("activate %s/%s on %s: %w", kind, identity, owner, err)
	}
	switch r := res.(type) {
	case *clusterpb.ActivateResponse:
		switch {
		case r.Id != "":
			return actor.NewPID(r.Address, r.Id), nil
		case r.Owner != "":
			return nil, &notOwnerError{owner: r.Owner, err: fmt.Errorf("%w: %w: %s sees %s as owner of %s/%s",
				ErrUnavailable, errNotOwner, owner, r.Owner, kind, identity)}
		default:
			return nil, fmt.Errorf("activate %s/%s on %s: %s", kind, identity, owner, r.Error)
		}
	case *clusterpb.Unsupported:
		return nil, fmt.Errorf("%w: %s does not know %s", ErrUnsupported, owner, r.TypeName)
	default:
		return nil, fmt.Errorf("activate %s/%s on %s: unexpected reply %T", kind, identity, owner, res)
	}
}

// activateOwned serves a peer's ActivateRequest: it activates only keys this member
// owns in its own view, and otherwise names the owner it sees.
func (l *identityLookup) activateOwned(kind, identity string) *clusterpb.ActivateResponse {
	if r, shard, ok := l.shardOf(kind, identity); ok {
		return l.activateSharded(r, shard, kind, identity)
	}
	owner := l.current().Owner(kind, identity)
	if owner == nil {
		return &clusterpb.ActivateResponse{Error: fmt.Sprintf("no live member hosts kind %q", kind)}
	}
	if owner.Address() != l.self {
		return &clusterpb.ActivateResponse{Owner: owner.Address()}
	}
	pid, err := l.activateLocal(kind, identity)
	if err != nil {
		return &clusterpb.ActivateResponse{Error: err.Error()}
	}
	return &clusterpb.ActivateResponse{Address: pid.Address, Id: pid.Id}
}

// errStopping is returned by activateLocal once the member is shutting down.
var errStopping = errors.New("member is stopping")

// errNotOwner means the member asked to activate a key does not own it in its view of
// the cluster: the members' views are converging after a join or a death.
var errNotOwner = errors.New("members disagree on the owner")

// activateLocal returns the local activation of kind/identity, spawning it if needed.
// The mutex makes concurrent callers share one activation; spawning does not run the
// grain (its Started message is processed on the grain's own goroutine), so holding the
// mutex here cannot deadlock with onTerminating.
func (l *identityLookup) activateLocal(kind, identity string) (*actor.PID, error) {
	key := kind + "/" + identity
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, errStopping)
	}
	if a, ok := l.active[key]; ok {
		return a.pid, nil
	}
	k, ok := l.c.TryGetClusterKind(kind)
	if !ok {
		return nil, fmt.Errorf("kind %q is not hosted on %s", kind, l.self)
	}
	props := cluster.WithClusterIdentity(k.Props, cluster.NewClusterIdentity(identity, kind))
	name := "grain/" + key + "$" + l.c.ActorSystem.ProcessRegistry.NextId()
	pid, err := l.c.ActorSystem.Root.SpawnNamed(props, name)
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", key, err)
	}
	k.Inc()
	l.active[key] = activation{kind: kind, identity: identity, pid: pid}
	l.obs.Activated(kind)
	return pid, nil
}

// activePID returns the local activation of kind/identity, or nil (for tests and
// diagnostics).
func (l *identityLookup) activePID(kind, identity string) *actor.PID {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active[kind+"/"+identity].pid
}

// placementActor is the well-known actor through which peers activate grains owned by
// this member.
type placementActor struct{ l *identityLookup }

func (a *placementActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *clusterpb.ActivateRequest:
		ctx.Respond(a.l.activateOwned(m.Kind, m.Identity))
	case *clusterpb.Unsupported:
		if ctx.Sender() != nil {
			ctx.Respond(m)
		}
	}
}
