package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBenchScripts runs `make bench` (scripts/bench.sh) and `make bench-peers`
// (scripts/bench-peers.sh, with Latch and node-oidc-provider) as a user would, only
// with runs of a second, into a temporary results directory: each must build, start its
// servers, run every workload without request errors, write its Markdown with the
// exact commands, and stop what it started. The figures of such short runs mean
// nothing; that the scripts work on a fresh clone does.
//
// It is opt-in (LATCH_BENCH_SCRIPTS=1): it builds and starts servers, takes minutes and
// competes for the CPU with the other tests, so timing noise could fail it under -race.
// CI does not set it; every scenario is smoke-tested against a real node by
// TestBenchScenariosAgainstLatch in the default run.
func TestBenchScripts(t *testing.T) {
	if os.Getenv("LATCH_BENCH_SCRIPTS") != "1" {
		t.Skip("opt-in: runs make bench and make bench-peers with 1-second runs; " +
			"run with LATCH_BENCH_SCRIPTS=1 go test ./cmd/latch -run TestBenchScripts -count=1 -v " +
			"(bench-peers also needs curl, Node.js and `make e2e-deps`)")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the bench scripts read /proc and use setsid (Linux)")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	short := []string{
		"BENCH_WARMUP=0s", "BENCH_DURATION=1s", "BENCH_SIGNIN_WARMUP=0s", "BENCH_SIGNIN_DURATION=1s",
		"BENCH_LOGIN_DURATION=1s", "BENCH_OPEN_RUNS=2",
		// Short runs on a machine busy with other tests: noise flags are expected and
		// are not what this test checks.
		"BENCH_BUSY_LIMIT=101", "BENCH_STEAL_LIMIT=101",
	}
	script := func(t *testing.T, name string, env ...string) (md string, results string) {
		t.Helper()
		results = t.TempDir()
		cmd := exec.CommandContext(t.Context(), "bash", filepath.Join("scripts", name))
		cmd.Dir = root
		cmd.Env = append(append(os.Environ(), short...), append(env, "BENCH_RESULTS="+results)...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, lastBytes(out.String(), 6000))
		}
		t.Logf("%s took %s", name, time.Since(start).Round(time.Second))
		mds, _ := filepath.Glob(filepath.Join(results, "*.md"))
		if len(mds) != 1 {
			t.Fatalf("%s wrote %d Markdown files, want 1:\n%s", name, len(mds), lastBytes(out.String(), 3000))
		}
		b, err := os.ReadFile(mds[0])
		if err != nil {
			t.Fatal(err)
		}
		md = string(b)
		if first, _, _ := strings.Cut(md, "\n"); first != "All runs OK, no errors." {
			t.Fatalf("%s: first line %q\n%s", name, first, lastBytes(md, 6000))
		}
		if !strings.Contains(md, "REDACTED") {
			t.Errorf("%s: the server's command line should show its secret as REDACTED", name)
		}
		return md, results
	}

	t.Run("bench.sh", func(t *testing.T) {
		md, results := script(t, "bench.sh")
		for _, run := range []string{"cc-c16", "cc-c64", "cc-open-half-1", "cc-open-half-2", "refresh-c16",
			"refresh-c64", "org-token-c64", "sso-c16", "userinfo-c16", "introspect-c16", "introspect-jwt-c16", "login-c16"} {
			matches, _ := filepath.Glob(filepath.Join(results, "*-"+run+".json"))
			if len(matches) != 1 {
				t.Errorf("no JSON report of %s", run)
			}
		}
		if !regexp.MustCompile(`open loop at half the peak, 2 runs\*\*: p99 [0-9.]+ [0-9.]+ ms; median [0-9.]+ ms`).MatchString(md) {
			t.Errorf("no open-loop summary line:\n%s", lastBytes(md, 4000))
		}
		if !strings.Contains(md, "bin/latch bench --issuer http://127.0.0.1:") {
			t.Errorf("no exact command lines")
		}
	})

	t.Run("bench-peers.sh", func(t *testing.T) {
		nodePrereqs(t, filepath.Join(root, "bench", "peers", "node-oidc-provider"), "oidc-provider")
		md, _ := script(t, "bench-peers.sh", "BENCH_PEERS=latch node")
		for _, want := range []string{
			"| workload | latch | node-oidc-provider |",
			"| client-credentials, closed loop 64 | ",
			"| introspect (opaque), closed loop 16 | ",
			"OK, no errors in either run",
			"b/a",
			"--client-secret REDACTED",
		} {
			if !strings.Contains(md, want) {
				t.Errorf("peers results lack %q:\n%s", want, lastBytes(md, 6000))
			}
		}
		if strings.Contains(md, "Left out:") {
			t.Errorf("a peer was left out:\n%s", lastBytes(md, 6000))
		}
	})
}
