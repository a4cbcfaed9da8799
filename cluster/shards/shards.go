// Package shards runs Latch's hot-state shards: a fixed number of Raft groups (one per
// shard, group id GroupBase+shard) on one raftgroup.Host, each replicated on up to
// Replicas nodes placed by rendezvous hashing over the live members (Place), and moved
// by Raft configuration changes as nodes join, leave and die.
//
// A Manager runs on every node. On the node founding the cluster it bootstraps every
// shard with itself as the only voter; a node restarted on a shard's log resumes that
// group; a node the placement names for a shard it does not hold starts that group
// empty and waits for its leader to add it (it receives a snapshot). On each shard it
// leads, the Manager reconciles the group toward the placement, one configuration
// change at a time, as cluster.Autopilot does for the directory: a desired node is added
// as a learner, promoted once caught up, and only then is a replica that is no longer
// desired removed (never leaving fewer caught-up voters than a quorum); a member that
// left gracefully is removed at once, one declared dead after DeadGrace (and kept in the
// placement meanwhile, so that a node restarting within it keeps its shards); a leader
// that is no longer desired hands leadership to a caught-up desired voter first. A node
// removed from a group stops it and drops its replica (Replicas.Drop); the leader sends
// it the commit of its removal (raftgroup), and a replica removed while its node was
// away, which nobody tells, is dropped once it heard no leader for twice DeadGrace
// while the placement names other, live nodes.
//
// The leader of a shard hosts its grains: OnLeadership and Changed tell the grain host
// at once when this node gains or loses a shard's leadership, and LeaderReady when its
// replica holds every committed entry.
package shards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/raftgroup"
)

// Proposer replicates grain writes through their shard (the contract with persistence).
type Proposer interface {
	// Propose replicates data in shard's group and returns what the shard's state
	// machine returned on this node once this node applied it.
	Propose(ctx context.Context, shard uint32, data []byte) (any, error)
}

var _ Proposer = (*Manager)(nil)

// ErrNotReplica reports that this node holds no replica of the shard (it is not placed
// here, or not yet).
var ErrNotReplica = errors.New("shards: no replica of this shard on this node")

// Members is the gossip membership the Manager follows (*cluster.Node), the same source
// as cluster.Autopilot's.
type Members interface {
	// Nodes returns the live members, this one included.
	Nodes() []cluster.NodeInfo
	// Departures returns the members gone and not back: true left gracefully, false
	// declared dead.
	Departures() map[uint64]bool
	// MembershipChanged returns a channel closed at the next membership change.
	MembershipChanged() <-chan struct{}
}

var _ Members = (*cluster.Node)(nil)

// Replica is one shard's state on this node: its state machine and its Raft log.
type Replica struct {
	StateMachine raftgroup.StateMachine
	Storage      raftgroup.Storage
	// Applied: see raftgroup.GroupConfig.Applied.
	Applied uint64
}

// Replicas opens and drops the shards' replicas on this node (the shard state machine
// on Pebble and persistence.RaftLog.Group in production).
type Replicas interface {
	// Open returns shard's replica, empty when this node holds none. The Manager opens
	// every shard once at start, to find the logs that hold state; it opens a shard
	// again after dropping it.
	Open(shard uint32) (Replica, error)
	// Drop discards shard's replica (log and state) after this node was removed from
	// the shard's group; the group is stopped.
	Drop(shard uint32) error
}

// Defaults.
const (
	DefaultReplicas      = 3
	DefaultGroupBase     = 1000
	DefaultSnapshotEvery = 1000
)

// Config configures a Manager. Zero fields take the defaults.
type Config struct {
	// NodeID is this node's id (the Host's).
	NodeID uint64
	// Host runs the groups.
	Host *raftgroup.Host
	// Shards is the number of shards: a cluster setting fixed at bootstrap, the same on
	// every node.
	Shards uint32
	// Replicas is how many nodes hold each shard (default 3; fewer while fewer nodes
	// are live).
	Replicas int
	// GroupBase: shard s is raft group GroupBase+s (default 1000; group 1 is the
	// directory).
	GroupBase uint64
	// Bootstrap: this node founds the cluster: every shard without a log is
	// bootstrapped here with this node as its only voter. Otherwise a shard without a
	// log is joined when the placement names this node. Set it only on the node that
	// founds the cluster, before any other node joined: a shard bootstrapped twice is
	// two groups with one id.
	Bootstrap bool
	// Members is the membership the placement follows.
	Members Members
	// Storage opens and drops the shards' replicas.
	Storage Replicas
	// DeadGrace: a member declared dead stays in its groups, and in the placement, this
	// long before it is removed and replaced (default cluster.DefaultDeadGrace).
	DeadGrace time.Duration
	// Interval is how often the Manager reconciles without a membership or leadership
	// change (default 1 s): a learner catching up and a grace period expiring are
	// neither.
	Interval time.Duration
	// ChangeTimeout bounds one configuration change or leadership transfer (default 10 s).
	ChangeTimeout time.Duration
	// SnapshotEvery is how many applied entries a shard snapshots after (default
	// DefaultSnapshotEvery); it keeps half as many behind for slow followers.
	SnapshotEvery uint64
	// OnLeadership, when set, is called each time a shard's leadership as this node sees
	// it changes (raftgroup.GroupConfig.OnLeadership), on that group's goroutine: it
	// must not block. A node that loses leadership, or whose group stops, hears
	// IsLeader false at once.
	OnLeadership func(shard uint32, l raftgroup.Leadership)
	Now          func() time.Time
	Logger       *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = DefaultReplicas
	}
	if c.GroupBase == 0 {
		c.GroupBase = DefaultGroupBase
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.DeadGrace == 0 {
		c.DeadGrace = cluster.DefaultDeadGrace
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.ChangeTimeout == 0 {
		c.ChangeTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeID == 0 {
		errs = append(errs, errors.New("shards: Config.NodeID is required"))
	}
	if c.Host == nil || c.Members == nil || c.Storage == nil {
		errs = append(errs, errors.New("shards: Config needs a Host, Members and Storage"))
	}
	if c.Host != nil && c.NodeID != 0 && c.Host.NodeID() != c.NodeID {
		errs = append(errs, fmt.Errorf("shards: Config.NodeID %d is not the Host's (%d)", c.NodeID, c.Host.NodeID()))
	}
	if c.Shards == 0 {
		errs = append(errs, errors.New("shards: Config.Shards is required"))
	}
	if c.Replicas < 0 || c.DeadGrace < 0 || c.Interval < 0 || c.ChangeTimeout < 0 {
		errs = append(errs, errors.New("shards: durations and counts must not be negative"))
	}
	if c.GroupBase != 0 && c.GroupBase <= 1 {
		errs = append(errs, errors.New("shards: Config.GroupBase must leave groups 0 and 1 (the directory) alone"))
	}
	return errors.Join(errs...)
}

// Manager runs this node's replicas of the shards. Its methods are safe for concurrent
// use.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	groups map[uint32]*raftgroup.Group
	opened map[uint32]Replica // opened at start, not running
	busy   map[uint32]bool    // a configuration change is under way

	watchMu sync.Mutex
	watch   map[uint32]chan struct{}

	// missing: member -> when this node first saw it in a group but not alive. Owned
	// by Run's goroutine.
	missing map[uint64]time.Time
	// orphans: shard -> since when its replica here knows no leader while the
	// placement names other, live nodes (see orphaned). Owned by Run's goroutine.
	orphans map[uint32]time.Time
	// removed: shard -> since when its replica here was removed from the group and
	// not placed here. Owned by Run's goroutine.
	removed map[uint32]time.Time
	wake    chan struct{}
	changes sync.WaitGroup
}

// New opens every shard's replica and starts the groups this node holds: the shards
// whose log holds state (a restart), and every shard when cfg.Bootstrap (the others).
// Run reconciles from then on.
func New(cfg Config) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	m := &Manager{
		cfg:     cfg,
		log:     cfg.Logger.With("node_id", cluster.FormatNodeID(cfg.NodeID)),
		groups:  map[uint32]*raftgroup.Group{},
		opened:  map[uint32]Replica{},
		busy:    map[uint32]bool{},
		watch:   map[uint32]chan struct{}{},
		missing: map[uint64]time.Time{},
		orphans: map[uint32]time.Time{},
		removed: map[uint32]time.Time{},
		wake:    make(chan struct{}, 1),
	}
	restarted, founded := 0, 0
	for s := range cfg.Shards {
		r, err := cfg.Storage.Open(s)
		if err != nil {
			m.Stop()
			return nil, fmt.Errorf("shards: open shard %d: %w", s, err)
		}
		has, err := raftgroup.HasState(r.Storage)
		if err != nil {
			m.Stop()
			return nil, fmt.Errorf("shards: shard %d log: %w", s, err)
		}
		var peers []raftgroup.Peer
		switch {
		case has:
			restarted++
		case cfg.Bootstrap:
			peers = []raftgroup.Peer{{ID: cfg.NodeID, Addr: cfg.Host.Addr()}}
			founded++
		default:
			m.opened[s] = r
			continue
		}
		if err := m.start(s, r, peers); err != nil {
			m.Stop()
			return nil, err
		}
	}
	m.log.Info("shards started", "shards", cfg.Shards, "restarted", restarted, "bootstrapped", founded)
	return m, nil
}

// GroupID is shard's raft group id.
func (m *Manager) GroupID(shard uint32) uint64 { return m.cfg.GroupBase + uint64(shard) }

func (m *Manager) start(s uint32, r Replica, peers []raftgroup.Peer) error {
	g, err := m.cfg.Host.StartGroup(raftgroup.GroupConfig{
		ID:           m.GroupID(s),
		StateMachine: r.StateMachine,
		Storage:      r.Storage,
		Peers:        peers,
		Applied:      r.Applied,
		OnLeadership: func(l raftgroup.Leadership) { m.leadershipChanged(s, l) },
		// A shard's state is small and its writes many: snapshotting often keeps its
		// log short, so that entries are truncated while still in the raft log's
		// memtable instead of being flushed and compacted.
		SnapshotEvery: m.cfg.SnapshotEvery, SnapshotCatchUpEntries: m.cfg.SnapshotEvery / 2,
	})
	if err != nil {
		return fmt.Errorf("shards: start shard %d: %w", s, err)
	}
	m.mu.Lock()
	m.groups[s] = g
	m.mu.Unlock()
	return nil
}

// leadershipChanged runs on the group's goroutine: it must not block.
func (m *Manager) leadershipChanged(s uint32, l raftgroup.Leadership) {
	if m.cfg.OnLeadership != nil {
		m.cfg.OnLeadership(s, l)
	}
	m.watchMu.Lock()
	if c, ok := m.watch[s]; ok {
		close(c)
		delete(m.watch, s)
	}
	m.watchMu.Unlock()
	if l.Ready {
		m.poke() // a new leader reconciles at once
	}
}

func (m *Manager) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Manager) group(s uint32) *raftgroup.Group {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.groups[s]
}

// Propose implements Proposer. A follower forwards the proposal to the shard's leader;
// a node without a replica of the shard fails with ErrNotReplica. Without a leader or
// quorum before ctx's deadline it fails with raftgroup.ErrUnavailable (the entry may
// still apply later).
func (m *Manager) Propose(ctx context.Context, shard uint32, data []byte) (any, error) {
	g := m.group(shard)
	if g == nil {
		return nil, fmt.Errorf("%w (shard %d)", ErrNotReplica, shard)
	}
	return g.Propose(ctx, data)
}

// Alone runs write instead of a proposal when shard's group is this node alone
// (raftgroup.Group.Alone), and reports whether it did.
func (m *Manager) Alone(shard uint32, write func(applied func() uint64)) bool {
	g := m.group(shard)
	return g != nil && g.Alone(write)
}

// Leader is the node id of shard's leader as this node knows it, 0 if none (or no
// replica here).
func (m *Manager) Leader(shard uint32) uint64 {
	if g := m.group(shard); g != nil {
		return g.Leader()
	}
	return 0
}

// Serving reports whether this node may serve shard's grains now: it leads the shard,
// its replica holds every committed entry, and its lease is valid (a quorum
// acknowledged it lately: raftgroup.Group.LeaseValid), so no other node can have been
// elected meanwhile.
func (m *Manager) Serving(shard uint32) bool {
	g := m.group(shard)
	return g != nil && g.Leadership().Ready && g.LeaseValid()
}

// Holds reports whether this node runs a replica of shard that is a member of the
// shard's group (a replica removed from it, kept a while before it is dropped, does
// not count: it receives no more entries).
func (m *Manager) Holds(shard uint32) bool {
	g := m.group(shard)
	return g != nil && g.IsMember()
}

// IsLeader reports whether this node leads shard.
func (m *Manager) IsLeader(shard uint32) bool {
	g := m.group(shard)
	return g != nil && g.IsLeader()
}

// LeaderReady reports whether this node leads shard and has applied every entry up to
// the first of its term, so its replica holds every committed write: grains may be
// activated from it.
func (m *Manager) LeaderReady(shard uint32) bool {
	g := m.group(shard)
	return g != nil && g.Leadership().Ready
}

// Leadership is shard's leadership as this node sees it (zero without a replica here).
func (m *Manager) Leadership(shard uint32) raftgroup.Leadership {
	if g := m.group(shard); g != nil {
		return g.Leadership()
	}
	return raftgroup.Leadership{}
}

// Changed returns a channel closed at the next change of shard's leadership as this
// node sees it (including its group starting or stopping here): wait on it, then call
// Leadership and Changed again.
func (m *Manager) Changed(shard uint32) <-chan struct{} {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	c, ok := m.watch[shard]
	if !ok {
		c = make(chan struct{})
		m.watch[shard] = c
	}
	return c
}

// Status is shard's group status on this node; false without a replica here.
func (m *Manager) Status(shard uint32) (raftgroup.Status, bool) {
	g := m.group(shard)
	if g == nil {
		return raftgroup.Status{}, false
	}
	return g.Status(), true
}

// Hosted returns the shards this node holds a replica of (running groups), sorted.
func (m *Manager) Hosted() []uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]uint32, 0, len(m.groups))
	for s := range m.groups {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Stop stops every shard group on this node (the Host and the replicas' storage stay
// open). Run must have returned.
func (m *Manager) Stop() {
	m.mu.Lock()
	gs := make([]*raftgroup.Group, 0, len(m.groups))
	for _, g := range m.groups {
		gs = append(gs, g)
	}
	m.groups = map[uint32]*raftgroup.Group{}
	m.mu.Unlock()
	for _, g := range gs {
		g.Stop()
	}
}

// TransferLeadership hands every shard this node leads to its most caught-up other
// voter, so that a graceful stop costs no election timeout. It returns how many it
// could not hand over.
func (m *Manager) TransferLeadership(ctx context.Context) int {
	failed := 0
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, s := range m.Hosted() {
		g := m.group(s)
		if g == nil || !g.IsLeader() {
			continue
		}
		wg.Go(func() {
			st := g.Status()
			var to, best uint64
			for _, id := range st.Voters {
				if p, ok := st.Progress[id]; ok && id != st.Node && p.RecentActive && (to == 0 || p.Match > best) {
					to, best = id, p.Match
				}
			}
			if to == 0 {
				return // the only voter: nobody to hand it to
			}
			ctx, cancel := context.WithTimeout(ctx, m.cfg.ChangeTimeout)
			defer cancel()
			if err := g.TransferLeadership(ctx, to); err != nil {
				m.log.Warn("shards: leadership transfer failed", "shard", s, "to", cluster.FormatNodeID(to), "err", err)
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed
}
