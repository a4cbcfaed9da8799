package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The generic target against a real peer: node-oidc-provider (the OpenID Provider
// library inside Logto), as configured in bench/peers/node-oidc-provider and run by
// `make bench-peers`. Nothing here is faked: node runs the provider on loopback, and
// latch bench drives it with the flags a benchmarker would type.

const (
	peerClientID     = "bench-peer"
	peerClientSecret = "bench-peer-secret-0123456789abcdef"
	peerResource     = "https://api.bench.example"
	peerScope        = "read:bench"
)

func TestGenericTargetAgainstNodeOIDCProvider(t *testing.T) {
	issuer := startNodeOIDCProvider(t)
	generic := []string{"--target", "generic", "--issuer", issuer,
		"--client-id", peerClientID, "--client-secret", peerClientSecret, "--scope", peerScope,
		"--concurrency", "4", "--warmup", "0", "--requests", "300", "--progress", "0"}
	dir := t.TempDir()

	t.Run("client-credentials JWT", func(t *testing.T) {
		p := filepath.Join(dir, "cc.json")
		code, stdout, stderr := runCommand(t, append(generic, "--resource", peerResource, "--json", p, "client-credentials")...)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		rep := readPeerReport(t, p, 300)
		if rep.Target.Kind != "generic" || rep.Target.Issuer != issuer || rep.Params["resource"] != peerResource {
			t.Errorf("report target %+v params %v", rep.Target, rep.Params)
		}
	})

	t.Run("introspect opaque", func(t *testing.T) {
		p := filepath.Join(dir, "introspect.json")
		code, stdout, stderr := runCommand(t, append(generic, "--json", p, "introspect")...)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		rep := readPeerReport(t, p, 300)
		if rep.Params["tokenSource"] != "client_credentials" || rep.Params["introspectToken"] != "opaque" ||
			rep.Params["introspectionEndpoint"] != issuer+"/token/introspection" {
			t.Errorf("params %v", rep.Params)
		}
	})

	// The epoll engine's raw requests and response framing against a server that is
	// not Go's (Koa): the same run, the same checks.
	t.Run("introspect opaque on the epoll engine", func(t *testing.T) {
		if !epollSupported {
			t.Skip("no epoll engine in this build (Linux only)")
		}
		p := filepath.Join(dir, "introspect-epoll.json")
		code, stdout, stderr := runCommand(t, append(generic, "--engine", "epoll", "--json", p, "introspect")...)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
		if rep := readPeerReport(t, p, 300); rep.Load.Engine != EngineEpoll {
			t.Errorf("engine %q", rep.Load.Engine)
		}
	})

	// node-oidc-provider refuses to introspect its JWT access tokens: setup says so,
	// with the OP's own error, instead of a run of identical errors.
	t.Run("introspect-jwt refused", func(t *testing.T) {
		code, stdout, stderr := runCommand(t, append(generic, "--resource", peerResource, "introspect-jwt")...)
		if code != ExitFailed || !strings.Contains(stderr, "first introspection failed") || !strings.Contains(stderr, "unsupported_token_type") {
			t.Fatalf("exit %d (want %d)\n%s\n%s", code, ExitFailed, stdout, stderr)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		args := append([]string(nil), generic...)
		for i := range args {
			if args[i] == peerClientSecret {
				args[i] = "not-the-secret"
			}
		}
		code, stdout, stderr := runCommand(t, append(args, "--resource", peerResource, "client-credentials")...)
		if code != ExitFailed || !strings.Contains(stderr, "invalid_client") {
			t.Fatalf("exit %d (want %d)\n%s\n%s", code, ExitFailed, stdout, stderr)
		}
	})

	t.Run("compare", func(t *testing.T) {
		code, stdout, stderr := runCommand(t, "compare", filepath.Join(dir, "cc.json"), filepath.Join(dir, "introspect.json"))
		if code != ExitOK || !strings.HasPrefix(stdout, "OK, no errors in either run\n") ||
			!strings.Contains(stdout, "differs: scenario client-credentials vs introspect") {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})
}

func readPeerReport(t *testing.T, path string, requests int64) *Report {
	t.Helper()
	rep, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests != requests || rep.Errors != 0 || rep.Throughput <= 0 {
		t.Fatalf("report: %d requests (want %d), %d errors, %.0f req/s", rep.Requests, requests, rep.Errors, rep.Throughput)
	}
	return rep
}

// startNodeOIDCProvider runs bench/peers/node-oidc-provider/server.mjs on a free
// loopback port and returns its issuer; the process is stopped at cleanup. Without node
// >= 20.19 or the peer's node_modules it skips, or fails with LATCH_REQUIRE_NODE=1 (CI).
func startNodeOIDCProvider(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("peers", "node-oidc-provider"))
	if err != nil {
		t.Fatal(err)
	}
	node := nodePrereqs(t, dir)
	cmd := exec.Command(node, "server.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NODE_ENV=production", "PORT=0",
		"CLIENT_ID="+peerClientID, "CLIENT_SECRET="+peerClientSecret,
		"RESOURCE="+peerResource, "SCOPE="+peerScope)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if iss, ok := strings.CutPrefix(sc.Text(), "ready "); ok {
				ready <- iss
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(exited)
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	select {
	case iss := <-ready:
		return iss
	case <-exited:
		t.Fatalf("node-oidc-provider exited before it was ready:\n%s", stderr.String())
	case <-ctx.Done():
		t.Fatalf("node-oidc-provider not ready within 30s:\n%s", stderr.String())
	}
	return ""
}

// nodePrereqs returns the node binary, or skips (fails with LATCH_REQUIRE_NODE=1) when
// node >= 20.19 (oidc-provider 9's floor) or dir's node_modules are missing.
func nodePrereqs(t *testing.T, dir string) string {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("LATCH_REQUIRE_NODE") == "1" {
			t.Fatalf("LATCH_REQUIRE_NODE=1 but %s", msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		missing("node --version: %v", err)
	}
	v := strings.TrimSpace(string(out))
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	major, _ := strconv.Atoi(parts[0])
	minor := 0
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	if major < 20 || major == 20 && minor < 19 {
		missing("node %s is older than 20.19", v)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider")); err != nil {
		missing("%s/node_modules is missing: run `npm ci` there (make e2e-deps)", dir)
	}
	return node
}

// lockedBuffer is an io.Writer safe for the child's stderr copier and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
