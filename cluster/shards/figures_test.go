package shards_test

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestIdleCPU measures the CPU three hosts spend with 64 idle shards of 3 voters each
// (every leader heartbeats its followers every tick): getrusage of this process over
// 10 s. It only reports; set LATCH_SHARD_FIGURES=1 to run it.
func TestIdleCPU(t *testing.T) {
	if os.Getenv("LATCH_SHARD_FIGURES") == "" {
		t.Skip("measurement: set LATCH_SHARD_FIGURES=1")
	}
	c := newTestCluster(t)
	c.interval = time.Second // the default
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
	const span = 10 * time.Second
	before, start := cpu(), time.Now()
	time.Sleep(span)
	used, wall := cpu()-before, time.Since(start)
	t.Logf("idle: 3 hosts x %d shards x 3 voters (tick 100ms, heartbeat every tick, reconcile every 1s): %v CPU in %v = %.1f%% of one core for the 3 hosts (%.1f%% per host)",
		testShards, used.Round(time.Millisecond), wall.Round(time.Millisecond), 100*used.Seconds()/wall.Seconds(), 100*used.Seconds()/wall.Seconds()/3)
}
