package bench

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// These tests drive `latch bench` end to end against fakeOP (see fakeop_test.go: a
// stand-in for the harness mechanics, not Latch). The real product is measured by
// scripts/bench.sh.

func runCommand(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	tty := false
	// Runs get a short calibration unless the test sets its own (the last --calibrate
	// wins); subcommands take no such flag.
	if len(args) == 0 || !slices.Contains([]string{"compare", "list", "help"}, args[0]) {
		args = append([]string{"--calibrate", "5ms"}, args...)
	}
	cmd := &Command{
		Version:     "test",
		Argv:        append([]string{"latch", "bench"}, args...),
		Stdout:      &out,
		Stderr:      &errb,
		Getenv:      func(string) string { return "" },
		ProgressTTY: &tty,
	}
	code = cmd.Run(t.Context(), args)
	return code, out.String(), errb.String()
}

func TestEndToEndLatchTarget(t *testing.T) {
	op := newFakeOP(t)
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "run.json")
	svgPath := filepath.Join(dir, "run.svg")
	code, stdout, stderr := runCommand(t,
		"--issuer", op.issuer(),
		"--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret,
		"--concurrency", "4", "--warmup", "0", "--requests", "300", "--progress", "50ms",
		"--json", jsonPath, "--svg", svgPath, "--label", "fake-latch", "--calibrate", "20ms",
		"client-credentials")
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if first := strings.SplitN(stdout, "\n", 2)[0]; !strings.HasPrefix(first, "OK, no errors: client-credentials, closed loop x4") {
		t.Errorf("first line = %q", first)
	}
	if left := op.leftovers(); len(left) != 0 {
		t.Errorf("teardown left %v", left)
	}
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != 300 || rep.OK != 300 || rep.Errors != 0 {
		t.Errorf("requests/ok/errors = %d/%d/%d, want 300/300/0", rep.Requests, rep.OK, rep.Errors)
	}
	if rep.Latency.Count != 300 || rep.Throughput <= 0 || rep.Latency.P50Ms <= 0 {
		t.Errorf("latency %+v, throughput %v", rep.Latency, rep.Throughput)
	}
	if rep.Params["clientId"] == "" || rep.Params["clientId"] == fakeAdminID || !strings.HasPrefix(rep.Params["resource"], "https://bench.latch.invalid/") {
		t.Errorf("params %v: want the app and resource setup created", rep.Params)
	}
	if strings.Contains(rep.CommandLine, fakeAdminSecret) || !strings.Contains(rep.CommandLine, "--admin-client-secret REDACTED") {
		t.Errorf("command line leaks or lost the secret flag: %s", rep.CommandLine)
	}
	if rep.Machine.GoVersion == "" || rep.Machine.GOMAXPROCS == 0 || rep.Start.IsZero() {
		t.Errorf("machine/start missing: %+v %v", rep.Machine, rep.Start)
	}
	if c := rep.Calibration; c == nil || c.ES256PerSecBefore <= 0 || c.ES256PerSecAfter <= 0 || !strings.Contains(stdout, "\ncalibrate  one load-generator core signs ") {
		t.Errorf("calibration %+v, or its line missing from:\n%s", c, stdout)
	}
	if _, err := rep.Latency.Decode(); err != nil {
		t.Errorf("histogram: %v", err)
	}
	b, err := os.ReadFile(svgPath)
	if err != nil {
		t.Fatal(err)
	}
	checkXML(t, b)
	// Plain progress lines (not a terminal): no carriage returns. (Whether a periodic
	// progress line appears at all depends on how long the short run takes.)
	if strings.Contains(stderr, "\r") {
		t.Errorf("progress on a non-terminal should be plain lines:\n%s", stderr)
	}
}

func TestEndToEndGenericTargetWithErrors(t *testing.T) {
	op := newFakeOP(t)
	op.failEvery.Store(10)
	op.mu.Lock()
	op.clients["svc"] = fakeClient{secret: "svc-secret"}
	op.mu.Unlock()
	jsonPath := filepath.Join(t.TempDir(), "run.json")
	code, stdout, stderr := runCommand(t,
		"--target", "generic", "--issuer", op.issuer(),
		"--client-id", "svc", "--client-secret", "svc-secret",
		"--auth-method", "post", "--audience", "https://api.example", "--scope", "read",
		"--rate", "2000", "--concurrency", "8", "--warmup", "50ms", "--requests", "300",
		"--progress", "0", "--json", jsonPath)
	if code != ExitRequestErrs {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitRequestErrs, stdout, stderr)
	}
	first := strings.SplitN(stdout, "\n", 2)[0]
	if !strings.HasPrefix(first, "ERRORS: ") || !strings.Contains(first, "http 503") {
		t.Errorf("first line must announce the errors: %q", first)
	}
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "errors" || rep.Errors == 0 || rep.Requests != 300 || rep.OK+rep.Errors != rep.Requests {
		t.Errorf("status %s, requests %d ok %d errors %d", rep.Status, rep.Requests, rep.OK, rep.Errors)
	}
	var counted int64
	for _, e := range rep.ErrorsByKind {
		if e.Kind != KindHTTP || e.Status != 503 {
			t.Errorf("unexpected error class %+v", e)
		}
		counted += e.Count
	}
	if counted != rep.Errors {
		t.Errorf("errors by kind sum to %d, total %d", counted, rep.Errors)
	}
	if rep.ServiceTime == nil || rep.Load.Model != "open" {
		t.Errorf("open loop report lacks service time or model: %+v", rep.Load)
	}
	if op.postAuth.Load() == 0 || op.audience.Load() == 0 {
		t.Errorf("client_secret_post / audience not sent (post %d, audience %d)", op.postAuth.Load(), op.audience.Load())
	}
}

func TestEndToEndSetupFailureIsLoud(t *testing.T) {
	op := newFakeOP(t)
	code, stdout, stderr := runCommand(t, "--target", "generic", "--issuer", op.issuer(),
		"--client-id", "nobody", "--client-secret", "wrong", "--requests", "10", "--warmup", "0")
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d", code, ExitFailed)
	}
	if stdout != "" || !strings.Contains(stderr, "oauth invalid_client (401)") {
		t.Errorf("stdout %q\nstderr %q", stdout, stderr)
	}
}

// failingSetup is a scenario of the test binary only: its setup always fails, so the
// tests can follow a failed setup through a run and through a mix.
type failingSetup struct{}

const failingSetupMessage = "setup refused by the test scenario"

func (failingSetup) Setup(context.Context, *Env) error { return errors.New(failingSetupMessage) }
func (failingSetup) Do(context.Context) error          { return errors.New("Do after a failed setup") }

func init() {
	register("failing-setup", "a scenario whose setup always fails (tests only)", func() Scenario { return failingSetup{} })
}

// TestFailedSetupIsLoud: a scenario that cannot be set up fails the run with its reason,
// alone or as a part of mixed, and a mix whose part failed tears down what the parts
// before it created.
func TestFailedSetupIsLoud(t *testing.T) {
	op := newFakeOP(t)
	admin := []string{"--issuer", op.issuer(), "--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret, "--requests", "10"}
	code, stdout, stderr := runCommand(t, append(admin, "failing-setup")...)
	if code != ExitFailed || stdout != "" || !strings.Contains(stderr, failingSetupMessage) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCommand(t, append(admin, "--mix", "client-credentials=3,failing-setup=1", "mixed")...)
	if code != ExitFailed || !strings.Contains(stderr, "mixed: failing-setup: "+failingSetupMessage) {
		t.Errorf("mixed with a failing part: exit %d, stderr %q", code, stderr)
	}
	if left := op.leftovers(); len(left) != 0 {
		t.Errorf("a failed mixed setup left %v", left)
	}
}

func TestEndToEndMixedAndCompare(t *testing.T) {
	op := newFakeOP(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, p := range []string{a, b} {
		code, stdout, stderr := runCommand(t, "--issuer", op.issuer(),
			"--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret,
			"--concurrency", "2", "--warmup", "0", "--requests", "200", "--progress", "0",
			"--mix", "client-credentials=1", "--json", p, "mixed")
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	}
	rep, err := ReadReport(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Ops) != 0 && (len(rep.Ops) != 1 || rep.Ops[0].Requests != 200) {
		t.Errorf("ops %+v", rep.Ops)
	}
	svg := filepath.Join(dir, "cmp.svg")
	code, stdout, stderr := runCommand(t, "compare", "--svg", svg, a, b)
	if code != ExitOK {
		t.Fatalf("compare exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, "OK, no errors in either run\n") || !strings.Contains(stdout, "req/s") || !strings.Contains(stdout, "x\n") {
		t.Errorf("compare output:\n%s", stdout)
	}
	sb, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkXML(t, sb)
}

func checkXML(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	for {
		_, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			return
		}
	}
}
