// Package clustertest runs cluster members in child processes, one member per process,
// for multi-member tests.
//
// Why not several members in one test process: protoactor-go's remote.Start replaces
// grpc-go's process-wide logger (grpclog.SetLoggerV2) without synchronization while the
// gRPC goroutines of members already running read it, so the race detector reports
// every second member started in a process. With one member per process, `go test
// -race` checks all of Latch's cluster code, and a crash is a real SIGKILL.
//
// The parent re-executes the test binary, running a single test function that calls
// Payload and Serve. Requests and replies are JSON lines: the parent writes requests
// to the child's stdin; the child prints "LATCH-CHILD-READY <json>" once and one
// "LATCH-CHILD-REPLY <json>" line per request on stdout (other output is ignored).
package clustertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	envPayload  = "LATCH_CLUSTERTEST_CHILD"
	readyPrefix = "LATCH-CHILD-READY "
	replyPrefix = "LATCH-CHILD-REPLY "
)

// CallTimeout bounds one request to a child.
const CallTimeout = 20 * time.Second

type envelope struct {
	Test string          `json:"test"`
	Data json.RawMessage `json:"data"`
}

// Child is a running child process. Its methods may be called from one goroutine at a
// time (Call serializes requests).
type Child struct {
	t     testing.TB
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
	done  chan struct{} // closed when the process exited
	err   error         // exit error, valid after done

	mu     sync.Mutex
	closed bool
}

// Start runs the test function named test in a child process with payload (encoded as
// JSON) and waits until it reports ready, decoding its ready message into ready (may be
// nil). The child is killed when t ends, if it is still running.
func Start(t testing.TB, name, test string, payload, ready any) *Child {
	t.Helper()
	data, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("clustertest: encode payload: %v", err)
	}
	env, err := json.Marshal(envelope{Test: test, Data: data})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(),
		envPayload+"="+string(env),
		// Under -race: stop at the first data race so the parent sees the child die,
		// and skip the detector's default 1 s sleep at exit.
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" halt_on_error=1 atexit_sleep_ms=0"))
	cmd.Stderr = prefixWriter{prefix: "[" + name + "] ", w: os.Stderr}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("clustertest: start %s: %v", name, err)
	}
	c := &Child{t: t, name: name, cmd: cmd, stdin: stdin, lines: make(chan string, 16), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, readyPrefix) || strings.HasPrefix(line, replyPrefix) {
				c.lines <- line
			}
		}
		close(c.lines)
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(c.Kill)

	line, err := c.next(CallTimeout)
	if err != nil {
		t.Fatalf("clustertest: %s did not become ready: %v", name, err)
	}
	raw, ok := strings.CutPrefix(line, readyPrefix)
	if !ok {
		t.Fatalf("clustertest: %s: expected ready line, got %q", name, line)
	}
	if ready != nil {
		if err := json.Unmarshal([]byte(raw), ready); err != nil {
			t.Fatalf("clustertest: %s: decode ready: %v", name, err)
		}
	}
	return c
}

func (c *Child) next(timeout time.Duration) (string, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case line, ok := <-c.lines:
		if !ok {
			<-c.done
			return "", fmt.Errorf("child exited: %v", c.err)
		}
		return line, nil
	case <-timer.C:
		return "", fmt.Errorf("no answer within %v", timeout)
	}
}

// Call sends req and decodes the child's reply into resp. It fails the test when the
// child does not answer within CallTimeout or has exited.
func (c *Child) Call(req, resp any) {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := json.Marshal(req)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stdin.Write(append(data, '\n')); err != nil {
		c.t.Fatalf("clustertest: %s: send: %v", c.name, err)
	}
	line, err := c.next(CallTimeout)
	if err != nil {
		c.t.Fatalf("clustertest: %s: %s: %v", c.name, data, err)
	}
	raw, ok := strings.CutPrefix(line, replyPrefix)
	if !ok {
		c.t.Fatalf("clustertest: %s: expected reply line, got %q", c.name, line)
	}
	if resp != nil {
		if err := json.Unmarshal([]byte(raw), resp); err != nil {
			c.t.Fatalf("clustertest: %s: decode reply %s: %v", c.name, raw, err)
		}
	}
}

// Close closes the child's stdin (Serve returns), waits for it to exit and fails the
// test unless it exited cleanly (a data race or failed assertion in the child does not).
func (c *Child) Close() {
	c.t.Helper()
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		_ = c.stdin.Close()
	}
	c.mu.Unlock()
	select {
	case <-c.done:
	case <-time.After(CallTimeout):
		c.Kill()
		c.t.Fatalf("clustertest: %s did not exit after its stdin closed", c.name)
	}
	if c.err != nil {
		c.t.Errorf("clustertest: %s exited with %v (see its output above)", c.name, c.err)
	}
}

// Kill kills the child with SIGKILL, as a crash would, and waits for it to exit.
func (c *Child) Kill() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}

// Payload decodes the payload when this process is a child started by Start for the
// running test, and reports whether it is.
func Payload(t testing.TB, v any) bool {
	t.Helper()
	raw := os.Getenv(envPayload)
	if raw == "" {
		return false
	}
	var env envelope
	if err := json.Unmarshal([]byte(raw), &env); err != nil {
		t.Fatalf("clustertest: payload: %v", err)
	}
	if env.Test != t.Name() {
		return false
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("clustertest: payload data: %v", err)
	}
	return true
}

// Serve prints ready, then answers every request line from stdin with handle's result
// until stdin is closed.
func Serve(ready any, handle func(req json.RawMessage) any) error {
	if err := emit(readyPrefix, ready); err != nil {
		return err
	}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if err := emit(replyPrefix, handle(json.RawMessage(sc.Bytes()))); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func emit(prefix string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s%s\n", prefix, data)
	return err
}

// prefixWriter labels a child's stderr lines with its name.
type prefixWriter struct {
	prefix string
	w      io.Writer
}

func (p prefixWriter) Write(b []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
				return 0, err
			}
		}
	}
	return len(b), nil
}
