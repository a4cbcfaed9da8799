package shards_test

import (
	"context"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// TestFigures measures, on three loopback hosts with 64 shards of 3 voters each, for
// the default raft timing and a faster one: the CPU the idle hosts spend (every leader
// heartbeats its followers; getrusage of this process over 10 s), and the failover of
// the shards whose leader is stopped without a leave (time from Host.Stop to the
// first proposal committed through a survivor, per shard). It only reports; set
// LATCH_SHARD_FIGURES=1 to run it.
func TestFigures(t *testing.T) {
	if os.Getenv("LATCH_SHARD_FIGURES") == "" {
		t.Skip("measurement: set LATCH_SHARD_FIGURES=1")
	}
	for _, tc := range []struct {
		name string
		hc   raftgroup.Config
	}{
		// The defaults: a heartbeat every 100ms, an election after 1 to 2 s.
		{"tick=100ms/heartbeat=1/election=10", raftgroup.Config{}},
		// The same heartbeat rate, an election after 0.6 to 1.2 s.
		{"tick=50ms/heartbeat=2/election=12", raftgroup.Config{TickInterval: 50 * time.Millisecond, HeartbeatTicks: 2, ElectionTicks: 12}},
	} {
		hc := tc.hc
		t.Run(tc.name, func(t *testing.T) {
			c := newTestCluster(t)
			c.interval = time.Second // the default
			c.host = hc
			c.grow(3)
			c.proposeAll("a", "1")
			time.Sleep(2 * time.Second) // settle
			cpu := func() time.Duration {
				var ru syscall.Rusage
				if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
					t.Fatal(err)
				}
				return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			}
			before, start := cpu(), time.Now()
			time.Sleep(10 * time.Second)
			used, wall := cpu()-before, time.Since(start)
			t.Logf("idle: 3 hosts x %d shards x 3 voters, reconcile every 1s: %v CPU in %v = %.1f%% of one core for the 3 hosts (%.1f%% per host)",
				testShards, used.Round(time.Millisecond), wall.Round(time.Millisecond), 100*used.Seconds()/wall.Seconds(), 100*used.Seconds()/wall.Seconds()/3)

			// The founder leads every shard so far: hand them over, then stop the
			// node leading them.
			c.nodes[1].mgr.TransferLeadership(context.Background())
			led := map[uint64][]uint32{}
			for s := range uint32(testShards) {
				if l := c.leader(s); l != nil {
					led[l.id] = append(led[l.id], s)
				}
			}
			victim := c.alive()[0]
			for _, n := range c.alive() {
				if len(led[n.id]) > len(led[victim.id]) {
					victim = n
				}
			}
			survivors := slices.DeleteFunc(c.alive(), func(n *tnode) bool { return n == victim })
			victim.kill()
			c.members.Gone(victim.id, false)
			start = time.Now()
			var mu sync.Mutex
			var took []time.Duration
			var wg sync.WaitGroup
			for _, s := range led[victim.id] {
				wg.Go(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
					defer cancel()
					if _, err := survivors[int(s)%2].mgr.Propose(ctx, s, []byte("b=2")); err != nil {
						t.Errorf("shard %d: %v", s, err)
						return
					}
					mu.Lock()
					took = append(took, time.Since(start))
					mu.Unlock()
				})
			}
			wg.Wait()
			if len(took) == 0 {
				t.Fatalf("node %d led no shard (leaders: %v)", victim.id, led)
			}
			slices.Sort(took)
			t.Logf("failover of the %d shards node %d led: first proposal committed after %v (fastest), %v (median), %v (slowest)",
				len(took), victim.id, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
		})
	}
}
