package cluster

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// waitTimeout bounds every wait in these tests: a failure, never the expected path.
const waitTimeout = 10 * time.Second

func newTestDispatcher(t *testing.T, idle time.Duration) *workerDispatcher {
	t.Helper()
	return NewWorkerDispatcher(MailboxThroughput, idle).(*workerDispatcher)
}

// eventually polls cond until it holds or waitTimeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// receive waits for one value from ch, failing the test after waitTimeout.
func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

func TestWorkerDispatcherDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name           string
		throughput     int
		idle           time.Duration
		wantThroughput int
		wantIdle       time.Duration
	}{
		{name: "given", throughput: 10, idle: time.Second, wantThroughput: 10, wantIdle: time.Second},
		{name: "zero", wantThroughput: MailboxThroughput, wantIdle: WorkerIdleTimeout},
		{name: "negative", throughput: -1, idle: -time.Second, wantThroughput: MailboxThroughput, wantIdle: WorkerIdleTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := NewWorkerDispatcher(tt.throughput, tt.idle).(*workerDispatcher)
			if got := d.Throughput(); got != tt.wantThroughput {
				t.Errorf("Throughput() = %d, want %d", got, tt.wantThroughput)
			}
			if d.idle != tt.wantIdle {
				t.Errorf("idle = %v, want %v", d.idle, tt.wantIdle)
			}
		})
	}
}

// TestWorkerDispatcherRunsEachOnce: every scheduled fn runs exactly once under
// concurrent Schedule calls.
func TestWorkerDispatcherRunsEachOnce(t *testing.T) {
	t.Parallel()
	const schedulers, perScheduler = 64, 1000
	d := newTestDispatcher(t, WorkerIdleTimeout)
	runs := make([]atomic.Int32, schedulers*perScheduler)
	var done sync.WaitGroup
	done.Add(len(runs))
	var schedulersWG sync.WaitGroup
	for s := range schedulers {
		schedulersWG.Go(func() {
			for i := range perScheduler {
				n := s*perScheduler + i
				d.Schedule(func() {
					runs[n].Add(1)
					done.Done()
				})
			}
		})
	}
	schedulersWG.Wait()
	allDone := make(chan struct{})
	go func() { done.Wait(); close(allDone) }()
	receive(t, allDone, "every fn to run")
	for n := range runs {
		if got := runs[n].Load(); got != 1 {
			t.Errorf("fn %d ran %d times, want 1", n, got)
		}
	}
}

// TestWorkerDispatcherNeverBlocks: with every worker busy (blocked until released),
// Schedule still returns at once and the extra fn still starts.
func TestWorkerDispatcherNeverBlocks(t *testing.T) {
	t.Parallel()
	const blocked = 16
	d := newTestDispatcher(t, WorkerIdleTimeout)
	release := make(chan struct{})
	started := make(chan int, blocked+1)
	scheduled := make(chan struct{})
	go func() {
		for i := range blocked + 1 {
			d.Schedule(func() {
				started <- i
				<-release
			})
		}
		close(scheduled)
	}()
	receive(t, scheduled, "Schedule to return while every worker is busy")
	seen := map[int]bool{}
	for range blocked + 1 {
		seen[receive(t, started, "every fn to start while the others block")] = true
	}
	if len(seen) != blocked+1 {
		t.Errorf("%d distinct fns started, want %d", len(seen), blocked+1)
	}
	if got := d.workers.Load(); got != blocked+1 {
		t.Errorf("%d workers for %d blocked fns, want one each", got, blocked+1)
	}
	close(release)
}

// TestWorkerDispatcherIdleExit: workers outlive their burst and exit after the idle
// timeout.
func TestWorkerDispatcherIdleExit(t *testing.T) {
	t.Parallel()
	const n = 8
	d := newTestDispatcher(t, 20*time.Millisecond)
	release := make(chan struct{})
	var started, finished sync.WaitGroup
	started.Add(n)
	finished.Add(n)
	for range n {
		d.Schedule(func() {
			started.Done()
			<-release
			finished.Done()
		})
	}
	started.Wait()
	if got := d.workers.Load(); got != n {
		t.Fatalf("%d workers while %d fns block, want %d", got, n, n)
	}
	close(release)
	finished.Wait()
	eventually(t, "idle workers to exit", func() bool { return d.workers.Load() == 0 })

	// A dispatcher with no worker left starts one again.
	ran := make(chan struct{})
	d.Schedule(func() { close(ran) })
	receive(t, ran, "fn scheduled after the workers exited")
}

// TestWorkerDispatcherReusesWorkers: bursts scheduled one after another run on the
// same worker. A new burst can race its worker back to waiting, so the bound is
// loose; without reuse every burst would start a worker.
func TestWorkerDispatcherReusesWorkers(t *testing.T) {
	t.Parallel()
	const bursts = 1000
	d := newTestDispatcher(t, WorkerIdleTimeout)
	ran := make(chan struct{})
	for range bursts {
		d.Schedule(func() { ran <- struct{}{} })
		receive(t, ran, "burst to run")
	}
	t.Logf("%d workers after %d sequential bursts", d.workers.Load(), bursts)
	if got := d.workers.Load(); got > bursts/2 {
		t.Errorf("%d workers after %d sequential bursts, want them reused", got, bursts)
	}
}

// TestWorkerDispatcherActorPanic: an actor on the worker dispatcher that panics is
// recovered by protoactor's mailbox and restarted by its supervisor, as on the default
// dispatcher. Were the panic to escape the burst, it would crash the test binary.
func TestWorkerDispatcherActorPanic(t *testing.T) {
	t.Parallel()
	d := newTestDispatcher(t, WorkerIdleTimeout)
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(system.Shutdown)
	props := actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case string:
			if m == "panic" {
				panic("boom")
			}
			c.Respond(m)
		}
	}, actor.WithDispatcher(d))
	pid := system.Root.Spawn(props)
	system.Root.Send(pid, "panic")

	var reply any
	eventually(t, "the restarted actor to answer", func() bool {
		var err error
		reply, err = system.Root.RequestFuture(pid, "ping", time.Second).Result()
		return !errors.Is(err, actor.ErrTimeout)
	})
	if reply != "ping" {
		t.Errorf("reply = %v, want ping", reply)
	}
}

// deepStackBytes is roughly how much stack one benchmark burst uses: like a grain
// calling into Pebble, enough to grow a new goroutine's 8 KiB stack twice.
const deepStackBytes = 32 << 10

// deepStack recurses until it has used about bytes of stack.
//
//go:noinline
func deepStack(bytes int) byte {
	var frame [1024]byte
	frame[bytes%len(frame)] = byte(bytes)
	if bytes <= len(frame) {
		return frame[0]
	}
	return deepStack(bytes-len(frame)) + frame[bytes%len(frame)]
}

// BenchmarkDispatcher compares protoactor's default dispatcher (a goroutine per burst)
// with the worker dispatcher on bursts that use deepStackBytes of stack. serial waits
// for each burst before scheduling the next (one grain's request/reply); parallel does
// the same from GOMAXPROCS goroutines at once.
func BenchmarkDispatcher(b *testing.B) {
	dispatchers := []struct {
		name string
		new  func() actor.Dispatcher
	}{
		{"goroutine", func() actor.Dispatcher { return actor.NewDefaultDispatcher(MailboxThroughput) }},
		{"worker", func() actor.Dispatcher { return NewWorkerDispatcher(MailboxThroughput, WorkerIdleTimeout) }},
	}
	var sink atomic.Int32
	for _, dd := range dispatchers {
		b.Run(dd.name+"/serial", func(b *testing.B) {
			d := dd.new()
			done := make(chan struct{})
			burst := func() {
				sink.Add(int32(deepStack(deepStackBytes)))
				done <- struct{}{}
			}
			b.ReportAllocs()
			for b.Loop() {
				d.Schedule(burst)
				<-done
			}
		})
		b.Run(dd.name+"/parallel", func(b *testing.B) {
			d := dd.new()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				done := make(chan struct{})
				burst := func() {
					sink.Add(int32(deepStack(deepStackBytes)))
					done <- struct{}{}
				}
				for pb.Next() {
					d.Schedule(burst)
					<-done
				}
			})
		})
	}
}

// TestWorkerDispatcherStopJoinsWorkers: stop lets busy workers finish their burst, makes
// idle ones exit at once (long before their idle timeout) and returns when none is
// left; a burst scheduled afterwards still runs.
func TestWorkerDispatcherStopJoinsWorkers(t *testing.T) {
	t.Parallel()
	d := newTestDispatcher(t, time.Hour)
	release := make(chan struct{})
	var ran atomic.Int64
	for range 3 {
		d.Schedule(func() { <-release; ran.Add(1) })
	}
	d.Schedule(func() { ran.Add(1) })
	eventually(t, "4 workers", func() bool { return d.workers.Load() == 4 })
	stopped := make(chan struct{})
	go func() { d.stop(); close(stopped) }()
	eventually(t, "the idle worker to exit", func() bool { return d.workers.Load() == 3 })
	select {
	case <-stopped:
		t.Fatal("stop returned while workers were busy")
	default:
	}
	close(release)
	receive(t, stopped, "stop to return")
	if w := d.workers.Load(); w != 0 || ran.Load() != 4 {
		t.Fatalf("after stop: %d workers, %d bursts ran; want 0 and 4", w, ran.Load())
	}
	done := make(chan struct{})
	d.Schedule(func() { close(done) })
	receive(t, done, "a burst scheduled after stop")
	d.stop() // idempotent
}
