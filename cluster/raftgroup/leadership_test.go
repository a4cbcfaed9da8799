package raftgroup_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// leadershipLog records a node's OnLeadership notifications, with how many entries its
// state machine held at each.
type leadershipLog struct {
	mu      sync.Mutex
	events  []raftgroup.Leadership
	applied []int
}

func (l *leadershipLog) record(sm *kv) func(raftgroup.Leadership) {
	return func(ld raftgroup.Leadership) {
		n := len(sm.log())
		l.mu.Lock()
		defer l.mu.Unlock()
		l.events = append(l.events, ld)
		l.applied = append(l.applied, n)
	}
}

func (l *leadershipLog) last() (raftgroup.Leadership, int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		return raftgroup.Leadership{}, 0, false
	}
	return l.events[len(l.events)-1], l.applied[len(l.applied)-1], true
}

// startNotified starts gid on every node of c with OnLeadership recorded.
func startNotified(t *testing.T, size int) (*cluster, map[uint64]*leadershipLog) {
	t.Helper()
	c := &cluster{t: t}
	var peers []raftgroup.Peer
	for i := range size {
		n := newNode(t, uint64(i+1), raftgroup.Config{}, false)
		c.nodes = append(c.nodes, n)
		peers = append(peers, raftgroup.Peer{ID: n.id, Addr: n.addr})
	}
	logs := map[uint64]*leadershipLog{}
	for _, n := range c.nodes {
		sm, ll := newKV(), &leadershipLog{}
		logs[n.id] = ll
		st, err := n.log.Group(gid)
		if err != nil {
			t.Fatal(err)
		}
		g, err := n.host.StartGroup(raftgroup.GroupConfig{ID: gid, StateMachine: sm, Storage: st, Peers: peers, OnLeadership: ll.record(sm)})
		if err != nil {
			t.Fatal(err)
		}
		n.sms[gid], n.groups[gid] = sm, g
	}
	return c, logs
}

// The leader hears it leads, then that it is ready; a new leader is ready only once its
// state machine holds every entry committed before its election; a stopped leader
// hears it no longer leads.
func TestLeadershipNotifications(t *testing.T) {
	c, logs := startNotified(t, 3)
	l := c.leader(gid, 10*time.Second)
	for i := range 20 {
		propose(t, l.groups[gid], "k"+string(rune('a'+i))+"=v")
	}
	waitFor(t, 5*time.Second, "the leader notified ready", func() bool {
		ld, _, ok := logs[l.id].last()
		return ok && ld.IsLeader && ld.Ready && ld.Leader == l.id && l.groups[gid].Leadership() == ld
	})
	for _, n := range c.nodes {
		if n != l && n.groups[gid].Leadership().IsLeader {
			t.Fatalf("node %d: follower says it leads", n.id)
		}
	}
	l.stop()
	if ld, _, _ := logs[l.id].last(); ld.IsLeader || ld.Ready {
		t.Fatalf("stopped leader last notified %+v, want not leading", ld)
	}
	l2 := c.leader(gid, 10*time.Second)
	waitFor(t, 5*time.Second, "the new leader notified ready", func() bool {
		ld, _, ok := logs[l2.id].last()
		return ok && ld.Ready
	})
	ll := logs[l2.id]
	ll.mu.Lock()
	defer ll.mu.Unlock()
	for i, ld := range ll.events {
		if ld.Ready && ll.applied[i] < 20 {
			t.Fatalf("node %d notified ready holding %d of the 20 committed entries", l2.id, ll.applied[i])
		}
	}
}

// A member removed right after a leadership change from a group of four learns it was
// removed (the new leader probes it and may commit without it; raft alone would then
// never send it the commit of its removal, and the leader's append of the removal
// entry tells it). It does not force that interleaving: it checks the outcome.
func TestRemovedMemberLearnsItsRemoval(t *testing.T) {
	for range 5 {
		c, _ := startNotified(t, 4)
		l := c.leader(gid, 10*time.Second)
		propose(t, l.groups[gid], "a=1")
		var to *node
		for _, n := range c.nodes {
			if n != l {
				to = n
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := l.groups[gid].TransferLeadership(ctx, to.id); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "the new leader ready", func() bool { return to.groups[gid].Leadership().Ready })
		if err := to.groups[gid].Remove(ctx, l.id); err != nil {
			t.Fatal(err)
		}
		cancel()
		waitFor(t, 5*time.Second, "the removed member to apply its removal", func() bool {
			return !slices.Contains(l.groups[gid].Status().Voters, l.id)
		})
		for _, n := range c.nodes {
			n.stop()
		}
	}
}

// A leader that hands its leadership on holds no lease until the transfer ends: the
// transferee campaigns at once and the voters grant it their votes within the old
// leader's lease, so what the old leader holds in memory could already be stale. Here
// the transferee is stopped, so raft keeps the transfer pending until it aborts it
// (an election timeout); then fresh acknowledgements renew the lease.
func TestTransferVoidsTheLease(t *testing.T) {
	c := newCluster(t, 3, raftgroup.Config{}, false, gid)
	l := c.leader(gid, 10*time.Second)
	propose(t, l.groups[gid], "k=v")
	converged(t, gid, 5*time.Second, 1, c.nodes...)
	waitFor(t, 5*time.Second, "the leader's lease", l.groups[gid].LeaseValid)
	to := c.other(l)
	to.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := l.groups[gid].TransferLeadership(ctx, to.id); err == nil {
		t.Fatal("leadership went to a stopped node")
	}
	if !l.groups[gid].IsLeader() {
		t.Fatal("the leader stepped down although the transferee is stopped")
	}
	if l.groups[gid].LeaseValid() {
		t.Fatal("the lease is valid while a leadership transfer is pending")
	}
	// Raft aborts the transfer after an election timeout (1 s here): the leader, still
	// acknowledged by the third voter, holds a lease again.
	waitFor(t, 10*time.Second, "the lease after the transfer was aborted", l.groups[gid].LeaseValid)
	propose(t, l.groups[gid], "k2=v")
}

// A leader paused longer than its lease (here its inbound messages are held, as a
// stopped process leaves them queued) reads, once resumed, answers to heartbeats it sent
// before the pause. They renew no lease: meanwhile the others may have elected another
// leader (here they are simply gone, so nothing else tells it).
func TestLateHeartbeatAnswersRenewNoLease(t *testing.T) {
	// An election timeout of 3 s: the lease is 1.5 s, and raft's quorum check (every
	// election timeout) does not depose the leader while its inbound is held.
	c := newCluster(t, 3, raftgroup.Config{ElectionTicks: 30}, false, gid)
	l := c.leader(gid, 20*time.Second)
	propose(t, l.groups[gid], "k=v")
	waitFor(t, 5*time.Second, "the leader's lease", l.groups[gid].LeaseValid)
	release := l.host.HoldInbound()
	time.Sleep(300 * time.Millisecond) // heartbeats go out and are answered; the answers wait
	for _, n := range c.nodes {
		if n != l {
			n.stop()
		}
	}
	time.Sleep(1600 * time.Millisecond)
	if l.groups[gid].LeaseValid() {
		t.Fatal("the lease outlived 1.6 s without an answer")
	}
	release()
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if l.groups[gid].LeaseValid() {
			t.Fatal("answers to heartbeats sent before the pause renewed the lease")
		}
	}
	if !l.groups[gid].IsLeader() {
		t.Log("the leader stepped down meanwhile; the lease check above still held")
	}
}
