package shards

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/raftgroup"
)

// Run reconciles on every membership change, every leadership this node gains, each
// finished configuration change and every Interval, until ctx is done; then it waits
// for the configuration changes under way.
func (m *Manager) Run(ctx context.Context) {
	defer m.changes.Wait()
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		changed := m.cfg.Members.MembershipChanged()
		m.Reconcile(ctx)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-m.wake:
		case <-t.C:
		}
	}
}

// removedPasses: a replica removed from its group and no longer placed here is kept
// for this many reconcile intervals (10 s by default, by this process's clock) before
// it is dropped: placements seen from different nodes converge within it, so a leader
// re-adding this node meanwhile finds its log still there.
const removedPasses = 10

// view is one reconcile pass's picture of the membership.
type view struct {
	now        time.Time
	live       map[uint64]cluster.NodeInfo
	departed   map[uint64]bool
	candidates []uint64 // the nodes shards are placed on
}

// Reconcile makes one pass over the shards: it starts the groups the placement names
// this node for, stops those it was removed from, and on every shard it leads (and is
// ready on) with no change under way, starts at most one configuration change toward
// the placement. The changes run in the background; Run waits for them.
func (m *Manager) Reconcile(ctx context.Context) {
	self := m.cfg.NodeID
	v := view{now: m.cfg.Now(), live: map[uint64]cluster.NodeInfo{}, departed: m.cfg.Members.Departures()}
	for _, n := range m.cfg.Members.Nodes() {
		if n.NodeID == 0 {
			continue
		}
		v.live[n.NodeID] = n
		if n.NodeID != self && n.Raft != "" {
			m.cfg.Host.SetPeerAddr(n.NodeID, n.Raft)
		}
	}
	m.mu.Lock()
	groups := make(map[uint32]*raftgroup.Group, len(m.groups))
	for s, g := range m.groups {
		groups[s] = g
	}
	m.mu.Unlock()
	sts := make(map[uint32]raftgroup.Status, len(groups))
	inGroups := map[uint64]bool{}
	for s, g := range groups {
		st := g.Status()
		if st.State == "" {
			continue // stopped (its host is stopping): leave it alone
		}
		sts[s] = st
		for _, id := range slices.Concat(st.Voters, st.Learners) {
			inGroups[id] = true
		}
	}
	// Every node tracks since when a member is missing, leader or not, so that a new
	// leader counts the grace period from when it first noticed, not from its election.
	for id := range m.missing {
		if _, ok := v.live[id]; ok || !inGroups[id] {
			delete(m.missing, id)
		}
	}
	for id := range inGroups {
		if _, ok := v.live[id]; !ok && id != self {
			if _, seen := m.missing[id]; !seen {
				m.missing[id] = v.now
			}
		}
	}
	// Shards are placed on the live members that do not announce a leave, and on the
	// dead ones within their grace period: a node restarting within it keeps its shards,
	// and no replacement is added (and promoted, growing the quorum) meanwhile.
	if _, listed := v.live[self]; !listed {
		v.candidates = append(v.candidates, self)
	}
	for id, n := range v.live {
		if !n.Leaving && (n.Raft != "" || id == self) {
			v.candidates = append(v.candidates, id)
		}
	}
	for id, since := range m.missing {
		if left, known := v.departed[id]; !(known && left) && v.now.Sub(since) < m.cfg.DeadGrace {
			v.candidates = append(v.candidates, id)
		}
	}
	slices.Sort(v.candidates)

	for s := range m.orphans {
		if st, ok := sts[s]; !ok || st.Leader != 0 {
			delete(m.orphans, s)
		}
	}
	for s := range m.cfg.Shards {
		desired := Place(v.candidates, s, m.cfg.Replicas)
		g := groups[s]
		if g == nil {
			// Placed alone (no other member known yet): there is no leader to add it.
			if slices.Contains(desired, self) && len(desired) > 1 {
				m.join(s)
			}
			continue
		}
		st, ok := sts[s]
		if !ok {
			continue
		}
		members := slices.Concat(st.Voters, st.Learners)
		if !slices.Contains(members, self) {
			switch {
			case slices.Contains(desired, self):
				// Removed (a graceful stop, or a view of the placement that moved) but
				// placed here again: the replica and its log are kept, and the leader's
				// addition brings it up to date. Dropping it now would race that
				// addition: a leader that saw this log's entries acknowledged would
				// then send its commit index to an empty log (Raft assumes a member
				// never loses its log).
				delete(m.removed, s)
			case len(members) > 0:
				since, ok := m.removed[s]
				if !ok {
					m.removed[s] = time.Now()
				} else if time.Since(since) >= removedPasses*m.cfg.Interval {
					delete(m.removed, s)
					m.drop(s, g, "removed from the shard's group and placed elsewhere")
				}
			default:
				m.drop(s, g, "no longer placed here before being added")
			}
			continue
		}
		delete(m.removed, s)
		if st.Leader == 0 && m.orphaned(s, desired, v) {
			m.drop(s, g, "removed while away: no leader heard and not placed here for twice the dead grace period")
			continue
		}
		if st.Leader != self || !g.Leadership().Ready {
			continue
		}
		m.mu.Lock()
		busy := m.busy[s]
		m.mu.Unlock()
		if busy {
			continue
		}
		// Fresh: a change that finished during this pass changed it.
		if st = g.Status(); st.Leader != self {
			continue
		}
		if a := m.decide(st, desired, v); a != nil {
			m.launch(ctx, s, g, *a)
		}
	}
}

// orphaned reports whether this node's replica of shard s, which knows no leader, was
// most likely removed while this node was away (declared dead past the grace period,
// replaced, and the placement moved on): a removed member is not told, and campaigns in
// vain. It is when the placement does not name this node, every node it names is alive,
// and no leader was heard for twice DeadGrace (longer than a dead member is kept, so
// that a replica that lost its quorum is placed here again before it counts as one).
func (m *Manager) orphaned(s uint32, desired []uint64, v view) bool {
	if slices.Contains(desired, m.cfg.NodeID) {
		delete(m.orphans, s)
		return false
	}
	for _, id := range desired {
		if _, alive := v.live[id]; !alive {
			delete(m.orphans, s)
			return false
		}
	}
	since, ok := m.orphans[s]
	if !ok {
		m.orphans[s] = v.now
		return false
	}
	return v.now.Sub(since) >= 2*m.cfg.DeadGrace
}

// join starts shard's group empty: the shard's leader adds this node and sends it a
// snapshot.
func (m *Manager) join(s uint32) {
	m.mu.Lock()
	r, ok := m.opened[s]
	delete(m.opened, s)
	m.mu.Unlock()
	if !ok {
		var err error
		if r, err = m.cfg.Storage.Open(s); err != nil {
			m.log.Error("shards: open shard", "shard", s, "err", err)
			return
		}
	}
	if err := m.start(s, r, nil); err != nil {
		m.log.Error("shards: join shard", "shard", s, "err", err)
		return
	}
	m.log.Info("shards: placed here; waiting for the shard's leader to add this node", "shard", s)
}

// drop stops shard's group and discards its replica.
func (m *Manager) drop(s uint32, g *raftgroup.Group, why string) {
	g.Stop()
	m.mu.Lock()
	if m.groups[s] == g {
		delete(m.groups, s)
	}
	m.mu.Unlock()
	if err := m.cfg.Storage.Drop(s); err != nil {
		m.log.Error("shards: drop replica", "shard", s, "err", err)
	}
	m.log.Info("shards: replica stopped and dropped: "+why, "shard", s)
}

type actionKind int

const (
	addLearner actionKind = iota + 1
	promote
	remove
	transfer
)

// action is one configuration change (or leadership transfer) on a shard.
type action struct {
	kind actionKind
	id   uint64
	addr string
	why  string
}

// decide picks the next change on a shard this node leads: st is its status, desired
// its placement.
func (m *Manager) decide(st raftgroup.Status, desired []uint64, v view) *action {
	self := m.cfg.NodeID
	members := slices.Concat(st.Voters, st.Learners)
	caughtUp := func(id uint64) bool {
		if id == self {
			return true
		}
		p, ok := st.Progress[id]
		return ok && p.RecentActive && p.Match >= st.Commit
	}
	// 1. Members that are gone: at once when they left, after the grace period when
	// declared dead (or never seen alive by this node). The quorum shrinks with them.
	for _, id := range members {
		if id == self {
			continue
		}
		if _, alive := v.live[id]; alive {
			continue
		}
		if left, known := v.departed[id]; known && left {
			return &action{kind: remove, id: id, why: "removing a replica that left the cluster"}
		}
		if since, seen := m.missing[id]; seen && v.now.Sub(since) >= m.cfg.DeadGrace {
			return &action{kind: remove, id: id, why: "removing a replica declared dead past the grace period"}
		}
	}
	// 2. Desired live nodes that are not members join as learners.
	for _, id := range desired {
		if slices.Contains(members, id) {
			continue
		}
		if n, ok := v.live[id]; ok && n.Raft != "" {
			return &action{kind: addLearner, id: id, addr: n.Raft, why: "adding a placed node as a learner"}
		}
	}
	// 3. Learners that are not desired go (they weigh nothing on the quorum).
	for _, id := range st.Learners {
		if !slices.Contains(desired, id) {
			return &action{kind: remove, id: id, why: "removing a learner no longer placed here"}
		}
	}
	// 4. Caught-up desired learners become voters, keeping an odd number of desired
	// voters when it can (a fourth voter adds no fault tolerance).
	desiredVoters := 0
	allVoters := true
	for _, id := range desired {
		if slices.Contains(st.Voters, id) {
			desiredVoters++
		} else {
			allVoters = false
		}
	}
	var ready []uint64
	for _, id := range st.Learners {
		if n, alive := v.live[id]; alive && !n.Leaving && slices.Contains(desired, id) && caughtUp(id) {
			ready = append(ready, id)
		}
	}
	target := desiredVoters + len(ready)
	if target%2 == 0 {
		target--
	}
	if target > desiredVoters {
		id := ready[0]
		return &action{kind: promote, id: id, addr: v.live[id].Raft, why: "promoting a caught-up learner to voter"}
	}
	// Nothing is taken away before every desired node votes.
	if !allVoters {
		return nil
	}
	// 5. A leader that is no longer desired hands over to a caught-up desired voter;
	// the new leader removes it.
	if !slices.Contains(desired, self) {
		for _, id := range desired {
			if _, alive := v.live[id]; alive && caughtUp(id) {
				return &action{kind: transfer, id: id, why: "handing leadership to a placed voter before leaving the shard"}
			}
		}
		return nil
	}
	// 6. Live voters no longer desired go, while the caught-up voters left form a
	// quorum. A dead one waits for its grace period (step 1).
	for _, id := range st.Voters {
		if id == self || slices.Contains(desired, id) {
			continue
		}
		if _, alive := v.live[id]; !alive {
			continue
		}
		rest := slices.DeleteFunc(slices.Clone(st.Voters), func(x uint64) bool { return x == id })
		up := 0
		for _, x := range rest {
			if caughtUp(x) {
				up++
			}
		}
		if up >= len(rest)/2+1 {
			return &action{kind: remove, id: id, why: "removing a voter no longer placed here"}
		}
	}
	// 7. The placement's first node leads the shard, so that the shards' leaders (and
	// with them the grains and their work) spread over the nodes instead of staying on
	// the node that founded them or won the last election.
	if first := desired[0]; first != self && slices.Contains(st.Voters, first) && caughtUp(first) {
		if n, alive := v.live[first]; alive && !n.Leaving {
			return &action{kind: transfer, id: first, why: "handing leadership to the shard's preferred leader"}
		}
	}
	return nil
}

// launch runs a in the background; the shard takes no other change meanwhile.
func (m *Manager) launch(ctx context.Context, s uint32, g *raftgroup.Group, a action) {
	m.mu.Lock()
	m.busy[s] = true
	m.mu.Unlock()
	m.changes.Go(func() {
		defer func() {
			m.mu.Lock()
			delete(m.busy, s)
			m.mu.Unlock()
			m.poke()
		}()
		ctx, cancel := context.WithTimeout(ctx, m.cfg.ChangeTimeout)
		defer cancel()
		var err error
		switch a.kind {
		case addLearner:
			err = g.AddLearner(ctx, a.id, a.addr)
		case promote:
			err = g.AddVoter(ctx, a.id, a.addr)
		case remove:
			err = g.Remove(ctx, a.id)
		case transfer:
			err = g.TransferLeadership(ctx, a.id)
		default:
			err = fmt.Errorf("unknown action %d", a.kind)
		}
		attrs := []any{"shard", s, "node", cluster.FormatNodeID(a.id)}
		if err != nil {
			m.log.Warn("shards: "+a.why+" failed", append(attrs, "err", err)...)
			return
		}
		m.log.Info("shards: "+a.why, attrs...)
	})
}
