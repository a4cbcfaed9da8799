package bench

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The sign-in scenarios driven end to end against fakeOP's browser flows
// (fakeop_browser_test.go: harness mechanics, not Latch). Latch itself is measured by
// scripts/bench.sh.

func adminArgs(op *fakeOP) []string {
	return []string{"--issuer", op.issuer(), "--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret}
}

func TestSignInScenariosEndToEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		appType string
		// served counts what one measured request made the fake OP do.
		served func(op *fakeOP) int64
		// jwts is how many JWT access tokens setup must have got (one per browser when
		// the scenario asks for a resource).
		jwts int64
		// params are parameters the report must record, besides the fleet's.
		params map[string]string
	}{
		{"password-login", "Traditional", func(op *fakeOP) int64 { return op.browser.signIns.Load() }, 0, nil},
		{"sso-code", "Traditional", func(op *fakeOP) int64 { return op.browser.ssoCodes.Load() }, 0, nil},
		{"refresh", "SPA", func(op *fakeOP) int64 { return op.browser.rotations.Load() }, 0, nil},
		{"userinfo", "Traditional", func(op *fakeOP) int64 { return op.browser.userinfos.Load() }, 0, nil},
		{"introspect", "Traditional", func(op *fakeOP) int64 { return op.browser.introspections.Load() }, 0,
			map[string]string{"introspectToken": "opaque", "tokenTypeHint": "access_token"}},
		{"introspect-jwt", "Traditional", func(op *fakeOP) int64 { return op.browser.introspections.Load() }, 3,
			map[string]string{"introspectToken": "jwt", "tokenTypeHint": "access_token"}},
	} {
		for _, engine := range scenarioEngines(tc.name) {
			t.Run(tc.name+"/"+engine, func(t *testing.T) {
				t.Parallel()
				op := newFakeOP(t)
				jsonPath := filepath.Join(t.TempDir(), "run.json")
				code, stdout, stderr := runCommand(t, append(adminArgs(op), "--engine", engine,
					"--concurrency", "3", "--warmup", "0", "--requests", "60", "--progress", "0", "--json", jsonPath, tc.name)...)
				if code != ExitOK {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
				}
				rep, err := ReadReport(jsonPath)
				if err != nil {
					t.Fatal(err)
				}
				if rep.OK != 60 || rep.Errors != 0 || (rep.Load.Engine != engine && engine == EngineEpoll) {
					t.Errorf("ok/errors = %d/%d, engine %q", rep.OK, rep.Errors, rep.Load.Engine)
				}
				if got := tc.served(op); got < 60 {
					t.Errorf("the fake OP served %d of the scenario's requests, want >= 60", got)
				}
				if rep.Params["appType"] != tc.appType || rep.Params["users"] != "3" || rep.Params["clientId"] == "" {
					t.Errorf("params %v", rep.Params)
				}
				for k, v := range tc.params {
					if rep.Params[k] != v {
						t.Errorf("param %s = %q, want %q", k, rep.Params[k], v)
					}
				}
				if got := op.browser.jwtAccessTokens.Load(); got != tc.jwts {
					t.Errorf("%d JWT access tokens issued, want %d", got, tc.jwts)
				}
				if tc.jwts > 0 && !strings.HasPrefix(rep.Params["resource"], "https://bench.latch.invalid/latch-bench-"+tc.name+"-") {
					t.Errorf("params %v: want the API resource setup created", rep.Params)
				}
				if tc.jwts == 0 && rep.Params["resource"] != "" {
					t.Errorf("params %v: a resource without JWTs", rep.Params)
				}
				if tc.name == "password-login" && op.browser.ssoCodes.Load() != 0 {
					t.Errorf("password-login got %d codes from a session; every request must sign in", op.browser.ssoCodes.Load())
				}
				if tc.name != "password-login" && op.browser.signIns.Load() != 3 {
					t.Errorf("%d sign-ins, want one per worker (3), all in setup", op.browser.signIns.Load())
				}
				if left := op.leftovers(); len(left) != 0 {
					t.Errorf("teardown left %v", left)
				}
			})
		}
	}
}

// scenarioEngines are the engines a sign-in scenario runs on here: the goroutine engine
// always, the epoll engine where this build has it and the scenario has a raw form
// (single-request scenarios).
func scenarioEngines(name string) []string {
	if !epollSupported || name == "password-login" || name == "sso-code" {
		return []string{EngineGoroutines}
	}
	return []string{EngineGoroutines, EngineEpoll}
}

func TestSignInScenariosInMix(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	jsonPath := filepath.Join(t.TempDir(), "run.json")
	code, stdout, stderr := runCommand(t, append(adminArgs(op),
		"--concurrency", "2", "--warmup", "0", "--requests", "200", "--progress", "0", "--json", jsonPath,
		"--mix", "client-credentials=1,password-login=1,sso-code=1,refresh=1,userinfo=1", "mixed")...)
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, o := range rep.Ops {
		if o.Requests == 0 {
			t.Errorf("op %s never ran", o.Name)
		}
		sum += o.Requests
	}
	if len(rep.Ops) != 5 || sum != 200 || rep.Errors != 0 {
		t.Errorf("ops %+v, errors %d", rep.Ops, rep.Errors)
	}
	if rep.Params["refresh.appType"] != "SPA" || rep.Params["sso-code.appType"] != "Traditional" {
		t.Errorf("params %v", rep.Params)
	}
	if left := op.leftovers(); len(left) != 0 {
		t.Errorf("teardown left %v", left)
	}
}

// A broken refresh chain is counted and restarted: the errors stay one per failure
// instead of every later request of the worker failing.
func TestRefreshChainRestartsAfterFailure(t *testing.T) {
	t.Parallel()
	for _, engine := range scenarioEngines("refresh") {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			testRefreshChainRestarts(t, engine)
		})
	}
}

func testRefreshChainRestarts(t *testing.T, engine string) {
	op := newFakeOP(t)
	op.browser.failRefreshEvery.Store(7)
	jsonPath := filepath.Join(t.TempDir(), "run.json")
	code, stdout, stderr := runCommand(t, append(adminArgs(op), "--engine", engine,
		"--concurrency", "2", "--warmup", "0", "--requests", "140", "--progress", "0", "--json", jsonPath, "refresh")...)
	if code != ExitRequestErrs {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, ExitRequestErrs, stdout, stderr)
	}
	if first := strings.SplitN(stdout, "\n", 2)[0]; !strings.Contains(first, "oauth invalid_grant (400)") {
		t.Errorf("headline %q", first)
	}
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	refreshes := op.browser.refreshes.Load()
	if rep.Requests != 140 || rep.Errors != refreshes/7 || rep.OK != 140-rep.Errors {
		t.Errorf("requests %d ok %d errors %d; %d refreshes reached the OP", rep.Requests, rep.OK, rep.Errors, refreshes)
	}
}

// newScenarioEnv sets name up against op directly (no CLI), for tests that poke the
// fake between requests.
func newScenarioEnv(t *testing.T, op *fakeOP, name string, workers int) (Scenario, []Worker) {
	t.Helper()
	sc, err := NewScenario(name)
	if err != nil {
		t.Fatal(err)
	}
	env := &Env{
		Target:  Target{Kind: "latch", Issuer: op.issuer(), AuthMethod: "basic", AdminClientID: fakeAdminID, AdminClientSecret: fakeAdminSecret},
		Client:  NewClient(workers, 10*time.Second),
		Log:     io.Discard,
		Workers: workers,
	}
	if err := sc.Setup(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := sc.(Teardowner).Teardown(context.Background()); err != nil {
			t.Error(err)
		}
	})
	var ws []Worker
	for i := range workers {
		w, err := newWorker(sc, i)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	return sc, ws
}

// A lost session is one error (sso-code must not quietly sign in again and call it a
// code flow); the same call signs the browser back in, and the next request is SSO.
func TestSSOCodeSessionLost(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	_, ws := newScenarioEnv(t, op, "sso-code", 1)
	ctx := t.Context()
	if err := ws[0].Do(ctx); err != nil {
		t.Fatal(err)
	}
	op.browser.dropSessions.Store(true)
	err := ws[0].Do(ctx)
	if Classify(err) != Classify(errNoSSO) {
		t.Fatalf("after the sessions were dropped: %v", err)
	}
	before := op.browser.ssoCodes.Load()
	if err := ws[0].Do(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if op.browser.signIns.Load() != 2 || op.browser.ssoCodes.Load() != before+1 {
		t.Errorf("sign-ins %d (want 2: setup and recovery), SSO codes %d -> %d", op.browser.signIns.Load(), before, op.browser.ssoCodes.Load())
	}
}

// A revoked access token is one invalid_token; the worker gets a new token through
// its live session.
func TestUserinfoTokenRevoked(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	sc, ws := newScenarioEnv(t, op, "userinfo", 2)
	ctx := t.Context()
	for _, w := range ws {
		if err := w.Do(ctx); err != nil {
			t.Fatal(err)
		}
	}
	op.revokeAccessTokens()
	if got := Classify(ws[0].Do(ctx)).String(); got != "oauth invalid_token (401)" {
		t.Fatalf("revoked token: %s", got)
	}
	if err := ws[0].Do(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	// The scenario-level Do (for callers that ignore NewWorker) signs a browser in
	// on first use and reuses it.
	for range 3 {
		if err := sc.Do(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if op.browser.signIns.Load() != 3 {
		t.Errorf("sign-ins %d, want 3 (two workers, one for Do)", op.browser.signIns.Load())
	}
}

// The same on the epoll engine's path: the raw response's Bearer challenge gives the
// error class, and the browser gets a new token (through its live session) before the
// failure is recorded.
func TestUserinfoTokenRevokedRaw(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	sc, ws := newScenarioEnv(t, op, "userinfo", 1)
	addr := sc.(RawTarget).RawAddr()
	if addr == "" {
		t.Fatal("userinfo has no raw address")
	}
	if err := rawDo(t, addr, ws[0]); err != nil {
		t.Fatal(err)
	}
	op.revokeAccessTokens()
	if got := Classify(rawDo(t, addr, ws[0])).String(); got != "oauth invalid_token (401)" {
		t.Fatalf("revoked token: %s", got)
	}
	if err := rawDo(t, addr, ws[0]); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if op.browser.signIns.Load() != 1 || op.browser.ssoCodes.Load() != 1 || op.browser.userinfos.Load() != 3 {
		t.Errorf("sign-ins %d, SSO codes %d (want 1 and 1: setup, then recovery through the live session), userinfo requests %d",
			op.browser.signIns.Load(), op.browser.ssoCodes.Load(), op.browser.userinfos.Load())
	}
}

// rawDo sends w's next raw request to addr on a new connection and judges the response
// with RawResponse, as the epoll engine does.
func rawDo(t *testing.T, addr string, w Worker) error {
	t.Helper()
	rw, ok := w.(RawWorker)
	if !ok {
		t.Fatalf("%T is not a RawWorker", w)
	}
	ctx := t.Context()
	req, err := rw.RawRequest(ctx)
	if err != nil {
		return err
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	var in []byte
	buf := make([]byte, 4096)
	for {
		n, rerr := c.Read(buf)
		in = append(in, buf[:n]...)
		r, complete, perr := parseRawResponse(in)
		switch {
		case perr != nil:
			t.Fatalf("response %q: %v", in, perr)
		case complete:
			return rw.RawResponse(ctx, &r)
		case rerr != nil:
			t.Fatalf("after %q: %v", in, rerr)
		}
	}
}

// The sign-in scenarios need Latch's Experience API; introspect and introspect-jwt run
// against any OP (TestGenericTargetAgainstNodeOIDCProvider).
func TestSignInScenariosNeedLatch(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	for _, name := range []string{"password-login", "sso-code", "refresh", "userinfo"} {
		code, _, stderr := runCommand(t, "--target", "generic", "--issuer", op.issuer(),
			"--client-id", "c", "--client-secret", "s", "--resource", "https://api.example/", "--requests", "5", name)
		if code != ExitFailed || !strings.Contains(stderr, "needs --target latch") {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
}

// A setup that fails half-way (a user cannot sign in) reports why and deletes what it
// created.
func TestSignInSetupFailureTearsDown(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	// Every password is refused.
	op.browser.wrongPasswords.Store(true)
	code, stdout, stderr := runCommand(t, append(adminArgs(op), "--concurrency", "2", "--requests", "5", "sso-code")...)
	if code != ExitFailed || stdout != "" || !strings.Contains(stderr, "http 422 (verification/password: session.invalid_credentials)") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if left := op.leftovers(); len(left) != 0 {
		t.Errorf("a failed setup left %v", left)
	}
}
