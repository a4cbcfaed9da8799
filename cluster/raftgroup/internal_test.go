package raftgroup

import (
	"slices"
	"testing"

	pb "go.etcd.io/raft/v3/raftpb"
)

type nopSM struct{ restored []byte }

func (*nopSM) Apply(uint64, []byte) any  { return nil }
func (*nopSM) Snapshot() ([]byte, error) { return nil, nil }
func (s *nopSM) Restore(b []byte) error  { s.restored = append([]byte(nil), b...); return nil }

// The snapshot carries the members' addresses and the window of applied proposal ids:
// a replica restored from it skips the same re-proposed entries as the others.
func TestSnapshotWrapperRoundTrip(t *testing.T) {
	h, err := NewHost(Config{NodeID: 1, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Stop()
	h.SetPeerAddr(2, "10.0.0.2:7000")
	g := &Group{id: 9, h: h, sm: &nopSM{}, dedup: newDedup(3), confState: &pb.ConfState{Voters: []uint64{1, 2}, Learners: []uint64{3}}}
	for pid := uint64(1); pid <= 5; pid++ {
		g.dedup.add(2, pid, nil, false)
	}
	data := g.wrapSnapshot([]byte("state"))

	h2, err := NewHost(Config{NodeID: 3, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Stop()
	sm := &nopSM{}
	g2 := &Group{id: 9, h: h2, sm: sm, dedup: newDedup(3)}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(40)), Term: new(uint64(2)), ConfState: g.confState}}
	if err := g2.restore(snap, true); err != nil {
		t.Fatal(err)
	}
	if string(sm.restored) != "state" {
		t.Fatalf("state machine restored %q", sm.restored)
	}
	if a, _ := h2.PeerAddr(2); a != "10.0.0.2:7000" {
		t.Fatalf("peer 2 address = %q", a)
	}
	if a, _ := h2.PeerAddr(1); a != h.Addr() {
		t.Fatalf("peer 1 address = %q, want %q", a, h.Addr())
	}
	for pid, want := range map[uint64]bool{2: false, 3: true, 5: true, 6: false} {
		if _, dup := g2.dedup.seen(2, pid); dup != want {
			t.Errorf("pid %d seen = %v, want %v (window of 3)", pid, dup, want)
		}
	}
	if g2.applied != 40 || !slices.Equal(g2.confState.GetVoters(), []uint64{1, 2}) {
		t.Fatalf("applied %d conf %v", g2.applied, g2.confState)
	}
}
