package raftgroup

// PeerCount is the number of outgoing peer connections (one per remote node, shared by
// every group).
func (h *Host) PeerCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.peers)
}
