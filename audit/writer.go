package audit

import (
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/persistence"
)

// Defaults of WriterConfig.
const (
	DefaultRetention     = 30 * 24 * time.Hour
	DefaultBatchSize     = 256
	DefaultFlushInterval = 200 * time.Millisecond
	DefaultQueueSize     = 8192
	// applyTimeout bounds one batch's write: a store that cannot take it in that time
	// (no shard leader) loses the batch rather than stalling the queue for ever.
	applyTimeout = 10 * time.Second
)

// WriterConfig configures a Writer. Zero values take the defaults above.
type WriterConfig struct {
	// Store receives the batches: the node's store, or the cluster's sharded store
	// (each batch is one Apply whose records share a routing key: one shard).
	Store persistence.Store
	// Retention is each entry's TTL, counted from its CreatedAt.
	Retention time.Duration
	// BatchSize is the most entries one Apply writes.
	BatchSize int
	// FlushInterval is the longest an entry waits for its batch to fill.
	FlushInterval time.Duration
	// QueueSize bounds the entries waiting for the writer goroutine; Record drops
	// (and counts) what does not fit.
	QueueSize int
	Now       func() time.Time
	Rand      io.Reader
	Logger    *slog.Logger
}

// Validate reports every problem at once.
func (c WriterConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("audit: Store is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("audit: Now is required"))
	}
	if c.Rand == nil {
		errs = append(errs, errors.New("audit: Rand is required"))
	}
	if c.Retention < 0 || c.BatchSize < 0 || c.FlushInterval < 0 || c.QueueSize < 0 {
		errs = append(errs, errors.New("audit: Retention, BatchSize, FlushInterval and QueueSize must not be negative"))
	}
	return errors.Join(errs...)
}

// Writer batches audit log entries into the store. Record is safe for concurrent use
// and never blocks; one goroutine, started by NewWriter and stopped by Close, does
// every write.
type Writer struct {
	store     persistence.Store
	retention time.Duration
	batchSize int
	interval  time.Duration
	now       func() time.Time
	rand      io.Reader
	log       *slog.Logger

	queue chan Entry
	buf   []byte // the batch's JSON lines (writer goroutine only)
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once

	written, dropped, failed atomic.Uint64
	reportedDrops            uint64 // writer goroutine only
}

// Stats counts a Writer's entries since it started.
type Stats struct {
	// Written entries are durable in the store.
	Written uint64
	// Dropped entries found the queue full (Record never waits).
	Dropped uint64
	// Failed entries were in a batch the store refused or did not take in time.
	Failed uint64
}

// NewWriter starts a Writer; Close stops it.
func NewWriter(cfg WriterConfig) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Writer{
		store: cfg.Store, retention: cfg.Retention, batchSize: cfg.BatchSize, interval: cfg.FlushInterval,
		now: cfg.Now, rand: cfg.Rand, log: cfg.Logger,
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	if w.retention == 0 {
		w.retention = DefaultRetention
	}
	if w.batchSize == 0 {
		w.batchSize = DefaultBatchSize
	}
	if w.interval == 0 {
		w.interval = DefaultFlushInterval
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	size := cfg.QueueSize
	if size == 0 {
		size = DefaultQueueSize
	}
	w.queue = make(chan Entry, size)
	go w.run()
	return w, nil
}

// Record queues e for writing and returns at once: when the queue is full the entry
// is dropped and counted (Stats.Dropped). A zero CreatedAt becomes now. Entries
// recorded after Close are never written.
func (w *Writer) Record(e Entry) {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = w.now()
	}
	select {
	case w.queue <- e:
	default:
		w.dropped.Add(1)
	}
}

// Stats returns the counters so far.
func (w *Writer) Stats() Stats {
	return Stats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load()}
}

// Close writes what is queued and stops the writer goroutine. It is idempotent.
func (w *Writer) Close() error {
	w.once.Do(func() { close(w.quit) })
	<-w.done
	return nil
}

// run is the writer goroutine: a batch is written when it is full or FlushInterval
// after its first entry, and on Close with everything still queued.
//
// Only a batch's first entry wakes the writer; until the batch is due it looks at the
// queue every pollInterval instead of waiting on it, so that a busy server's requests
// do not each wake (and schedule) the writer for one entry.
func (w *Writer) run() {
	defer close(w.done)
	batch := make([]Entry, 0, w.batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		w.flush(batch)
		clear(batch) // drop the strings for the GC
		batch = batch[:0]
	}
	// closing writes what is queued, in full batches and the rest.
	closing := func() {
		for {
			select {
			case e := <-w.queue:
				if batch = append(batch, e); len(batch) >= w.batchSize {
					flush()
				}
			default:
				if len(batch) > 0 {
					flush()
				}
				return
			}
		}
	}
	for {
		select {
		case e := <-w.queue:
			batch = append(batch, e)
		case <-w.quit:
			closing()
			return
		}
		// Fill the batch: take what is queued, then sleep until the next look (or
		// until the batch is due), until it is full or due.
		due := time.Now().Add(w.interval)
		for len(batch) < w.batchSize {
			select {
			case e := <-w.queue:
				batch = append(batch, e)
				continue
			default:
			}
			wait := min(pollInterval, time.Until(due))
			if wait <= 0 {
				break
			}
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-w.quit:
				timer.Stop()
				closing()
				return
			}
		}
		flush()
	}
}

// pollInterval is how often the writer looks at the queue while a batch fills: at
// 10 ms the default queue holds 800k entries/s.
const pollInterval = 10 * time.Millisecond

// flush writes batch as ONE record under a new batch id, its routing key, so a batch
// is one shard's single write: the entries' JSON logs, a line each, compressed with
// Snappy (see encodeBatch). An entry's id is "<batch id>-<n>". A batch whose encoding
// passes maxBatchBytes (unusually long user agents or paths) is split, each part a
// record of its own, so that one Apply stays well within a Raft message.
//
// One record per batch, compressed, is what keeps audit logs off a token request's
// costs: the shard's Pebble gets a few kilobytes per hundred entries (log lines repeat
// their keys, clients and user agents) instead of a record per entry, so its WAL,
// memtable flushes and compactions barely notice them.
func (w *Writer) flush(batch []Entry) {
	var (
		batchID string
		n       int       // entries in the part being encoded
		newest  time.Time // the part's newest CreatedAt: the record lives until its retention ends
		err     error
	)
	w.buf = w.buf[:0]
	for i, e := range batch {
		if batchID == "" {
			if batchID, err = w.batchID(); err != nil {
				w.failed.Add(uint64(len(batch) - i))
				w.log.Warn("audit log batch lost", "entries", len(batch)-i, "err", err)
				return
			}
		}
		id := batchID + "-" + strconv.FormatInt(int64(n), 36)
		l := toLog(id, e)
		line, err := appendLog(w.buf, &l)
		if err != nil { // a Log always encodes; keep the batch if one ever does not
			w.failed.Add(1)
			continue
		}
		w.buf = append(line, '\n')
		n++
		if e.CreatedAt.After(newest) {
			newest = e.CreatedAt
		}
		if len(w.buf) >= maxBatchBytes {
			w.apply(batchID, n, newest)
			w.buf = w.buf[:0]
			batchID, n, newest = "", 0, time.Time{}
		}
	}
	w.apply(batchID, n, newest)
	if d := w.dropped.Load(); d != w.reportedDrops {
		w.log.Warn("audit log entries dropped: queue full", "dropped_total", d)
		w.reportedDrops = d
	}
}

// maxBatchBytes bounds the JSON of one record before compression (a Raft message
// carries up to 1 MiB).
const maxBatchBytes = 256 << 10

// apply writes the n entries encoded in w.buf as the record batchID.
func (w *Writer) apply(batchID string, n int, newest time.Time) {
	if n == 0 {
		return
	}
	muts := []persistence.Mutation{{
		Kind: Kind, Key: batchID, Value: encodeBatch(w.buf), ExpiresAt: newest.Add(w.retention),
		Insert: true, // a new random batch id: no record to read first
	}}
	ctx, cancel := context.WithTimeout(context.Background(), applyTimeout)
	defer cancel()
	for {
		_, err := w.store.Apply(ctx, muts)
		if err == nil {
			w.written.Add(uint64(n))
			return
		}
		// A shard without a reachable leader for a moment (leaderships moving, or
		// nodes briefly disagreeing on which one leads) is tried again within the
		// batch's time: the record is an insert under a fresh key, so a write that
		// did land before its answer was lost is simply written again.
		if errors.Is(err, persistence.ErrUnavailable) {
			select {
			case <-ctx.Done():
			case <-time.After(retryPause):
				continue
			}
		}
		w.failed.Add(uint64(n))
		w.log.Warn("audit log batch lost", "entries", n, "err", err)
		return
	}
}

// retryPause is the wait before a batch whose shard was unavailable is tried again.
const retryPause = 250 * time.Millisecond

// batchIDEncoding spells the random part of a batch id: lower case, no '/', '-' or '.'.
var batchIDEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// batchID is the write time in base-36 milliseconds (9 digits until the year 5188)
// and 50 random bits: unique across nodes, and spread over shards by its hash.
func (w *Writer) batchID() (string, error) {
	var b [7]byte
	if _, err := io.ReadFull(w.rand, b[:]); err != nil {
		return "", fmt.Errorf("audit: random: %w", err)
	}
	ms := strconv.FormatInt(w.now().UnixMilli(), 36)
	if len(ms) < 9 {
		ms = strings.Repeat("0", 9-len(ms)) + ms
	}
	return ms + batchIDEncoding.EncodeToString(b[:])[:10], nil
}
