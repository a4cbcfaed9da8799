package cluster_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/membertest"
	"github.com/latchid/latch/cluster/raftgroup"
)

type apSM struct{}

func (apSM) Apply(uint64, []byte) any  { return nil }
func (apSM) Snapshot() ([]byte, error) { return nil, nil }
func (apSM) Restore([]byte) error      { return nil }

// apNode is one raft host with group 1 and its autopilot.
type apNode struct {
	id      uint64
	addr    string
	storage *raftgroup.MemoryStorage
	host    *raftgroup.Host
	group   *raftgroup.Group
	stop    context.CancelFunc
	done    chan struct{}
}

type apCluster struct {
	t       *testing.T
	members *membertest.Members
	clock   *membertest.Clock
	nodes   map[uint64]*apNode
}

const apGrace = time.Minute

func (c *apCluster) start(id uint64, bootstrap bool) *apNode {
	c.t.Helper()
	n := c.nodes[id]
	if n == nil {
		n = &apNode{id: id, addr: "127.0.0.1:0", storage: raftgroup.NewMemoryStorage()}
		c.nodes[id] = n
	}
	var h *raftgroup.Host
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// Fast ticks: elections and catch-up in tens of milliseconds.
		h, err = raftgroup.NewHost(raftgroup.Config{NodeID: id, ListenAddr: n.addr, TickInterval: 10 * time.Millisecond})
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		c.t.Fatal(err)
	}
	n.host, n.addr = h, h.Addr()
	var peers []raftgroup.Peer
	if bootstrap {
		peers = []raftgroup.Peer{{ID: id, Addr: n.addr}}
	}
	if n.group, err = h.StartGroup(raftgroup.GroupConfig{ID: 1, StateMachine: apSM{}, Storage: n.storage, Peers: peers}); err != nil {
		c.t.Fatal(err)
	}
	ap, err := cluster.NewAutopilot(cluster.AutopilotConfig{
		Self: id, Group: n.group, Members: c.members, DeadGrace: apGrace,
		Interval: 10 * time.Millisecond, Now: c.clock.Now,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stop, n.done = cancel, make(chan struct{})
	go func() { ap.Run(ctx); close(n.done) }()
	c.members.Join(id, n.addr)
	return n
}

func (c *apCluster) kill(id uint64) {
	n := c.nodes[id]
	n.stop()
	<-n.done
	n.host.Stop()
}

func (c *apCluster) leader() *apNode {
	for _, n := range c.nodes {
		if n.group != nil && n.group.IsLeader() {
			return n
		}
	}
	return nil
}

// waitConfig waits until the leader's configuration is voters, learners.
func (c *apCluster) waitConfig(voters, learners []uint64) {
	c.t.Helper()
	var last raftgroup.Status
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if l := c.leader(); l != nil {
			last = l.group.Status()
			if slices.Equal(last.Voters, voters) && slices.Equal(last.Learners, learners) {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatalf("configuration: voters %v learners %v, want voters %v learners %v", last.Voters, last.Learners, voters, learners)
}

// The autopilot follows membership: new nodes become learners, caught-up learners
// voters (at most an odd number, up to 5), a node that leaves gracefully is removed at
// once and replaced by a learner, a dead one only after the grace period, and a node
// that comes back is added again.
func TestAutopilotFollowsMembership(t *testing.T) {
	c := &apCluster{t: t, members: membertest.NewMembers(), clock: membertest.NewClock(time.Unix(1e9, 0)), nodes: map[uint64]*apNode{}}
	t.Cleanup(func() {
		for id, n := range c.nodes {
			if n.host != nil {
				c.kill(id)
			}
		}
	})
	c.start(1, true)
	c.waitConfig([]uint64{1}, nil)
	// A second node: a learner, not promoted (two voters tolerate no more failures than
	// one and need both).
	c.start(2, false)
	c.waitConfig([]uint64{1}, []uint64{2})
	c.start(3, false)
	c.waitConfig([]uint64{1, 2, 3}, nil)
	c.start(4, false)
	c.waitConfig([]uint64{1, 2, 3}, []uint64{4})

	// A voter that is not the leader leaves gracefully: removed at once, the learner
	// takes its place, without the clock moving.
	l := c.leader()
	var leaving uint64
	for _, id := range []uint64{1, 2, 3} {
		if id != l.id {
			leaving = id
			break
		}
	}
	c.kill(leaving)
	c.nodes[leaving].host = nil
	c.members.Gone(leaving, true)
	var rest []uint64
	for _, id := range []uint64{1, 2, 3, 4} {
		if id != leaving {
			rest = append(rest, id)
		}
	}
	c.waitConfig(rest, nil)

	// A voter that dies stays a member during the grace period, then is removed.
	l = c.leader()
	var dead uint64
	for _, id := range rest {
		if id != l.id {
			dead = id
			break
		}
	}
	c.kill(dead)
	c.members.Gone(dead, false)
	// Reconciled many times over (10 ms interval) while the clock stands still.
	for range 5 {
		time.Sleep(50 * time.Millisecond)
		if st := l.group.Status(); !slices.Contains(st.Voters, dead) {
			t.Fatalf("dead node %d removed before the grace period: voters %v", dead, st.Voters)
		}
	}
	c.clock.Advance(apGrace + time.Second)
	var two []uint64
	for _, id := range rest {
		if id != dead {
			two = append(two, id)
		}
	}
	c.waitConfig(two, nil)

	// The dead node comes back on its storage: added again, and promoted (3 voters).
	c.start(dead, false)
	c.waitConfig(rest, nil)
}

type followerGroup struct{ cluster.AutopilotGroup }

func (followerGroup) IsLeader() bool { return false }
func (followerGroup) Status() raftgroup.Status {
	return raftgroup.Status{Group: 1, Node: 1, Leader: 2, Voters: []uint64{1, 2, 3}}
}

type peerBook map[uint64]string

func (p peerBook) SetPeerAddr(id uint64, addr string) { p[id] = addr }

// Every node, leader or not, takes the members' raft addresses from gossip, so a member
// restarted on another --raft address is reached there; a follower changes nothing.
func TestAutopilotLearnsRaftAddresses(t *testing.T) {
	members := membertest.NewMembers()
	members.Join(1, "10.0.0.1:7003")
	members.Join(2, "10.0.0.2:7003")
	members.Join(3, "10.0.0.3:9999")
	book := peerBook{}
	ap, err := cluster.NewAutopilot(cluster.AutopilotConfig{Self: 1, Group: followerGroup{}, Members: members, Peers: book})
	if err != nil {
		t.Fatal(err)
	}
	if ap.Reconcile(t.Context()) {
		t.Fatal("a follower's autopilot made a configuration change")
	}
	want := peerBook{2: "10.0.0.2:7003", 3: "10.0.0.3:9999"}
	if !maps.Equal(book, want) {
		t.Fatalf("peer addresses = %v, want %v", book, want)
	}
}
