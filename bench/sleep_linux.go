package bench

import (
	"syscall"
	"time"
)

// preciseSleep sleeps for d with the kernel's high-resolution timer (clock_nanosleep:
// tens of microseconds of slack), unlike time.Sleep, whose wake-up on an otherwise idle
// Go process waits on epoll with millisecond granularity. It blocks its OS thread; only
// the open-loop pacer uses it.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
