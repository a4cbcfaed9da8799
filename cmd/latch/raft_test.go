package main

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
	"github.com/latchid/latch/persistence"
)

// raftTestNode is one node's directory and raft group, in process (no cluster member).
type raftTestNode struct {
	data  string
	store *persistence.PebbleStore
	dir   *directory.Directory
	raft  *directoryRaft
}

func startRaftTestNode(t *testing.T, id uint64, data string, join string) *raftTestNode {
	t.Helper()
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: filepath.Join(data, "pebble"), NoSync: true, Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	dir, err := directory.Open(t.Context(), directory.Config{Store: store, Now: time.Now, Rand: rand.Reader, Logger: log,
		Argon2: directory.Argon2Params{Memory: 64}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig{Data: data, Join: join}
	r, err := startDirectoryRaft(cfg, id, "127.0.0.1:0", dir, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	dir.Replicate(r)
	n := &raftTestNode{data: data, store: store, dir: dir, raft: r}
	t.Cleanup(n.stop)
	return n
}

func (n *raftTestNode) stop() {
	if n.raft == nil {
		return
	}
	n.raft.Stop()
	n.store.Close()
	n.raft = nil
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// A node founds a cluster without --join, a node with --join never does and waits to
// be added; /readyz's directory check names what is missing until the node caught up,
// then stays ready when the cluster loses its leader (reads and tokens go on), and a
// write without quorum is directory.ErrUnavailable.
func TestDirectoryRaftStartAndReadiness(t *testing.T) {
	base := t.TempDir()
	founder := startRaftTestNode(t, 1, filepath.Join(base, "founder"), "")
	if founder.raft.start != raftBootstrap {
		t.Fatalf("founder start = %s, want bootstrap", founder.raft.start)
	}
	may, err := founder.raft.mayInitDirectory(t.Context(), founder.dir, serveConfig{}, slog.New(slog.DiscardHandler))
	if err != nil || !may {
		t.Fatalf("founder may initialize the directory = %v, %v; want true", may, err)
	}
	waitUntil(t, "the founder's readiness to name the missing admin application", func() bool {
		return strings.Contains(founder.raft.directoryReadiness(founder.dir), "no admin application")
	})
	if _, err := founder.dir.Bootstrap(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
	if err := op.EnsureSigningKey(t.Context(), founder.dir, "ES256", slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if why := founder.raft.directoryReadiness(founder.dir); why != "" {
		t.Fatalf("founder readiness after bootstrap = %q, want ready", why)
	}

	joiner := startRaftTestNode(t, 2, filepath.Join(base, "joiner"), "127.0.0.1:1")
	if joiner.raft.start != raftJoin {
		t.Fatalf("joiner start = %s, want join", joiner.raft.start)
	}
	if may, _ := joiner.raft.mayInitDirectory(t.Context(), joiner.dir, serveConfig{AdminClientID: "x"}, slog.New(slog.DiscardHandler)); may {
		t.Fatal("a joining node may initialize the directory")
	}
	if why := joiner.raft.directoryReadiness(joiner.dir); !strings.Contains(why, "not a member") {
		t.Fatalf("joiner readiness before it is added = %q", why)
	}
	// What the autopilot does on the leader.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := founder.raft.group.AddLearner(ctx, joiner.raft.host.NodeID(), joiner.raft.host.Addr()); err != nil {
		t.Fatal(err)
	}
	// Nobody asks /readyz: the watcher alone latches "caught up", so the node stays
	// ready when the quorum goes below.
	watchCtx, stopWatch := context.WithCancel(t.Context())
	watchDone := make(chan struct{})
	go func() { joiner.raft.watchCaughtUp(watchCtx, joiner.dir); close(watchDone) }()
	defer func() { stopWatch(); <-watchDone }()
	waitUntil(t, "the joiner to catch up", joiner.raft.caughtUp.Load)
	if joiner.dir.AdminApplicationID() != founder.dir.AdminApplicationID() || len(joiner.dir.SigningKeys()) == 0 {
		t.Fatal("the joiner does not have the founder's directory")
	}

	// Two voters, then the founder goes: no leader, no quorum.
	if err := founder.raft.group.AddVoter(ctx, joiner.raft.host.NodeID(), joiner.raft.host.Addr()); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the joiner to know it votes", func() bool {
		return slices.Contains(joiner.raft.group.Status().Voters, joiner.raft.host.NodeID())
	})
	founder.stop()
	waitUntil(t, "the joiner to lose its leader", func() bool { return joiner.raft.group.Leader() == 0 })
	if why := joiner.raft.directoryReadiness(joiner.dir); why != "" {
		t.Fatalf("a caught-up node without a leader: readiness %q, want ready (reads and tokens go on)", why)
	}
	wctx, wcancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer wcancel()
	if _, err := joiner.raft.Propose(wctx, []byte("x")); !errors.Is(err, directory.ErrUnavailable) {
		t.Fatalf("a write without quorum = %v, want directory.ErrUnavailable", err)
	}

	// Restarted on its data, a node resumes (neither bootstraps nor joins).
	joiner.stop()
	again := startRaftTestNode(t, 2, filepath.Join(base, "joiner"), "")
	if again.raft.start != raftRestart {
		t.Fatalf("restart start = %s, want restart", again.raft.start)
	}
}
