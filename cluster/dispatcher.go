package cluster

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

const (
	// MailboxThroughput is how many messages a mailbox burst handles before it yields
	// the processor (runtime.Gosched) and carries on: protoactor's default
	// (actor.NewDefaultDispatcher(300), used by props without a dispatcher).
	MailboxThroughput = 300
	// WorkerIdleTimeout is how long a worker of NewWorkerDispatcher waits for the next
	// burst before it exits.
	WorkerIdleTimeout = 30 * time.Second
)

// workerDispatcher runs mailbox bursts on long-lived worker goroutines. Its methods
// are safe for concurrent use.
type workerDispatcher struct {
	throughput int
	idle       time.Duration
	// work hands a burst to a worker waiting for one. It is unbuffered: a send
	// succeeds only when a worker is idle at that moment, so no burst ever waits in
	// it behind a busy worker.
	work chan func()
	// workers counts live workers (busy or idle); tests read it.
	workers atomic.Int64

	quit    chan struct{} // closed by stop: idle workers exit at once
	mu      sync.Mutex    // orders wg.Add before stop's wg.Wait
	stopped bool
	wg      sync.WaitGroup
}

var _ actor.Dispatcher = (*workerDispatcher)(nil)

// NewWorkerDispatcher returns a protoactor dispatcher, for actor.WithDispatcher, that
// runs mailbox bursts on long-lived worker goroutines instead of protoactor's default
// `go fn()` per burst. Grains call into Pebble with deep stacks, and a new goroutine
// grows its stack two or three times on the way: under load, runtime.newstack and
// copystack were ~15 % of server CPU on the introspection endpoint and ~7 % on the
// refresh endpoint. A worker keeps its grown stack from burst to burst (until the GC
// shrinks the stack of a worker idle at that moment, by half per cycle).
//
// Schedule never blocks and never drops a burst: it hands fn to an idle worker if
// there is one and starts a new worker otherwise, so a burst that blocks (a grain
// waiting on its store) never delays another. A worker exits after idle without work,
// so a spike of concurrency does not leave its goroutines behind.
//
// throughput is the mailbox's burst size (Dispatcher.Throughput); non-positive means
// MailboxThroughput. Non-positive idle means WorkerIdleTimeout.
//
// A panic in fn is not recovered here, as with the default dispatcher: protoactor's
// mailbox recovers a panicking actor itself (defaultMailbox.run escalates it to the
// supervisor), and anything that still escapes a burst crashes the process.
func NewWorkerDispatcher(throughput int, idle time.Duration) actor.Dispatcher {
	if throughput <= 0 {
		throughput = MailboxThroughput
	}
	if idle <= 0 {
		idle = WorkerIdleTimeout
	}
	return &workerDispatcher{throughput: throughput, idle: idle, work: make(chan func()), quit: make(chan struct{})}
}

// Schedule runs fn on an idle worker, or on a new one if none is idle. It does not
// block.
func (d *workerDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
		return
	default:
	}
	d.mu.Lock()
	if d.stopped {
		// After stop (its member is gone): run the burst, but keep no worker.
		d.mu.Unlock()
		go fn()
		return
	}
	d.wg.Add(1)
	d.mu.Unlock()
	d.workers.Add(1)
	go d.worker(fn)
}

// stop makes every worker exit once its current burst is done and waits for them.
// Bursts scheduled afterwards run on a goroutine of their own. Idempotent.
func (d *workerDispatcher) stop() {
	d.mu.Lock()
	if !d.stopped {
		d.stopped = true
		close(d.quit)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// Throughput is the mailbox's burst size.
func (d *workerDispatcher) Throughput() int { return d.throughput }

// worker runs fn and then every burst handed to it, until it has waited d.idle for
// one. Its one timer is reset per burst, not allocated.
func (d *workerDispatcher) worker(fn func()) {
	defer d.wg.Done()
	defer d.workers.Add(-1)
	idle := time.NewTimer(d.idle)
	defer idle.Stop()
	for {
		fn()
		// Do not keep the finished burst's mailbox reachable while waiting.
		fn = nil
		// Since Go 1.23 a Reset timer's channel holds no stale tick.
		idle.Reset(d.idle)
		select {
		case fn = <-d.work:
		case <-idle.C:
			return
		case <-d.quit:
			return
		}
	}
}
