package shards_test

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/membertest"
	"github.com/latchid/latch/cluster/raftgroup"
	"github.com/latchid/latch/cluster/shards"
)

const testShards = 64

// kv is the tests' state machine: "k=v" sets k.
type kv struct {
	mu sync.Mutex
	M  map[string]string
}

func newKV() *kv { return &kv{M: map[string]string{}} }

func (s *kv) Apply(index uint64, data []byte) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, v, _ := strings.Cut(string(data), "=")
	s.M[k] = v
	return index
}

func (s *kv) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(s.M)) {
		fmt.Fprintf(&b, "%s=%s\n", k, s.M[k])
	}
	return []byte(b.String()), nil
}

func (s *kv) Restore(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.M = map[string]string{}
	for line := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			s.M[k] = v
		}
	}
	return nil
}

func (s *kv) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.M[k]
	return v, ok
}

// memReplicas keeps every shard's replica in memory and counts the drops.
type memReplicas struct {
	mu    sync.Mutex
	sms   map[uint32]*kv
	logs  map[uint32]*raftgroup.MemoryStorage
	drops map[uint32]int
}

func newMemReplicas() *memReplicas {
	return &memReplicas{sms: map[uint32]*kv{}, logs: map[uint32]*raftgroup.MemoryStorage{}, drops: map[uint32]int{}}
}

func (r *memReplicas) Open(s uint32) (shards.Replica, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sms[s] == nil {
		r.sms[s], r.logs[s] = newKV(), raftgroup.NewMemoryStorage()
	}
	return shards.Replica{StateMachine: r.sms[s], Storage: r.logs[s]}, nil
}

func (r *memReplicas) Drop(s uint32) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.sms, s)
	delete(r.logs, s)
	r.drops[s]++
	return nil
}

func (r *memReplicas) sm(s uint32) *kv {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sms[s]
}

func (r *memReplicas) dropped(s uint32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.drops[s]
}

const deadGrace = time.Minute

// testLogger logs to stderr when SHARDS_DEBUG is set.
func testLogger() *slog.Logger {
	if os.Getenv("SHARDS_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tnode struct {
	id       uint64
	host     *raftgroup.Host
	mgr      *shards.Manager
	replicas *memReplicas
	cancel   context.CancelFunc
	done     chan struct{}

	evMu   sync.Mutex
	events map[uint32][]raftgroup.Leadership
}

func (n *tnode) leadershipEvents(s uint32) []raftgroup.Leadership {
	n.evMu.Lock()
	defer n.evMu.Unlock()
	return slices.Clone(n.events[s])
}

type testCluster struct {
	t       *testing.T
	members *membertest.Members
	clock   *membertest.Clock
	nodes   map[uint64]*tnode
	// interval is the managers' Config.Interval (default 100ms here).
	interval time.Duration
	// host is the hosts' configuration (NodeID and ListenAddr are set per node).
	host raftgroup.Config
}

func newTestCluster(t *testing.T) *testCluster {
	return &testCluster{t: t, members: membertest.NewMembers(), clock: membertest.NewClock(time.Unix(1_000_000, 0)), nodes: map[uint64]*tnode{}}
}

// add starts node id (founding the cluster when bootstrap) and makes it a live member.
func (c *testCluster) add(id uint64, bootstrap bool) *tnode {
	c.t.Helper()
	return c.start(id, bootstrap, newMemReplicas())
}

// restart starts a stopped node again on its replicas, at a new raft address.
func (c *testCluster) restart(id uint64) *tnode {
	c.t.Helper()
	return c.start(id, false, c.nodes[id].replicas)
}

func (c *testCluster) start(id uint64, bootstrap bool, replicas *memReplicas) *tnode {
	c.t.Helper()
	hc := c.host
	hc.NodeID, hc.ListenAddr = id, "127.0.0.1:0"
	h, err := raftgroup.NewHost(hc)
	if err != nil {
		c.t.Fatal(err)
	}
	n := &tnode{id: id, host: h, replicas: replicas, done: make(chan struct{}), events: map[uint32][]raftgroup.Leadership{}}
	interval := c.interval
	if interval == 0 {
		interval = 100 * time.Millisecond
	}
	n.mgr, err = shards.New(shards.Config{
		NodeID: id, Host: h, Shards: testShards, Bootstrap: bootstrap,
		Members: c.members, Storage: n.replicas, DeadGrace: deadGrace,
		Interval: interval, ChangeTimeout: 5 * time.Second,
		Now: c.clock.Now, Logger: testLogger(),
		OnLeadership: func(s uint32, l raftgroup.Leadership) {
			n.evMu.Lock()
			n.events[s] = append(n.events[s], l)
			n.evMu.Unlock()
		},
	})
	if err != nil {
		h.Stop()
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { n.mgr.Run(ctx); close(n.done) }()
	c.nodes[id] = n
	c.t.Cleanup(n.kill)
	c.members.Join(id, h.Addr())
	return n
}

// kill stops the node without a leave: its manager, then its host.
func (n *tnode) kill() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.host.Stop()
	n.cancel = nil
}

func (c *testCluster) alive() []*tnode {
	var out []*tnode
	for _, id := range slices.Sorted(maps.Keys(c.nodes)) {
		if n := c.nodes[id]; n.cancel != nil {
			out = append(out, n)
		}
	}
	return out
}

// leader returns the live node leading shard s and ready there, or nil.
func (c *testCluster) leader(s uint32) *tnode {
	for _, n := range c.alive() {
		if n.mgr.LeaderReady(s) {
			return n
		}
	}
	return nil
}

// placed waits until every shard's group is exactly Place(ids, s, 3) as voters, with
// no learner, and no other live node runs a replica of it.
func (c *testCluster) placed(timeout time.Duration, ids ...uint64) {
	c.t.Helper()
	var last string
	waitFor(c.t, timeout, func() string { return fmt.Sprintf("every shard placed on %v (%s)", ids, last) }, func() bool {
		for s := range uint32(testShards) {
			want := slices.Sorted(slices.Values(shards.Place(ids, s, 3)))
			l := c.leader(s)
			if l == nil {
				last = fmt.Sprintf("shard %d: no ready leader", s)
				return false
			}
			st, _ := l.mgr.Status(s)
			if !slices.Equal(st.Voters, want) || len(st.Learners) > 0 {
				last = fmt.Sprintf("shard %d: voters %v learners %v, want voters %v", s, st.Voters, st.Learners, want)
				return false
			}
			for _, n := range c.alive() {
				if hosts := slices.Contains(n.mgr.Hosted(), s); hosts != slices.Contains(want, n.id) {
					last = fmt.Sprintf("shard %d: node %d hosts it: %v", s, n.id, hosts)
					return false
				}
			}
		}
		return true
	})
}

// proposeAll writes key=val on every shard through a node holding it and checks that
// every replica applied it.
func (c *testCluster) proposeAll(key, val string) {
	c.t.Helper()
	for s := range uint32(testShards) {
		var via *tnode
		for _, n := range c.alive() {
			if slices.Contains(n.mgr.Hosted(), s) {
				via = n
				break
			}
		}
		if via == nil {
			c.t.Fatalf("shard %d: no live replica", s)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := via.mgr.Propose(ctx, s, []byte(key+"="+val))
		cancel()
		if err != nil {
			c.t.Fatalf("propose on shard %d via node %d: %v", s, via.id, err)
		}
	}
}

// replicated waits until every replica of every shard holds key=val.
func (c *testCluster) replicated(timeout time.Duration, key, val string) {
	c.t.Helper()
	var last string
	waitFor(c.t, timeout, func() string { return fmt.Sprintf("%s=%s on every replica (%s)", key, val, last) }, func() bool {
		for _, n := range c.alive() {
			for _, s := range n.mgr.Hosted() {
				sm := n.replicas.sm(s)
				if sm == nil {
					continue
				}
				if v, ok := sm.get(key); !ok || v != val {
					last = fmt.Sprintf("node %d shard %d: %q", n.id, s, v)
					return false
				}
			}
		}
		return true
	})
}

// grow founds the cluster on node 1 and adds nodes 2..size, waiting after each for
// the placement.
func (c *testCluster) grow(size int) {
	c.t.Helper()
	c.add(1, true)
	ids := []uint64{1}
	c.placed(20*time.Second, ids...)
	for id := uint64(2); id <= uint64(size); id++ {
		c.add(id, false)
		ids = append(ids, id)
		c.placedOrLearners(30*time.Second, ids...)
	}
}

// placedOrLearners is placed, except that with two live nodes the second replica of
// each shard stays a learner (an odd number of voters).
func (c *testCluster) placedOrLearners(timeout time.Duration, ids ...uint64) {
	c.t.Helper()
	if len(ids) != 2 {
		c.placed(timeout, ids...)
		return
	}
	var last string
	waitFor(c.t, timeout, func() string { return "two-node placement: " + last }, func() bool {
		for s := range uint32(testShards) {
			l := c.leader(s)
			if l == nil {
				last = fmt.Sprintf("shard %d: no ready leader", s)
				return false
			}
			st, _ := l.mgr.Status(s)
			if len(st.Voters) != 1 || len(st.Learners) != 1 || !slices.Equal(slices.Sorted(slices.Values(slices.Concat(st.Voters, st.Learners))), ids) {
				last = fmt.Sprintf("shard %d: voters %v learners %v", s, st.Voters, st.Learners)
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, timeout time.Duration, what func() string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
