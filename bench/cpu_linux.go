package bench

import (
	"os"
	"syscall"
	"time"
)

// sampleCPU reads /proc/stat and this process's CPU time (getrusage); nil when either
// cannot be read.
func sampleCPU() *cpuSample {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return nil
	}
	defer f.Close()
	ticks, ok := parseProcStat(f)
	if !ok {
		return nil
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return nil
	}
	self := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return &cpuSample{ticks: ticks, self: self, at: time.Now()}
}
