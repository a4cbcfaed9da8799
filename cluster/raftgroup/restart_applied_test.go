package raftgroup_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// A state machine that kept what it applied (GroupConfig.Applied) is not handed those
// entries again on a restart, nor restored from the older snapshot in the log; the
// configuration changes between that snapshot and Applied still take effect.
func TestRestartDoesNotRedeliverApplied(t *testing.T) {
	cfg := raftgroup.Config{SnapshotEvery: 4, SnapshotCatchUpEntries: 2}
	n1 := newNode(t, 1, cfg, false)
	n1.start(gid, []raftgroup.Peer{{ID: 1, Addr: n1.addr}})
	waitFor(t, 10*time.Second, "node 1 leads", n1.groups[gid].IsLeader)
	for i := range 6 {
		propose(t, n1.groups[gid], fmt.Sprintf("k%d=v", i))
	}
	// A learner added after the last snapshot, then one more entry: the log holds a
	// configuration change and an entry past the snapshot.
	n2 := newNode(t, 2, cfg, false)
	n2.start(gid, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n1.groups[gid].AddLearner(ctx, 2, n2.addr); err != nil {
		t.Fatalf("AddLearner: %v", err)
	}
	propose(t, n1.groups[gid], "last=v")

	sm := n1.sms[gid]
	applied := sm.appliedIndex()
	before := sm.log()
	restores := sm.restoreCount()
	n1.stop()
	n1.open()
	n1.startWith(gid, nil, sm, applied)
	waitFor(t, 10*time.Second, "node 1 leads again", n1.groups[gid].IsLeader)
	propose(t, n1.groups[gid], "after=restart")

	if got, want := sm.log(), append(slices.Clone(before), "after=restart"); !slices.Equal(got, want) {
		t.Fatalf("state machine log after restart =\n%v\nwant\n%v\n(entries re-delivered or lost)", got, want)
	}
	if sm.restoreCount() != restores {
		t.Fatal("the state machine was restored from the older snapshot on restart")
	}
	st := n1.groups[gid].Status()
	if !slices.Equal(st.Learners, []uint64{2}) {
		t.Fatalf("learners after restart = %v, want [2] (the configuration change after the snapshot)", st.Learners)
	}
	if st.Applied < applied+1 || n1.groups[gid].AppliedIndex() < applied+1 {
		t.Fatalf("applied = %d / %d, want past %d", st.Applied, n1.groups[gid].AppliedIndex(), applied)
	}
	converged(t, gid, 10*time.Second, len(before)+1, n1, n2)
}

// A node that bootstraps a group over a state machine that already holds state (a
// single node turned into a cluster) hands that state to every node added later: they
// start from the snapshot taken right after the bootstrap, not from an empty state
// replaying the log.
func TestBootstrapStateReachesNewMembers(t *testing.T) {
	n1 := newNode(t, 1, raftgroup.Config{}, false)
	pre := newKV()
	pre.M["existing"] = "before-the-log"
	pre.Log = []string{"existing=before-the-log"}
	n1.startWith(gid, []raftgroup.Peer{{ID: 1, Addr: n1.addr}}, pre, 0)
	waitFor(t, 10*time.Second, "node 1 leads", n1.groups[gid].IsLeader)
	propose(t, n1.groups[gid], "a=1")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var added []*node
	for id := uint64(2); id <= 3; id++ {
		n := newNode(t, id, raftgroup.Config{}, false)
		n.start(gid, nil)
		if err := n1.groups[gid].AddLearner(ctx, id, n.addr); err != nil {
			t.Fatalf("AddLearner %d: %v", id, err)
		}
		added = append(added, n)
	}
	// Node 3 as a voter too: promotion works from the snapshot's state.
	if err := n1.groups[gid].AddVoter(ctx, 3, added[1].addr); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	propose(t, n1.groups[gid], "b=2")
	converged(t, gid, 10*time.Second, 3, n1, added[0], added[1])
	for _, n := range added {
		if v, ok := n.sms[gid].get("existing"); !ok || v != "before-the-log" {
			t.Fatalf("node %d lacks the bootstrapping node's prior state (existing=%q)", n.id, v)
		}
		if n.sms[gid].restoreCount() == 0 {
			t.Fatalf("node %d caught up without a snapshot", n.id)
		}
	}
}

// A node alone in its group leads without waiting an election timeout (here far longer
// than the test's patience), when it bootstraps and when it restarts; HasState tells a
// new node from a restarted one.
func TestSoleVoterLeadsAtOnce(t *testing.T) {
	cfg := raftgroup.Config{ElectionTicks: 100000}
	n := newNode(t, 1, cfg, false)
	st, err := n.log.Group(gid)
	if err != nil {
		t.Fatal(err)
	}
	if has, err := raftgroup.HasState(st); err != nil || has {
		t.Fatalf("HasState of an empty log = %v, %v", has, err)
	}
	n.start(gid, []raftgroup.Peer{{ID: 1, Addr: n.addr}})
	waitFor(t, 10*time.Second, "the sole voter to lead", n.groups[gid].IsLeader)
	propose(t, n.groups[gid], "a=1")
	n.stop()
	n.open()
	st, err = n.log.Group(gid)
	if err != nil {
		t.Fatal(err)
	}
	if has, err := raftgroup.HasState(st); err != nil || !has {
		t.Fatalf("HasState after a bootstrap = %v, %v", has, err)
	}
	n.start(gid, nil)
	waitFor(t, 10*time.Second, "the restarted sole voter to lead", n.groups[gid].IsLeader)
	propose(t, n.groups[gid], "b=2")
}
