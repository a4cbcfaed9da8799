package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// heapFloor is the smallest heap goal `latch serve` lets the garbage collector aim for
// when GOGC is not set. Latch's live heap is a few MB (the block cache and memtables are
// not Go heap) while its token paths allocate ~100 MB/s at 10k requests/s: at GOGC=200
// the goal is ~15 MB, a collection every ~100 ms, each with its stop-the-world pauses
// (up to 2 ms measured on 2 cores) and mark work. A floor of 64 MB makes that a few a
// second for memory the node already has; a large live heap is left at GOGC=200.
const heapFloor = 64 << 20

// maxFloorGCPercent bounds the GC percent the floor sets: a nearly empty heap does not
// mean "never collect".
const maxFloorGCPercent = 2000

// floorGCPercent is the GC percent that makes the heap goal (live x (1 + percent/100))
// at least floor, never below base and, for the floor's sake, never above
// maxFloorGCPercent.
func floorGCPercent(live, floor uint64, base int) int {
	if live == 0 || live >= floor {
		return base
	}
	need := (floor*100+live-1)/live - 100 // rounded up: the goal reaches the floor
	return max(base, int(min(need, maxFloorGCPercent)))
}

// keepHeapFloor re-reads the live heap every interval and sets the GC percent from
// floorGCPercent until ctx ends; it changes it only when it moves by more than a tenth.
func keepHeapFloor(ctx context.Context, floor uint64, base int, interval time.Duration) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := base
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return // not reported by this runtime: stay at base
		}
		p := floorGCPercent(sample[0].Value.Uint64(), floor, base)
		if d := p - current; d > current/10 || -d > current/10 {
			debug.SetGCPercent(p)
			current = p
		}
	}
}
