package raftgroup_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

const gid = 1

func TestProposalsApplyInOrderOnEveryNode(t *testing.T) {
	c := newCluster(t, 3, raftgroup.Config{}, false, gid)
	c.leader(gid, 10*time.Second)

	// Sequential proposals through every node: read-your-writes on the serving node.
	for i := range 9 {
		n := c.nodes[i%3]
		key := fmt.Sprintf("k%d", i)
		v := propose(t, n.groups[gid], key+"=v")
		if got, ok := n.sms[gid].get(key); !ok || got != "v" {
			t.Fatalf("node %d: %s not applied when Propose returned (got %q)", n.id, key, got)
		}
		if v.(int) != i+1 {
			t.Fatalf("Propose result = %v, want %d (the state machine's answer)", v, i+1)
		}
	}
	// Concurrent proposals through every node end in one order everywhere.
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := c.nodes[i%3].groups[gid].Propose(ctx, fmt.Appendf(nil, "c%d=%d", i, i)); err != nil {
				t.Errorf("concurrent propose %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	converged(t, gid, 10*time.Second, 39, c.nodes...)

	st := c.nodes[0].groups[gid].Status()
	if !slices.Equal(st.Voters, []uint64{1, 2, 3}) || st.Leader == 0 || st.Applied < 39 {
		t.Fatalf("status = %+v", st)
	}
}

func TestProposeWithoutQuorumIsUnavailable(t *testing.T) {
	c := newCluster(t, 3, raftgroup.Config{}, false, gid)
	c.leader(gid, 10*time.Second)
	propose(t, c.nodes[0].groups[gid], "a=1")
	c.nodes[1].stop()
	c.nodes[2].stop()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := c.nodes[0].groups[gid].Propose(ctx, []byte("b=2"))
	if !errors.Is(err, raftgroup.ErrUnavailable) {
		t.Fatalf("propose without quorum: %v, want ErrUnavailable", err)
	}
}

func TestLeaderFailoverAndCatchUp(t *testing.T) {
	cfg := raftgroup.Config{SnapshotEvery: 10, SnapshotCatchUpEntries: 2}
	c := newCluster(t, 3, cfg, false, gid)
	l := c.leader(gid, 10*time.Second)
	n := 0
	for range 5 {
		n++
		propose(t, l.groups[gid], fmt.Sprintf("k%d=v", n))
	}

	// A clean stop of the leader: the survivors elect another and go on.
	survivors := func(dead *node) []*node {
		var out []*node
		for _, x := range c.nodes {
			if x != dead {
				out = append(out, x)
			}
		}
		return out
	}
	failover := func(dead *node) *node {
		t.Helper()
		start := time.Now()
		alive := survivors(dead)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		n++
		if _, err := alive[0].groups[gid].Propose(ctx, fmt.Appendf(nil, "k%d=v", n)); err != nil {
			t.Fatalf("propose after the leader died: %v", err)
		}
		t.Logf("failover: first proposal through a survivor committed %v after node %d died", time.Since(start).Round(time.Millisecond), dead.id)
		return c.leader(gid, 10*time.Second)
	}
	l.stop()
	l2 := failover(l)
	// Enough entries to snapshot and compact past the stopped node's log.
	for range 25 {
		n++
		propose(t, l2.groups[gid], fmt.Sprintf("k%d=v", n))
	}
	first, err := l2.log.Group(gid)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := first.FirstIndex(); fi <= 10 {
		t.Fatalf("leader's log not compacted (first index %d)", fi)
	}
	l.restart(gid)
	converged(t, gid, 10*time.Second, n, c.nodes...)
	if l.sms[gid].restoreCount() == 0 {
		t.Fatal("the restarted node caught up without the snapshot its compacted leader must send")
	}

	// A crash of the new leader: only synced state survives, and that is all of it.
	l2.crash()
	l3 := failover(l2)
	for range 3 {
		n++
		propose(t, l3.groups[gid], fmt.Sprintf("k%d=v", n))
	}
	l2.restart(gid)
	converged(t, gid, 10*time.Second, n, c.nodes...)
}

func TestMembershipLearnerPromoteRemove(t *testing.T) {
	// Snapshots every 5 entries, keeping 1: the new node is far behind a compacted log
	// and must start from a snapshot.
	cfg := raftgroup.Config{SnapshotEvery: 5, SnapshotCatchUpEntries: 1}
	c := newCluster(t, 3, cfg, false, gid)
	l := c.leader(gid, 10*time.Second)
	for i := range 20 {
		propose(t, l.groups[gid], fmt.Sprintf("k%d=v", i))
	}
	// A fourth node joins with no peers: it waits to be added.
	n4 := newNode(t, 4, cfg, false)
	n4.start(gid, nil)
	c.nodes = append(c.nodes, n4)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Through a follower: configuration changes are forwarded to the leader too.
	follower := c.nodes[0]
	if follower == l {
		follower = c.nodes[1]
	}
	if err := follower.groups[gid].AddLearner(ctx, 4, n4.addr); err != nil {
		t.Fatalf("AddLearner: %v", err)
	}
	propose(t, l.groups[gid], "after=learner")
	// Caught up, as the leader sees it.
	waitFor(t, 10*time.Second, "learner 4 caught up", func() bool {
		st := l.groups[gid].Status()
		p, ok := st.Progress[4]
		return ok && p.IsLearner && p.Match >= st.Commit
	})
	converged(t, gid, 10*time.Second, 21, c.nodes...)
	if n4.sms[gid].restoreCount() == 0 {
		t.Fatal("the learner caught up without the snapshot the compacted log requires")
	}
	if st := n4.groups[gid].Status(); !slices.Equal(st.Learners, []uint64{4}) || slices.Contains(st.Voters, 4) {
		t.Fatalf("node 4 status before promotion = %+v", st)
	}
	if err := l.groups[gid].AddVoter(ctx, 4, n4.addr); err != nil {
		t.Fatalf("promote: %v", err)
	}
	waitFor(t, 10*time.Second, "node 4 a voter everywhere", func() bool {
		for _, x := range c.nodes {
			if !slices.Equal(x.groups[gid].Status().Voters, []uint64{1, 2, 3, 4}) {
				return false
			}
		}
		return true
	})
	// Remove a node that is not the leader.
	victim := c.nodes[0]
	if victim == l {
		victim = c.nodes[1]
	}
	if err := l.groups[gid].Remove(ctx, victim.id); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	var want []uint64
	var rest []*node
	for _, x := range c.nodes {
		if x != victim {
			want = append(want, x.id)
			rest = append(rest, x)
		}
	}
	sort.Slice(want, func(i, j int) bool { return want[i] < want[j] })
	if st := l.groups[gid].Status(); !slices.Equal(st.Voters, want) {
		t.Fatalf("voters after removal = %v, want %v", st.Voters, want)
	}
	propose(t, n4.groups[gid], "after=removal")
	converged(t, gid, 10*time.Second, 22, rest...)
	if got := len(victim.sms[gid].log()); got != 21 {
		t.Fatalf("removed node applied %d entries, want the 21 before its removal", got)
	}
}

func TestManyGroupsShareOneTransport(t *testing.T) {
	const groups = 8
	gids := make([]uint64, groups)
	for i := range gids {
		gids[i] = uint64(100 + i)
	}
	c := newCluster(t, 3, raftgroup.Config{}, false, gids...)
	var wg sync.WaitGroup
	for i, g := range gids {
		wg.Go(func() {
			for j := range 5 {
				n := c.nodes[(i+j)%3]
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				_, err := n.groups[g].Propose(ctx, fmt.Appendf(nil, "g%d-%d=x", g, j))
				cancel()
				if err != nil {
					t.Errorf("group %d propose: %v", g, err)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, g := range gids {
		converged(t, g, 10*time.Second, 5, c.nodes...)
	}
	for _, n := range c.nodes {
		if pc := n.host.PeerCount(); pc != 2 {
			t.Fatalf("node %d has %d peer connections for %d groups, want 2", n.id, pc, groups)
		}
	}
}

func TestTransferLeadership(t *testing.T) {
	c := newCluster(t, 3, raftgroup.Config{}, false, gid)
	l := c.leader(gid, 10*time.Second)
	to := c.nodes[0]
	if to == l {
		to = c.nodes[1]
	}
	propose(t, l.groups[gid], "a=1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.groups[gid].TransferLeadership(ctx, to.id); err != nil {
		t.Fatalf("TransferLeadership: %v", err)
	}
	waitFor(t, 10*time.Second, "the new leader to know it leads", to.groups[gid].IsLeader)
	propose(t, l.groups[gid], "b=2")
	converged(t, gid, 10*time.Second, 2, c.nodes...)
}

// MemoryStorage (etcd's, wrapped) runs a group too, and a host restarted on the same
// MemoryStorage resumes where it was.
func TestMemoryStorage(t *testing.T) {
	hosts := make([]*raftgroup.Host, 3)
	var peers []raftgroup.Peer
	for i := range hosts {
		h, err := raftgroup.NewHost(raftgroup.Config{NodeID: uint64(i + 1), ListenAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		hosts[i] = h
		t.Cleanup(func() { hosts[i].Stop() })
		peers = append(peers, raftgroup.Peer{ID: uint64(i + 1), Addr: h.Addr()})
	}
	stores := make([]*raftgroup.MemoryStorage, 3)
	sms := make([]*kv, 3)
	groups := make([]*raftgroup.Group, 3)
	for i, h := range hosts {
		stores[i], sms[i] = raftgroup.NewMemoryStorage(), newKV()
		g, err := h.StartGroup(raftgroup.GroupConfig{ID: gid, StateMachine: sms[i], Storage: stores[i], Peers: peers})
		if err != nil {
			t.Fatal(err)
		}
		groups[i] = g
	}
	for i := range 6 {
		propose(t, groups[i%3], fmt.Sprintf("m%d=v", i))
	}
	// Restart node 3's host on its storage (and a fresh state machine: it replays).
	addr := hosts[2].Addr()
	hosts[2].Stop()
	h, err := raftgroup.NewHost(raftgroup.Config{NodeID: 3, ListenAddr: addr})
	if err != nil {
		t.Skipf("port %s not free again: %v", addr, err)
	}
	hosts[2] = h
	sms[2] = newKV()
	if groups[2], err = h.StartGroup(raftgroup.GroupConfig{ID: gid, StateMachine: sms[2], Storage: stores[2]}); err != nil {
		t.Fatal(err)
	}
	propose(t, groups[0], "after=restart")
	waitFor(t, 10*time.Second, "node 3 replayed and caught up", func() bool {
		return fmt.Sprint(sms[2].log()) == fmt.Sprint(sms[0].log()) && len(sms[0].log()) == 7
	})
}
