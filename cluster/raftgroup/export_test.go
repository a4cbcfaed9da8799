package raftgroup

import (
	"sync"

	pb "go.etcd.io/raft/v3/raftpb"
)

// PeerCount is the number of outgoing peer connections (one per remote node, shared by
// every group).
func (h *Host) PeerCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.peers)
}

// HoldInbound queues every message this host receives until release delivers them
// all, in order: a process paused or starved meanwhile.
func (h *Host) HoldInbound() (release func()) {
	var (
		mu   sync.Mutex
		held []func()
	)
	hold := func(g *Group, m *pb.Message) {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, func() { g.deliver(m) })
	}
	h.held.Store(&hold)
	return func() {
		h.held.Store(nil)
		mu.Lock()
		defer mu.Unlock()
		for _, d := range held {
			d()
		}
		held = nil
	}
}
