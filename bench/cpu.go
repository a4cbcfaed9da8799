package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CPUUsage is what the machine's CPUs did during the measured window, so that a report
// says how much of the machine the load generator took (it shares the machine with the
// server in a loopback run) and whether the hypervisor took a share (steal: on a VM,
// stolen slices of milliseconds land in the latency tail). Linux only (/proc/stat and
// getrusage); absent elsewhere.
type CPUUsage struct {
	// BusyPct is the share of all CPUs' time spent not idle (user, nice, system, irq,
	// softirq), everything on the machine included.
	BusyPct float64 `json:"busyPct"`
	// StealPct is the share of all CPUs' time the hypervisor gave to other guests.
	StealPct float64 `json:"stealPct"`
	// LoadGeneratorPct is this process's CPU time as a share of all CPUs' time.
	LoadGeneratorPct float64 `json:"loadGeneratorPct"`
	// LoadGeneratorUsPerRequest is this process's CPU time per completed request.
	LoadGeneratorUsPerRequest float64 `json:"loadGeneratorUsPerRequest"`
}

// StealNoisyPct is the steal from which a report calls its run noisy.
const StealNoisyPct = 2.0

// cpuTicks is one sample of /proc/stat's aggregate line, in clock ticks.
type cpuTicks struct {
	busy, idle, steal uint64
}

func (c cpuTicks) total() uint64 { return c.busy + c.idle + c.steal }

// parseProcStat reads the aggregate "cpu" line of a /proc/stat listing (proc(5): user
// nice system idle iowait irq softirq steal ...; guest time is inside user already).
// ok is false when there is no such line or it is malformed. Never panics.
func parseProcStat(r io.Reader) (c cpuTicks, ok bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var v [8]uint64
		for i := 0; i < len(v) && i+1 < len(f); i++ {
			n, err := strconv.ParseUint(f[i+1], 10, 64)
			if err != nil {
				return cpuTicks{}, false
			}
			v[i] = n
		}
		user, nice, system, idle, iowait, irq, softirq, steal := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]
		return cpuTicks{busy: user + nice + system + irq + softirq, idle: idle + iowait, steal: steal}, true
	}
	return cpuTicks{}, false
}

// cpuSample is the machine's ticks and this process's CPU time at one moment.
type cpuSample struct {
	ticks cpuTicks
	self  time.Duration
	at    time.Time
}

// minCPUWindow is the shortest window whose CPU shares are reported: /proc/stat counts
// in clock ticks (10 ms at the usual 100 Hz), so a shorter window's shares are noise.
const minCPUWindow = time.Second

// cpuUsage is what happened between two samples, with requests completed in between;
// nil when either sample is missing or the window is shorter than minCPUWindow.
func cpuUsage(a, b *cpuSample, requests int64, numCPU int) *CPUUsage {
	if a == nil || b == nil || numCPU <= 0 {
		return nil
	}
	all := float64(b.ticks.total()) - float64(a.ticks.total())
	wall := b.at.Sub(a.at)
	if all <= 0 || wall < minCPUWindow {
		return nil
	}
	self := (b.self - a.self).Seconds()
	u := &CPUUsage{
		BusyPct:          round1(100 * (float64(b.ticks.busy) - float64(a.ticks.busy)) / all),
		StealPct:         round1(100 * (float64(b.ticks.steal) - float64(a.ticks.steal)) / all),
		LoadGeneratorPct: round1(100 * self / (wall.Seconds() * float64(numCPU))),
	}
	if requests > 0 {
		u.LoadGeneratorUsPerRequest = round1(self * 1e6 / float64(requests))
	}
	return u
}

// describe is the report's cpu line.
func (u *CPUUsage) describe() string {
	s := fmt.Sprintf("machine %.0f%% busy; this load generator %.0f%% (%.0f us per request); hypervisor steal %.1f%%",
		u.BusyPct, u.LoadGeneratorPct, u.LoadGeneratorUsPerRequest, u.StealPct)
	if u.StealPct >= StealNoisyPct {
		s += " -- NOISY: the hypervisor took CPU from this VM during the run; the figures understate the server"
	}
	return s
}
