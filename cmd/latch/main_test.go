package main

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test re-run this binary as `latch` itself (LATCH_TEST_EXEC=1), so the
// signal handling of the real main is exercised.
func TestMain(m *testing.M) {
	if os.Getenv("LATCH_TEST_EXEC") == "1" {
		os.Exit(run(strings.Fields(os.Getenv("LATCH_TEST_ARGS")), os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The real binary, configured only through LATCH_* variables, serves and exits 0 on
// SIGTERM after closing the store; a second start on the same data succeeds.
func TestServeEnvConfigAndSIGTERM(t *testing.T) {
	dir := t.TempDir()
	for round := range 2 {
		addr := freeAddr(t)
		cmd := exec.Command(os.Args[0])
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.Env = append(os.Environ(),
			"LATCH_TEST_EXEC=1", "LATCH_TEST_ARGS=serve",
			"LATCH_DATA="+dir, "LATCH_HTTP="+addr, "LATCH_ENDPOINT=http://"+addr,
			"LATCH_GOSSIP=127.0.0.1:0", "LATCH_ADMIN_CLIENT_ID=env-admin",
			"LATCH_ADMIN_CLIENT_SECRET=env-admin-secret-123456", "LATCH_ARGON2_MEMORY=64")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := false
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			// HTTP answers 503 while the node sets its directory up, then 200.
			resp, err := http.Get("http://" + addr + "/oidc/.well-known/openid-configuration")
			if err == nil {
				resp.Body.Close()
				if ready = resp.StatusCode == 200; ready {
					break
				}
			}
		}
		if !ready {
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: not ready:\n%s", round, out.String())
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("round %d: exit %v\n%s", round, err, out.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: no exit after SIGTERM\n%s", round, out.String())
		}
		if !strings.Contains(out.String(), "shutting down") {
			t.Fatalf("round %d: no shutdown log:\n%s", round, out.String())
		}
	}
}

func TestParseServeConfig(t *testing.T) {
	env := map[string]string{"LATCH_HTTP": "127.0.0.1:4000", "LATCH_SIGNING_ALG": "ES384"}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseServeConfig([]string{"--signing-alg", "RS256"}, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:4000" || cfg.SigningAlg != "RS256" || cfg.Data != "./data" || cfg.Endpoint != "http://localhost:3001" {
		t.Fatalf("flag must win over env, env over default: %+v", cfg)
	}
	_, err = parseServeConfig([]string{"--signing-alg", "HS256", "--endpoint", "ftp://x/", "--durability", "maybe", "--admin-client-id", "a",
		"--commit-delay", "-1ms", "--store-cache", "99999999", "--store-memtable", "4096"}, getenv)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"--signing-alg", "--endpoint", "--durability", "--admin-client-id", "--commit-delay", "--store-cache", "--store-memtable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s: %v", want, err)
		}
	}
}
