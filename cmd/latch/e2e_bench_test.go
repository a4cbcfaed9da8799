package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchScenariosAgainstLatch runs every `latch bench` scenario for a few requests
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
	for _, scenario := range []string{
		"client-credentials", "password-login", "sso-code", "refresh", "userinfo", "introspect", "introspect-jwt", "mixed",
	} {
		t.Run(scenario, func(t *testing.T) {
			report := filepath.Join(t.TempDir(), "report.json")
			args := []string{
				"--issuer", n.endpoint + "/oidc",
				"--admin-client-id", testAdminID, "--admin-client-secret", testAdminSecret,
				"--concurrency", "2", "--warmup", "0", "--requests", "24", "--progress", "0",
				"--json", report,
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
			}
			if err := json.Unmarshal(raw, &r); err != nil {
				t.Fatal(err)
			}
			if r.Scenario != scenario || r.Requests < 24 || r.OK != r.Requests || r.Errors != 0 {
				t.Fatalf("report %+v: want %s, at least 24 requests, all OK", r, scenario)
			}
		})
	}
	if a, u, r := count("/api/applications"), count("/api/users"), count("/api/resources"); a != apps || u != users || r != resources {
		t.Fatalf("after the runs: %d apps, %d users, %d resources; want %d, %d, %d (teardown left something behind)",
			a, u, r, apps, users, resources)
	}
}
