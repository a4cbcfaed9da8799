package persistence_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/latchid/latch/persistence"
)

// benchRun makes the keys of every benchmark run new (-count reuses the stores).
var benchRun atomic.Int64

// syncProposer is a one-replica, synchronous "Raft": it applies each proposal to its
// shard's machine at once, shards in parallel (one lock per shard orders its entries).
// What it measures is the cost the sharded write path adds over a direct PebbleStore
// write (entry encoding and decoding, the applied-index record in every batch), not
// replication.
type syncProposer struct {
	mu       []sync.Mutex
	index    []uint64
	machines []*persistence.ShardMachine
}

func newSyncProposer(b *testing.B, st *persistence.PebbleStore, shards uint32, noSync bool) *syncProposer {
	b.Helper()
	p := &syncProposer{mu: make([]sync.Mutex, shards), index: make([]uint64, shards)}
	for s := range shards {
		m, err := persistence.NewShardMachine(persistence.ShardMachineConfig{Store: st, Shard: s, Shards: shards, Kinds: hotKinds, NoSync: noSync})
		if err != nil {
			b.Fatal(err)
		}
		p.machines = append(p.machines, m)
	}
	return p
}

func (p *syncProposer) Propose(_ context.Context, shard uint32, data []byte) (any, error) {
	p.mu[shard].Lock()
	defer p.mu[shard].Unlock()
	p.index[shard]++
	return p.machines[shard].Apply(p.index[shard], data), nil
}

// logProposer is the single-node path as a Raft group runs it: each shard has one
// goroutine that takes the proposals queued meanwhile, appends them to the shard's Raft
// log in one synced write (as one Ready does), applies them in order and answers each.
type logProposer struct {
	queues []chan logProposal
}

type logProposal struct {
	data  []byte
	reply chan any
}

func newLogProposer(b *testing.B, st *persistence.PebbleStore, shards uint32, log *persistence.RaftLog) *logProposer {
	b.Helper()
	p := &logProposer{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	b.Cleanup(func() { close(done); wg.Wait() })
	for s := range shards {
		m, err := persistence.NewShardMachine(persistence.ShardMachineConfig{Store: st, Shard: s, Shards: shards, Kinds: hotKinds, NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		g, err := log.Group(1000 + uint64(s))
		if err != nil {
			b.Fatal(err)
		}
		q := make(chan logProposal, 1024)
		p.queues = append(p.queues, q)
		wg.Go(func() {
			var index uint64
			for {
				var batch []logProposal
				select {
				case <-done:
					return
				case first := <-q:
					batch = append(batch, first)
				}
			drain:
				for len(batch) < 256 {
					select {
					case more := <-q:
						batch = append(batch, more)
					default:
						break drain
					}
				}
				ents := make([]*pb.Entry, len(batch))
				for i, pr := range batch {
					ents[i] = &pb.Entry{Index: new(index + uint64(i) + 1), Term: new(uint64(1)), Type: pb.EntryNormal.Enum(), Data: pr.data}
				}
				if err := g.Save(nil, ents, nil, true); err != nil {
					for _, pr := range batch {
						pr.reply <- persistence.ShardResult{Err: err}
					}
					continue
				}
				for _, pr := range batch {
					index++
					pr.reply <- m.Apply(index, pr.data)
				}
			}
		})
	}
	return p
}

func (p *logProposer) Propose(ctx context.Context, shard uint32, data []byte) (any, error) {
	reply := make(chan any, 1)
	p.queues[shard] <- logProposal{data: data, reply: reply}
	select {
	case v := <-reply:
		return v, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// benchStores returns the stores compared by the Put benchmarks, each on its own
// database in dir: the PebbleStore itself, and a 64-shard ShardedStore over a
// synchronous one-replica proposer whose applies sync (as PebbleStore) or not (safe
// behind a synced Raft log; ShardMachineConfig.NoSync), and the PebbleStore without
// fsync, the baseline of the latter.
func benchStores(b *testing.B) []struct {
	name string
	s    persistence.Store
} {
	pebbleStore := openPebble(b, persistence.PebbleConfig{Dir: b.TempDir()})
	sharded := func(noSync, withLog bool) persistence.Store {
		st := openPebble(b, persistence.PebbleConfig{Dir: b.TempDir()})
		var prop persistence.ShardProposer = newSyncProposer(b, st, 64, noSync)
		if withLog {
			log, err := persistence.OpenRaftLog(persistence.RaftLogConfig{Dir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = log.Close() })
			prop = newLogProposer(b, st, 64, log) // its cleanup (stop) runs before the log's close
		}
		s, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: st, Proposer: prop, Shards: 64, Kinds: hotKinds})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	return []struct {
		name string
		s    persistence.Store
	}{
		{"pebble", pebbleStore},
		// Synced applies, no log: two fsync-free paths would differ only by CPU; this
		// one pays the store's fsync as the PebbleStore does.
		{"sharded", sharded(false, false)},
		// As wired on one node: the proposals queued on a shard appended to its Raft log
		// in one synced write, then applied in order without fsync.
		{"sharded-raftlog", sharded(true, true)},
		// Without fsyncs, what remains is the CPU each path costs.
		{"pebble-nosync", openPebble(b, persistence.PebbleConfig{Dir: b.TempDir(), NoSync: true})},
		{"sharded-nosync-apply", sharded(true, false)},
	}
}

// BenchmarkShardedPut: one writer rewriting a refresh family's record (a CAS on its
// version, as every rotation does), Sync on disk.
func BenchmarkShardedPut(b *testing.B) {
	value := bytes.Repeat([]byte{'v'}, 256)
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			ctx := b.Context()
			versions := make([]uint64, 1024)
			prefix := "f" + strconv.FormatInt(benchRun.Add(1), 10) + "-"
			i := 0
			for b.Loop() {
				k := i % len(versions)
				v, err := st.s.Put(ctx, "refresh", prefix+strconv.Itoa(k), versions[k], value, time.Now().Add(time.Hour))
				if err != nil {
					b.Fatal(err)
				}
				versions[k] = v
				i++
			}
			b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkShardedPutParallel: ~64 writers on distinct families (group commit).
func BenchmarkShardedPutParallel(b *testing.B) {
	value := bytes.Repeat([]byte{'v'}, 256)
	for _, st := range benchStores(b) {
		b.Run(st.name, func(b *testing.B) {
			ctx := b.Context()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((64 + procs - 1) / procs)
			var n atomic.Int64
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				key := "w" + strconv.FormatInt(benchRun.Add(1), 10)
				var version uint64
				for pb.Next() {
					v, err := st.s.Put(ctx, "refresh", key, version, value, time.Now().Add(time.Hour))
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

// BenchmarkShardSnapshot: snapshot and restore of one shard of 64 on a node holding
// 100,000 hot-state records (200-byte values), against reading only that shard's share
// of the records as a plain Scan (one key range of 1/64 of them). With the shard key
// layout (shard_keys.go) a snapshot is that one range plus its encoding.
//
// go test ./persistence/ -run '^$' -bench BenchmarkShardSnapshot -benchtime 20x -count 3
// (2 shared cores): kind\x00key layout filtered by ShardOf: Snapshot 12.9-16.0 ms,
// Restore 24-39 ms; shard key layout: Snapshot 0.84-0.99 ms, Restore 1.7-2.0 ms;
// ScanOneShardRange 0.35-0.44 ms in both.
func BenchmarkShardSnapshot(b *testing.B) {
	const (
		shards  = 64
		records = 100_000
	)
	st := openPebble(b, persistence.PebbleConfig{Dir: b.TempDir(), NoSync: true})
	ctx := b.Context()
	value := bytes.Repeat([]byte{'v'}, 200)
	// The hot state is written through the shards, so it is in the shard key layout.
	prop := newSyncProposer(b, st, shards, true)
	hot, err := persistence.NewShardedStore(persistence.ShardedStoreConfig{Local: st, Proposer: prop, Shards: shards, Kinds: hotKinds})
	if err != nil {
		b.Fatal(err)
	}
	for i := range records {
		kind := hotKinds[i%len(hotKinds)]
		if _, err := hot.Insert(ctx, kind, fmt.Sprintf("k%07d", i), value, time.Time{}); err != nil {
			b.Fatal(err)
		}
		// The same volume as one contiguous range of a 1/64 share.
		if i%shards == 0 {
			if _, err := st.Insert(ctx, "range-of-one-shard", fmt.Sprintf("k%07d", i), value, time.Time{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	m := prop.machines[5]
	var snap []byte
	b.Run("Snapshot", func(b *testing.B) {
		for b.Loop() {
			if snap, err = m.Snapshot(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(snap)), "snapshot-bytes")
	})
	b.Run("Restore", func(b *testing.B) {
		for b.Loop() {
			if err := m.Restore(snap); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ScanOneShardRange", func(b *testing.B) {
		for b.Loop() {
			n := 0
			if err := st.Scan(ctx, "range-of-one-shard", func(string, persistence.Record) error { n++; return nil }); err != nil {
				b.Fatal(err)
			}
		}
	})
}
