package persistence

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
)

// TestRaftLogGroupCommit: concurrent synced Saves of many groups (the writer commits
// them together) and a SaveMany all land, survive a reopen, and a refused Save fails
// alone.
func TestRaftLogGroupCommit(t *testing.T) {
	fs := vfs.NewMem()
	l, err := OpenRaftLog(RaftLogConfig{Dir: "raft", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	const groups, rounds = 16, 20
	var wg sync.WaitGroup
	for id := uint64(1); id <= groups; id++ {
		g, err := l.Group(id)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := uint64(1); i <= rounds; i++ {
				hs := &pb.HardState{Term: new(uint64(1)), Commit: new(i)}
				if err := g.Save(hs, []*pb.Entry{ent(i, 1, fmt.Sprintf("g%d-%d", id, i))}, nil, true); err != nil {
					t.Errorf("group %d Save %d: %v", id, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	a, _ := l.Group(100)
	b, _ := l.Group(101)
	if err := l.SaveMany([]RaftSave{{Log: a, Entries: []*pb.Entry{ent(1, 1, "a1")}}, {Log: b, Entries: []*pb.Entry{ent(1, 1, "b1"), ent(2, 1, "b2")}}}, true); err != nil {
		t.Fatalf("SaveMany: %v", err)
	}
	// A gap in one Save: it fails, the other is written.
	err = l.SaveMany([]RaftSave{{Log: a, Entries: []*pb.Entry{ent(5, 1, "gap")}}, {Log: b, Entries: []*pb.Entry{ent(3, 1, "b3")}}}, true)
	if err == nil {
		t.Fatal("SaveMany with a gap succeeded")
	}
	if err := l.SaveMany([]RaftSave{{Log: a}, {Log: a}}, true); err == nil {
		t.Fatal("SaveMany with a group twice succeeded")
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(nil, []*pb.Entry{ent(2, 1, "x")}, nil, true); err == nil {
		t.Fatal("Save after Close succeeded")
	}

	l, err = OpenRaftLog(RaftLogConfig{Dir: "raft", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for id := uint64(1); id <= groups; id++ {
		g, err := l.Group(id)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]string, rounds)
		for i := range want {
			want[i] = fmt.Sprintf("g%d-%d", id, i+1)
		}
		checkEntries(t, g, 1, rounds+1, want...)
		hs, _, _ := g.InitialState()
		if hs.GetCommit() != rounds {
			t.Fatalf("group %d commit = %d, want %d", id, hs.GetCommit(), rounds)
		}
	}
	a, _ = l.Group(100)
	b, _ = l.Group(101)
	checkEntries(t, a, 1, 2, "a1")
	checkEntries(t, b, 1, 4, "b1", "b2", "b3")
}

// TestRaftLogDeleteGroup: DeleteGroup drops one group's whole log (entries, hard state,
// snapshot, truncated state), durably, and leaves its neighbours' (ids either side)
// alone; a RaftGroupLog still held refuses writes.
func TestRaftLogDeleteGroup(t *testing.T) {
	fs := vfs.NewMem()
	l, err := OpenRaftLog(RaftLogConfig{Dir: "raft", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	fill := func(id uint64) *RaftGroupLog {
		g, err := l.Group(id)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Save(&pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(3))},
			[]*pb.Entry{ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 2, "c")}, nil, true); err != nil {
			t.Fatal(err)
		}
		if _, err := g.CreateSnapshot(2, &pb.ConfState{Voters: []uint64{1}}, []byte("snap")); err != nil {
			t.Fatal(err)
		}
		if err := g.Compact(1); err != nil {
			t.Fatal(err)
		}
		return g
	}
	before, dropped, after := fill(1006), fill(1007), fill(1008)
	_, _ = before, after
	if err := l.DeleteGroup(1007); err != nil {
		t.Fatal(err)
	}
	if err := dropped.Save(nil, []*pb.Entry{ent(4, 2, "d")}, nil, true); !errors.Is(err, errGroupDeleted) {
		t.Fatalf("Save on a deleted group log = %v, want errGroupDeleted", err)
	}
	check := func(l *RaftLog) {
		t.Helper()
		g, err := l.Group(1007)
		if err != nil {
			t.Fatal(err)
		}
		hs, cs, err := g.InitialState()
		if err != nil || !raft.IsEmptyHardState(hs) || len(cs.GetVoters()) != 0 {
			t.Fatalf("deleted group: InitialState = %v, %v, %v", hs, cs, err)
		}
		last, _ := g.LastIndex()
		first, _ := g.FirstIndex()
		snap, _ := g.Snapshot()
		if last != 0 || first != 1 || !raft.IsEmptySnap(snap) {
			t.Fatalf("deleted group: first %d last %d snapshot %v", first, last, snap)
		}
		for _, id := range []uint64{1006, 1008} {
			n, err := l.Group(id)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, n, 2, 4, "b", "c")
			hs, _, _ := n.InitialState()
			snap, _ := n.Snapshot()
			if hs.GetTerm() != 2 || snap.GetMetadata().GetIndex() != 2 {
				t.Fatalf("group %d after its neighbour's deletion: hard state %v, snapshot index %d", id, hs, snap.GetMetadata().GetIndex())
			}
		}
	}
	check(l)
	// A new log for the same id starts from scratch.
	g, _ := l.Group(1007)
	if err := g.Save(nil, []*pb.Entry{ent(1, 5, "new")}, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := l.DeleteGroup(1007); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, err = OpenRaftLog(RaftLogConfig{Dir: "raft", FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	check(l)
	if err := l.DeleteGroup(^uint64(0)); err != nil {
		t.Fatalf("DeleteGroup(max id): %v", err)
	}
}
