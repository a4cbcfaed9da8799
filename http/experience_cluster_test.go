package httpapi

import (
	"context"
	"crypto/rand"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
)

// One cluster member serves every test of this package that needs grains: protoactor
// keeps process-wide state (grpc-go's logger), so only one member may run per process
// at a time under -race (cluster.Start). It starts on first use and lives until the
// test binary exits; tests keep apart by using fresh random keys (interaction uids).
// Any test of package httpapi that needs an *actors.Client must call testActors.
var sharedCluster struct {
	once   sync.Once
	client *actors.Client
	err    error
	clock  atomic.Pointer[func() time.Time] // the grains' clock; nil: time.Now
}

// useGrainClock makes now the clock of the shared member's grains until tb ends: grains
// decide expiry by their own clock, not by the HTTP server's. Tests of this package do
// not run in parallel.
func useGrainClock(tb testing.TB, now func() time.Time) {
	sharedCluster.clock.Store(&now)
	tb.Cleanup(func() { sharedCluster.clock.Store(nil) })
}

// sharedGrainNow is the clock of the shared member's grains (see useGrainClock).
func sharedGrainNow() time.Time {
	if now := sharedCluster.clock.Load(); now != nil {
		return (*now)()
	}
	return time.Now()
}

func testActors(tb testing.TB) *actors.Client {
	tb.Helper()
	sharedCluster.once.Do(func() {
		logger := slog.New(slog.DiscardHandler)
		if os.Getenv("LATCH_TEST_LOG") != "" {
			logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
		peers := actors.NewPeers()
		node, err := cluster.Start(context.Background(), cluster.Config{
			GossipAddr: "127.0.0.1:0",
			Kinds:      actors.Kinds(actorstest.NewMemStore(), logger, actors.Options{Peers: peers, Now: sharedGrainNow}),
			Logger:     logger,
			Gossip:     cluster.FastGossip(),
		})
		if err != nil {
			sharedCluster.err = err
			return
		}
		peers.Bind(node)
		sharedCluster.client = actors.NewClient(node)
	})
	if sharedCluster.err != nil {
		tb.Fatalf("start the test cluster member: %v", sharedCluster.err)
	}
	return sharedCluster.client
}

// testBrowser is op.Browser over the test cluster member, as cmd/latch wires it.
func testBrowser(tb testing.TB, issuer string, dir *directory.Directory, keys oidcflow.Verifier, now func() time.Time) *op.Browser {
	tb.Helper()
	c := testActors(tb)
	return &op.Browser{
		Issuer: issuer, Directory: dir, Keys: keys, Lifetimes: oidcflow.DefaultLifetimes(),
		Sessions: c.BrowserSessions(), Grants: c.BrowserGrants(),
		Interactions: c.BrowserInteractions(), Steps: c.BrowserInteractions(),
		Now: now, Rand: rand.Reader,
	}
}
