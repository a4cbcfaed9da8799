//go:build linux

package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// epollSupported reports whether this build has the epoll engine.
const epollSupported = true

// epollRun is one run of the epoll engine: the load model and where results go. The
// loops share it; everything in it is read-only or atomic.
type epollRun struct {
	ctx     context.Context
	sa      unix.Sockaddr // the target, resolved once
	family  int
	timeout time.Duration
	lagNs   *atomic.Int64

	window *closedWindow // closed loop
	// open loop (sched non-nil): the schedule, the next slot to claim and the measured
	// slots sent
	sched *openSchedule
	next  atomic.Int64
	sent  atomic.Int64
}

// epollConn is one keep-alive connection of a loop and the worker whose requests it
// carries.
type epollConn struct {
	w  RawWorker
	sh *shard
	fd int
	// wantOut: the epoll registration includes EPOLLOUT (a request only partly written)
	wantOut bool
	in      []byte
	out     []byte // what is left to write of the current request
	busy    bool
	done    bool // no more requests for this connection
	begin   time.Time
	// open loop: the slot being sent or waited for, and its intended start
	slot     int64
	intended time.Time
	waiting  bool
	measured bool // the current request counts (closed loop: started after warm-up)
}

// driveEpoll runs the workers' requests from GOMAXPROCS-1 event loops (at least one, at
// most one per worker) until the load model (sched for an open loop, else window) is
// done or ctx ends. It returns the measured open-loop slots never sent (the overrun
// limit).
func driveEpoll(ctx context.Context, addr string, workers []RawWorker, shards []*shard, sched *openSchedule, window *closedWindow, timeout time.Duration, lagNs *atomic.Int64) (unsent int64, err error) {
	r := &epollRun{ctx: ctx, timeout: timeout, lagNs: lagNs, window: window, sched: sched}
	if r.family, r.sa, err = resolveSockaddr(ctx, addr); err != nil {
		return 0, err
	}
	// One loop fewer than GOMAXPROCS (at least one): while a loop blocks in epoll_wait
	// a P stays idle, so the runtime's monitor need not take the loop's P back (which,
	// done at every wait, keeps it waking every 20 us and costs more than the loop).
	nloops := min(max(1, runtime.GOMAXPROCS(0)-1), len(workers))
	var wg sync.WaitGroup
	errs := make([]error, nloops)
	for l := range nloops {
		var conns []*epollConn
		for i := l; i < len(workers); i += nloops {
			conns = append(conns, &epollConn{w: workers[i], sh: shards[i%len(shards)], in: make([]byte, 0, 16<<10), fd: -1})
		}
		wg.Go(func() { errs[l] = r.loop(conns) })
	}
	wg.Wait()
	if r.sched != nil {
		unsent = r.sched.total - r.sched.warmN - r.sent.Load()
	}
	return max(unsent, 0), errors.Join(errs...)
}

// loop is one event loop: its connections, an epoll instance and, for the open loop, a
// timerfd for the next intended start.
func (r *epollRun) loop(conns []*epollConn) error {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll: %w", err)
	}
	defer unix.Close(ep)
	tfd := -1
	if r.sched != nil {
		if tfd, err = unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC); err != nil {
			return fmt.Errorf("timerfd: %w", err)
		}
		defer unix.Close(tfd)
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(tfd)}); err != nil {
			return fmt.Errorf("epoll timerfd: %w", err)
		}
	}
	byFd := map[int32]*epollConn{}
	defer func() {
		for _, c := range conns {
			c.close(ep, byFd)
		}
	}()
	var waiting []*epollConn // open loop: claimed slots not yet due, in slot order
	var armed time.Time
	startNext := func(c *epollConn) {
		if r.sched != nil {
			if !r.claim(c) {
				return
			}
			if time.Until(c.intended) > 0 {
				c.waiting = true
				waiting = append(waiting, c)
				return
			}
		} else if !r.mayStart(c) {
			return
		}
		r.send(ep, byFd, c)
	}
	for _, c := range conns {
		startNext(c)
	}
	events := make([]unix.EpollEvent, len(conns)+1)
	for {
		if r.ctx.Err() != nil {
			return nil
		}
		active := len(waiting) > 0
		for _, c := range conns {
			active = active || !c.done
		}
		if !active {
			return nil
		}
		if r.sched != nil && len(waiting) > 0 && !waiting[0].intended.Equal(armed) {
			armed = waiting[0].intended
			d := max(time.Until(armed), time.Microsecond)
			ts := unix.NsecToTimespec(int64(d))
			if err := unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Value: ts}, nil); err != nil {
				return fmt.Errorf("timerfd: %w", err)
			}
		}
		n, err := unix.EpollWait(ep, events, 100)
		if err != nil && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:max(n, 0)] {
			if int(ev.Fd) == tfd {
				var buf [8]byte
				_, _ = unix.Read(tfd, buf[:])
				armed = time.Time{} // fired: armed again below for the next slot
				continue
			}
			c := byFd[ev.Fd]
			if c == nil {
				continue
			}
			if !c.busy {
				// An idle connection the server closed (or wrote to unasked): let it
				// go, or its level-triggered event would wake every wait; the next
				// request dials anew.
				c.close(ep, byFd)
				continue
			}
			if ev.Events&unix.EPOLLOUT != 0 && len(c.out) > 0 {
				r.write(ep, byFd, c)
			}
			if c.busy && ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				if r.read(ep, byFd, c) {
					startNext(c)
				}
			}
		}
		now := time.Now()
		// Due slots go out in order; the timer is re-armed for the next one.
		for len(waiting) > 0 && !waiting[0].intended.After(now) {
			c := waiting[0]
			waiting = waiting[1:]
			c.waiting = false
			if now.After(r.sched.limit) {
				r.next.Store(r.sched.total) // far behind: stop; the rest is unsent
				continue
			}
			r.send(ep, byFd, c)
		}
		// Requests past their timeout fail as transport timeouts (their connection is
		// replaced); a connection whose request failed before it was sent (a refused
		// dial) gets its next one.
		for _, c := range conns {
			if c.busy && now.Sub(c.begin) > r.timeout {
				r.finish(ep, byFd, c, TransportError(os.ErrDeadlineExceeded), true)
			}
			if !c.busy && !c.waiting && !c.done {
				startNext(c)
			}
		}
	}
}

// mayStart decides, in the closed loop, whether c sends another request (the run's
// closedWindow, as for the goroutine engine).
func (r *epollRun) mayStart(c *epollConn) bool {
	if c.done || r.ctx.Err() != nil {
		return false
	}
	measured, ok := r.window.admit(time.Now())
	c.measured, c.done = measured, !ok
	return ok
}

// claim takes the next open-loop slot for c (false: none left).
func (r *epollRun) claim(c *epollConn) bool {
	if c.done || r.ctx.Err() != nil {
		return false
	}
	i := r.next.Add(1) - 1
	if i >= r.sched.total || time.Now().After(r.sched.limit) {
		r.next.Store(r.sched.total)
		c.done = true
		return false
	}
	c.slot, c.intended, c.measured = i, r.sched.due(i), i >= r.sched.warmN
	return true
}

// send starts c's next request, dialling first if c has no connection.
func (r *epollRun) send(ep int, byFd map[int32]*epollConn, c *epollConn) {
	c.begin = time.Now()
	c.busy = true
	c.in = c.in[:0]
	if r.sched != nil {
		noteLag(r.lagNs, c.begin, c.intended)
		if c.measured {
			r.sent.Add(1)
		}
	}
	out, err := c.w.RawRequest(r.ctx)
	if err != nil {
		r.finish(ep, byFd, c, err, false) // nothing sent: the connection stays as it is
		return
	}
	if c.fd < 0 {
		if err := c.dial(r.family, r.sa, ep, byFd); err != nil {
			r.finish(ep, byFd, c, TransportError(err), true)
			return
		}
	}
	c.out = out
	r.write(ep, byFd, c)
}

// write writes what is left of c's request; on EAGAIN the rest waits for EPOLLOUT.
func (r *epollRun) write(ep int, byFd map[int32]*epollConn, c *epollConn) {
	for len(c.out) > 0 {
		n, err := unix.Write(c.fd, c.out)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			if !c.wantOut {
				c.wantOut = true
				_ = unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP, Fd: int32(c.fd)})
			}
			return
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			r.finish(ep, byFd, c, TransportError(err), true)
			return
		}
		c.out = c.out[n:]
	}
	if c.wantOut {
		c.wantOut = false
		_ = unix.EpollCtl(ep, unix.EPOLL_CTL_MOD, c.fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(c.fd)})
	}
}

// read reads what c's socket has; when a whole response is in, it finishes the request
// and reports true (c is free for the next one).
func (r *epollRun) read(ep int, byFd map[int32]*epollConn, c *epollConn) bool {
	for {
		if len(c.in) == cap(c.in) {
			c.in = append(c.in, make([]byte, cap(c.in))...)[:len(c.in)]
		}
		n, err := unix.Read(c.fd, c.in[len(c.in):cap(c.in)])
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return false
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			r.finish(ep, byFd, c, TransportError(err), true)
			return true
		case n == 0:
			r.finish(ep, byFd, c, TransportError(errUnexpectedClose), true)
			return true
		}
		c.in = c.in[:len(c.in)+n]
		resp, complete, perr := parseRawResponse(c.in)
		switch {
		case perr != nil:
			r.finish(ep, byFd, c, TransportError(perr), true)
			return true
		case complete:
			var rerr error
			closing := resp.closing
			if resp.n != len(c.in) {
				rerr = TransportError(errors.New("bytes after the response (the server sent more than one)"))
				closing = true
			} else {
				rerr = c.w.RawResponse(r.ctx, &resp)
			}
			r.finish(ep, byFd, c, rerr, closing)
			return true
		}
	}
}

var errUnexpectedClose = fmt.Errorf("connection closed before the response was complete: %w", io.ErrUnexpectedEOF)

// finish records c's request and, when drop, closes its connection (the next request
// dials a new one).
func (r *epollRun) finish(ep int, byFd map[int32]*epollConn, c *epollConn, err error, drop bool) {
	fin := time.Now()
	c.busy = false
	if drop {
		c.close(ep, byFd)
	}
	if r.ctx.Err() != nil {
		return // interrupted: not counted, as in the goroutine engine
	}
	if r.sched != nil {
		c.sh.record(0, c.measured, fin.Sub(c.intended), fin.Sub(c.begin), err, fin)
		return
	}
	c.sh.record(0, c.measured, fin.Sub(c.begin), 0, err, fin)
}

// resolveSockaddr turns host:port into the socket address the loops dial (once a run:
// a reconnect needs no lookup).
func resolveSockaddr(ctx context.Context, addr string) (family int, sa unix.Sockaddr, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, nil, err
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return 0, nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, nil, err
	}
	if ip4 := ips[0].IP.To4(); ip4 != nil {
		sa4 := &unix.SockaddrInet4{Port: p}
		copy(sa4.Addr[:], ip4)
		return unix.AF_INET, sa4, nil
	}
	sa6 := &unix.SockaddrInet6{Port: p}
	copy(sa6.Addr[:], ips[0].IP.To16())
	return unix.AF_INET6, sa6, nil
}

// dial connects c with a socket of its own: made with raw system calls, so Go's network
// poller never watches it (it would wake for every packet of a socket no goroutine waits
// on). The connect blocks (loopback: microseconds; bounded by the kernel's timeout),
// then the socket becomes non-blocking and joins the loop's epoll set.
func (c *epollConn) dial(family int, sa unix.Sockaddr, ep int, byFd map[int32]*epollConn) error {
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP)
	if err != nil {
		return os.NewSyscallError("socket", err)
	}
	fail := func(op string, err error) error {
		unix.Close(fd)
		return os.NewSyscallError(op, err)
	}
	for {
		err = unix.Connect(fd, sa)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		return fail("connect", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
		return fail("setsockopt", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		return fail("setnonblock", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(fd)}); err != nil {
		return fail("epoll_ctl", err)
	}
	c.fd = fd
	byFd[int32(fd)] = c
	return nil
}

func (c *epollConn) close(ep int, byFd map[int32]*epollConn) {
	if c.fd < 0 {
		return
	}
	_ = unix.EpollCtl(ep, unix.EPOLL_CTL_DEL, c.fd, nil)
	delete(byFd, int32(c.fd))
	unix.Close(c.fd)
	c.fd, c.wantOut = -1, false
}
