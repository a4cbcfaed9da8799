package bench

import (
	"bufio"
	"io"
	"os"
	"runtime"
	"strings"
)

// CurrentMachine describes the machine the load generator runs on.
func CurrentMachine(latchVersion string) Machine {
	m := Machine{
		LatchVersion: latchVersion,
		GoVersion:    runtime.Version(),
		GOOS:         runtime.GOOS,
		GOARCH:       runtime.GOARCH,
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		NumCPU:       runtime.NumCPU(),
	}
	m.Hostname, _ = os.Hostname()
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(f)
		f.Close()
	}
	return m
}

// cpuModel returns the first "model name" of a /proc/cpuinfo listing.
func cpuModel(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// shellQuote renders argv as a command line a POSIX shell reads back as the same argv.
func shellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=,@%+", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// redactArgv hides the values of secret flags in a recorded command line.
func redactArgv(argv []string) []string {
	out := make([]string, len(argv))
	copy(out, argv)
	secret := func(name string) bool {
		name = strings.TrimLeft(name, "-")
		return name == "client-secret" || name == "admin-client-secret"
	}
	for i := 0; i < len(out); i++ {
		a := out[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		if name, _, ok := strings.Cut(a, "="); ok {
			if secret(name) {
				out[i] = name + "=REDACTED"
			}
			continue
		}
		if secret(a) && i+1 < len(out) {
			out[i+1] = "REDACTED"
			i++
		}
	}
	return out
}
