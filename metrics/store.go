package metrics

import (
	"context"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// pebbleCollector reads Pebble's Metrics at scrape time: nothing on the write path.
type pebbleCollector struct {
	metrics func() *pebble.Metrics

	compactions, flushes, l0Files, l0Sublevels, memtableSize, memtables,
	walBytes, walWritten, cacheSize, cacheHits, cacheMisses *prometheus.Desc
}

// RegisterPebble registers a collector of a handful of Pebble gauges and counters,
// read from metrics (persistence.PebbleStore.Metrics) at each scrape. store names the
// database ("store", "raft") in a constant label.
func RegisterPebble(reg prometheus.Registerer, store string, metrics func() *pebble.Metrics) {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "pebble", name), help, nil, prometheus.Labels{"db": store})
	}
	reg.MustRegister(&pebbleCollector{
		metrics:      metrics,
		compactions:  d("compactions_total", "Compactions run."),
		flushes:      d("flushes_total", "Memtable flushes run."),
		l0Files:      d("l0_files", "Tables in L0."),
		l0Sublevels:  d("l0_sublevels", "L0 sublevels (read amplification from L0)."),
		memtableSize: d("memtable_size_bytes", "Bytes allocated by memtables and large batches."),
		memtables:    d("memtables", "Memtables."),
		walBytes:     d("wal_size_bytes", "Size of the live WAL files."),
		walWritten:   d("wal_written_bytes_total", "Bytes written to the WAL."),
		cacheSize:    d("block_cache_size_bytes", "Bytes in the block cache."),
		cacheHits:    d("block_cache_hits_total", "Block cache hits (hit rate: hits / (hits + misses))."),
		cacheMisses:  d("block_cache_misses_total", "Block cache misses."),
	})
}

func (c *pebbleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.compactions, c.flushes, c.l0Files, c.l0Sublevels, c.memtableSize, c.memtables, c.walBytes, c.walWritten, c.cacheSize, c.cacheHits, c.cacheMisses} {
		ch <- d
	}
}

func (c *pebbleCollector) Collect(ch chan<- prometheus.Metric) {
	m := c.metrics()
	if m == nil {
		return
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter(c.compactions, float64(m.Compact.Count))
	counter(c.flushes, float64(m.Flush.Count))
	gauge(c.l0Files, float64(m.Levels[0].TablesCount))
	gauge(c.l0Sublevels, float64(m.Levels[0].Sublevels))
	gauge(c.memtableSize, float64(m.MemTable.Size))
	gauge(c.memtables, float64(m.MemTable.Count))
	gauge(c.walBytes, float64(m.WAL.Size))
	counter(c.walWritten, float64(m.WAL.BytesWritten))
	gauge(c.cacheSize, float64(m.BlockCache.Size))
	counter(c.cacheHits, float64(m.BlockCache.Hits))
	counter(c.cacheMisses, float64(m.BlockCache.Misses))
}

// OutboxStats is what the back-channel logout outbox counts (outbox.Worker.Stats).
type OutboxStats struct{ Delivered, Retried, GivenUp uint64 }

// RegisterOutbox exports the outbox's counters and its depth, read at scrape time:
// stats returns the worker's counters, pending counts the queued entries (a store
// scan of the outbox kind, bounded to a second per scrape).
func RegisterOutbox(reg prometheus.Registerer, stats func() OutboxStats, pending func(ctx context.Context) (int, error)) {
	c := func(name, help string, v func(OutboxStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "outbox", Name: name, Help: help},
			func() float64 { return float64(v(stats())) })
	}
	reg.MustRegister(
		c("deliveries_total", "Back-channel logouts delivered (the RP answered 200 or 204).", func(s OutboxStats) uint64 { return s.Delivered }),
		c("retries_total", "Failed delivery attempts after which another was scheduled.", func(s OutboxStats) uint64 { return s.Retried }),
		c("give_ups_total", "Back-channel logouts given up (MaxAttempts or TTL reached).", func(s OutboxStats) uint64 { return s.GivenUp }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "outbox", Name: "depth",
			Help: "Entries waiting in the outbox (-1 when the count failed)."},
			func() float64 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				n, err := pending(ctx)
				if err != nil {
					return -1
				}
				return float64(n)
			}),
	)
}
