package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want cpuTicks
		ok   bool
	}{
		{"linux 6", "cpu  100 2 30 400 5 6 7 8 0 0\ncpu0 50 1 15 200 2 3 3 4 0 0\nintr 1\n",
			cpuTicks{busy: 100 + 2 + 30 + 6 + 7, idle: 400 + 5, steal: 8}, true},
		{"no steal column (old kernel)", "cpu 1 2 3 4 5 6 7\n", cpuTicks{busy: 1 + 2 + 3 + 6 + 7, idle: 4 + 5}, true},
		{"per-cpu lines only", "cpu0 1 2 3 4 5 6 7 8\n", cpuTicks{}, false},
		{"garbage number", "cpu 1 2 x 4 5 6 7 8\n", cpuTicks{}, false},
		{"too short", "cpu 1 2\n", cpuTicks{}, false},
		{"empty", "", cpuTicks{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseProcStat(strings.NewReader(tc.in))
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %+v %v, want %+v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestCPUUsage(t *testing.T) {
	t.Parallel()
	at := time.Unix(1000, 0)
	a := &cpuSample{ticks: cpuTicks{busy: 1000, idle: 1000, steal: 0}, self: time.Second, at: at}
	// 10 s on 2 CPUs = 2000 ticks at 100 Hz: 1500 busy, 440 idle, 60 stolen; this
	// process used 5 s of CPU for 100000 requests.
	b := &cpuSample{ticks: cpuTicks{busy: 2500, idle: 1440, steal: 60}, self: 6 * time.Second, at: at.Add(10 * time.Second)}
	u := cpuUsage(a, b, 100000, 2)
	want := CPUUsage{BusyPct: 75, StealPct: 3, LoadGeneratorPct: 25, LoadGeneratorUsPerRequest: 50}
	if u == nil || *u != want {
		t.Fatalf("got %+v, want %+v", u, want)
	}
	if d := u.describe(); !strings.Contains(d, "steal 3.0%") || !strings.Contains(d, "NOISY") || !strings.Contains(d, "50 us per request") {
		t.Errorf("describe: %q", d)
	}
	b.ticks.steal = 1
	b.ticks.idle = 1499
	if d := cpuUsage(a, b, 100000, 2).describe(); strings.Contains(d, "NOISY") {
		t.Errorf("0.05%% steal called noisy: %q", d)
	}
	short := *b
	short.at = a.at.Add(500 * time.Millisecond)
	if cpuUsage(nil, b, 1, 2) != nil || cpuUsage(a, nil, 1, 2) != nil || cpuUsage(b, b, 1, 2) != nil || cpuUsage(a, &short, 1, 2) != nil {
		t.Error("a missing sample, or a window under a second, must give no usage")
	}
}

// On Linux a run's report carries the machine's CPU over its measured window.
func TestRunReportsCPU(t *testing.T) {
	if sampleCPU() == nil {
		t.Skip("no /proc/stat here")
	}
	op := newFakeOP(t)
	code, stdout, stderr := runCommand(t, "--issuer", op.issuer(),
		"--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret,
		"--concurrency", "2", "--warmup", "0", "--duration", "1200ms", "--progress", "0", "client-credentials")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "\ncpu        machine ") || !strings.Contains(stdout, "us per request); hypervisor steal") {
		t.Errorf("no cpu line:\n%s", stdout)
	}
}
