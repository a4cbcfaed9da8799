// Package raftgroup runs Latch's Raft groups: the replicated directory (one group) and
// the hot-state shards (about 64 groups per process), on one TCP transport and one
// storage engine per process.
//
// Consensus is etcd's Raft library (go.etcd.io/raft/v3 v3.7.0), not a protocol of our
// own: this package only drives its RawNode through the standard Ready loop (persist
// entries, hard state and snapshot before sending messages; send; apply committed entries
// in order; Advance) and moves its messages. etcd raft was chosen over hashicorp/raft
// because it is a pure state machine (as CockroachDB and etcd use it): many groups share
// one process, one transport, one ticker and one Pebble log, where hashicorp/raft runs a
// transport, log store and goroutines per group. It also builds beside memberlist v0.7.0,
// where hashicorp/raft v1.7.2 needs memberlist and go-metrics downgraded to v0.5.4.
//
// A Host is one node (node id, raft listen address); it holds Groups (group id), each
// with its StateMachine and its Storage (persistence.RaftLog in production,
// MemoryStorage in tests). Group.Propose returns the state machine's result once this
// node has applied the entry, so a write is visible to reads on the serving node when it
// returns.
//
// Proposals carry (node id, proposal id). A proposal lost on its way to the leader, or
// pending when the leader changes, is proposed again by its proposer; every replica
// skips an id it applied among the last 4096 entries (the window travels in snapshots),
// so a retried proposal applies once.
//
// Transport: one TCP listener per Host; frames of length | group id | raftpb.Message,
// with a hello frame (group 0) naming the dialer's node id and address. Each peer has one
// outgoing connection fed by a bounded queue: the Ready loop never blocks; what does not
// fit is dropped and reported unreachable (snapshots as failed), as etcd raft expects of
// a lossy transport. The transport is neither authenticated nor encrypted: run it on a
// private network (mTLS is future work).
package raftgroup

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// ErrUnavailable reports that a proposal or a configuration change did not complete
// before the context's deadline: there was no leader, no quorum, or the entry was lost
// in a leader change. A proposal that failed with it may still be applied later.
var ErrUnavailable = errors.New("raftgroup: no leader or no quorum")

// ErrStopped reports that the group or its host was stopped.
var ErrStopped = errors.New("raftgroup: stopped")

// StateMachine is what a group replicates: the directory, a shard. Every replica applies
// the same entries in the same order, so Apply must be deterministic (no clock, no
// randomness, no reads of anything but its own state and the entry).
type StateMachine interface {
	// Apply applies the entry at index and returns the result handed to the proposer
	// (on the node that proposed it).
	Apply(index uint64, data []byte) any
	// Snapshot returns the whole state as of the last applied entry.
	Snapshot() ([]byte, error)
	// Restore replaces the whole state with a snapshot's.
	Restore(snapshot []byte) error
}

// Storage is a group's durable Raft log: etcd raft's Storage plus the writes the Ready
// loop makes. persistence.RaftGroupLog implements it on Pebble; MemoryStorage in memory.
//
// Each group's Ready loop waits for its own Save, so a group has one append in flight;
// sharing fsyncs across groups is the storage's job: persistence.RaftLog commits the
// synced Saves its groups make at the same moment in one batch with one fsync (group
// commit), and each Save still returns only once durable, so nothing is sent before
// what it depends on is persisted.
type Storage interface {
	raft.Storage
	// Save persists a Ready's snapshot (replacing the log), entries (overwriting any
	// conflicting tail) and hard state atomically; with sync, durably before it returns.
	// Empty arguments are skipped.
	Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot, sync bool) error
	// CreateSnapshot records a snapshot of the state machine at applied index i.
	CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error)
	// Compact discards the entries before i (FirstIndex becomes i+1).
	Compact(i uint64) error
}

// MemoryStorage is etcd raft's MemoryStorage as a Storage, for tests: nothing survives
// the process.
type MemoryStorage struct {
	*raft.MemoryStorage
}

// NewMemoryStorage returns an empty in-memory Storage.
func NewMemoryStorage() *MemoryStorage {
	return &MemoryStorage{MemoryStorage: raft.NewMemoryStorage()}
}

// Save implements Storage.
func (m *MemoryStorage) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot, _ bool) error {
	if !raft.IsEmptySnap(snap) {
		if err := m.ApplySnapshot(snap); err != nil {
			return err
		}
	}
	if err := m.Append(entries); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		return m.SetHardState(hs)
	}
	return nil
}

// Config configures a Host. Zero fields take the defaults below.
type Config struct {
	// NodeID identifies this node in every group; never 0, never reused by another node.
	NodeID uint64
	// ListenAddr is the raft TCP address ("127.0.0.1:0" picks a port; see Host.Addr).
	ListenAddr string
	// TickInterval is Raft's logical clock (default 100ms).
	TickInterval time.Duration
	// ElectionTicks is the election timeout in ticks (default 10: a follower that hears
	// no leader for 1 to 2 s campaigns, so failover stays under 2 s on a LAN).
	ElectionTicks int
	// HeartbeatTicks is the leader's heartbeat interval in ticks (default 1).
	HeartbeatTicks int
	// MaxSizePerMsg bounds the entries of one append message (default 1 MiB).
	MaxSizePerMsg uint64
	// MaxInflightMsgs bounds the append messages in flight per follower (default 256).
	MaxInflightMsgs int
	// MaxUncommittedEntriesSize bounds the leader's uncommitted log; past it proposals
	// are dropped (default 64 MiB).
	MaxUncommittedEntriesSize uint64
	// SnapshotEvery takes a snapshot every this many applied entries (default 10000).
	SnapshotEvery uint64
	// SnapshotCatchUpEntries is how many entries before a snapshot stay in the log for
	// slow followers (default 5000); older ones are compacted away and a follower that
	// needs them gets the snapshot.
	SnapshotCatchUpEntries uint64
	// PeerQueue bounds the batches queued to one peer (default 1024); past it messages
	// are dropped and the peer reported unreachable, so the Ready loop never blocks.
	PeerQueue int
	// DialTimeout bounds one connection attempt (default 1 s).
	DialTimeout time.Duration
	// Logger receives the host's logs; nil discards them.
	Logger *slog.Logger
	// Observer receives the groups' leader changes, proposal latencies and applied
	// indexes (metrics); nil observes nothing.
	Observer Observer
}

// Observer watches a host's groups, for metrics: cmd/latch adapts it to Prometheus
// (metrics.Raft), and this package imports no metrics library. Its methods run on a
// group's Ready loop or on a proposer's goroutine: they must be cheap and never block.
type Observer interface {
	// LeaderChanged reports group's new leader (0: none known), and whether it is
	// this node.
	LeaderChanged(group, leader uint64, self bool)
	// ProposalDone reports one Propose: from the call until this node applied the
	// entry (the commit included), or until it failed with err.
	ProposalDone(group uint64, elapsed time.Duration, err error)
	// Applied reports the group's commit index as this node knows it and its applied
	// index, after each Ready that committed entries or moved the commit index.
	Applied(group, commit, applied uint64)
}

// nopObserver observes nothing.
type nopObserver struct{}

func (nopObserver) LeaderChanged(uint64, uint64, bool)        {}
func (nopObserver) ProposalDone(uint64, time.Duration, error) {}
func (nopObserver) Applied(uint64, uint64, uint64)            {}

func (c Config) withDefaults() Config {
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.HeartbeatTicks == 0 {
		c.HeartbeatTicks = 1
	}
	if c.MaxSizePerMsg == 0 {
		c.MaxSizePerMsg = 1 << 20
	}
	if c.MaxInflightMsgs == 0 {
		c.MaxInflightMsgs = 256
	}
	if c.MaxUncommittedEntriesSize == 0 {
		c.MaxUncommittedEntriesSize = 64 << 20
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 10000
	}
	if c.SnapshotCatchUpEntries == 0 {
		c.SnapshotCatchUpEntries = 5000
	}
	if c.PeerQueue == 0 {
		c.PeerQueue = 1024
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	return c
}

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.NodeID == 0 {
		errs = append(errs, errors.New("raftgroup: Config.NodeID is required"))
	}
	if c.ListenAddr == "" {
		errs = append(errs, errors.New("raftgroup: Config.ListenAddr is required"))
	}
	if c.TickInterval < 0 || c.ElectionTicks < 0 || c.HeartbeatTicks < 0 || c.PeerQueue < 0 || c.MaxInflightMsgs < 0 || c.DialTimeout < 0 {
		errs = append(errs, errors.New("raftgroup: durations and counts must not be negative"))
	}
	d := c.withDefaults()
	if d.ElectionTicks <= d.HeartbeatTicks {
		errs = append(errs, fmt.Errorf("raftgroup: ElectionTicks (%d) must exceed HeartbeatTicks (%d)", d.ElectionTicks, d.HeartbeatTicks))
	}
	return errors.Join(errs...)
}

// Peer is a member of a new group's initial configuration.
type Peer struct {
	ID   uint64
	Addr string
}

// GroupConfig configures one group on a Host.
type GroupConfig struct {
	// ID identifies the group on every node; 0 is reserved.
	ID uint64
	// StateMachine receives the committed entries.
	StateMachine StateMachine
	// Storage is the group's log; on a restart it holds the state to resume from.
	Storage Storage
	// Peers bootstraps a new group with these voters (this node among them) when the
	// storage is empty. Empty: the node joins an existing group and waits for its leader
	// to add it. Ignored when the storage already holds state (a restart).
	//
	// A node that bootstraps a group snapshots the state machine as soon as the
	// bootstrap entries are applied and compacts them away, so that every node added
	// later starts from that snapshot: it carries the state the state machine had
	// before the log started (a single node's directory, turned into a cluster).
	Peers []Peer
	// Applied is the index of the last entry the state machine already applied and
	// kept (it persists its applied index with its state): on a restart it is not
	// handed entries up to Applied again, nor restored from an older snapshot. Raft
	// still reads those entries from the log, for the configuration changes and the
	// window of applied proposal ids they carry. 0: the state machine holds nothing
	// applied from this group's log.
	Applied uint64
	// SnapshotEvery and SnapshotCatchUpEntries override the host's Config for this
	// group (0: the host's). A group whose state is small and whose writes are many
	// (a hot-state shard) snapshots often, so that its log stays short.
	SnapshotEvery, SnapshotCatchUpEntries uint64
	// OnLeadership, when set, is called on the group's goroutine each time the group's
	// Leadership (as this node sees it) changes, and once with IsLeader false when the
	// group stops. It must not block: signal a channel, copy the value.
	OnLeadership func(Leadership)
}

// Leadership is a group's leadership as this node sees it.
type Leadership struct {
	// Leader is the leader's node id, 0 when none is known.
	Leader uint64
	// Term is this node's current term.
	Term uint64
	// IsLeader: this node leads the group.
	IsLeader bool
	// Ready: this node leads and has applied every entry up to the first entry of its
	// term, so every entry committed before it was elected is in its state machine
	// (reads from its replica are complete). Raft commits that entry once a quorum
	// holds it.
	Ready bool
}

// HasState reports whether s holds a group's state (a hard state, entries or a
// snapshot): a node restarting on it resumes its membership; one whose storage is
// empty is new, and either bootstraps a group (GroupConfig.Peers) or waits to be added.
func HasState(s Storage) (bool, error) {
	hs, _, err := s.InitialState()
	if err != nil {
		return false, err
	}
	last, err := s.LastIndex()
	if err != nil {
		return false, err
	}
	snap, err := s.Snapshot()
	if err != nil {
		return false, err
	}
	return !raft.IsEmptyHardState(hs) || last > 0 || !raft.IsEmptySnap(snap), nil
}
