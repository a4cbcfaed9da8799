package raftgroup

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Group is one Raft group on a Host. Its RawNode is owned by one goroutine (run); every
// other method talks to it through channels.
type Group struct {
	id      uint64
	h       *Host
	sm      StateMachine
	storage Storage
	rn      *raft.RawNode

	tickc   chan struct{}
	recvc   chan *pb.Message
	propc   chan proposal
	reportc chan report
	statusc chan chan Status
	stopc   chan struct{}
	done    chan struct{}
	stop    sync.Once

	nextPID atomic.Uint64
	waitMu  sync.Mutex
	waiters map[uint64]chan result

	// leadc is closed (and replaced) when the known leader changes, so that waiting
	// proposers propose again.
	leadMu sync.Mutex
	leadc  chan struct{}

	// Owned by run.
	dedup     *dedup
	confState *pb.ConfState
	applied   uint64
	snapIndex uint64
	// smApplied is GroupConfig.Applied: entries up to it are not handed to the state
	// machine again (it applied them before a restart).
	smApplied uint64
	// acks: for each other voter, when this leader sent the newest heartbeat the voter
	// answered (the voter received it no earlier, and grants no other candidate its
	// vote for an election timeout after); owned by run. quorumAck is the time by
	// which a quorum had (LeaseValid).
	acks      map[uint64]time.Time
	quorumAck atomic.Int64
	// term is the current term as the last Ready's HardState reported it; acks of
	// another term do not count (a follower of a newer leader answers a deposed
	// leader's heartbeat with its own, higher term).
	term uint64
	// transferring: this leader handed its leadership on (raft's lead transferee is
	// set). The transferee campaigns at once, and voters grant it their vote within
	// this leader's lease, so the lease is void until the transfer ends: the leader
	// steps down, or raft aborts the transfer and fresh acknowledgements renew it.
	transferring atomic.Bool
	soleVoter    atomic.Bool // confState's voters are this node alone
	// alone: confState is this node alone, no learner either (Alone). aloneMu is held
	// for reading by each Alone write and for writing by a configuration change
	// about to be proposed, which so waits for those writes; aloneHold counts such
	// changes in progress, during which Alone refuses.
	alone     atomic.Bool
	aloneMu   sync.RWMutex
	aloneHold atomic.Int32
	member    atomic.Bool // confState names this node (IsMember)
	// snapEvery and snapKeep are the group's SnapshotEvery and SnapshotCatchUpEntries
	// (GroupConfig, else the host's Config).
	snapEvery, snapKeep uint64
	// bootstrapIndex is the last bootstrap entry of a group this node bootstrapped,
	// until the snapshot taken once it is applied; 0 otherwise.
	bootstrapIndex uint64
	// memberAdded: a configuration change that added a member was applied since the
	// last snapshot (see maybeSnapshot).
	memberAdded bool
	// campaignAlone: until the first entries are applied, see campaignIfAlone.
	campaignAlone bool
	// commitIdx is the highest commit index a Ready reported (Observer.Applied).
	commitIdx uint64

	lead       atomic.Uint64
	leader     atomic.Bool
	leadership atomic.Pointer[Leadership]
	// onLeadership is GroupConfig.OnLeadership; termStart (owned by run) is the index of
	// the first entry of this node's term as leader, 0 when it does not lead.
	onLeadership func(Leadership)
	termStart    uint64
	err          atomic.Pointer[error]
	appliedIdx   atomic.Uint64
}

type proposal struct {
	data     []byte
	cc       *pb.ConfChangeV2
	transfer uint64 // leadership transfer to this node
	errc     chan error
}

type report struct {
	to    uint64
	snaps int
	ok    bool
}

type result struct {
	v   any
	err error
}

// StartGroup starts group gc.ID on this host: a new group (gc.Peers on empty storage),
// a joining one (no peers, empty storage), or a restarted one (storage holds state).
func (h *Host) StartGroup(gc GroupConfig) (*Group, error) {
	if gc.ID == helloGroup {
		return nil, errors.New("raftgroup: group id 0 is reserved")
	}
	if gc.StateMachine == nil || gc.Storage == nil {
		return nil, errors.New("raftgroup: GroupConfig needs a StateMachine and a Storage")
	}
	hs, _, err := gc.Storage.InitialState()
	if err != nil {
		return nil, err
	}
	last, err := gc.Storage.LastIndex()
	if err != nil {
		return nil, err
	}
	snap, err := gc.Storage.Snapshot()
	if err != nil {
		return nil, err
	}
	g := &Group{
		acks:      map[uint64]time.Time{},
		snapEvery: cmp.Or(gc.SnapshotEvery, h.cfg.SnapshotEvery),
		snapKeep:  cmp.Or(gc.SnapshotCatchUpEntries, h.cfg.SnapshotCatchUpEntries),
		id:        gc.ID,
		h:         h,
		sm:        gc.StateMachine,
		storage:   gc.Storage,
		tickc:     make(chan struct{}, 1),
		recvc:     make(chan *pb.Message, 4096),
		propc:     make(chan proposal, 256),
		reportc:   make(chan report, 1024),
		statusc:   make(chan chan Status),
		stopc:     make(chan struct{}),
		done:      make(chan struct{}),
		waiters:   map[uint64]chan result{},
		confState: &pb.ConfState{},
		leadc:     make(chan struct{}),
		dedup:     newDedup(dedupWindow),
		smApplied: gc.Applied,

		campaignAlone: true,
		onLeadership:  gc.OnLeadership,
	}
	g.leadership.Store(&Leadership{})
	if !raft.IsEmptySnap(snap) {
		// A state machine that kept what it applied past the snapshot keeps its state:
		// restoring the older snapshot would lose the entries it will not be handed again.
		if err := g.restore(snap, gc.Applied < snap.GetMetadata().GetIndex()); err != nil {
			return nil, err
		}
	}
	g.appliedIdx.Store(max(g.applied, g.smApplied))
	c := h.cfg
	// raft.Config.Applied is the snapshot's index, not GroupConfig.Applied: raft
	// rebuilds its configuration from the snapshot's ConfState and the entries after
	// it, so it must see the configuration changes between the snapshot and Applied
	// again; apply hands the state machine only the entries after Applied.
	rc := &raft.Config{
		ID:                        c.NodeID,
		ElectionTick:              c.ElectionTicks,
		HeartbeatTick:             c.HeartbeatTicks,
		Storage:                   gc.Storage,
		Applied:                   g.applied,
		MaxSizePerMsg:             c.MaxSizePerMsg,
		MaxInflightMsgs:           c.MaxInflightMsgs,
		MaxUncommittedEntriesSize: c.MaxUncommittedEntriesSize,
		CheckQuorum:               true,
		PreVote:                   true,
		StepDownOnRemoval:         true,
		Logger:                    &raftLogger{log: h.log.With("group", gc.ID)},
	}
	rn, err := raft.NewRawNode(rc)
	if err != nil {
		return nil, err
	}
	g.rn = rn
	// Proposal ids must not repeat across restarts of this node while the dedup window
	// still holds the old ones: start each incarnation at a random point.
	g.nextPID.Store(rand.Uint64() >> 1)
	if raft.IsEmptyHardState(hs) && last == 0 && len(gc.Peers) > 0 {
		peers := make([]raft.Peer, len(gc.Peers))
		for i, p := range gc.Peers {
			peers[i] = raft.Peer{ID: p.ID, Context: []byte(p.Addr)}
			h.SetPeerAddr(p.ID, p.Addr)
		}
		if err := rn.Bootstrap(peers); err != nil {
			return nil, err
		}
		g.bootstrapIndex = uint64(len(peers))
	}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return nil, ErrStopped
	}
	if _, dup := h.groups[gc.ID]; dup {
		h.mu.Unlock()
		return nil, fmt.Errorf("raftgroup: group %d already runs on this host", gc.ID)
	}
	h.groups[gc.ID] = g
	h.mu.Unlock()
	go g.run()
	return g, nil
}

// ID is the group id.
func (g *Group) ID() uint64 { return g.id }

// Stop stops the group's loop and removes it from the host; its storage stays open.
func (g *Group) Stop() {
	g.stop.Do(func() { close(g.stopc) })
	<-g.done
	g.h.mu.Lock()
	if g.h.groups[g.id] == g {
		delete(g.h.groups, g.id)
	}
	g.h.mu.Unlock()
}

// Err is the error that stopped the group (a storage or state machine failure), or nil.
func (g *Group) Err() error {
	if p := g.err.Load(); p != nil {
		return *p
	}
	return nil
}

// IsLeader reports whether this node leads the group now.
func (g *Group) IsLeader() bool { return g.leader.Load() }

// Leader is the id of the leader this node knows of, 0 if none.
func (g *Group) Leader() uint64 { return g.lead.Load() }

// AppliedIndex is the index of the last entry this node applied.
func (g *Group) AppliedIndex() uint64 { return g.appliedIdx.Load() }

func (g *Group) deliver(m *pb.Message) {
	select {
	case g.recvc <- m:
	default: // overloaded: raft resends what is lost
	}
}

// report hands a send outcome from a peer's goroutine to the group's.
func (g *Group) report(to uint64, snaps int, ok bool) {
	r := report{to: to, snaps: snaps, ok: ok}
	if snaps == 0 {
		select {
		case g.reportc <- r:
		default:
		}
		return
	}
	select { // a snapshot outcome must arrive, or the leader never retries it
	case g.reportc <- r:
	case <-g.done:
	}
}

func (g *Group) run() {
	defer close(g.done)
	defer g.failWaiters()
	defer func() {
		// A stopped group leads nothing: tell the owner at once.
		g.leader.Store(false)
		g.termStart = 0
		g.publishLeadership(Leadership{Term: g.leadership.Load().Term})
	}()
	for {
		select {
		case <-g.stopc:
			return
		case <-g.tickc:
			g.rn.Tick()
		case m := <-g.recvc:
			g.step(m)
			drain(g.recvc, g.step)
		case p := <-g.propc:
			g.propose(p)
			drain(g.propc, g.propose)
		case r := <-g.reportc:
			if !r.ok {
				g.rn.ReportUnreachable(r.to)
			}
			for range r.snaps {
				st := raft.SnapshotFinish
				if !r.ok {
					st = raft.SnapshotFailure
				}
				g.rn.ReportSnapshot(r.to, st)
			}
		case c := <-g.statusc:
			c <- g.status()
		}
		if g.campaignAlone {
			g.campaignIfAlone()
		}
		if g.transferring.Load() && g.rn.BasicStatus().LeadTransferee == 0 {
			// Raft ended the transfer (the leader stepped down, or the transferee did
			// not win within an election timeout): acknowledgements count again.
			g.transferring.Store(false)
		}
		// Advance may leave a Ready behind (a lone voter's own append acknowledged
		// commits its entries at once): handle it now, not at the next tick.
		for g.rn.HasReady() {
			if err := g.handleReady(); err != nil {
				g.err.Store(&err)
				g.h.log.Error("raft group stopped", "group", g.id, "err", err)
				return
			}
		}
	}
}

// campaignIfAlone makes a node that is its group's only voter (a new single-node
// cluster, or one restarted) campaign as soon as it applied what its log committed,
// instead of waiting an election timeout (1 to 2 s) for a vote it alone casts. Raft
// refuses to campaign with configuration changes unapplied, hence the wait.
func (g *Group) campaignIfAlone() {
	st := g.rn.BasicStatus()
	if st.Lead != 0 {
		g.campaignAlone = false
		return
	}
	if g.applied < st.HardState.GetCommit() {
		return
	}
	g.campaignAlone = false
	if slices.Equal(g.confState.GetVoters(), []uint64{g.h.cfg.NodeID}) && len(g.confState.GetVotersOutgoing()) == 0 {
		if err := g.rn.Campaign(); err != nil {
			g.h.log.Debug("raft campaign", "group", g.id, "err", err)
		}
	}
}

func (g *Group) step(m *pb.Message) {
	if m.GetType() == pb.MsgHeartbeatResp {
		if sent, ok := heartbeatSent(m.GetContext()); ok {
			m.Context = nil // raft reads a context there as a ReadIndex position
			if g.leader.Load() && m.GetTerm() == g.term && !g.transferring.Load() && !sent.IsZero() {
				g.acked(m.GetFrom(), sent)
			}
		}
	}
	if err := g.rn.Step(m); err != nil && !errors.Is(err, raft.ErrStepPeerNotFound) && !errors.Is(err, raft.ErrStepLocalMsg) {
		g.h.log.Debug("raft step", "group", g.id, "err", err)
	}
}

func (g *Group) propose(p proposal) {
	var err error
	switch {
	case p.transfer != 0:
		g.rn.TransferLeader(p.transfer)
		if g.rn.BasicStatus().LeadTransferee != 0 && !g.transferring.Load() {
			g.transferring.Store(true)
			clear(g.acks)
			g.quorumAck.Store(0)
		}
	case p.cc != nil:
		err = g.rn.ProposeConfChange(p.cc)
	default:
		err = g.rn.Propose(p.data)
	}
	p.errc <- err
}

func (g *Group) handleReady() error {
	rd := g.rn.Ready()
	if !raft.IsEmptyHardState(rd.HardState) {
		g.term = rd.HardState.GetTerm()
	}
	if rd.SoftState != nil {
		if old := g.lead.Swap(rd.SoftState.Lead); old != rd.SoftState.Lead {
			g.h.cfg.Observer.LeaderChanged(g.id, rd.SoftState.Lead, rd.SoftState.Lead == g.h.cfg.NodeID)
			g.leadMu.Lock()
			close(g.leadc)
			g.leadc = make(chan struct{})
			g.leadMu.Unlock()
		}
		isLeader := rd.SoftState.RaftState == raft.StateLeader
		if isLeader != g.leader.Load() {
			// A new term of leadership (or none): acknowledgements of an earlier one
			// do not count toward its lease.
			clear(g.acks)
			g.quorumAck.Store(0)
		}
		if isLeader && !g.leader.Load() {
			g.termStart = g.firstEntryOfTerm(rd)
		} else if !isLeader {
			g.termStart = 0
		}
		g.leader.Store(isLeader)
	}
	// Durable before anything is sent: a vote or an acknowledged entry must survive a
	// crash.
	if err := g.storage.Save(rd.HardState, rd.Entries, rd.Snapshot, rd.MustSync); err != nil {
		return fmt.Errorf("raftgroup: save: %w", err)
	}
	stampHeartbeats(rd.Messages)
	g.h.send(g, rd.Messages)
	if !raft.IsEmptySnap(rd.Snapshot) {
		// A snapshot from the leader replaces whatever the state machine held.
		g.smApplied = 0
		if err := g.restore(rd.Snapshot, true); err != nil {
			return err
		}
	}
	for _, e := range rd.CommittedEntries {
		if err := g.apply(e); err != nil {
			return err
		}
	}
	if c := rd.HardState.GetCommit(); c > g.commitIdx || len(rd.CommittedEntries) > 0 {
		g.commitIdx = max(g.commitIdx, c)
		g.h.cfg.Observer.Applied(g.id, g.commitIdx, g.appliedIdx.Load())
	}
	g.rn.Advance(rd)
	g.publishLeadership(Leadership{
		Leader:   g.lead.Load(),
		Term:     g.rn.BasicStatus().GetTerm(),
		IsLeader: g.leader.Load(),
		Ready:    g.leader.Load() && g.termStart > 0 && g.applied >= g.termStart,
	})
	return g.maybeSnapshot()
}

// firstEntryOfTerm is the index of the empty entry a new leader appends at the start of
// its term (raft's becomeLeader), which is in the Ready that reports the leadership.
func (g *Group) firstEntryOfTerm(rd raft.Ready) uint64 {
	term := g.rn.BasicStatus().GetTerm()
	for _, e := range rd.Entries {
		if e.GetTerm() == term {
			return e.GetIndex()
		}
	}
	// Not expected; the log's last index is past it, so readiness comes no earlier.
	last, err := g.storage.LastIndex()
	if err != nil || last == 0 {
		return 1
	}
	return last
}

// publishLeadership records l and hands it to GroupConfig.OnLeadership when it changed.
func (g *Group) publishLeadership(l Leadership) {
	if *g.leadership.Load() == l {
		return
	}
	g.leadership.Store(&l)
	if g.onLeadership != nil {
		g.onLeadership(l)
	}
}

// Leadership is the group's leadership as this node last saw it.
func (g *Group) Leadership() Leadership { return *g.leadership.Load() }

func (g *Group) apply(e *pb.Entry) error {
	if e.GetIndex() <= g.applied {
		return nil
	}
	switch e.GetType() {
	case pb.EntryNormal:
		if len(e.GetData()) > 0 {
			node, pid, payload, ok := decodeEnvelope(e.GetData())
			if !ok {
				return fmt.Errorf("raftgroup: group %d entry %d: malformed envelope", g.id, e.GetIndex())
			}
			if v, dup := g.dedup.seen(node, pid); dup {
				// A proposal proposed again after a failure or a leader change, whose
				// first copy was applied already: apply it once.
				if node == g.h.cfg.NodeID {
					g.notify(pid, result{v: v})
				}
				break
			}
			var v any
			if e.GetIndex() > g.smApplied {
				v = g.sm.Apply(e.GetIndex(), payload)
			}
			self := node == g.h.cfg.NodeID
			g.dedup.add(node, pid, v, self)
			if self {
				g.notify(pid, result{v: v})
			}
		}
	case pb.EntryConfChange:
		cc := &pb.ConfChange{}
		if err := proto.Unmarshal(e.GetData(), cc); err != nil {
			return fmt.Errorf("raftgroup: group %d entry %d: %w", g.id, e.GetIndex(), err)
		}
		g.confState = g.rn.ApplyConfChange(cc)
		g.noteVoters()
		if cc.GetType() == pb.ConfChangeAddNode || cc.GetType() == pb.ConfChangeAddLearnerNode {
			g.h.SetPeerAddr(cc.GetNodeId(), string(cc.GetContext()))
			g.memberAdded = true
		}
	case pb.EntryConfChangeV2:
		cc := &pb.ConfChangeV2{}
		if err := proto.Unmarshal(e.GetData(), cc); err != nil {
			return fmt.Errorf("raftgroup: group %d entry %d: %w", g.id, e.GetIndex(), err)
		}
		g.confState = g.rn.ApplyConfChange(cc)
		g.noteVoters()
		node, pid, addr, ok := decodeEnvelope(cc.GetContext())
		for _, ch := range cc.GetChanges() {
			if ch.GetType() == pb.ConfChangeAddNode || ch.GetType() == pb.ConfChangeAddLearnerNode {
				g.memberAdded = true
				if ok {
					g.h.SetPeerAddr(ch.GetNodeId(), string(addr))
				}
			}
			if ch.GetType() == pb.ConfChangeRemoveNode && ch.GetNodeId() != g.h.cfg.NodeID && g.leader.Load() {
				g.tellRemoved(ch.GetNodeId(), e)
			}
		}
		if ok && node == g.h.cfg.NodeID {
			g.notify(pid, result{v: proto.Clone(g.confState)})
		}
	}
	g.applied = e.GetIndex()
	g.appliedIdx.Store(max(g.applied, g.smApplied))
	return nil
}

// tellRemoved sends node id, whose removal this leader just applied (entry e), an append
// of e that commits it. Raft stops replicating to a member once the leader applies its
// removal, and a member the new commit index did not reach (a follower in probe state
// after a leader change, say) never learns it was removed: it would keep its replica and
// campaign in vain. This is the append raft itself would send it next (e after its
// predecessor, at the leader's term, committed); a member whose log does not match
// rejects it and nothing changes. Best effort: the message may be lost.
func (g *Group) tellRemoved(id uint64, e *pb.Entry) {
	prev := e.GetIndex() - 1
	prevTerm, err := g.storage.Term(prev)
	if err != nil {
		return
	}
	m := &pb.Message{
		Type:    pb.MsgApp.Enum(),
		To:      new(id),
		From:    new(g.h.cfg.NodeID),
		Term:    new(g.rn.BasicStatus().GetTerm()),
		Index:   new(prev),
		LogTerm: new(prevTerm),
		Entries: []*pb.Entry{e},
		Commit:  new(e.GetIndex()),
	}
	g.h.send(g, []*pb.Message{m})
}

// maybeSnapshot snapshots the state machine every SnapshotEvery applied entries, and
// at once in two cases:
//   - a group this node just bootstrapped, once the bootstrap entries are applied; they
//     are compacted away, so a node added later finds the entries it needs compacted and
//     the leader sends it this snapshot, which carries the state the state machine had
//     before the log started. Without it a new member would replay the log from its
//     first entry and miss that state.
//   - a configuration change that added a member was applied: etcd raft sends a new
//     member the storage's latest snapshot, and the member ignores a snapshot whose
//     ConfState does not name it ("should never happen"), so the latest snapshot must
//     be taken after its addition.
func (g *Group) maybeSnapshot() error {
	bootstrapped := g.bootstrapIndex > 0 && g.applied >= g.bootstrapIndex
	force := bootstrapped || g.memberAdded
	if !force && g.applied-g.snapIndex < g.snapEvery {
		return nil
	}
	g.memberAdded = false
	if bootstrapped {
		g.bootstrapIndex = 0
	}
	if g.applied <= g.snapIndex {
		return nil
	}
	data, err := g.sm.Snapshot()
	if err != nil {
		return fmt.Errorf("raftgroup: group %d state machine snapshot: %w", g.id, err)
	}
	if _, err := g.storage.CreateSnapshot(g.applied, g.confState, g.wrapSnapshot(data)); err != nil {
		return fmt.Errorf("raftgroup: group %d create snapshot: %w", g.id, err)
	}
	g.snapIndex = g.applied
	to := uint64(0)
	switch {
	case bootstrapped:
		to = g.applied
		g.h.log.Info("raft group bootstrapped; its state is snapshotted for new members", "group", g.id, "index", g.applied)
	case g.applied > g.snapKeep:
		to = g.applied - g.snapKeep
	}
	if to == 0 {
		return nil
	}
	first, err := g.storage.FirstIndex()
	if err != nil {
		return err
	}
	if to >= first {
		if err := g.storage.Compact(to); err != nil && !errors.Is(err, raft.ErrCompacted) {
			return fmt.Errorf("raftgroup: group %d compact: %w", g.id, err)
		}
	}
	return nil
}

// Snapshot data: uvarint count | (uvarint node id | uvarint len | address)* | dedup
// window (uvarint count | (uvarint node | uvarint pid)*) | state machine data. The members' addresses travel with the state, since the configuration
// changes that carried them are compacted away.
func (g *Group) wrapSnapshot(data []byte) []byte {
	members := slices.Concat(g.confState.GetVoters(), g.confState.GetLearners(), g.confState.GetVotersOutgoing())
	var out []byte
	var n uint64
	var body []byte
	seen := map[uint64]bool{}
	for _, id := range members {
		if seen[id] {
			continue
		}
		seen[id] = true
		addr := g.h.Addr()
		if id != g.h.cfg.NodeID {
			a, ok := g.h.PeerAddr(id)
			if !ok {
				continue
			}
			addr = a
		}
		body = binary.AppendUvarint(body, id)
		body = binary.AppendUvarint(body, uint64(len(addr)))
		body = append(body, addr...)
		n++
	}
	out = binary.AppendUvarint(out, n)
	out = append(out, body...)
	out = g.dedup.appendTo(out)
	return append(out, data...)
}

// restore loads a snapshot's members' addresses, proposal window and configuration,
// and, when withState, the state machine's state.
func (g *Group) restore(snap *pb.Snapshot, withState bool) error {
	raw := snap.GetData()
	n, k := binary.Uvarint(raw)
	if k <= 0 {
		return fmt.Errorf("raftgroup: group %d: malformed snapshot", g.id)
	}
	raw = raw[k:]
	for range n {
		id, k := binary.Uvarint(raw)
		if k <= 0 {
			return fmt.Errorf("raftgroup: group %d: malformed snapshot", g.id)
		}
		raw = raw[k:]
		l, k := binary.Uvarint(raw)
		if k <= 0 || uint64(len(raw)-k) < l {
			return fmt.Errorf("raftgroup: group %d: malformed snapshot", g.id)
		}
		g.h.SetPeerAddr(id, string(raw[k:k+int(l)]))
		raw = raw[k+int(l):]
	}
	d, rest, err := readDedup(raw, dedupWindow)
	if err != nil {
		return fmt.Errorf("raftgroup: group %d: malformed snapshot: %w", g.id, err)
	}
	g.dedup, raw = d, rest
	if withState {
		if err := g.sm.Restore(raw); err != nil {
			return fmt.Errorf("raftgroup: group %d restore: %w", g.id, err)
		}
	}
	g.confState = proto.Clone(pb.EnsureConfState(snap.GetMetadata().GetConfState())).(*pb.ConfState)
	g.noteVoters()
	g.applied = snap.GetMetadata().GetIndex()
	g.snapIndex = g.applied
	g.appliedIdx.Store(max(g.applied, g.smApplied))
	return nil
}

// Envelope: proposing node id (8 bytes BE) | proposal id (8 bytes BE) | payload. The
// proposer finds its waiter by the pair when the entry is applied.
func encodeEnvelope(node, pid uint64, payload []byte) []byte {
	b := make([]byte, 16, 16+len(payload))
	binary.BigEndian.PutUint64(b, node)
	binary.BigEndian.PutUint64(b[8:], pid)
	return append(b, payload...)
}

func decodeEnvelope(b []byte) (node, pid uint64, payload []byte, ok bool) {
	if len(b) < 16 {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), b[16:], true
}

func (g *Group) notify(pid uint64, r result) {
	g.waitMu.Lock()
	w, ok := g.waiters[pid]
	delete(g.waiters, pid)
	g.waitMu.Unlock()
	if ok {
		w <- r
	}
}

// errRetry tells a waiter its proposal may not have reached a leader.
var errRetry = errors.New("raftgroup: proposal lost before reaching the leader")

// dropped wakes the proposers of forwarded proposals that were surely not delivered, so
// they propose again (to the new leader, after a failover).
func (g *Group) dropped(pids []uint64) {
	for _, pid := range pids {
		g.notify(pid, result{err: errRetry})
	}
}

// proposalIDs lists this node's proposal ids in a forwarded MsgProp.
func proposalIDs(m *pb.Message) []uint64 {
	var out []uint64
	for _, e := range m.GetEntries() {
		data := e.GetData()
		if e.GetType() == pb.EntryConfChangeV2 {
			cc := &pb.ConfChangeV2{}
			if proto.Unmarshal(data, cc) != nil {
				continue
			}
			data = cc.GetContext()
		}
		if node, pid, _, ok := decodeEnvelope(data); ok && node == m.GetFrom() {
			out = append(out, pid)
		}
	}
	return out
}

func (g *Group) failWaiters() {
	g.waitMu.Lock()
	defer g.waitMu.Unlock()
	for pid, w := range g.waiters {
		w <- result{err: ErrStopped}
		delete(g.waiters, pid)
	}
}

// Propose replicates data and returns what this node's StateMachine.Apply returned for
// it, once this node has applied it. A follower forwards the proposal to the leader.
// Without a leader or quorum before ctx's deadline it fails with ErrUnavailable (the
// entry may still commit later if it reached the leader).
func (g *Group) Propose(ctx context.Context, data []byte) (any, error) {
	start := time.Now()
	v, err := g.submit(ctx, func(pid uint64) proposal {
		return proposal{data: encodeEnvelope(g.h.cfg.NodeID, pid, data)}
	})
	g.h.cfg.Observer.ProposalDone(g.id, time.Since(start), err)
	return v, err
}

// Alone runs write and returns true when the group is this node alone (its only voter,
// no learner), leading, with every committed entry applied, and no configuration
// change in progress; otherwise it returns false without running write. write gets
// the group's applied index (read it when the write is ordered with the state
// machine's snapshots): the state machine records it with the write when its own
// applied index is behind (entries it never sees, such as configuration changes,
// advance the group's), so that a restart does not take the group's own snapshot at
// that index for newer than the state machine, and restore it over those writes.
//
// A group of one member commits an entry as soon as that member's log holds it:
// replication adds nothing, only the cost of the log. write is the state machine's
// own durable (synced) write of what a proposal would have carried, made instead of
// the proposal; the state machine must accept log entries applied after such writes
// (Latch's shard machine does: each mutation carries the version it expects, checked
// against the store). A member added later gets a snapshot taken after its addition,
// which holds every such write (confChange waits for those in progress).
func (g *Group) Alone(write func(applied func() uint64)) bool {
	if !g.alone.Load() || g.aloneHold.Load() > 0 {
		return false
	}
	g.aloneMu.RLock()
	defer g.aloneMu.RUnlock()
	if !g.alone.Load() || g.aloneHold.Load() > 0 || !g.Leadership().Ready {
		return false
	}
	write(g.appliedIdx.Load)
	return true
}

// AddVoter adds node id (listening on addr) as a voter, or promotes it if it is a
// learner. Adding learners first and promoting them once caught up (Status.Progress)
// is the caller's policy.
func (g *Group) AddVoter(ctx context.Context, id uint64, addr string) error {
	return g.confChange(ctx, pb.ConfChangeAddNode, id, addr)
}

// AddLearner adds node id (listening on addr) as a learner: it receives the log but
// does not vote.
func (g *Group) AddLearner(ctx context.Context, id uint64, addr string) error {
	return g.confChange(ctx, pb.ConfChangeAddLearnerNode, id, addr)
}

// Remove removes node id from the group.
func (g *Group) Remove(ctx context.Context, id uint64) error {
	return g.confChange(ctx, pb.ConfChangeRemoveNode, id, "")
}

func (g *Group) confChange(ctx context.Context, t pb.ConfChangeType, id uint64, addr string) error {
	if id == 0 {
		return errors.New("raftgroup: node id 0")
	}
	// No write bypasses the log from now until the change is applied (or failed): the
	// snapshot a new member gets, taken once its addition is applied, must hold every
	// write Alone made, and each later write must reach it through the log.
	g.aloneHold.Add(1)
	defer g.aloneHold.Add(-1)
	g.aloneMu.Lock()
	g.aloneMu.Unlock() //nolint:staticcheck // an empty critical section: waits for Alone writes in progress
	g.h.SetPeerAddr(id, addr)
	_, err := g.submit(ctx, func(pid uint64) proposal {
		return proposal{cc: &pb.ConfChangeV2{
			Changes: []*pb.ConfChangeSingle{{Type: t.Enum(), NodeId: new(id)}},
			Context: encodeEnvelope(g.h.cfg.NodeID, pid, []byte(addr)),
		}}
	})
	return err
}

// submit registers a waiter, hands the proposal to the group's loop (retrying while
// raft drops it for want of a leader), and waits for this node to apply it.
func (g *Group) submit(ctx context.Context, mk func(pid uint64) proposal) (any, error) {
	pid := g.nextPID.Add(1)
	w := make(chan result, 1)
	defer func() {
		g.waitMu.Lock()
		delete(g.waiters, pid)
		g.waitMu.Unlock()
	}()
	p := mk(pid)
	for {
		g.waitMu.Lock()
		g.waiters[pid] = w
		g.waitMu.Unlock()
		g.leadMu.Lock()
		leadc := g.leadc
		g.leadMu.Unlock()
		if err := g.hand(ctx, p); err != nil {
			return nil, err
		}
		select {
		case r := <-w:
			if !errors.Is(r.err, errRetry) {
				return r.v, r.err
			}
			// Lost on the way to the leader: propose again after a tick (or as soon as
			// another leader is known), not in a tight loop while the leader is gone.
			t := time.NewTimer(g.h.cfg.TickInterval)
			select {
			case <-t.C:
			case <-leadc:
				t.Stop()
			case <-ctx.Done():
				t.Stop()
				return nil, unavailable(ctx, "no leader reachable")
			case <-g.done:
				t.Stop()
				return nil, ErrStopped
			}
			continue
		case <-leadc:
			// The leader changed: the proposal may have died with the old one. Propose
			// it again; the entry's id makes sure it applies once.
			continue
		case <-ctx.Done():
			return nil, unavailable(ctx, "not applied (no quorum, or lost in a leader change; it may still apply)")
		case <-g.done:
			return nil, ErrStopped
		}
	}
}

// hand gives a proposal to raft, retrying every tick while raft drops it for want of a
// leader.
func (g *Group) hand(ctx context.Context, p proposal) error {
	for {
		p.errc = make(chan error, 1)
		select {
		case g.propc <- p:
		case <-ctx.Done():
			return unavailable(ctx, "no leader")
		case <-g.done:
			return ErrStopped
		}
		var err error
		select {
		case err = <-p.errc:
		case <-g.done:
			return ErrStopped
		}
		if err == nil {
			return nil
		}
		if !errors.Is(err, raft.ErrProposalDropped) {
			return err
		}
		t := time.NewTimer(g.h.cfg.TickInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return unavailable(ctx, "no leader")
		case <-g.done:
			t.Stop()
			return ErrStopped
		}
	}
}

// TransferLeadership asks the leader (this node) to hand leadership to node to, and
// waits until this node sees to as the leader. A node leaving gracefully calls it first,
// so that its groups do not wait an election timeout for a new leader.
func (g *Group) TransferLeadership(ctx context.Context, to uint64) error {
	for g.Leader() != to {
		if !g.IsLeader() {
			return fmt.Errorf("raftgroup: group %d: only the leader transfers leadership (leader is %d)", g.id, g.Leader())
		}
		if err := g.hand(ctx, proposal{transfer: to}); err != nil {
			return err
		}
		t := time.NewTimer(g.h.cfg.TickInterval)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return unavailable(ctx, "leadership not transferred")
		case <-g.done:
			t.Stop()
			return ErrStopped
		}
	}
	return nil
}

func unavailable(ctx context.Context, why string) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, why, context.Cause(ctx))
}

// Status is a group's state as this node sees it.
type Status struct {
	Group, Node uint64
	// Leader is the leader's node id, 0 if none is known.
	Leader uint64
	// State is "StateLeader", "StateFollower", "StateCandidate" or "StatePreCandidate".
	State           string
	Term            uint64
	Commit, Applied uint64
	Voters          []uint64
	Learners        []uint64
	// Progress is filled on the leader only: how far each member's log matches.
	Progress map[uint64]Progress
}

// Progress is the leader's view of one member's log.
type Progress struct {
	// Match is the highest index known to be replicated on the member; a member is
	// caught up when Match reaches the leader's Commit.
	Match, Next  uint64
	State        string // "StateProbe", "StateReplicate" or "StateSnapshot"
	RecentActive bool
	IsLearner    bool
}

// Status returns the group's state; after the group stopped, its zero value with Group
// and Node set.
func (g *Group) Status() Status {
	c := make(chan Status, 1)
	select {
	case g.statusc <- c:
		return <-c
	case <-g.done:
		return Status{Group: g.id, Node: g.h.cfg.NodeID}
	}
}

func (g *Group) status() Status {
	st := g.rn.Status()
	s := Status{
		Group:    g.id,
		Node:     st.ID,
		Leader:   st.Lead,
		State:    st.RaftState.String(),
		Term:     st.HardState.GetTerm(),
		Commit:   st.HardState.GetCommit(),
		Applied:  max(g.applied, g.smApplied),
		Voters:   slices.Sorted(maps.Keys(st.Config.Voters.IDs())),
		Learners: slices.Sorted(maps.Keys(st.Config.Learners)),
	}
	if len(st.Progress) > 0 {
		s.Progress = make(map[uint64]Progress, len(st.Progress))
		for id, p := range st.Progress {
			s.Progress[id] = Progress{Match: p.Match, Next: p.Next, State: p.State.String(), RecentActive: p.RecentActive, IsLearner: p.IsLearner}
		}
	}
	return s
}

// drainBatch bounds how many queued items one wake of the Ready loop takes from a
// channel before it handles a Ready: enough to batch, not enough to starve ticks.
const drainBatch = 256

// drain hands up to drainBatch items already queued on c to fn, without blocking.
func drain[T any](c <-chan T, fn func(T)) {
	for range drainBatch {
		select {
		case v := <-c:
			fn(v)
		default:
			return
		}
	}
}

// acked records that voter from answered a heartbeat this leader sent at sent, and
// advances the time by which a quorum of voters had (this node counts as acknowledging
// always, now).
func (g *Group) acked(from uint64, sent time.Time) {
	if at, ok := g.acks[from]; ok && !sent.After(at) {
		return // an older heartbeat's answer, arriving late
	}
	g.acks[from] = sent
	voters := g.confState.GetVoters()
	var buf [8]int64 // every heartbeat answer passes here: no allocation for small groups
	times := buf[:0]
	for _, id := range voters {
		switch {
		case id == g.h.cfg.NodeID:
			times = append(times, int64(time.Since(heartbeatEpoch)))
		default:
			if at, ok := g.acks[id]; ok {
				times = append(times, int64(at.Sub(heartbeatEpoch)))
			}
		}
	}
	q := len(voters)/2 + 1
	if len(times) < q {
		return
	}
	slices.Sort(times)
	g.quorumAck.Store(times[len(times)-q]) // the q-th most recent, as an offset from heartbeatEpoch
}

// LeaseValid reports whether this node leads the group and a quorum of its voters
// answered heartbeats it sent within the lease (half the election timeout): no
// other leader can have been elected since, so the state machine it applied is
// current. A leader paused (SIGSTOP) or cut off longer than that learns it may have
// been replaced only when its messages are answered; until then its lease is expired,
// and what it holds in memory must not be served. A sole voter's lease never expires.
// While this leader hands its leadership on, the lease is void: the transferee may be
// elected at once (see transferring).
func (g *Group) LeaseValid() bool {
	if !g.leader.Load() || g.transferring.Load() {
		return false
	}
	if g.soleVoter.Load() {
		return true
	}
	at := g.quorumAck.Load()
	lease := time.Duration(g.h.cfg.ElectionTicks) * g.h.cfg.TickInterval / 2
	return at != 0 && time.Since(heartbeatEpoch)-time.Duration(at) < lease
}

// noteVoters records whether this node is the group's only voter (LeaseValid).
func (g *Group) noteVoters() {
	self := g.h.cfg.NodeID
	g.soleVoter.Store(slices.Equal(g.confState.GetVoters(), []uint64{self}) && len(g.confState.GetVotersOutgoing()) == 0)
	g.alone.Store(g.soleVoter.Load() && len(g.confState.GetLearners()) == 0 && len(g.confState.GetLearnersNext()) == 0)
	g.member.Store(slices.Contains(g.confState.GetVoters(), self) || slices.Contains(g.confState.GetLearners(), self) ||
		slices.Contains(g.confState.GetVotersOutgoing(), self))
}

// IsMember reports whether this node is a voter or a learner of the group as its
// applied configuration says (false for a replica removed from it, or not yet added).
func (g *Group) IsMember() bool { return g.member.Load() }

// The lease counts from when the acknowledged heartbeat was sent, not from when its
// answer arrived: a leader paused (SIGSTOP, a long GC, a starved process) reads, once
// resumed, answers queued for it to heartbeats sent before the pause, and meanwhile
// the others may have elected a new leader. Each heartbeat carries its send time in
// its Context, which raft echoes in the answer; the stamp is taken off the answer before
// raft steps it (raft reads a heartbeat answer's context as a ReadIndex position; Latch
// issues no ReadIndex requests, and a context without the tag is left alone).
var (
	heartbeatEpoch = time.Now() // monotonic: stamps are offsets from it
	heartbeatTag   = []byte("latch-hb")
)

// stampHeartbeats writes the send time into each outgoing heartbeat without a context.
func stampHeartbeats(msgs []*pb.Message) {
	for _, m := range msgs {
		if m.GetType() == pb.MsgHeartbeat && len(m.GetContext()) == 0 {
			b := make([]byte, len(heartbeatTag)+8)
			copy(b, heartbeatTag)
			binary.BigEndian.PutUint64(b[len(heartbeatTag):], uint64(time.Since(heartbeatEpoch)))
			m.Context = b
		}
	}
}

// heartbeatSent decodes a send time stamped by stampHeartbeats; ok is whether ctx is a
// stamp at all, and sent is zero for a stamp that is not this process's (a restart's
// heartbeats answered late).
func heartbeatSent(ctx []byte) (sent time.Time, ok bool) {
	if len(ctx) != len(heartbeatTag)+8 || !bytes.Equal(ctx[:len(heartbeatTag)], heartbeatTag) {
		return time.Time{}, false
	}
	d := time.Duration(binary.BigEndian.Uint64(ctx[len(heartbeatTag):]))
	if d < 0 || d > time.Since(heartbeatEpoch) {
		return time.Time{}, true
	}
	return heartbeatEpoch.Add(d), true
}
