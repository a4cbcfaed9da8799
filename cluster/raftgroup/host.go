package raftgroup

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// Wire format: a connection carries frames, each length | group id | message, where
// length (uint32 BE) counts the 8-byte group id (BE) and the marshalled raftpb.Message.
// The messages of every group to one peer share its one connection; a group's messages
// of one Ready to one peer are written as one batch.
// Group id 0 is reserved: the first frame on every connection is a hello carrying the
// dialer's node id (8 bytes BE) and listen address.
const maxFrame = 512 << 20

const helloGroup = 0

func appendFrame(buf []byte, group uint64, payload []byte) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(8+len(payload)))
	buf = binary.BigEndian.AppendUint64(buf, group)
	return append(buf, payload...)
}

func decodeHello(b []byte) (uint64, string, bool) {
	if len(b) < 8 {
		return 0, "", false
	}
	return binary.BigEndian.Uint64(b), string(b[8:]), true
}

// Host is one node: a raft listener, one outgoing connection per peer, a ticker, and the
// groups it holds.
type Host struct {
	cfg Config
	log *slog.Logger
	ln  net.Listener

	mu      sync.Mutex
	groups  map[uint64]*Group
	addrs   map[uint64]string
	peers   map[uint64]*peer
	inbound map[net.Conn]struct{}
	stopped bool

	stop chan struct{}
	wg   sync.WaitGroup

	// held, when set (tests only: holdInbound), receives every inbound message instead
	// of its group, as a paused or slow process would leave them queued.
	held atomic.Pointer[func(*Group, *pb.Message)]
}

// NewHost listens on cfg.ListenAddr and starts the host's ticker and accept loop.
func NewHost(cfg Config) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("raftgroup: listen: %w", err)
	}
	h := &Host{
		cfg:     cfg,
		log:     cfg.Logger.With("node", cfg.NodeID),
		ln:      ln,
		groups:  map[uint64]*Group{},
		addrs:   map[uint64]string{},
		peers:   map[uint64]*peer{},
		inbound: map[net.Conn]struct{}{},
		stop:    make(chan struct{}),
	}
	h.wg.Add(2)
	go h.accept()
	go h.tick()
	return h, nil
}

// NodeID is this node's id.
func (h *Host) NodeID() uint64 { return h.cfg.NodeID }

// Addr is the address the host listens on.
func (h *Host) Addr() string { return h.ln.Addr().String() }

// SetPeerAddr records where node id listens; the host reconnects there. Configuration
// changes carry addresses too, so every member learns a new node's address from the log.
func (h *Host) SetPeerAddr(id uint64, addr string) {
	if id == h.cfg.NodeID || addr == "" {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.addrs[id] == addr {
		return
	}
	h.addrs[id] = addr
	if p, ok := h.peers[id]; ok {
		p.setAddr(addr)
	}
}

// PeerAddr returns the address recorded for node id.
func (h *Host) PeerAddr(id uint64) (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	a, ok := h.addrs[id]
	return a, ok
}

// Group returns the running group id, or nil.
func (h *Host) Group(id uint64) *Group {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.groups[id]
}

// Stop stops every group, closes every connection and the listener, and waits. The
// groups' storages stay open: they belong to the caller.
func (h *Host) Stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	close(h.stop)
	groups := make([]*Group, 0, len(h.groups))
	for _, g := range h.groups {
		groups = append(groups, g)
	}
	for c := range h.inbound {
		c.Close()
	}
	h.mu.Unlock()
	h.ln.Close()
	for _, g := range groups {
		g.Stop()
	}
	h.wg.Wait()
}

func (h *Host) tick() {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		for _, g := range h.groups {
			select {
			case g.tickc <- struct{}{}:
			default: // the group is busy; it has a tick pending already
			}
		}
		h.mu.Unlock()
	}
}

func (h *Host) accept() {
	defer h.wg.Done()
	for {
		c, err := h.ln.Accept()
		if err != nil {
			select {
			case <-h.stop:
			default:
				h.log.Error("raft accept", "err", err)
			}
			return
		}
		h.mu.Lock()
		if h.stopped {
			h.mu.Unlock()
			c.Close()
			return
		}
		h.inbound[c] = struct{}{}
		h.wg.Add(1)
		h.mu.Unlock()
		go h.read(c)
	}
}

func (h *Host) read(c net.Conn) {
	defer h.wg.Done()
	defer func() {
		c.Close()
		h.mu.Lock()
		delete(h.inbound, c)
		h.mu.Unlock()
	}()
	r := bufio.NewReaderSize(c, 64<<10)
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n < 8 || n > maxFrame {
			h.log.Warn("raft frame rejected", "len", n, "remote", c.RemoteAddr().String())
			return
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		gid := binary.BigEndian.Uint64(buf[:8])
		if gid == helloGroup {
			// The dialer's node id and listen address: a node that joins learns where
			// to answer before any configuration change reaches it.
			if id, addr, ok := decodeHello(buf[8:]); ok {
				if _, known := h.PeerAddr(id); !known {
					h.SetPeerAddr(id, addr)
				}
			}
			continue
		}
		m := &pb.Message{}
		if err := proto.Unmarshal(buf[8:], m); err != nil {
			h.log.Warn("raft message rejected", "group", gid, "err", err)
			return
		}
		if m.GetTo() != h.cfg.NodeID {
			continue
		}
		if g := h.Group(gid); g != nil {
			if hold := h.held.Load(); hold != nil {
				(*hold)(g, m)
				continue
			}
			g.deliver(m)
		}
	}
}

// send queues a group's messages of one Ready, one batch per destination. It runs on the
// group's goroutine and never blocks: a full queue drops the batch and reports the peer
// unreachable (and a snapshot as failed), as etcd raft expects of a lossy transport.
func (h *Host) send(g *Group, msgs []*pb.Message) {
	if len(msgs) == 0 {
		return
	}
	type out struct {
		buf   []byte
		snaps int
		props []uint64
	}
	batches := map[uint64]*out{}
	var order []uint64
	for _, m := range msgs {
		to := m.GetTo()
		b := batches[to]
		if b == nil {
			b = &out{}
			batches[to] = b
			order = append(order, to)
		}
		raw, err := proto.Marshal(m)
		if err != nil {
			h.log.Error("raft marshal", "err", err)
			continue
		}
		b.buf = appendFrame(b.buf, g.id, raw)
		switch m.GetType() {
		case pb.MsgSnap:
			b.snaps++
		case pb.MsgProp:
			b.props = append(b.props, proposalIDs(m)...)
		}
	}
	for _, to := range order {
		b := batches[to]
		p := h.peer(to)
		if p == nil || !p.enqueue(batch{group: g, buf: b.buf, snaps: b.snaps, props: b.props}) {
			g.rn.ReportUnreachable(to)
			for range b.snaps {
				g.rn.ReportSnapshot(to, raft.SnapshotFailure)
			}
			g.dropped(b.props)
		}
	}
}

// peer returns the sender to node id, starting it on first use; nil when its address
// is unknown or the host is stopping.
func (h *Host) peer(id uint64) *peer {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p, ok := h.peers[id]; ok {
		return p
	}
	addr, ok := h.addrs[id]
	if !ok || h.stopped {
		return nil
	}
	p := &peer{h: h, id: id, addr: addr, q: make(chan batch, h.cfg.PeerQueue)}
	h.peers[id] = p
	h.wg.Add(1)
	go p.run()
	return p
}

type batch struct {
	group *Group
	buf   []byte
	snaps int      // MsgSnap messages in buf, reported when written or lost
	props []uint64 // this node's proposals forwarded in buf, retried if surely lost
}

// peer is the single outgoing connection to one node, redialled with backoff.
type peer struct {
	h  *Host
	id uint64
	q  chan batch

	mu   sync.Mutex
	addr string
}

func (p *peer) setAddr(a string) {
	p.mu.Lock()
	p.addr = a
	p.mu.Unlock()
}

func (p *peer) getAddr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

func (p *peer) enqueue(b batch) bool {
	select {
	case p.q <- b:
		return true
	default:
		return false
	}
}

func (p *peer) run() {
	defer p.h.wg.Done()
	var (
		conn    net.Conn
		w       *bufio.Writer
		backoff time.Duration
		dialed  string
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	// fail reports batches as lost and has their forwarded proposals proposed again
	// (applied once whatever happened: see dedup).
	fail := func(bs []batch) {
		for _, b := range bs {
			b.group.report(p.id, b.snaps, false)
			b.group.dropped(b.props)
		}
	}
	var closed chan struct{} // closed when the peer closes the connection
	for {
		var first batch
		select {
		case <-p.h.stop:
			return
		case first = <-p.q:
		}
		if conn != nil {
			select {
			case <-closed:
				conn.Close()
				conn = nil
			default:
				if dialed != p.getAddr() {
					conn.Close()
					conn = nil
				}
			}
		}
		if conn == nil {
			addr := p.getAddr()
			c, err := net.DialTimeout("tcp", addr, p.h.cfg.DialTimeout)
			if err != nil {
				fail([]batch{first})
				backoff = min(max(2*backoff, 50*time.Millisecond), time.Second)
				t := time.NewTimer(backoff)
				select {
				case <-p.h.stop:
					t.Stop()
					return
				case <-t.C:
				}
				// What queued meanwhile is stale (raft resends); drop it as lost.
				for drained := false; !drained; {
					select {
					case b := <-p.q:
						fail([]batch{b})
					default:
						drained = true
					}
				}
				continue
			}
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetNoDelay(true)
			}
			conn, dialed, backoff = c, addr, 0
			w = bufio.NewWriterSize(conn, 64<<10)
			hello := binary.BigEndian.AppendUint64(nil, p.h.cfg.NodeID)
			w.Write(appendFrame(nil, helloGroup, append(hello, p.h.Addr()...)))
			// Nothing is ever sent back on this connection: a read returns when the
			// peer goes away, so the next batch redials instead of vanishing.
			closed = make(chan struct{})
			go func(c net.Conn, closed chan struct{}) {
				io.Copy(io.Discard, c)
				close(closed)
			}(c, closed)
		}
		sent := []batch{first}
		_, err := w.Write(first.buf)
		// Coalesce what else is queued into the same flush.
		for more := true; more && err == nil && w.Buffered() < 1<<20; {
			select {
			case b := <-p.q:
				sent = append(sent, b)
				_, err = w.Write(b.buf)
			default:
				more = false
			}
		}
		if err == nil {
			// A peer that stops reading must not hold this sender forever: allow 5 s
			// plus 1 s per MiB (a snapshot can be large).
			conn.SetWriteDeadline(time.Now().Add(5*time.Second + time.Duration(w.Buffered()>>20)*time.Second))
			err = w.Flush()
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.h.log.Debug("raft send", "to", p.id, "err", err)
			}
			conn.Close()
			conn = nil
			fail(sent)
			continue
		}
		for _, b := range sent {
			if b.snaps > 0 {
				b.group.report(p.id, b.snaps, true)
			}
		}
	}
}
