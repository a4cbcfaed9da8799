//go:build !linux

package bench

import "time"

// preciseSleep falls back to time.Sleep where clock_nanosleep is not wired up; open-loop
// send times may then be up to about a millisecond late (still counted in the latency).
func preciseSleep(d time.Duration) { time.Sleep(d) }
