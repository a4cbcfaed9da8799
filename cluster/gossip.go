package cluster

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/hashicorp/memberlist"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/cluster/clusterpb"
)

// gossipProvider is the protoactor ClusterProvider backed by hashicorp/memberlist.
//
// memberlist calls the delegate methods below with its node lock held, from its own
// goroutines, so they must not block: each copies what it needs into nodes and signals
// the one-slot changed channel. One goroutine (rebuild) turns nodes into
// []*cluster.Member and hands them to the topology sink (the identity lookup).
//
// The members are deliberately not fed to protoactor's MemberList
// (UpdateClusterTopology): for every member that leaves, it writes protoactor's
// remote.BlockList, whose readers (the gossip loop, the endpoint reader) take no lock,
// a data race the race detector reports in every test where a member leaves. Nothing
// Latch uses needs the MemberList, and Start stops protoactor's own gossip.
//
// Which members count: memberlist reports a join, a metadata update, and a death or
// leave; it has no event for "suspect", and Memberlist.Members() returns pointers into
// its state that it mutates under a private lock, so reading Node.State from them is a
// data race. A member therefore counts from its join until memberlist declares it dead
// or left; the suspicion window is tuned with GossipTiming (see FastGossip).
type gossipProvider struct {
	cfg      Config
	logger   *slog.Logger // Latch's own membership logs
	mlLogger *slog.Logger // memberlist's logs, level-filtered

	meta    atomic.Pointer[[]byte] // this member's NodeMeta, set before memberlist.Create
	metaMsg *clusterpb.NodeMeta    // what meta encodes; changed only by announceLeaving

	mu    sync.Mutex
	nodes map[string]gossipNode // memberlist node name (= node id) -> last known
	// departed: node id -> true when the node left gracefully, false when memberlist
	// declared it dead; cleared when it comes back.
	departed map[uint64]bool
	// dead: memberlist name -> where and when a member was declared dead, tried again
	// by reconnect until it comes back or ReconnectTimeout passes.
	dead map[string]deadNode
	// leaving: memberlist names whose leave notice (leaveNotice) arrived before their
	// leave; cleared when they leave or join again.
	leaving map[string]bool
	// watch is closed (and replaced) on every membership change: Node.MembershipChanged.
	watch chan struct{}

	changed chan struct{} // one slot: "nodes changed, rebuild"
	stop    chan struct{}
	wg      sync.WaitGroup

	ml        *memberlist.Memberlist
	stopOnce  sync.Once
	leaveOnce sync.Once // announceLeaving

	joined atomic.Bool // a seed of cfg.Join answered

	// topology receives every new member set, from the rebuild goroutine only.
	topology func(cluster.Members)
}

type deadNode struct {
	gossip    string
	at, tried time.Time // declared dead; last tried
}

type gossipNode struct {
	meta   []byte
	gossip string // memberlist address, host:port
}

// NodeInfo describes one live member as gossiped.
type NodeInfo struct {
	// NodeID is the member's persisted node id (Config.NodeID).
	NodeID uint64 `json:"-"`
	// ID is NodeID as FormatNodeID renders it (the memberlist node name).
	ID string `json:"id"`
	// Address is the actor-remoting address, host:port.
	Address string `json:"address"`
	// Gossip is the memberlist address, host:port.
	Gossip string `json:"gossip"`
	// Raft is the advertised raft transport address; empty when none.
	Raft string `json:"raft,omitempty"`
	// SystemID is the actor-system id of the member's current process start.
	SystemID string `json:"systemId"`
	// Leaving: the member announced a graceful leave and is about to go.
	Leaving bool `json:"leaving,omitempty"`
}

var (
	_ cluster.ClusterProvider  = (*gossipProvider)(nil)
	_ memberlist.Delegate      = (*gossipProvider)(nil)
	_ memberlist.EventDelegate = (*gossipProvider)(nil)
)

func newGossipProvider(cfg Config, logger, mlLogger *slog.Logger, topology func(cluster.Members)) *gossipProvider {
	return &gossipProvider{
		cfg:      cfg,
		logger:   logger,
		mlLogger: mlLogger,
		topology: topology,
		nodes:    map[string]gossipNode{},
		departed: map[uint64]bool{},
		dead:     map[string]deadNode{},
		leaving:  map[string]bool{},
		watch:    make(chan struct{}),
		changed:  make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
}

// StartMember creates the memberlist (which reports this member to itself), starts the
// rebuild loop and the background join. Called by protoactor's Cluster.StartMember
// after remoting started, so the actor-system address is known.
func (p *gossipProvider) StartMember(c *cluster.Cluster) error {
	p.metaMsg = &clusterpb.NodeMeta{
		Address:     c.ActorSystem.Address(),
		Kinds:       c.GetClusterKinds(),
		NodeId:      p.cfg.NodeID,
		SystemId:    c.ActorSystem.ID,
		RaftAddress: p.cfg.RaftAddr,
	}
	meta, err := proto.Marshal(p.metaMsg)
	if err != nil {
		return fmt.Errorf("cluster: encode node metadata: %w", err)
	}
	if len(meta) > memberlist.MetaMaxSize {
		return fmt.Errorf("cluster: node metadata is %d bytes, memberlist allows %d: fewer or shorter kind names",
			len(meta), memberlist.MetaMaxSize)
	}
	p.meta.Store(&meta)

	host, port, err := splitGossipAddr(p.cfg.GossipAddr)
	if err != nil {
		return fmt.Errorf("cluster: gossip address: %w", err)
	}
	mc := p.cfg.Gossip.memberlistConfig()
	// The memberlist name is the persisted node id: a member restarted on its data
	// directory is the same node to the others. memberlist takes it back from the dead
	// or left state of its previous run: seeing itself reported dead, it refutes with
	// a higher incarnation. A member whose address changed may take its name back once
	// the old one has been dead for DeadNodeReclaimTime. The actor-system id, fresh per
	// start, stays protoactor's member id (cluster.Member.Id, from the metadata).
	mc.Name = FormatNodeID(p.cfg.NodeID)
	mc.DeadNodeReclaimTime = mc.GossipToTheDeadTime
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	mc.Label = p.cfg.Name
	mc.Delegate = p
	mc.Events = p
	mc.Logger = newMemberlistLogger(p.mlLogger)

	p.wg.Add(1)
	go p.rebuild()

	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = p.Shutdown(false)
		return fmt.Errorf("cluster: start gossip on %s: %w", p.cfg.GossipAddr, err)
	}
	p.ml = ml
	if len(p.cfg.Join) > 0 {
		p.wg.Add(1)
		go p.join()
	}
	p.wg.Add(1)
	go p.reconnect()
	return nil
}

// reconnect tries, every ReconnectInterval, to join again one member that memberlist
// declared dead (the one tried the longest ago first), as serf's reconnect does. Memberlist
// stops gossiping with a dead member after GossipToTheDeadTime; a member that comes
// back without seeds (a restart without --join, a healed partition) would otherwise
// form a cluster of its own. A member that left gracefully is not tried.
func (p *gossipProvider) reconnect() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.Gossip.ReconnectInterval)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		var name, addr string
		var oldest time.Time
		p.mu.Lock()
		for n, d := range p.dead {
			if time.Since(d.at) > p.cfg.Gossip.ReconnectTimeout {
				delete(p.dead, n)
				continue
			}
			if name == "" || d.tried.Before(oldest) {
				name, addr, oldest = n, d.gossip, d.tried
			}
		}
		p.mu.Unlock()
		if name == "" {
			continue
		}
		if n, err := p.ml.Join([]string{addr}); err == nil && n > 0 {
			p.logger.Info("reconnected to a member declared dead", "member", name, "gossip", addr)
		} else {
			// Try the others first next time.
			p.mu.Lock()
			if d, ok := p.dead[name]; ok {
				d.tried = time.Now()
				p.dead[name] = d
			}
			p.mu.Unlock()
		}
	}
}

// StartClient is not supported: every Latch process is a full member.
func (p *gossipProvider) StartClient(*cluster.Cluster) error {
	return errors.New("cluster: client mode is not supported")
}

// Shutdown stops gossiping. When graceful, it first broadcasts a leave so peers drop
// this member at once instead of waiting for the failure detector. Safe to call twice.
func (p *gossipProvider) Shutdown(graceful bool) error {
	var err error
	p.stopOnce.Do(func() {
		close(p.stop)
		p.wg.Wait()
		if p.ml == nil {
			return
		}
		if graceful {
			p.announceLeaving()
			if lerr := p.ml.Leave(p.cfg.Gossip.LeaveTimeout); lerr != nil {
				err = fmt.Errorf("cluster: leave: %w", lerr)
			}
		}
		err = errors.Join(err, p.ml.Shutdown())
	})
	return err
}

// announceLeaving tells the others that this member is about to leave, not crash:
// memberlist reports both alike (see departures). Once is enough; later calls do
// nothing.
func (p *gossipProvider) announceLeaving() {
	p.leaveOnce.Do(func() {
		if p.ml == nil {
			return
		}
		p.metaMsg.Leaving = true
		p.sendLeaveNotice()
		if meta, err := proto.Marshal(p.metaMsg); err == nil {
			p.meta.Store(&meta)
			if uerr := p.ml.UpdateNode(p.cfg.Gossip.LeaveTimeout); uerr != nil {
				p.logger.Warn("announcing the leave", "error", uerr)
			}
		}
	})
}

// address returns the gossip address this member advertises.
func (p *gossipProvider) address() string {
	if p.ml == nil {
		return ""
	}
	return p.ml.LocalNode().Address()
}

// join joins the seeds, retrying with exponential backoff (capped at JoinRetryMax) until
// one answers or the provider stops.
func (p *gossipProvider) join() {
	defer p.wg.Done()
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		n, err := p.ml.Join(p.cfg.Join)
		if err == nil && n > 0 {
			p.joined.Store(true)
			p.logger.Info("joined cluster", "seeds", p.cfg.Join, "contacted", n)
			return
		}
		p.logger.Warn("join failed, retrying", "seeds", p.cfg.Join, "attempt", attempt, "retry_in", backoff, "error", err)
		select {
		case <-p.stop:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, p.cfg.Gossip.JoinRetryMax)
	}
}

// rebuild turns the known nodes into members each time they change and hands them to
// the topology sink; it is the sink's only caller.
func (p *gossipProvider) rebuild() {
	defer p.wg.Done()
	for {
		select {
		case <-p.stop:
			return
		case <-p.changed:
		}
		p.topology(p.members())
	}
}

// members decodes the metadata of every live node.
func (p *gossipProvider) members() cluster.Members {
	p.mu.Lock()
	snapshot := make(map[string][]byte, len(p.nodes))
	for name, n := range p.nodes {
		snapshot[name] = n.meta
	}
	p.mu.Unlock()

	out := make(cluster.Members, 0, len(snapshot))
	for name, raw := range snapshot {
		var meta clusterpb.NodeMeta
		if err := proto.Unmarshal(raw, &meta); err != nil || meta.Address == "" || meta.SystemId == "" {
			p.logger.Warn("ignoring member with unreadable metadata", "member", name, "error", err)
			continue
		}
		host, portStr, err := net.SplitHostPort(meta.Address)
		port, perr := strconv.Atoi(portStr)
		if err != nil || perr != nil {
			p.logger.Warn("ignoring member with bad address", "member", name, "address", meta.Address)
			continue
		}
		out = append(out, &cluster.Member{
			Id:    meta.SystemId,
			Host:  host,
			Port:  int32(port),
			Kinds: slices.Clone(meta.Kinds),
		})
	}
	return out
}

// hasJoined reports whether this member has joined its cluster: it was given no seeds
// (it founds one), a seed answered, or another member joined it.
func (p *gossipProvider) hasJoined() bool {
	if len(p.cfg.Join) == 0 || p.joined.Load() {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.nodes) > 1
}

// nodeInfos decodes the metadata of every live node, sorted by node id.
func (p *gossipProvider) nodeInfos() []NodeInfo {
	p.mu.Lock()
	snapshot := make([]gossipNode, 0, len(p.nodes))
	leaving := make([]bool, 0, len(p.nodes)) // a leave notice arrived (leaveNotice)
	for name, n := range p.nodes {
		snapshot = append(snapshot, n)
		leaving = append(leaving, p.leaving[name])
	}
	p.mu.Unlock()
	out := make([]NodeInfo, 0, len(snapshot))
	for i, n := range snapshot {
		var meta clusterpb.NodeMeta
		if err := proto.Unmarshal(n.meta, &meta); err != nil || meta.NodeId == 0 {
			continue
		}
		out = append(out, NodeInfo{
			NodeID: meta.NodeId, ID: FormatNodeID(meta.NodeId), Address: meta.Address,
			Gossip: n.gossip, Raft: meta.RaftAddress, SystemID: meta.SystemId, Leaving: meta.Leaving || leaving[i],
		})
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.NodeID, b.NodeID) })
	return out
}

// signal asks the rebuild loop to run; it never blocks.
func (p *gossipProvider) signal() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// NotifyJoin is called by memberlist (node lock held, must not block) when a node
// becomes alive, including this member inside memberlist.Create.
func (p *gossipProvider) NotifyJoin(n *memberlist.Node) {
	p.mu.Lock()
	delete(p.leaving, n.Name) // back, after a leave whose notice came first
	p.mu.Unlock()
	p.put(n)
}

// NotifyUpdate is called by memberlist (must not block) when a node's metadata changes.
func (p *gossipProvider) NotifyUpdate(n *memberlist.Node) { p.put(n) }

// NotifyLeave is called by memberlist (must not block) when a node is declared dead or
// has left. memberlist v0.7.0 does not say which (it never sets Node.State): a member
// leaving gracefully gossips its metadata with leaving set just before its leave, so a
// leave whose last metadata says leaving is one; a leave whose announcement was lost
// counts as a death.
func (p *gossipProvider) NotifyLeave(n *memberlist.Node) {
	var meta clusterpb.NodeMeta
	left := proto.Unmarshal(n.Meta, &meta) == nil && meta.Leaving
	id, _ := ParseNodeID(n.Name)
	addr := n.Address()
	p.mu.Lock()
	left = left || p.leaving[n.Name]
	delete(p.leaving, n.Name)
	delete(p.nodes, n.Name)
	if id != 0 && id != p.cfg.NodeID {
		p.departed[id] = left
	}
	if !left && n.Name != FormatNodeID(p.cfg.NodeID) {
		now := time.Now()
		p.dead[n.Name] = deadNode{gossip: addr, at: now, tried: now}
	}
	p.changedLocked()
	p.mu.Unlock()
	p.signal()
}

func (p *gossipProvider) put(n *memberlist.Node) {
	meta := slices.Clone(n.Meta) // memberlist owns n; copy while its lock is held
	addr := n.Address()
	id, _ := ParseNodeID(n.Name)
	p.mu.Lock()
	p.nodes[n.Name] = gossipNode{meta: meta, gossip: addr}
	delete(p.departed, id)
	delete(p.dead, n.Name)
	p.changedLocked()
	p.mu.Unlock()
	p.signal()
}

// changedLocked wakes the watchers of membership changes (p.mu held; never blocks).
func (p *gossipProvider) changedLocked() {
	close(p.watch)
	p.watch = make(chan struct{})
}

// watchChanges returns a channel closed at the next membership change.
func (p *gossipProvider) watchChanges() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.watch
}

// departures returns the members that left (true) or were declared dead (false) and
// have not come back.
func (p *gossipProvider) departures() map[uint64]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.departed)
}

// NodeMeta returns this member's metadata: its actor-system address and kinds.
func (p *gossipProvider) NodeMeta(limit int) []byte {
	if m := p.meta.Load(); m != nil {
		return *m
	}
	return nil
}

// leaveNotice prefixes the user message a member leaving gracefully sends, over TCP,
// to every other member before its leave (followed by its memberlist name). The
// leaving metadata alone is not enough: memberlist retransmits a broadcast only
// RetransmitMult x log10(n+1) times (2 with four members, gossiped to 3 nodes a
// round), so one observer in three never hears it and counts the leave as a death.
const leaveNotice = "latch.leave:"

// sendLeaveNotice tells every other live member, reliably, that this member is
// leaving; it waits at most LeaveTimeout for all of them.
func (p *gossipProvider) sendLeaveNotice() {
	msg := []byte(leaveNotice + p.ml.LocalNode().Name)
	var wg sync.WaitGroup
	for _, n := range p.ml.Members() {
		if n.Name == p.ml.LocalNode().Name {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.ml.SendReliable(n, msg); err != nil {
				p.logger.Debug("leave notice not delivered", "member", n.Name, "error", err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(p.cfg.Gossip.LeaveTimeout):
	}
}

// NotifyMsg takes a member's leave notice (leaveNotice); it ignores any other user
// message: Latch gossips nothing else. A notice arriving after memberlist already
// reported the leave turns the recorded death into a graceful leave.
func (p *gossipProvider) NotifyMsg(b []byte) {
	name, ok := strings.CutPrefix(string(b), leaveNotice)
	if !ok || name == "" {
		return
	}
	id, _ := ParseNodeID(name)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, live := p.nodes[name]; live {
		if !p.leaving[name] {
			p.leaving[name] = true
			p.changedLocked() // Nodes now reports it leaving
		}
		return
	}
	if left, known := p.departed[id]; known && !left {
		p.departed[id] = true
		delete(p.dead, name)
		p.changedLocked()
	}
}

// GetBroadcasts has nothing to broadcast.
func (p *gossipProvider) GetBroadcasts(overhead, limit int) [][]byte { return nil }

// LocalState has no push/pull state.
func (p *gossipProvider) LocalState(join bool) []byte { return nil }

// MergeRemoteState ignores push/pull state.
func (p *gossipProvider) MergeRemoteState(buf []byte, join bool) {}
