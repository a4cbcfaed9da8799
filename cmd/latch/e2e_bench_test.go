package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestBenchScenariosAgainstLatch runs every `latch bench` scenario for a few requests
// (24, at concurrency 2: bounded, no timing)
// against a real node (HTTP on loopback, Pebble on disk, real sign-ins through the
// Experience API): each must set itself up through the Management API, finish with no
// request errors, report every request as OK and tear down. The harness's mechanics are
// tested in package bench against a stand-in OP; this is the product.
func TestBenchScenariosAgainstLatch(t *testing.T) {
	n := startNode(t, t.TempDir(), nil)
	count := func(path string) int {
		var list []map[string]any
		n.mustAPI(n.adminToken(t.Context()), "GET", path, nil, 200, &list)
		return len(list)
	}
	apps, users, resources := count("/api/applications"), count("/api/users"), count("/api/resources")
	// Every scenario `latch bench list` names, on the goroutine engine (so a scenario
	// added later is smoke-tested here without editing this test); the single-request
	// ones also on the epoll engine (Linux), whose raw requests and response framing
	// must suit Latch as well.
	var listOut, listErr bytes.Buffer
	if code := runBench(t.Context(), []string{"list"}, &listOut, &listErr); code != 0 {
		t.Fatalf("latch bench list: exit %d: %s", code, listErr.String())
	}
	var listed []string
	for line := range strings.Lines(listOut.String()) {
		if f := strings.Fields(line); len(f) > 0 {
			listed = append(listed, f[0])
		}
	}
	if len(listed) < 8 {
		t.Fatalf("latch bench list names %d scenarios, want at least 8:\n%s", len(listed), listOut.String())
	}
	type run struct{ scenario, engine string }
	var runs []run
	for _, scenario := range listed {
		runs = append(runs, run{scenario, "goroutines"})
	}
	if runtime.GOOS == "linux" {
		for _, scenario := range []string{"client-credentials", "refresh", "org-token", "userinfo", "introspect", "introspect-jwt", "token-exchange"} {
			if !slices.Contains(listed, scenario) {
				t.Fatalf("epoll scenario %s is not in latch bench list", scenario)
			}
			runs = append(runs, run{scenario, "epoll"})
		}
	}
	for _, rn := range runs {
		scenario := rn.scenario
		t.Run(scenario+"/"+rn.engine, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			args := []string{
				"--issuer", n.endpoint + "/oidc",
				"--admin-client-id", testAdminID, "--admin-client-secret", testAdminSecret,
				"--concurrency", "2", "--warmup", "0", "--requests", "24", "--progress", "0",
				"--json", report, "--engine", rn.engine,
			}
			if scenario == "mixed" {
				args = append(args, "--mix", "client-credentials=2,refresh=1,introspect=1,sso-code=1")
			}
			var stdout, stderr bytes.Buffer
			code := runBench(t.Context(), append(args, scenario), &stdout, &stderr)
			if code != 0 {
				t.Fatalf("latch bench %s: exit %d\nstdout:\n%s\nstderr:\n%s", scenario, code, stdout.String(), stderr.String())
			}
			if first, _, _ := strings.Cut(stdout.String(), "\n"); !strings.HasPrefix(first, "OK, no errors") {
				t.Fatalf("first line %q, want OK, no errors", first)
			}
			raw, err := os.ReadFile(report)
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Status   string `json:"status"`
				Scenario string `json:"scenario"`
				Requests int64  `json:"requests"`
				OK       int64  `json:"ok"`
				Errors   int64  `json:"errors"`
				Load     struct {
					Engine string `json:"engine"`
				} `json:"load"`
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if r.Scenario != scenario || r.Requests < 24 || r.OK != r.Requests || r.Errors != 0 {
				t.Fatalf("report %+v: want %s, at least 24 requests, all OK", r, scenario)
			}
			if (r.Load.Engine == "epoll") != (rn.engine == "epoll") {
				t.Fatalf("report engine %q, ran on %s", r.Load.Engine, rn.engine)
			}
		})
	}
	if a, u, r := count("/api/applications"), count("/api/users"), count("/api/resources"); a != apps || u != users || r != resources {
		t.Fatalf("after the runs: %d apps, %d users, %d resources; want %d, %d, %d (teardown left something behind)",
			a, u, r, apps, users, resources)
	}
}
