package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
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

// freePortRange returns a base port such that base .. base+n-1 are free on 127.0.0.1
// (TCP, and UDP for base: gossip uses both) right now.
func freePortRange(t *testing.T, n int) int {
	t.Helper()
	testPorts.mu.Lock()
	defer testPorts.mu.Unlock()
	if testPorts.taken == nil {
		testPorts.taken = map[int]bool{}
	}
	for range 200 {
		// Below Linux's ephemeral range (32768-60999), so that no outgoing connection
		// of this or another process takes a port between this check and the node's
		// bind; and never a port this test binary handed out before, since nodes are
		// started after their ports were picked.
		base := 20000 + rand.IntN(12000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			if testPorts.taken[p] {
				ok = false
				break
			}
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if ok = err == nil; ok {
				_ = l.Close()
			}
		}
		if !ok {
			continue
		}
		if pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(base)); err == nil {
			_ = pc.Close()
		} else {
			continue
		}
		for p := base; p < base+n; p++ {
			testPorts.taken[p] = true
		}
		return base
	}
	t.Fatal("no free port range")
	return 0
}

// testPorts are the ports freePortRange handed out in this test binary.
var testPorts struct {
	mu    sync.Mutex
	taken map[int]bool
}

// lockedBuffer is a bytes.Buffer safe for a child's output and the test's reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
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

// serveProcess is `latch serve` running as a child process (this test binary re-run
// as latch, see TestMain).
type serveProcess struct {
	t    *testing.T
	name string
	http string
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

func startServeProcess(t *testing.T, name string, args ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{t: t, name: name, out: &lockedBuffer{}, done: make(chan error, 1)}
	for i, a := range args {
		if a == "--http" {
			p.http = args[i+1]
		}
	}
	p.cmd = exec.Command(os.Args[0])
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.Env = append(os.Environ(), "LATCH_TEST_EXEC=1", "LATCH_TEST_ARGS=serve "+strings.Join(args, " "))
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop() })
	return p
}

// probe GETs path and decodes its JSON body.
func (p *serveProcess) probe(path string) (int, map[string]any) {
	resp, err := http.Get("http://" + p.http + path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// waitProbe polls path until it answers want, and returns the body.
func (p *serveProcess) waitProbe(path string, want int) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-p.done:
			p.t.Fatalf("%s exited: %v\n%s", p.name, err, p.out.String())
		default:
		}
		code, body := p.probe(path)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: %s answers %d %v, want %d\n%s", p.name, path, code, body, want, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProcess) stop() {
	if p.cmd.ProcessState != nil || p.done == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done = nil
		if err != nil {
			p.t.Errorf("%s: exit %v\n%s", p.name, err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		p.t.Errorf("%s: no exit after SIGTERM\n%s", p.name, p.out.String())
	}
}

// Two `latch serve` processes on loopback, every cluster port fixed by the derived
// defaults (--remoting and --raft from --gossip): both report ready under their own
// persisted node id; the second, restarted on its data directory and ports, comes back
// ready with the same node id.
func TestServeClusterNodeIdentity(t *testing.T) {
	type nodeArgs struct{ data, http, gossip string }
	mk := func() nodeArgs {
		return nodeArgs{
			data:   t.TempDir(),
			http:   "127.0.0.1:" + strconv.Itoa(freePortRange(t, 1)),
			gossip: "127.0.0.1:" + strconv.Itoa(freePortRange(t, 3)),
		}
	}
	n1, n2 := mk(), mk()
	args := func(n nodeArgs, join ...string) []string {
		a := []string{"--data", n.data, "--http", n.http, "--endpoint", "http://" + n.http, "--gossip", n.gossip,
			"--admin-client-id", "e2e-admin", "--admin-client-secret", "e2e-admin-secret-0123456789",
			"--argon2-memory", "64", "--log-level", "info"}
		if len(join) > 0 {
			a = append(a, "--join", strings.Join(join, ","))
		}
		return a
	}
	p1 := startServeProcess(t, "node1", args(n1)...)
	p2 := startServeProcess(t, "node2", args(n2, n1.gossip)...)
	r1 := p1.waitProbe("/readyz", 200)
	r2 := p2.waitProbe("/readyz", 200)
	if r1["status"] != "ready" || r2["status"] != "ready" {
		t.Fatalf("readyz bodies %v, %v", r1, r2)
	}
	id1, _ := r1["node"].(string)
	id2, _ := r2["node"].(string)
	if len(id1) != 16 || len(id2) != 16 || id1 == id2 {
		t.Fatalf("node ids %q and %q: want two distinct 16-hex-digit ids", id1, id2)
	}
	for _, c := range []struct{ data, id string }{{n1.data, id1}, {n2.data, id2}} {
		b, err := os.ReadFile(filepath.Join(c.data, "node-id"))
		if err != nil || strings.TrimSpace(string(b)) != c.id {
			t.Errorf("%s/node-id = %q (%v), want %s", c.data, b, err, c.id)
		}
	}
	if code, body := p1.probe("/healthz"); code != 200 || body["status"] != "ok" {
		t.Errorf("/healthz = %d %v", code, body)
	}
	// node2's remoting port is fixed: gossip port + 1.
	g2, _ := strconv.Atoi(n2.gossip[strings.LastIndex(n2.gossip, ":")+1:])
	remoting2 := "127.0.0.1:" + strconv.Itoa(g2+1)
	if !strings.Contains(p2.out.String(), "address="+remoting2) {
		t.Errorf("node2 does not log its member on %s:\n%s", remoting2, p2.out.String())
	}
	// Each node sees both, by node id, with node2 on its fixed remoting address.
	// members maps node id to "address system-id" as p sees them.
	members := func(p *serveProcess) map[string]string {
		_, body := p.probe("/api/cluster")
		out := map[string]string{}
		list, _ := body["members"].([]any)
		for _, m := range list {
			m, _ := m.(map[string]any)
			id, _ := m["id"].(string)
			addr, _ := m["address"].(string)
			sys, _ := m["systemId"].(string)
			out[id] = addr + " " + sys
		}
		return out
	}
	var node2System string // node2's actor-system id as node1 last saw it
	waitMembers := func(p *serveProcess) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			m := members(p)
			addr2, sys2, _ := strings.Cut(m[id2], " ")
			if len(m) == 2 && m[id1] != "" && addr2 == remoting2 && (p != p1 || sys2 != node2System) {
				if p == p1 {
					node2System = sys2
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s sees members %v; want %s and %s at %s", p.name, m, id1, id2, remoting2)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitMembers(p1)
	waitMembers(p2)
	if node2System == "" {
		t.Fatal("node1 sees no actor-system id for node2")
	}

	p2.stop()
	p2 = startServeProcess(t, "node2-restarted", args(n2, n1.gossip)...)
	r2 = p2.waitProbe("/readyz", 200)
	if r2["node"] != id2 {
		t.Fatalf("restarted node2 is %v, want the same node id %s", r2["node"], id2)
	}
	if !strings.Contains(p2.out.String(), "address="+remoting2) || !strings.Contains(p2.out.String(), "created=false") {
		t.Errorf("restarted node2 must reuse its node id and remoting address %s:\n%s", remoting2, p2.out.String())
	}
	if code, _ := p1.probe("/readyz"); code != 200 {
		t.Errorf("node1 /readyz = %d after node2's restart", code)
	}
	// node1 sees the restarted node2 (a new actor-system id) as the same node id, on the
	// same address.
	waitMembers(p1)
}

// A node whose seeds never answer is alive but not ready, and says why.
func TestServeReadyzNotJoined(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a latch serve process")
	}
	h := "127.0.0.1:" + strconv.Itoa(freePortRange(t, 1))
	g := "127.0.0.1:" + strconv.Itoa(freePortRange(t, 3))
	nobody := "127.0.0.1:" + strconv.Itoa(freePortRange(t, 1))
	p := startServeProcess(t, "lonely", "--data", t.TempDir(), "--http", h, "--endpoint", "http://"+h,
		"--gossip", g, "--join", nobody, "--admin-client-id", "e2e-admin",
		"--admin-client-secret", "e2e-admin-secret-0123456789", "--argon2-memory", "64", "--log-level", "error")
	p.waitProbe("/healthz", 200)
	body := p.waitProbe("/readyz", 503)
	nr, _ := body["notReady"].(map[string]any)
	if body["status"] != "not_ready" || nr["cluster"] == nil || nr["store"] != nil {
		t.Fatalf("/readyz body %v: want not_ready naming the cluster, not the store", body)
	}
	// A joining node never founds a cluster: it waits to be added to the directory's
	// raft group, and says so, while HTTP already answers.
	if d, _ := nr["directory"].(string); !strings.Contains(d, "not a member") {
		t.Fatalf("/readyz body %v: want the directory not a member of its raft group yet", body)
	}
}

// A corrupt node-id file stops the start with a clear error and is left untouched.
func TestServeCorruptNodeID(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "node-id")
	if err := os.WriteFile(path, []byte("not-an-id\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := serveConfig{Data: dir, HTTP: "127.0.0.1:0", Endpoint: "http://127.0.0.1:1", Gossip: "127.0.0.1:0",
		SigningAlg: "ES256", Durability: "sync", LogLevel: "error", Argon2MemoryKiB: 64, RequestTimeout: time.Second}
	var out bytes.Buffer
	err := serve(context.Background(), cfg, &out, &out, nil)
	if err == nil || !strings.Contains(err.Error(), "corrupt") || !strings.Contains(err.Error(), path) {
		t.Fatalf("serve = %v, want a corrupt node id error naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "not-an-id\n" {
		t.Errorf("node-id rewritten to %q", b)
	}
}
