package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// IsTerminal reports whether w is a character device (a terminal), so the progress line
// can be rewritten in place; pipes, files and buffers get plain lines.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress prints the live progress line: phase, elapsed time, completion rate over the
// last interval, errors so far, and the p99 of the measured requests so far.
type progress struct {
	w            io.Writer
	tty          bool
	shards       []*shard
	start        time.Time
	measureStart time.Time
	cfg          LoadConfig

	scratch   *hdrhistogram.Histogram
	lastCount int64
	lastTime  time.Time
	width     int
}

func (p *progress) loop(done <-chan struct{}) {
	p.scratch = newHistogram()
	p.lastTime = p.start
	t := time.NewTicker(p.cfg.ProgressInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			if p.tty && p.width > 0 {
				fmt.Fprint(p.w, "\r"+strings.Repeat(" ", p.width)+"\r")
			}
			return
		case now := <-t.C:
			p.print(now)
		}
	}
}

func (p *progress) print(now time.Time) {
	p.scratch.Reset()
	var count, errs, warmErrs int64
	for _, s := range p.shards {
		s.mu.Lock()
		for op := range s.lat {
			p.scratch.Merge(s.lat[op])
			count += s.ok[op] + s.failed[op]
			errs += s.failed[op]
		}
		count += s.warmDone
		warmErrs += s.warmErrs
		s.mu.Unlock()
	}
	rate := float64(count-p.lastCount) / now.Sub(p.lastTime).Seconds()
	p.lastCount, p.lastTime = count, now

	phase := "measure"
	if now.Before(p.measureStart) {
		phase = "warm-up"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "[%6.1fs %-7s] %9.0f req/s  errors %d", now.Sub(p.start).Seconds(), phase, rate, errs)
	if warmErrs > 0 {
		fmt.Fprintf(&b, " (+%d in warm-up)", warmErrs)
	}
	if p.scratch.TotalCount() > 0 {
		fmt.Fprintf(&b, "  p99 %s", fmtMs(usToMs(p.scratch.ValueAtQuantile(99))))
	} else {
		b.WriteString("  p99 -")
	}
	line := b.String()
	if p.tty {
		pad := ""
		if n := p.width - len(line); n > 0 {
			pad = strings.Repeat(" ", n)
		}
		p.width = len(line)
		fmt.Fprint(p.w, "\r"+line+pad)
	} else {
		fmt.Fprintln(p.w, line)
	}
}
