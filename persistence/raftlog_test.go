package persistence

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func ent(index, term uint64, data string) *pb.Entry {
	return &pb.Entry{Index: new(index), Term: new(term), Type: pb.EntryNormal.Enum(), Data: []byte(data)}
}

func mustIndex(t *testing.T, what string, got uint64, err error, want uint64) {
	t.Helper()
	if err != nil || got != want {
		t.Fatalf("%s = %d, %v; want %d", what, got, err, want)
	}
}

func checkEntries(t *testing.T, g *RaftGroupLog, lo, hi uint64, want ...string) {
	t.Helper()
	got, err := g.Entries(lo, hi, ^uint64(0))
	if err != nil {
		t.Fatalf("Entries(%d, %d): %v", lo, hi, err)
	}
	if len(got) != len(want) {
		t.Fatalf("Entries(%d, %d) = %d entries, want %d", lo, hi, len(got), len(want))
	}
	for i, e := range got {
		if e.GetIndex() != lo+uint64(i) || string(e.GetData()) != want[i] {
			t.Fatalf("Entries(%d, %d)[%d] = index %d data %q, want index %d data %q", lo, hi, i, e.GetIndex(), e.GetData(), lo+uint64(i), want[i])
		}
	}
}

func TestRaftLogConformance(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *RaftLog {
		l, err := OpenRaftLog(RaftLogConfig{Dir: "raft", FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	g, err := l.Group(7)
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.Group(8)
	if err != nil {
		t.Fatal(err)
	}
	// Empty log.
	fi, err := g.FirstIndex()
	mustIndex(t, "FirstIndex", fi, err, 1)
	li, err := g.LastIndex()
	mustIndex(t, "LastIndex", li, err, 0)
	if _, err := g.Entries(1, 1, 100); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Entries on empty log: %v, want ErrUnavailable", err)
	}
	hs, cs, err := g.InitialState()
	if err != nil || !raft.IsEmptyHardState(hs) || len(cs.GetVoters()) != 0 {
		t.Fatalf("InitialState on empty log = %v %v %v", hs, cs, err)
	}

	// Append 1..5 with a hard state; another group's entries stay apart.
	if err := g.Save(&pb.HardState{Term: new(uint64(2)), Vote: new(uint64(1)), Commit: new(uint64(3))},
		[]*pb.Entry{ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 2, "c"), ent(4, 2, "d"), ent(5, 2, "e")}, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := other.Save(nil, []*pb.Entry{ent(1, 9, "x")}, nil, true); err != nil {
		t.Fatal(err)
	}
	li, err = g.LastIndex()
	mustIndex(t, "LastIndex", li, err, 5)
	checkEntries(t, g, 1, 6, "a", "b", "c", "d", "e")
	checkEntries(t, g, 2, 4, "b", "c")
	tm, err := g.Term(3)
	mustIndex(t, "Term(3)", tm, err, 2)
	if _, err := g.Term(6); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("Term(6) beyond last: %v", err)
	}
	// maxSize returns at least one entry, then stops.
	if got, err := g.Entries(1, 6, 1); err != nil || len(got) != 1 {
		t.Fatalf("Entries with maxSize 1 = %d entries, %v; want 1", len(got), err)
	}

	// Overwrite a conflicting tail: 4.. replaced by a shorter tail of term 3.
	if err := g.Save(nil, []*pb.Entry{ent(4, 3, "D")}, nil, true); err != nil {
		t.Fatal(err)
	}
	li, err = g.LastIndex()
	mustIndex(t, "LastIndex after overwrite", li, err, 4)
	checkEntries(t, g, 1, 5, "a", "b", "c", "D")
	if err := g.Save(nil, []*pb.Entry{ent(5, 3, "E"), ent(6, 3, "F")}, nil, true); err != nil {
		t.Fatal(err)
	}
	if err := g.Save(nil, []*pb.Entry{ent(9, 3, "gap")}, nil, true); err == nil {
		t.Fatal("append leaving a gap succeeded")
	}

	// Snapshot at 4 and compaction: FirstIndex 5, Term(4) kept, older entries compacted.
	conf := &pb.ConfState{Voters: []uint64{1, 2, 3}}
	if _, err := g.CreateSnapshot(4, conf, []byte("state@4")); err != nil {
		t.Fatal(err)
	}
	if err := g.Compact(4); err != nil {
		t.Fatal(err)
	}
	fi, err = g.FirstIndex()
	mustIndex(t, "FirstIndex after compaction", fi, err, 5)
	tm, err = g.Term(4)
	mustIndex(t, "Term(4) after compaction", tm, err, 3)
	if _, err := g.Term(3); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Term(3) after compaction: %v", err)
	}
	if _, err := g.Entries(3, 6, 100); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Entries(3, ...) after compaction: %v", err)
	}
	checkEntries(t, g, 5, 7, "E", "F")
	if err := g.Compact(3); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("Compact(3) again: %v", err)
	}

	// Reopen: everything is back from disk.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = open()
	defer l.Close()
	g, err = l.Group(7)
	if err != nil {
		t.Fatal(err)
	}
	fi, err = g.FirstIndex()
	mustIndex(t, "FirstIndex after reopen", fi, err, 5)
	li, err = g.LastIndex()
	mustIndex(t, "LastIndex after reopen", li, err, 6)
	tm, err = g.Term(4)
	mustIndex(t, "Term(4) after reopen", tm, err, 3)
	checkEntries(t, g, 5, 7, "E", "F")
	hs, cs, err = g.InitialState()
	if err != nil || hs.GetTerm() != 2 || hs.GetVote() != 1 || hs.GetCommit() != 3 {
		t.Fatalf("HardState after reopen = %v, %v", hs, err)
	}
	if !proto.Equal(cs, conf) {
		t.Fatalf("ConfState after reopen = %v, want %v", cs, conf)
	}
	snap, err := g.Snapshot()
	if err != nil || snap.GetMetadata().GetIndex() != 4 || snap.GetMetadata().GetTerm() != 3 || string(snap.GetData()) != "state@4" {
		t.Fatalf("Snapshot after reopen = %v, %v", snap, err)
	}
	other, err = l.Group(8)
	if err != nil {
		t.Fatal(err)
	}
	checkEntries(t, other, 1, 2, "x")

	// A received snapshot replaces the whole log.
	recv := &pb.Snapshot{Data: []byte("state@20"), Metadata: &pb.SnapshotMetadata{Index: new(uint64(20)), Term: new(uint64(5)), ConfState: conf}}
	if err := g.Save(&pb.HardState{Term: new(uint64(5)), Commit: new(uint64(20))}, []*pb.Entry{ent(21, 5, "u")}, recv, true); err != nil {
		t.Fatal(err)
	}
	fi, err = g.FirstIndex()
	mustIndex(t, "FirstIndex after snapshot", fi, err, 21)
	li, err = g.LastIndex()
	mustIndex(t, "LastIndex after snapshot", li, err, 21)
	tm, err = g.Term(20)
	mustIndex(t, "Term(20) after snapshot", tm, err, 5)
	checkEntries(t, g, 21, 22, "u")
	if err := g.Save(nil, nil, recv, true); !errors.Is(err, raft.ErrSnapOutOfDate) {
		t.Fatalf("older snapshot: %v", err)
	}
}
