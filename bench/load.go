package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// LoadConfig is the load model of a run.
//
// Closed loop (Rate == 0): Concurrency goroutines each send a request as soon as the
// previous one finished. Latency is measured from the actual send, so a server stall
// slows the load down with it (coordinated omission): good for peak throughput, not for
// latency under a given load.
//
// Open loop (Rate > 0): requests are scheduled at a fixed rate, request i at
// start + i/Rate, whatever happens to the previous ones; Concurrency goroutines (at most
// that many requests in flight) take them in order. Latency is measured from the
// intended start, so time a request spent waiting because the server (or the load
// generator) fell behind counts, as it would for a real client: coordinated omission
// corrected, like wrk2. The service time (from the actual send) is kept next to it.
type LoadConfig struct {
	Concurrency int
	Rate        float64
	// Warmup runs the same load first and excludes it from the results.
	Warmup time.Duration
	// Duration of the measured part; ignored when Requests > 0.
	Duration time.Duration
	// Requests is the number of measured requests (after warm-up), when > 0.
	Requests int64
	// Progress receives a live progress line every ProgressInterval (0: none). On a
	// terminal (ProgressTTY) the line is rewritten in place with \r, otherwise one plain
	// line per interval.
	Progress         io.Writer
	ProgressTTY      bool
	ProgressInterval time.Duration

	// Engine is EngineGoroutines (or "") or EngineEpoll (see engine.go).
	Engine string
	// RequestTimeout bounds each request under the epoll engine (the goroutine engine's
	// client has its own); 0 means 10 s.
	RequestTimeout time.Duration

	// overrunGrace replaces the 10 s grace of overrunLimit (tests).
	overrunGrace time.Duration
}

// Validate reports every problem at once.
func (c LoadConfig) Validate() error {
	var errs []error
	if c.Concurrency < 1 || c.Concurrency > 100000 {
		errs = append(errs, fmt.Errorf("--concurrency %d: want 1..100000", c.Concurrency))
	}
	if c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate > 10e6 {
		errs = append(errs, fmt.Errorf("--rate %v: want 0 (closed loop) or a positive rate up to 10e6/s", c.Rate))
	}
	if c.Warmup < 0 {
		errs = append(errs, errors.New("--warmup must not be negative"))
	}
	if c.Requests < 0 {
		errs = append(errs, errors.New("--requests must not be negative"))
	}
	if c.Requests == 0 && c.Duration <= 0 {
		errs = append(errs, errors.New("set a positive --duration or --requests"))
	}
	if c.ProgressInterval < 0 {
		errs = append(errs, errors.New("--progress must not be negative"))
	}
	switch c.Engine {
	case "", EngineGoroutines:
	case EngineEpoll:
		if !epollSupported {
			errs = append(errs, errors.New("--engine epoll needs Linux"))
		}
	default:
		errs = append(errs, fmt.Errorf("--engine %q: want %s or %s", c.Engine, EngineGoroutines, EngineEpoll))
	}
	return errors.Join(errs...)
}

// Model is "open" or "closed".
func (c LoadConfig) Model() string {
	if c.Rate > 0 {
		return "open"
	}
	return "closed"
}

// errKey counts errors per operation, phase and class.
type errKey struct {
	op     int
	warmup bool
	class  ErrorClass
}

type errStat struct {
	count  int64
	sample string
}

// shard is one slice of the results. Load goroutines are spread over a few shards (not
// one histogram each: an HdrHistogram of this range is ~180 KiB) and record under the
// shard's mutex, which is nearly uncontended; the progress line merges them.
type shard struct {
	mu       sync.Mutex
	lat      []*hdrhistogram.Histogram // per op: measured latency (open loop: from intended start)
	svc      []*hdrhistogram.Histogram // per op, open loop only: from actual send
	ok       []int64                   // per op, measured
	failed   []int64                   // per op, measured
	warmDone int64
	warmErrs int64
	clamped  int64
	lastDone int64 // UnixNano of the last measured completion
	errs     map[errKey]*errStat
}

func newShard(ops int, open bool) *shard {
	s := &shard{ok: make([]int64, ops), failed: make([]int64, ops), errs: map[errKey]*errStat{}}
	for range ops {
		s.lat = append(s.lat, newHistogram())
		if open {
			s.svc = append(s.svc, newHistogram())
		}
	}
	return s
}

// record adds one completed request. latency is what is reported (open loop: from the
// intended start); service is the time from the actual send (open loop only).
func (s *shard) record(op int, measured bool, latency, service time.Duration, err error, done time.Time) {
	var class ErrorClass
	if err != nil {
		class = Classify(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !measured {
		s.warmDone++
		if err != nil {
			s.warmErrs++
			s.addErr(errKey{op: op, warmup: true, class: class}, err)
		}
		return
	}
	if recordLatency(s.lat[op], latency) {
		s.clamped++
	}
	if s.svc != nil {
		recordLatency(s.svc[op], service)
	}
	if err != nil {
		s.failed[op]++
		s.addErr(errKey{op: op, class: class}, err)
	} else {
		s.ok[op]++
	}
	if n := done.UnixNano(); n > s.lastDone {
		s.lastDone = n
	}
}

func (s *shard) addErr(k errKey, err error) {
	if st := s.errs[k]; st != nil {
		st.count++
		return
	}
	s.errs[k] = &errStat{count: 1, sample: sampleText(err)}
}

func sampleText(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// measurement is the merged outcome of runLoad.
type measurement struct {
	start        time.Time // load start (warm-up included)
	measureStart time.Time // start of the measured window
	measureEnd   time.Time // end of the measured window (last measured completion)
	lat, svc     []*hdrhistogram.Histogram
	ok, failed   []int64
	warmDone     int64
	warmErrs     int64
	clamped      int64
	errs         map[errKey]*errStat
	interrupted  bool
	// maxLag (open loop) is the largest delay between a request's intended and actual
	// start: the backlog when the server or the load generator fell behind.
	maxLag time.Duration
	// unsent (open loop) counts measured requests never sent because the run hit its
	// time limit (overrunLimit) while far behind schedule; they are reported as errors.
	unsent int64
	// cpuStart and cpuEnd sample the machine's CPU at the start and the end of the
	// measured window (nil where that cannot be read, or before the window began).
	cpuStart, cpuEnd *cpuSample
}

func (m *measurement) elapsed() time.Duration {
	if m.measureEnd.After(m.measureStart) {
		return m.measureEnd.Sub(m.measureStart)
	}
	return 0
}

// runLoad drives the workers of sc (already set up) under cfg until the duration or the
// request count is reached, or ctx is cancelled (interrupted: requests cut short by the
// cancellation are not counted, everything before is kept).
func runLoad(ctx context.Context, sc Scenario, cfg LoadConfig) (*measurement, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ops := max(1, len(opsOf(sc)))
	open := cfg.Rate > 0
	nshards := min(cfg.Concurrency, max(4, 2*runtime.GOMAXPROCS(0)), 16)
	shards := make([]*shard, nshards)
	for i := range shards {
		shards[i] = newShard(ops, open)
	}
	workers := make([]Worker, cfg.Concurrency)
	for i := range workers {
		w, err := newWorker(sc, i)
		if err != nil {
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		workers[i] = w
	}

	var raw []RawWorker
	var rawAddr string
	if cfg.Engine == EngineEpoll {
		rt, ok := sc.(RawTarget)
		for _, w := range workers {
			rw, isRaw := w.(RawWorker)
			if _, isOp := w.(OpWorker); !ok || !isRaw || isOp {
				return nil, errors.New("this scenario cannot run on --engine epoll (client-credentials, refresh, org-token, introspect, introspect-jwt, userinfo and token-exchange can); use --engine goroutines")
			}
			raw = append(raw, rw)
		}
		if rawAddr = rt.RawAddr(); rawAddr == "" {
			return nil, errors.New("--engine epoll needs an http:// endpoint; use --engine goroutines")
		}
	}

	start := time.Now()
	m := &measurement{start: start}
	var wg sync.WaitGroup
	var lagNs, unsent atomic.Int64
	var engineErr error
	var sched *openSchedule
	var window *closedWindow
	if open {
		sched = newOpenSchedule(cfg, start)
		m.measureStart = sched.due(sched.warmN)
	} else {
		window = &closedWindow{warmEnd: start.Add(cfg.Warmup), requests: cfg.Requests}
		window.end = window.warmEnd.Add(cfg.Duration)
		m.measureStart = window.warmEnd
	}
	switch {
	case raw != nil:
		timeout := cfg.RequestTimeout
		if timeout <= 0 {
			timeout = 10 * time.Second
		}
		wg.Go(func() {
			n, err := driveEpoll(ctx, rawAddr, raw, shards, sched, window, timeout, &lagNs)
			unsent.Store(n)
			engineErr = err
		})
	case open:
		slots := make(chan int64, cfg.Concurrency)
		wg.Go(func() { unsent.Store(pace(ctx, slots, sched)) })
		for i, w := range workers {
			wg.Go(func() {
				openLoop(ctx, w, shards[i%nshards], slots, sched, &lagNs)
			})
		}
	default:
		for i, w := range workers {
			wg.Go(func() {
				closedLoop(ctx, w, shards[i%nshards], window)
			})
		}
	}

	// The machine's CPU over the measured window, warm-up excluded.
	var cpuStart atomic.Pointer[cpuSample]
	startSample := time.AfterFunc(time.Until(m.measureStart), func() { cpuStart.Store(sampleCPU()) })

	done := make(chan struct{})
	var pwg sync.WaitGroup
	if cfg.Progress != nil && cfg.ProgressInterval > 0 {
		p := &progress{w: cfg.Progress, tty: cfg.ProgressTTY, shards: shards, start: start, cfg: cfg, measureStart: m.measureStart}
		pwg.Go(func() { p.loop(done) })
	}
	wg.Wait()
	m.cpuEnd = sampleCPU()
	startSample.Stop()
	m.cpuStart = cpuStart.Load()
	close(done)
	pwg.Wait()

	if engineErr != nil {
		return nil, engineErr
	}
	m.interrupted = ctx.Err() != nil
	m.maxLag = time.Duration(lagNs.Load())
	m.unsent = unsent.Load()
	m.merge(shards, ops)
	return m, nil
}

// doOne runs one request of w, reporting the op index for OpWorkers.
func doOne(ctx context.Context, w Worker) (int, error) {
	if ow, ok := w.(OpWorker); ok {
		return ow.DoOp(ctx)
	}
	return 0, w.Do(ctx)
}

// closedWindow is a closed loop's measured window: requests starting before warmEnd are
// warm-up; after it, requests start until end, or until requests (when > 0) have been
// claimed. Shared by every worker of a run.
type closedWindow struct {
	warmEnd, end time.Time
	requests     int64
	claimed      atomic.Int64
}

// admit decides for a request about to start at begin: whether it is measured, and
// whether it may start at all.
func (w *closedWindow) admit(begin time.Time) (measured, ok bool) {
	if begin.Before(w.warmEnd) {
		return false, true
	}
	if w.requests > 0 {
		return true, w.claimed.Add(1) <= w.requests
	}
	return true, begin.Before(w.end)
}

func closedLoop(ctx context.Context, w Worker, sh *shard, window *closedWindow) {
	for ctx.Err() == nil {
		begin := time.Now()
		measured, ok := window.admit(begin)
		if !ok {
			return
		}
		op, err := doOne(ctx, w)
		fin := time.Now()
		if ctx.Err() != nil {
			return // interrupted: this request was cut short, not counted
		}
		sh.record(op, measured, fin.Sub(begin), 0, err, fin)
	}
}

// openSchedule is an open loop's schedule: slot i is due at start + i*interval, the
// first warmN of the total slots are warm-up, and none is sent after limit.
type openSchedule struct {
	start        time.Time
	interval     float64
	warmN, total int64
	limit        time.Time
}

func newOpenSchedule(cfg LoadConfig, start time.Time) *openSchedule {
	s := &openSchedule{start: start, interval: float64(time.Second) / cfg.Rate}
	s.warmN = int64(math.Ceil(cfg.Warmup.Seconds() * cfg.Rate))
	s.total = s.warmN + cfg.Requests
	if cfg.Requests == 0 {
		s.total = s.warmN + int64(math.Ceil(cfg.Duration.Seconds()*cfg.Rate))
	}
	s.limit = start.Add(overrunLimit(time.Duration(float64(s.total)*s.interval), cfg.overrunGrace))
	return s
}

// due is slot i's intended start.
func (s *openSchedule) due(i int64) time.Time {
	return s.start.Add(time.Duration(float64(i) * s.interval))
}

// unsentFrom is how many measured slots are left when slot i and the rest are not sent.
func (s *openSchedule) unsentFrom(i int64) int64 { return s.total - max(i, s.warmN) }

// noteLag raises the run's largest send lag to begin - intended (a racy max is fine: a
// diagnostic, not a result).
func noteLag(lagNs *atomic.Int64, begin, intended time.Time) {
	if lag := int64(begin.Sub(intended)); lag > lagNs.Load() {
		lagNs.Store(lag)
	}
}

// pace releases slot i at its intended start, start + i*interval, into slots (closed at
// the end). It never skips a slot: when every worker is busy the send blocks, and the
// late slots go out as soon as a worker is free, still carrying their intended start --
// that waiting is what the corrected latency counts. Go's timers wake up to 1 ms late on
// an idle process (epoll's millisecond timeout), a bias larger than a fast OP's median,
// so the pacer sleeps with preciseSleep and yields after each release so the worker
// runs at once.
//
// The run is bounded: a slot not released by limit (the server is far slower than the
// rate) is never sent, and pace returns how many measured slots that left unsent.
func pace(ctx context.Context, slots chan<- int64, s *openSchedule) (unsent int64) {
	defer close(slots)
	timer := time.NewTimer(time.Until(s.limit))
	defer timer.Stop()
	for i := int64(0); i < s.total; i++ {
		if time.Now().After(s.limit) {
			return s.unsentFrom(i)
		}
		intended := s.due(i)
		for {
			d := time.Until(intended)
			if d <= 0 {
				break
			}
			if ctx.Err() != nil {
				return 0
			}
			preciseSleep(min(d, 50*time.Millisecond))
		}
		select {
		case slots <- i:
		case <-timer.C:
			return s.unsentFrom(i)
		case <-ctx.Done():
			return 0
		}
		runtime.Gosched()
	}
	return 0
}

// overrunLimit is how long an open-loop run may take for a schedule of length d: twice
// the schedule plus a grace (10 s by default), so a saturated server shows up as latency
// and, past that, as requests not sent, instead of a run that never ends.
func overrunLimit(d, grace time.Duration) time.Duration {
	if grace <= 0 {
		grace = 10 * time.Second
	}
	return 2*d + grace
}

func openLoop(ctx context.Context, w Worker, sh *shard, slots <-chan int64, s *openSchedule, lagNs *atomic.Int64) {
	for i := range slots {
		if ctx.Err() != nil {
			return
		}
		intended := s.due(i)
		begin := time.Now()
		noteLag(lagNs, begin, intended)
		op, err := doOne(ctx, w)
		fin := time.Now()
		if ctx.Err() != nil {
			return // interrupted: this request was cut short, not counted
		}
		sh.record(op, i >= s.warmN, fin.Sub(intended), fin.Sub(begin), err, fin)
	}
}

func (m *measurement) merge(shards []*shard, ops int) {
	m.errs = map[errKey]*errStat{}
	m.ok, m.failed = make([]int64, ops), make([]int64, ops)
	for range ops {
		m.lat = append(m.lat, newHistogram())
		if shards[0].svc != nil {
			m.svc = append(m.svc, newHistogram())
		}
	}
	var last int64
	for _, s := range shards {
		s.mu.Lock()
		for op := range ops {
			m.lat[op].Merge(s.lat[op])
			if s.svc != nil {
				m.svc[op].Merge(s.svc[op])
			}
			m.ok[op] += s.ok[op]
			m.failed[op] += s.failed[op]
		}
		m.warmDone += s.warmDone
		m.warmErrs += s.warmErrs
		m.clamped += s.clamped
		last = max(last, s.lastDone)
		for k, v := range s.errs {
			if st := m.errs[k]; st != nil {
				st.count += v.count
			} else {
				m.errs[k] = &errStat{count: v.count, sample: v.sample}
			}
		}
		s.mu.Unlock()
	}
	if last > 0 {
		m.measureEnd = time.Unix(0, last)
	}
}

// totals merges every op's histogram into one (nil svc when closed loop).
func (m *measurement) totals() (lat, svc *hdrhistogram.Histogram) {
	lat = newHistogram()
	for _, h := range m.lat {
		lat.Merge(h)
	}
	if len(m.svc) > 0 {
		svc = newHistogram()
		for _, h := range m.svc {
			svc.Merge(h)
		}
	}
	return lat, svc
}
