package raftgroup_test

import (
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// recorder is an Observer that keeps what it saw.
type recorder struct {
	mu        sync.Mutex
	leaders   []uint64
	selfLead  bool
	proposals int
	commit    uint64
	applied   uint64
}

func (r *recorder) LeaderChanged(_, leader uint64, self bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.leaders = append(r.leaders, leader)
	r.selfLead = self
}

func (r *recorder) ProposalDone(_ uint64, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.proposals++
	}
}

func (r *recorder) Applied(_, commit, applied uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.commit, r.applied = commit, applied
}

func TestObserverSeesLeaderProposalsAndApplied(t *testing.T) {
	rec := &recorder{}
	n := newNode(t, 1, raftgroup.Config{Observer: rec}, false)
	n.start(gid, []raftgroup.Peer{{ID: 1, Addr: n.addr}})
	waitFor(t, 10*time.Second, "leader", func() bool { return n.groups[gid].IsLeader() })
	propose(t, n.groups[gid], "a=1")
	propose(t, n.groups[gid], "b=2")

	// Applied is reported after the Ready's entries are applied, a moment after the
	// proposer got its answer.
	waitFor(t, 10*time.Second, "applied index observed", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.applied == n.groups[gid].AppliedIndex()
	})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.leaders) == 0 || rec.leaders[len(rec.leaders)-1] != 1 || !rec.selfLead {
		t.Errorf("leader changes %v (self %v), want the last to be node 1, itself", rec.leaders, rec.selfLead)
	}
	if rec.proposals != 2 {
		t.Errorf("proposals observed = %d, want 2", rec.proposals)
	}
	if applied := n.groups[gid].AppliedIndex(); rec.applied != applied || rec.commit < applied {
		t.Errorf("observed commit %d applied %d; group applied %d", rec.commit, rec.applied, applied)
	}
}
