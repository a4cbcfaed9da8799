package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/raftgroup"
	"github.com/latchid/latch/cluster/shards"
	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/directory"
	httpapi "github.com/latchid/latch/http"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
)

// defaultShards is the hot-state shard count of a new cluster (--shards): enough to
// spread the leaders over a few dozen nodes, few enough that idle groups cost little.
const defaultShards = 64

// outboxPoll is how often the back-channel outbox looks for entries without being woken:
// a logout is queued in its entry's shard, whose leader (maybe another node) delivers
// it, so a node learns of another's entries by looking.
const outboxPoll = 2 * time.Second

// hotKinds are the store kinds kept in the shards: every grain's records (a grant's
// access tokens share the grant's shard by their key), the sign-in throttle's lockouts
// and the back-channel logout outbox, plus the kinds of short-lived records other parts
// keep beside them. The list is part of a cluster's on-disk contract: every node must
// apply a shard's entries alike, so a kind is added here before any node writes it.
func hotKinds() []string {
	return []string{
		actors.InteractionKindName, actors.SessionKindName, actors.GrantKindName,
		actors.RefreshKindName, actors.AccountKindName, actors.GrantAccessTokenKind,
		httpapi.ThrottleKind, outbox.Kind, audit.Kind, passcode.Kind, passcode.RateKind,
	}
}

// hotState is this node's part of the hot-state shards: the shard manager (Raft groups
// on the directory's raft host), the store grains write through, and the router that
// places each grain on its shard's leader.
type hotState struct {
	stopOnce sync.Once
	mgr      *shards.Manager
	store    *persistence.ShardedStore
	shards   uint32
	kinds    map[string]bool
	// proxyKeys[s] is the identity of shard s's store-proxy grain.
	proxyKeys []string

	stopRun context.CancelFunc
	runDone chan struct{}
}

// startHotState starts the shards once the cluster's shard count is known: this node
// records it (cfg.Shards) when none is recorded and then founds every shard; otherwise
// it waits for the directory to show the recorded count (a joining node, once it caught
// up) and takes part in the shards the placement gives it. Grains are routed to their
// shard's leader from then on (node.Route).
func startHotState(ctx context.Context, cfg serveConfig, nodeID uint64, draft *directoryRaft, dir *directory.Directory,
	node *cluster.Node, store *persistence.PebbleStore, now func() time.Time, log *slog.Logger) (*hotState, error) {
	n, found, err := hotShardCount(ctx, cfg, draft, dir, log)
	if err != nil {
		return nil, err
	}
	kinds := hotKinds()
	reps := &shardReplicas{store: store, log: draft.log, shards: n, kinds: kinds, logger: log}
	h := &hotState{shards: n, kinds: map[string]bool{}, runDone: make(chan struct{})}
	for _, k := range kinds {
		h.kinds[k] = true
	}
	// The store-proxy grains are placed like the hot records they serve (not a store
	// kind: they keep nothing).
	h.kinds[actors.StoreProxyKindName] = true
	h.proxyKeys = make([]string, n)
	for s := range n {
		h.proxyKeys[s] = actors.StoreProxyKey(s, n)
	}
	h.mgr, err = shards.New(shards.Config{
		NodeID: nodeID, Host: draft.host, Shards: n, Bootstrap: found,
		Members: node, Storage: reps, DeadGrace: cfg.RaftDeadGrace, Logger: log,
		OnLeadership: func(s uint32, l raftgroup.Leadership) {
			if !l.IsLeader {
				node.LeadershipLost(s)
			}
			log.Debug("shard leadership", "shard", s, "leader", cluster.FormatNodeID(l.Leader), "term", l.Term, "ready", l.Ready)
		},
	})
	if err != nil {
		return nil, err
	}
	h.store, err = persistence.NewShardedStore(persistence.ShardedStoreConfig{
		Local: store, Proposer: shardProposer{m: h.mgr, reps: reps}, Shards: n, Kinds: kinds, Leads: h.mgr.LeaderReady, Now: now,
	})
	if err != nil {
		h.mgr.Stop()
		return nil, err
	}
	runCtx, stop := context.WithCancel(context.Background())
	h.stopRun = stop
	go func() { h.mgr.Run(runCtx); close(h.runDone) }()
	node.Route(shardRouter{h: h, node: node})
	log.Info("hot-state shards started", "shards", n, "founded", found, "hosted", len(h.mgr.Hosted()))
	return h, nil
}

// hotShardCount returns the cluster's shard count and whether this node recorded it
// (and so founds the shards). A node that leads the directory's group records
// --shards when no count is recorded yet; any other node waits for the count to reach
// its directory.
func hotShardCount(ctx context.Context, cfg serveConfig, draft *directoryRaft, dir *directory.Directory, log *slog.Logger) (uint32, bool, error) {
	want := uint32(cfg.Shards)
	if want == 0 {
		want = defaultShards
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	logged := false
	for {
		if n := dir.HotShards(); n != 0 {
			if cfg.Shards != 0 && uint32(cfg.Shards) != n {
				log.Warn("--shards ignored: the cluster's shard count is fixed when it is founded", "shards", n, "flag", cfg.Shards)
			}
			return n, false, nil
		}
		if draft.group.IsLeader() && draft.start != raftJoin {
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			n, created, err := dir.SetHotShards(wctx, want)
			cancel()
			if err == nil {
				return n, created, nil
			}
			log.Warn("recording the cluster's shard count failed; retrying", "err", err)
		} else if !logged {
			log.Info("waiting for the cluster's shard count from the directory")
			logged = true
		}
		select {
		case <-ctx.Done():
			return 0, false, context.Cause(ctx)
		case <-t.C:
		}
	}
}

// Stop hands the shards this node leads to other voters (a graceful stop costs no
// election), stops reconciling and stops the groups. The raft host and the store stay
// open (their owners close them).
func (h *hotState) Stop(graceful bool, log *slog.Logger) {
	if h == nil {
		return
	}
	h.stopOnce.Do(func() { h.stop(graceful, log) })
}

func (h *hotState) stop(graceful bool, log *slog.Logger) {
	if graceful {
		h.handOver(log)
	}
	h.stopRun()
	<-h.runDone
	_ = h.store.Close()
	h.mgr.Stop()
}

// handOver hands every shard this node leads to another voter (a graceful stop costs
// no election). The groups keep running: writes still made through this node (the
// audit log's last batch) are forwarded to the new leaders.
func (h *hotState) handOver(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if failed := h.mgr.TransferLeadership(ctx); failed > 0 {
		log.Warn("shards: some leaderships were not handed over before stopping", "shards", failed)
	}
}

// SweepExpired proposes the deletion of the expired hot records of the shards this
// node leads.
func (h *hotState) SweepExpired(ctx context.Context) (int, error) { return h.store.SweepExpired(ctx) }

// owns reports whether this node leads the shard of kind/key (outbox deliveries).
func (h *hotState) owns(kind, key string) bool {
	return h.mgr.LeaderReady(persistence.ShardOf(kind, key, h.shards))
}

// shardStatus is /api/cluster's view of the hot-state shards on this node.
type shardStatus struct {
	// Count is the cluster's shard count.
	Count uint32 `json:"count"`
	// Hosted are the shards this node holds a replica of.
	Hosted []uint32 `json:"hosted"`
	// Leading are the shards this node leads (it hosts their grains).
	Leading []uint32 `json:"leading"`
	// Voting are the shards this node is a voter of (a hosted shard that is not voting
	// is a learner still catching up, or a replica being removed).
	Voting []uint32 `json:"voting"`
}

func (h *hotState) status() *shardStatus {
	st := &shardStatus{Count: h.shards, Hosted: h.mgr.Hosted(), Leading: []uint32{}, Voting: []uint32{}}
	for _, s := range st.Hosted {
		if h.mgr.IsLeader(s) {
			st.Leading = append(st.Leading, s)
		}
		if gs, ok := h.mgr.Status(s); ok && slices.Contains(gs.Voters, gs.Node) {
			st.Voting = append(st.Voting, s)
		}
	}
	return st
}

// shardRouter places sharded grains on their shard's leader (cluster.Router).
type shardRouter struct {
	h    *hotState
	node *cluster.Node
}

var _ cluster.Router = shardRouter{}

func (r shardRouter) Shard(kind, identity string) (uint32, bool) {
	if !r.h.kinds[kind] {
		return 0, false
	}
	return persistence.ShardOf(kind, identity, r.h.shards), true
}

func (r shardRouter) Leader(shard uint32) (uint64, bool) {
	return r.h.mgr.Leadership(shard).Leader, r.h.mgr.Serving(shard) // Serving implies leading
}

// serving reports whether this node may serve the grain kind/key now (actors.Options.
// Serving): a grain of a hot kind only while this node leads its shard with a valid
// lease; any other kind always.
func (h *hotState) serving(kind, key string) bool {
	if !h.kinds[kind] {
		return true
	}
	return h.mgr.Serving(persistence.ShardOf(kind, key, h.shards))
}

func (r shardRouter) Replicas(shard uint32) []uint64 {
	nodes := r.node.Nodes()
	ids := make([]uint64, 0, len(nodes))
	for _, n := range nodes {
		if !n.Leaving {
			ids = append(ids, n.NodeID)
		}
	}
	return shards.Place(ids, shard, shards.DefaultReplicas)
}

func (r shardRouter) Holds(shard uint32) bool { return r.h.mgr.Holds(shard) }

func (r shardRouter) Changed(shard uint32) <-chan struct{} { return r.h.mgr.Changed(shard) }

// shardProposer adapts the shard manager to persistence's proposer: a shard without a
// leader or quorum within the deadline, a stopped group, or no replica on this node is
// persistence.ErrUnavailable (a grain answers temporarily_unavailable).
//
// A shard whose group is this node alone (a single-node Latch, or a cluster's shard
// before a second replica joins) is written without a log entry: the state machine's
// synced write commits it as the log's append would (raftgroup.Group.Alone). On one
// node this skips the raft log and the second write of every proposal.
type shardProposer struct {
	m    *shards.Manager
	reps *shardReplicas
}

func (p shardProposer) Propose(ctx context.Context, shard uint32, data []byte) (any, error) {
	if sm := p.reps.open(shard); sm != nil {
		var res persistence.ShardResult
		if p.m.Alone(shard, func(applied func() uint64) { res = sm.ApplyAlone(data, applied) }) {
			return res, nil
		}
	}
	v, err := p.m.Propose(ctx, shard, data)
	if err != nil && (errors.Is(err, raftgroup.ErrUnavailable) || errors.Is(err, raftgroup.ErrStopped) ||
		errors.Is(err, shards.ErrNotReplica) || errors.Is(err, context.DeadlineExceeded)) {
		return nil, fmt.Errorf("%w: shard %d: %w", persistence.ErrUnavailable, shard, err)
	}
	return v, err
}

// shardReplicas opens and drops shard replicas on this node: the shard state machine
// on the node's Pebble store and the shard's log in the raft log.
type shardReplicas struct {
	store  *persistence.PebbleStore
	log    *persistence.RaftLog
	shards uint32
	kinds  []string
	logger *slog.Logger

	mu     sync.Mutex
	opened map[uint32]*persistence.ShardMachine // the state machine of each open replica
}

// open returns the state machine of shard's open replica on this node, nil if none.
func (r *shardReplicas) open(s uint32) *persistence.ShardMachine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.opened[s]
}

func (r *shardReplicas) machine(s uint32) (*persistence.ShardMachine, error) {
	return persistence.NewShardMachine(persistence.ShardMachineConfig{
		Store: r.store, Shard: s, Shards: r.shards, Kinds: slices.Clone(r.kinds),
		// The raft log is fsynced before an entry applies, and the applied index is
		// written with the entry's records: no second fsync per write.
		NoSync: true, Logger: r.logger,
	})
}

func (r *shardReplicas) Open(s uint32) (shards.Replica, error) {
	m, err := r.machine(s)
	if err != nil {
		return shards.Replica{}, err
	}
	st, err := r.log.Group(shards.DefaultGroupBase + uint64(s))
	if err != nil {
		return shards.Replica{}, err
	}
	r.mu.Lock()
	if r.opened == nil {
		r.opened = map[uint32]*persistence.ShardMachine{}
	}
	r.opened[s] = m
	r.mu.Unlock()
	return shards.Replica{StateMachine: m, Storage: st, Applied: m.AppliedIndex()}, nil
}

func (r *shardReplicas) Drop(s uint32) error {
	r.mu.Lock()
	delete(r.opened, s)
	r.mu.Unlock()
	m, err := r.machine(s)
	if err != nil {
		return err
	}
	return errors.Join(r.log.DeleteGroup(shards.DefaultGroupBase+uint64(s)), m.Clear())
}

// grainStore is the store the grain kinds are built with: grains are configured before
// the cluster member starts, and the shards only after (they follow its membership), so
// it forwards to the ShardedStore once set (bind). Grains get no request before the HTTP
// API serves, which is after bind; a call before it is ErrUnavailable. Records of kinds
// that are not hot (the health grain's probe record) stay in the node's own store.
type grainStore struct {
	local *persistence.PebbleStore
	hot   map[string]bool
	s     atomic.Pointer[persistence.ShardedStore]
	h     atomic.Pointer[hotState]
	node  atomic.Pointer[cluster.Node]
}

// bindNode sets the member through which calls on records of shards without a replica
// here reach the shard's store-proxy grain (on the shard's leader).
func (g *grainStore) bindNode(n *cluster.Node) { g.node.Store(n) }

// remote returns the shard of kind/key when it is a hot record whose shard has no
// replica on this node (more nodes than replicas): its calls then go to the shard's
// store-proxy grain. Grains never need it (they run on their shard's leader); the
// throttle, the outbox, verification codes and audit logs, written by whichever node
// served a request, do.
func (g *grainStore) remote(kind, key string) (uint32, bool) {
	h := g.h.Load()
	if h == nil || !g.hot[kind] || g.node.Load() == nil {
		return 0, false
	}
	s := persistence.ShardOf(kind, key, h.shards)
	return s, !h.mgr.Holds(s)
}

// proxy runs op through shard's store-proxy grain.
func (g *grainStore) proxy(ctx context.Context, shard uint32, op *msg.StoreOp) (*msg.StoreResult, error) {
	h := g.h.Load()
	res, err := actors.Call[*msg.StoreResult](ctx, g.node.Load(), actors.StoreProxyKindName, h.proxyKeys[shard], op)
	if err != nil {
		if errors.Is(err, cluster.ErrUnavailable) || errors.Is(err, oauth.TemporarilyUnavailable("")) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: shard %d through its store proxy: %w", persistence.ErrUnavailable, shard, err)
		}
		return nil, err
	}
	return res, actors.StoreResultError(res)
}

// proxyWrite runs one write or a batch through the store proxy; it returns the versions.
func (g *grainStore) proxyWrite(ctx context.Context, shard uint32, op string, muts []persistence.Mutation) ([]uint64, error) {
	res, err := g.proxy(ctx, shard, &msg.StoreOp{Op: op, Muts: actors.StoreMutations(muts)})
	if err != nil {
		return nil, err
	}
	return res.GetVersions(), nil
}

func newGrainStore(local *persistence.PebbleStore) *grainStore {
	g := &grainStore{local: local, hot: map[string]bool{}}
	for _, k := range hotKinds() {
		g.hot[k] = true
	}
	return g
}

var (
	_ persistence.Store    = (*grainStore)(nil)
	_ persistence.Inserter = (*grainStore)(nil)
	_ persistence.Counter  = (*grainStore)(nil)
)

func (g *grainStore) bind(h *hotState) {
	g.h.Store(h)
	g.s.Store(h.store)
}

// serving is actors.Options.Serving: before the shards start no grain of a hot kind
// may serve.
func (g *grainStore) serving(kind, key string) bool {
	if h := g.h.Load(); h != nil {
		return h.serving(kind, key)
	}
	return !g.hot[kind]
}

// target is the store that holds kind: the shards for a hot kind, else the local store.
func (g *grainStore) target(kind string) (interface {
	persistence.Store
	persistence.Inserter
	persistence.Counter
}, error) {
	if !g.hot[kind] {
		return g.local, nil
	}
	if s := g.s.Load(); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: the shards are not started yet", persistence.ErrUnavailable)
}

func (g *grainStore) Get(ctx context.Context, kind, key string) (persistence.Record, error) {
	if shard, ok := g.remote(kind, key); ok {
		res, err := g.proxy(ctx, shard, &msg.StoreOp{Op: "get", Kind: kind, Key: key})
		if err != nil {
			return persistence.Record{}, err
		}
		rec := persistence.Record{Version: res.GetVersion(), Value: res.GetValue()}
		if ms := res.GetExpiresAtMs(); ms != 0 {
			rec.ExpiresAt = time.UnixMilli(ms)
		}
		return rec, nil
	}
	s, err := g.target(kind)
	if err != nil {
		return persistence.Record{}, err
	}
	return s.Get(ctx, kind, key)
}

func (g *grainStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	if shard, ok := g.remote(kind, key); ok {
		v, err := g.proxyWrite(ctx, shard, "put", []persistence.Mutation{{Kind: kind, Key: key, Expect: expect, Value: value, ExpiresAt: expiresAt}})
		return first(v), err
	}
	s, err := g.target(kind)
	if err != nil {
		return 0, err
	}
	return s.Put(ctx, kind, key, expect, value, expiresAt)
}

func (g *grainStore) Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (uint64, error) {
	if shard, ok := g.remote(kind, key); ok {
		v, err := g.proxyWrite(ctx, shard, "insert", []persistence.Mutation{{Kind: kind, Key: key, Value: value, ExpiresAt: expiresAt}})
		return first(v), err
	}
	s, err := g.target(kind)
	if err != nil {
		return 0, err
	}
	return s.Insert(ctx, kind, key, value, expiresAt)
}

func (g *grainStore) Delete(ctx context.Context, kind, key string, expect uint64) error {
	if shard, ok := g.remote(kind, key); ok {
		_, err := g.proxyWrite(ctx, shard, "delete", []persistence.Mutation{{Kind: kind, Key: key, Expect: expect, Delete: true}})
		return err
	}
	s, err := g.target(kind)
	if err != nil {
		return err
	}
	return s.Delete(ctx, kind, key, expect)
}

func (g *grainStore) Scan(ctx context.Context, kind string, fn func(key string, rec persistence.Record) error) error {
	s, err := g.target(kind)
	if err != nil {
		return err
	}
	return s.Scan(ctx, kind, fn)
}

func (g *grainStore) Count(ctx context.Context, kind string) (persistence.KindCount, error) {
	s, err := g.target(kind)
	if err != nil {
		return persistence.KindCount{}, err
	}
	return s.Count(ctx, kind)
}

// SweepExpired sweeps the hot kinds (the node's own records are swept by the node's
// store itself).
func (g *grainStore) SweepExpired(ctx context.Context) (int, error) {
	if s := g.s.Load(); s != nil {
		return s.SweepExpired(ctx)
	}
	return 0, nil
}

// Apply writes a batch to the store of its first record's kind (a batch mixing hot
// and node-local kinds is refused by the ShardedStore).
func (g *grainStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	if len(muts) == 0 {
		return nil, nil
	}
	if shard, ok := g.remote(muts[0].Kind, muts[0].Key); ok {
		if err := persistence.ValidateBatch(muts); err != nil {
			return nil, err
		}
		return g.proxyWrite(ctx, shard, "apply", muts)
	}
	s, err := g.target(muts[0].Kind)
	if err != nil {
		return nil, err
	}
	return s.Apply(ctx, muts)
}

// Close does nothing: the ShardedStore is closed by hotState.Stop, the local store by
// serve.
func (g *grainStore) Close() error { return nil }

// first is the one version of a single write (0 when the proxy answered none).
func first(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	return v[0]
}
