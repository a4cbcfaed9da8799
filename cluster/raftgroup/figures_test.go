package raftgroup_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// TestFigures measures, on three loopback nodes with the Pebble log on disk (synced),
// the latency of a proposal through the leader and through a follower, and the time
// from the leader's death to the first proposal committed through a survivor. It
// prints them and asserts only that everything was applied.
func TestFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	c := newCluster(t, 3, raftgroup.Config{}, true, gid)
	l := c.leader(gid, 10*time.Second)
	var f *node
	for _, x := range c.nodes {
		if x != l {
			f = x
			break
		}
	}
	const rounds = 300
	total := 0
	measure := func(via *node, label string) {
		lat := make([]time.Duration, 0, rounds)
		for i := range rounds {
			start := time.Now()
			propose(t, via.groups[gid], fmt.Sprintf("%s%d=v", label, i))
			lat = append(lat, time.Since(start))
		}
		total += rounds
		slices.Sort(lat)
		t.Logf("proposal latency via %s (%d sequential, 3 nodes, synced Pebble log): p50 %v p99 %v max %v",
			label, rounds, lat[len(lat)/2].Round(time.Microsecond), lat[len(lat)*99/100].Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	}
	measure(l, "leader")
	measure(f, "follower")
	// Concurrent proposers: entries of one Ready share one fsync.
	const writers, each = 16, 50
	start := time.Now()
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := c.nodes[w%3].groups[gid].Propose(ctx, fmt.Appendf(nil, "w%d-%d=v", w, i))
				cancel()
				if err != nil {
					t.Errorf("concurrent propose: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	total += writers * each
	el := time.Since(start)
	t.Logf("%d concurrent proposers over the 3 nodes: %d proposals in %v (%.0f/s)", writers, writers*each, el.Round(time.Millisecond), float64(writers*each)/el.Seconds())
	converged(t, gid, 10*time.Second, total, c.nodes...)

	var fails []time.Duration
	for range 3 {
		l := c.leader(gid, 10*time.Second)
		alive := c.other(l)
		l.stop()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := alive.groups[gid].Propose(ctx, fmt.Appendf(nil, "failover%d=v", len(fails)))
		cancel()
		if err != nil {
			t.Fatalf("propose after the leader stopped: %v", err)
		}
		fails = append(fails, time.Since(start))
		total++
		l.restart(gid)
		converged(t, gid, 10*time.Second, total, c.nodes...)
	}
	t.Logf("leader failover (leader stopped -> first proposal committed via a survivor; tick 100ms, election 10 ticks): %v", fails)
}
