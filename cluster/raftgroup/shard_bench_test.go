package raftgroup_test

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
	"github.com/latchid/latch/persistence"
)

// benchKinds stand for Latch's sharded kinds.
var benchKinds = []string{"session", "grant", "grant-at", "refresh", "outbox"}

// hostProposer proposes to the shard's group on one Host (the Proposer cmd/latch wires).
type hostProposer struct{ groups []*raftgroup.Group }

func (p hostProposer) Propose(ctx context.Context, shard uint32, data []byte) (any, error) {
	return p.groups[shard].Propose(ctx, data)
}

// shardedOnHost is the single-node write path as wired: a Host with 64 one-replica
// shard groups, their logs in one synced RaftLog on disk, each applied by a
// ShardMachine (NoSync) to the node's PebbleStore, behind a ShardedStore.
func shardedOnHost(b *testing.B, shards uint32, tick time.Duration) persistence.Store {
	b.Helper()
	st, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	log, err := persistence.OpenRaftLog(persistence.RaftLogConfig{Dir: b.TempDir(), NoSync: os.Getenv("BENCH_LOG_NOSYNC") != ""})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = log.Close() })
	h, err := raftgroup.NewHost(raftgroup.Config{NodeID: 1, ListenAddr: "127.0.0.1:0", TickInterval: tick})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(h.Stop) // runs before the stores close
	var p hostProposer
	for s := range shards {
		m, err := persistence.NewShardMachine(persistence.ShardMachineConfig{Store: st, Shard: s, Shards: shards, Kinds: benchKinds, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		gl, err := log.Group(1000 + uint64(s))
		if err != nil {
			b.Fatal(err)
		}
		g, err := h.StartGroup(raftgroup.GroupConfig{ID: 1000 + uint64(s), StateMachine: m, Storage: gl, Peers: []raftgroup.Peer{{ID: 1, Addr: h.Addr()}}})
		if err != nil {
			b.Fatal(err)
		}
		p.groups = append(p.groups, g)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, g := range p.groups {
		for !g.Leadership().Ready {
			if time.Now().After(deadline) {
				b.Fatalf("group %d has no ready leader", g.ID())
			}
			time.Sleep(time.Millisecond)
		}
	}
	s, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: st, Proposer: p, Shards: shards, Kinds: benchKinds})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkHostShardedPutParallel: ~64 writers on distinct refresh families, each Put a
// CAS on the family's version, through 64 one-replica shard groups on one Host (the
// single-node path as wired), against PebbleStore.Put directly.
//
//	go test ./cluster/raftgroup -run '^$' -bench HostShardedPutParallel -benchtime 3s -count 5
func BenchmarkHostShardedPutParallel(b *testing.B) {
	value := bytes.Repeat([]byte{'v'}, 256)
	var run atomic.Int64
	for _, tc := range []struct {
		name string
		open func(b *testing.B) persistence.Store
	}{
		{"pebble", func(b *testing.B) persistence.Store {
			st, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			return st
		}},
		{"host-64-shards", func(b *testing.B) persistence.Store { return shardedOnHost(b, 64, 10*time.Millisecond) }},
		// Fewer groups, so that the writers' entries share Readies (and raft's per-Ready
		// cost); a data point for the shard count of a small cluster.
		{"host-8-shards", func(b *testing.B) persistence.Store { return shardedOnHost(b, 8, 10*time.Millisecond) }},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := tc.open(b)
			ctx := b.Context()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((64 + procs - 1) / procs)
			var n atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := "w" + strconv.FormatInt(run.Add(1), 10)
				var version uint64
				for pb.Next() {
					v, err := s.Put(ctx, "refresh", key, version, value, time.Now().Add(time.Hour))
					if err != nil {
						b.Error(err)
						return
					}
					version = v
					n.Add(1)
				}
			})
			b.ReportMetric(float64(n.Load())/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkHostShardedPut: one writer (each Put waits for the previous), the latency
// of the path: through one-replica shard groups on a Host with the default 100 ms tick.
//
//	go test ./cluster/raftgroup -run '^$' -bench 'HostShardedPut$' -benchtime 2s -count 5
func BenchmarkHostShardedPut(b *testing.B) {
	value := bytes.Repeat([]byte{'v'}, 256)
	s := shardedOnHost(b, 64, 0) // the default tick
	ctx := b.Context()
	var version uint64
	for b.Loop() {
		v, err := s.Put(ctx, "refresh", "one", version, value, time.Now().Add(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		version = v
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkPebblePut: one writer on a plain PebbleStore (Sync), the baseline of
// BenchmarkHostShardedPut.
func BenchmarkPebblePut(b *testing.B) {
	value := bytes.Repeat([]byte{'v'}, 256)
	s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	ctx := b.Context()
	var version uint64
	for b.Loop() {
		v, err := s.Put(ctx, "refresh", "one", version, value, time.Now().Add(time.Hour))
		if err != nil {
			b.Fatal(err)
		}
		version = v
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}
