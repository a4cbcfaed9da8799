package cluster

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// Autopilot keeps a Raft group's members in line with the gossip membership, as
// Consul's autopilot does: memberlist discovers nodes, the group's leader adds them.
//
//   - A live member that advertises a raft address and is not in the group is added as
//     a learner (non-voter): it receives the log (or a snapshot) without weighing on
//     the quorum while it catches up. A node that comes back after its removal is added
//     again the same way.
//   - A learner that caught up (the leader's Progress.Match reached the commit index)
//     is promoted to voter while the group has fewer than MaxVoters live voters (5),
//     keeping an odd number of live voters when it can: a fourth voter adds no fault
//     tolerance and one more node to wait for. The others stay learners, ready to
//     replace a voter that leaves or dies.
//   - A member that left gracefully is removed at once; one declared dead (or never
//     seen alive by this node) is removed after DeadGrace, so that a node restarting
//     within it keeps its place.
//
// It runs on every node and acts only while its node leads the group; one
// configuration change at a time (raft allows one pending change), each logged at Info.
type Autopilot struct {
	cfg AutopilotConfig
	// missing: member -> when this autopilot first saw it in the group but not alive.
	missing map[uint64]time.Time
}

// AutopilotGroup is the Raft group the autopilot drives (*raftgroup.Group).
type AutopilotGroup interface {
	IsLeader() bool
	Status() raftgroup.Status
	AddLearner(ctx context.Context, id uint64, addr string) error
	AddVoter(ctx context.Context, id uint64, addr string) error
	Remove(ctx context.Context, id uint64) error
}

// AutopilotMembers is the gossip membership the autopilot follows (*Node).
type AutopilotMembers interface {
	// Nodes returns the live members, this one included.
	Nodes() []NodeInfo
	// Departures returns the members gone and not back: true left gracefully, false
	// declared dead.
	Departures() map[uint64]bool
	// MembershipChanged returns a channel closed at the next membership change.
	MembershipChanged() <-chan struct{}
}

var (
	_ AutopilotGroup   = (*raftgroup.Group)(nil)
	_ AutopilotMembers = (*Node)(nil)
)

// DefaultDeadGrace is how long a member declared dead stays in the group before the
// autopilot removes it (`latch serve --raft-dead-grace`).
const DefaultDeadGrace = 2 * time.Minute

// DefaultMaxVoters is the most voters the autopilot keeps; other members are learners.
const DefaultMaxVoters = 5

// AutopilotConfig configures an Autopilot.
type AutopilotConfig struct {
	// Self is this node's id (it never removes itself).
	Self    uint64
	Group   AutopilotGroup
	Members AutopilotMembers
	// Peers, when set, learns every live member's raft address from gossip
	// (*raftgroup.Host): a member restarted on another --raft address is reached there
	// without a configuration change.
	Peers interface{ SetPeerAddr(id uint64, addr string) }
	// DeadGrace: see DefaultDeadGrace.
	DeadGrace time.Duration
	// MaxVoters: see DefaultMaxVoters.
	MaxVoters int
	// Interval is how often it reconciles without a membership change (default 1 s):
	// a learner catching up and a grace period expiring are not membership changes.
	Interval time.Duration
	// ChangeTimeout bounds one configuration change (default 10 s).
	ChangeTimeout time.Duration
	Now           func() time.Time
	Logger        *slog.Logger
}

// NewAutopilot returns an autopilot; Run drives it.
func NewAutopilot(cfg AutopilotConfig) (*Autopilot, error) {
	var errs []error
	if cfg.Self == 0 {
		errs = append(errs, errors.New("cluster: AutopilotConfig.Self is required"))
	}
	if cfg.Group == nil || cfg.Members == nil {
		errs = append(errs, errors.New("cluster: AutopilotConfig needs a Group and Members"))
	}
	if cfg.DeadGrace < 0 || cfg.MaxVoters < 0 || cfg.Interval < 0 || cfg.ChangeTimeout < 0 {
		errs = append(errs, errors.New("cluster: AutopilotConfig durations and counts must not be negative"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.DeadGrace == 0 {
		cfg.DeadGrace = DefaultDeadGrace
	}
	if cfg.MaxVoters == 0 {
		cfg.MaxVoters = DefaultMaxVoters
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.ChangeTimeout == 0 {
		cfg.ChangeTimeout = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Autopilot{cfg: cfg, missing: map[uint64]time.Time{}}, nil
}

// Run reconciles on every membership change and every Interval until ctx is done.
func (a *Autopilot) Run(ctx context.Context) {
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		changed := a.cfg.Members.MembershipChanged()
		// Several changes in a row (one per reconcile) until nothing is left to do.
		for range 16 {
			if ctx.Err() != nil || !a.Reconcile(ctx) {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-t.C:
		}
	}
}

// Reconcile makes at most one configuration change toward the membership and reports
// whether it made one. It only acts while this node leads the group.
func (a *Autopilot) Reconcile(ctx context.Context) bool {
	st := a.cfg.Group.Status()
	now := a.cfg.Now()
	live := map[uint64]NodeInfo{}
	for _, n := range a.cfg.Members.Nodes() {
		if n.NodeID != 0 {
			live[n.NodeID] = n
		}
	}
	if a.cfg.Peers != nil {
		for id, n := range live {
			if id != a.cfg.Self && n.Raft != "" {
				a.cfg.Peers.SetPeerAddr(id, n.Raft)
			}
		}
	}
	members := slices.Concat(st.Voters, st.Learners)
	// Every node tracks since when a member is missing, leader or not, so that a new
	// leader counts the grace period from when it first noticed, not from its election.
	for id := range a.missing {
		if _, ok := live[id]; ok || !slices.Contains(members, id) {
			delete(a.missing, id)
		}
	}
	for _, id := range members {
		if _, ok := live[id]; !ok && id != a.cfg.Self {
			if _, seen := a.missing[id]; !seen {
				a.missing[id] = now
			}
		}
	}
	if !a.cfg.Group.IsLeader() || st.Leader != a.cfg.Self {
		return false
	}
	log := a.cfg.Logger.With("group", st.Group)
	departed := a.cfg.Members.Departures()

	// 1. Remove the members that are gone: at once when they left, after the grace
	// period otherwise. The quorum shrinks with them.
	for _, id := range members {
		if id == a.cfg.Self {
			continue
		}
		since, gone := a.missing[id]
		if !gone {
			continue
		}
		left, known := departed[id]
		switch {
		case known && left:
			return a.change(ctx, log, "removing a member that left the cluster", id, "", func(ctx context.Context) error { return a.cfg.Group.Remove(ctx, id) })
		case now.Sub(since) >= a.cfg.DeadGrace:
			why := "removing a member declared dead past the grace period"
			if !known {
				why = "removing a member not seen alive within the grace period"
			}
			return a.change(ctx, log, why, id, "", func(ctx context.Context) error { return a.cfg.Group.Remove(ctx, id) })
		}
	}

	// 2. Add the live nodes that are not members, as learners.
	for _, n := range sortedNodes(live) {
		if n.NodeID == a.cfg.Self || n.Raft == "" || n.Leaving || slices.Contains(members, n.NodeID) {
			continue
		}
		return a.change(ctx, log, "adding a new node as a learner", n.NodeID, n.Raft, func(ctx context.Context) error {
			return a.cfg.Group.AddLearner(ctx, n.NodeID, n.Raft)
		})
	}

	// 3. Promote caught-up learners while there are fewer than MaxVoters live voters,
	// aiming at an odd number of live voters.
	liveVoters := 0
	for _, id := range st.Voters {
		if _, ok := live[id]; ok || id == a.cfg.Self {
			liveVoters++
		}
	}
	var ready []uint64
	for _, id := range st.Learners {
		p, ok := st.Progress[id]
		if n, alive := live[id]; alive && !n.Leaving && ok && p.RecentActive && p.Match >= st.Commit {
			ready = append(ready, id)
		}
	}
	target := min(a.cfg.MaxVoters, liveVoters+len(ready))
	if target%2 == 0 {
		target--
	}
	if liveVoters < target && len(ready) > 0 {
		id := ready[0]
		addr := live[id].Raft
		return a.change(ctx, log, "promoting a caught-up learner to voter", id, addr, func(ctx context.Context) error {
			return a.cfg.Group.AddVoter(ctx, id, addr)
		})
	}
	return false
}

// change runs one configuration change on member id and logs it.
func (a *Autopilot) change(ctx context.Context, log *slog.Logger, what string, id uint64, addr string, do func(ctx context.Context) error) bool {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.ChangeTimeout)
	defer cancel()
	attrs := []any{"node_id", FormatNodeID(id)}
	if addr != "" {
		attrs = append(attrs, "raft_address", addr)
	}
	if err := do(ctx); err != nil {
		log.Warn("autopilot: "+what+" failed", append(attrs, "err", err)...)
		return false
	}
	log.Info("autopilot: "+what, attrs...)
	return true
}

func sortedNodes(m map[uint64]NodeInfo) []NodeInfo {
	out := make([]NodeInfo, 0, len(m))
	for _, n := range m {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}
