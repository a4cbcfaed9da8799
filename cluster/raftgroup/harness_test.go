package raftgroup_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/latchid/latch/cluster/raftgroup"
	"github.com/latchid/latch/persistence"
)

// kv is the tiny state machine of the tests: "k=v" sets k; it keeps the order of what it
// applied, so replicas can be compared entry by entry.
type kv struct {
	mu       sync.Mutex
	M        map[string]string
	Log      []string
	restores int
	applied  uint64 // index of the last entry applied (not carried by snapshots)
}

func newKV() *kv { return &kv{M: map[string]string{}} }

func (s *kv) Apply(index uint64, data []byte) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied = index
	k, v, _ := strings.Cut(string(data), "=")
	s.M[k] = v
	s.Log = append(s.Log, string(data))
	return len(s.Log)
}

func (s *kv) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return json.Marshal(struct {
		M   map[string]string
		Log []string
	}{s.M, s.Log})
}

func (s *kv) Restore(b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var st struct {
		M   map[string]string
		Log []string
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	s.M, s.Log = st.M, st.Log
	if s.M == nil {
		s.M = map[string]string{}
	}
	s.restores++
	return nil
}

func (s *kv) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.M[k]
	return v, ok
}

func (s *kv) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.Log...)
}

func (s *kv) appliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *kv) restoreCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restores
}

// node is one member of a test cluster: a Host, a Pebble raft log on its own file
// system (crashable in memory, or a real directory), and one kv per group.
type node struct {
	t      *testing.T
	id     uint64
	addr   string
	dir    string
	fs     vfs.FS
	cfg    raftgroup.Config
	host   *raftgroup.Host
	log    *persistence.RaftLog
	sms    map[uint64]*kv
	groups map[uint64]*raftgroup.Group
}

func newNode(t *testing.T, id uint64, cfg raftgroup.Config, disk bool) *node {
	n := &node{t: t, id: id, addr: "127.0.0.1:0", dir: "raft", fs: vfs.NewCrashableMem(), cfg: cfg}
	if disk {
		n.dir, n.fs = t.TempDir(), vfs.Default
	}
	n.open()
	t.Cleanup(n.stop)
	return n
}

func (n *node) open() {
	n.t.Helper()
	rl, err := persistence.OpenRaftLog(persistence.RaftLogConfig{Dir: n.dir, FS: n.fs})
	if err != nil {
		n.t.Fatal(err)
	}
	cfg := n.cfg
	cfg.NodeID, cfg.ListenAddr = n.id, n.addr
	var h *raftgroup.Host
	// The port of a stopped host may take a moment to come free.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h, err = raftgroup.NewHost(cfg)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		n.t.Fatal(err)
	}
	n.host, n.log, n.addr = h, rl, h.Addr()
	n.sms, n.groups = map[uint64]*kv{}, map[uint64]*raftgroup.Group{}
}

func (n *node) start(gid uint64, peers []raftgroup.Peer) {
	n.t.Helper()
	n.startWith(gid, peers, newKV(), 0)
}

// startWith starts group gid on state machine sm, which applied up to applied already.
func (n *node) startWith(gid uint64, peers []raftgroup.Peer, sm *kv, applied uint64) {
	n.t.Helper()
	st, err := n.log.Group(gid)
	if err != nil {
		n.t.Fatal(err)
	}
	g, err := n.host.StartGroup(raftgroup.GroupConfig{ID: gid, StateMachine: sm, Storage: st, Peers: peers, Applied: applied})
	if err != nil {
		n.t.Fatal(err)
	}
	n.sms[gid], n.groups[gid] = sm, g
}

// stop is a clean shutdown.
func (n *node) stop() {
	if n.host == nil {
		return
	}
	n.host.Stop()
	n.log.Close()
	n.host, n.log = nil, nil
}

// crash stops the node and keeps only what was synced to its file system.
func (n *node) crash() {
	mem, ok := n.fs.(*vfs.MemFS)
	if !ok {
		n.t.Fatal("crash needs a crashable file system")
	}
	n.host.Stop()
	n.fs = mem.CrashClone(vfs.CrashCloneCfg{})
	n.log.Close()
	n.host, n.log = nil, nil
}

// restart reopens the node on its storage, at its address, with the groups it had.
func (n *node) restart(gids ...uint64) {
	n.t.Helper()
	n.open()
	for _, gid := range gids {
		n.start(gid, nil)
	}
}

type cluster struct {
	t     *testing.T
	nodes []*node
}

func newCluster(t *testing.T, size int, cfg raftgroup.Config, disk bool, gids ...uint64) *cluster {
	c := &cluster{t: t}
	var peers []raftgroup.Peer
	for i := range size {
		n := newNode(t, uint64(i+1), cfg, disk)
		c.nodes = append(c.nodes, n)
		peers = append(peers, raftgroup.Peer{ID: n.id, Addr: n.addr})
	}
	for _, n := range c.nodes {
		for _, gid := range gids {
			n.start(gid, peers)
		}
	}
	return c
}

func (c *cluster) node(id uint64) *node { return c.nodes[id-1] }

// leader waits for a leader of group gid among the running nodes.
func (c *cluster) leader(gid uint64, timeout time.Duration) *node {
	c.t.Helper()
	var l *node
	waitFor(c.t, timeout, fmt.Sprintf("a leader of group %d", gid), func() bool {
		for _, n := range c.nodes {
			if n.host != nil && n.groups[gid] != nil && n.groups[gid].IsLeader() {
				l = n
				return true
			}
		}
		return false
	})
	return l
}

// other returns the first node of c that is not n.
func (c *cluster) other(n *node) *node {
	for _, x := range c.nodes {
		if x != n {
			return x
		}
	}
	return nil
}

// converged waits until every given node applied the same entries as want.
func converged(t *testing.T, gid uint64, timeout time.Duration, want int, nodes ...*node) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d entries applied alike on group %d", want, gid), func() bool {
		ref := nodes[0].sms[gid].log()
		if len(ref) != want {
			return false
		}
		for _, n := range nodes[1:] {
			if fmt.Sprint(n.sms[gid].log()) != fmt.Sprint(ref) {
				return false
			}
		}
		return true
	})
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func propose(t *testing.T, g *raftgroup.Group, data string) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := g.Propose(ctx, []byte(data))
	if err != nil {
		t.Fatalf("propose %q on group %d: %v", data, g.ID(), err)
	}
	return v
}
