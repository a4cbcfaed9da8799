package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// A harness for clusters of real `latch serve` processes on loopback: the binary is
// built once per cluster with `go build` (never race-instrumented, so the nodes run at
// full speed whatever flags the test binary got), every node has its own data
// directory, fixed ports (so a restart comes back on the same addresses) and a log
// file that is dumped when the test fails. All nodes share one --endpoint, the address
// a load balancer would have; nothing listens there: a client reaches a particular
// node through a Transport that dials that node's --http address for the endpoint's
// host, so cookies, the issuer and every URL the nodes emit are the cluster's.

// procCluster is a set of `latch serve` processes sharing one endpoint.
type procCluster struct {
	t        *testing.T // the test owning the processes and their directories
	bin      string
	endpoint string // http://127.0.0.1:<port>, the issuer is endpoint + "/oidc"
	lbHost   string // the endpoint's host:port
	logs     string // directory of the nodes' log files
	extra    []string

	mu    sync.Mutex
	nodes []*procNode
}

// procNode is one `latch serve` process (or, stopped, its data and addresses).
type procNode struct {
	c                          *procCluster
	name                       string
	data, http, gossip, joinTo string
	logPath                    string
	client                     *http.Client // reaches this node for the cluster's endpoint

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the running process exited
	waitErr error
	stopped bool // the test stopped (or killed) it on purpose
}

// buildLatch builds ./cmd/latch (this package) into dir and returns the binary's path.
func buildLatch(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(dir, "latch")
	cmd := exec.Command(goBin, "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/latch: %v\n%s", err, out)
	}
	return bin
}

// newProcCluster builds latch and prepares a cluster; extra flags are given to every
// node. Every process is killed when t ends; on failure the nodes' logs are printed.
func newProcCluster(t *testing.T, extra ...string) *procCluster {
	t.Helper()
	c := &procCluster{t: t, logs: t.TempDir(), extra: extra}
	c.bin = buildLatch(t, t.TempDir())
	// The endpoint's port is reserved (free now) and never listened on.
	c.lbHost = "127.0.0.1:" + strconv.Itoa(freePortRange(t, 1))
	c.endpoint = "http://" + c.lbHost
	// Registered before any node's: runs after every node was killed (cleanups run in
	// reverse), while the log directory still exists.
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("LATCH_CLUSTER_LOGS") == "1" {
			c.dumpLogs()
		}
	})
	return c
}

func (c *procCluster) issuer() string { return c.endpoint + "/oidc" }

// baseArgs are the flags of every node: one endpoint, one admin app, cheap Argon2.
func (c *procCluster) baseArgs() []string {
	return append([]string{
		"--endpoint", c.endpoint,
		"--admin-client-id", testAdminID, "--admin-client-secret", testAdminSecret,
		"--argon2-memory", "64", "--log-level", "info",
	}, c.extra...)
}

// addNode prepares a node (data directory, HTTP and gossip ports; remoting and raft
// take the gossip port + 1 and + 2) joining join (a gossip address; "" bootstraps)
// and starts it. It does not wait for readiness.
func (c *procCluster) addNode(name, join string) *procNode {
	c.t.Helper()
	n := &procNode{
		c: c, name: name, data: c.t.TempDir(),
		http:    "127.0.0.1:" + strconv.Itoa(freePortRange(c.t, 1)),
		gossip:  "127.0.0.1:" + strconv.Itoa(freePortRange(c.t, 3)),
		joinTo:  join,
		logPath: filepath.Join(c.logs, name+".log"),
	}
	n.client = c.clientVia(n.http)
	// Registered after the data directory's removal: runs before it.
	c.t.Cleanup(n.kill)
	c.mu.Lock()
	c.nodes = append(c.nodes, n)
	c.mu.Unlock()
	n.start(c.t)
	return n
}

// startCluster starts size nodes, the first bootstrapping and the others joining it,
// and waits until every one is ready.
func (c *procCluster) startCluster(size int) []*procNode {
	c.t.Helper()
	first := c.addNode("node1", "")
	first.waitReady(c.t, 60*time.Second)
	nodes := []*procNode{first}
	for i := 2; i <= size; i++ {
		nodes = append(nodes, c.addNode("node"+strconv.Itoa(i), first.gossip))
	}
	for _, n := range nodes[1:] {
		n.waitReady(c.t, 60*time.Second)
	}
	c.waitVoters(c.t, min(size, 5)-(1-size%2), 30*time.Second)
	return nodes
}

// waitVoters waits until the leader counts n voters and every running node is a voter
// or a learner of the directory's raft group (the autopilot promotes caught-up
// learners one by one; a cluster is not tolerant of a loss before that).
func (c *procCluster) waitVoters(t *testing.T, n int, within time.Duration) raftView {
	t.Helper()
	var v raftView
	c.waitFor(t, within, fmt.Sprintf("%d voters in the directory's raft group", n), func() (bool, string) {
		var err error
		if v, err = c.leader(t, within).raftStatus(); err != nil {
			return false, err.Error()
		}
		if len(v.Voters) != n {
			return false, fmt.Sprintf("%+v", v)
		}
		for _, node := range c.running() {
			id := node.nodeID()
			if !slices.Contains(v.Voters, id) && !slices.Contains(v.Learners, id) {
				return false, fmt.Sprintf("%s (%s) not in %+v", node.name, id, v)
			}
		}
		return true, ""
	})
	return v
}

// members is the set of node ids n's gossip sees (/api/cluster "members").
func (n *procNode) members() ([]string, error) {
	st, body := n.probe("/api/cluster")
	if st != http.StatusOK {
		return nil, fmt.Errorf("%s /api/cluster = %d %v", n.name, st, body)
	}
	list, _ := body["members"].([]any)
	var out []string
	for _, m := range list {
		m, _ := m.(map[string]any)
		if id, _ := m["id"].(string); id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out, nil
}

// waitMembership waits until every running node's gossip sees exactly the running
// nodes (a restarted node is back in the cluster's membership, not on its own).
func (c *procCluster) waitMembership(t *testing.T, within time.Duration) {
	t.Helper()
	took := c.waitFor(t, within, "every running node sees every running node", func() (bool, string) {
		var want []string
		for _, n := range c.running() {
			want = append(want, n.nodeID())
		}
		slices.Sort(want)
		for _, n := range c.running() {
			got, err := n.members()
			if err != nil || !slices.Equal(got, want) {
				return false, fmt.Sprintf("%s sees %v (%v), want %v", n.name, got, err, want)
			}
		}
		return true, ""
	})
	t.Logf("every node sees every node %v after the wait began", took.Round(time.Millisecond))
}

// gossipOf lists the gossip addresses of the running nodes, for --join.
func (c *procCluster) gossipOf() string {
	var out []string
	for _, n := range c.running() {
		out = append(out, n.gossip)
	}
	return strings.Join(out, ",")
}

// clientVia is an HTTP client that sends requests for the cluster's endpoint to addr
// (a node's --http address); other hosts are dialed as usual. It does not follow
// redirects.
func (c *procCluster) clientVia(addr string) *http.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
			if a == c.lbHost {
				a = addr
			}
			return d.DialContext(ctx, network, a)
		},
		MaxIdleConnsPerHost: 4,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (n *procNode) args() []string {
	a := append([]string{"serve", "--data", n.data, "--http", n.http, "--gossip", n.gossip}, n.c.baseArgs()...)
	if n.joinTo != "" {
		a = append(a, "--join", n.joinTo)
	}
	return a
}

// commandLine is the node's command line as an operator would type it.
func (n *procNode) commandLine() string { return "latch " + strings.Join(n.args(), " ") }

// start runs the process on the node's data directory and addresses; its output is
// appended to the node's log file.
func (n *procNode) start(t *testing.T) {
	t.Helper()
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil && n.done != nil {
		select {
		case <-n.done:
		default:
			t.Fatalf("%s is already running", n.name)
		}
	}
	f, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== %s %s\n", time.Now().Format(time.RFC3339Nano), n.commandLine())
	cmd := exec.Command(n.c.bin, n.args()...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", n.name, err)
	}
	f.Close() // the child holds its own descriptor
	done := make(chan struct{})
	n.cmd, n.done, n.waitErr, n.stopped = cmd, done, nil, false
	go func() {
		err := cmd.Wait()
		n.mu.Lock()
		n.waitErr = err
		n.mu.Unlock()
		close(done)
	}()
}

// exited reports whether the current process has exited, and how.
func (n *procNode) exited() (bool, error) {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return true, nil
	}
	select {
	case <-done:
		n.mu.Lock()
		defer n.mu.Unlock()
		return true, n.waitErr
	default:
		return false, nil
	}
}

// running reports whether the node is meant to be up (not stopped by the test).
func (n *procNode) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.cmd != nil && !n.stopped
}

// kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (n *procNode) kill() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.stopped = true
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		n.c.t.Errorf("%s: still running 10 s after SIGKILL", n.name)
	}
}

// term sends SIGTERM (a graceful stop) and waits for a clean exit.
func (n *procNode) term(t *testing.T) {
	t.Helper()
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.stopped = true
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if _, err := n.exited(); err != nil {
			t.Errorf("%s: exit after SIGTERM: %v", n.name, err)
		}
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Errorf("%s: no exit 60 s after SIGTERM (killed)", n.name)
	}
}

// checkAlive fails t when a node the test did not stop has exited.
func (c *procCluster) checkAlive(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()
	for _, n := range nodes {
		if !n.running() {
			continue
		}
		if gone, err := n.exited(); gone {
			t.Fatalf("%s exited unexpectedly (%v); see its log below", n.name, err)
		}
	}
}

// dumpLogs prints every node's log (the last 64 KiB of each).
func (c *procCluster) dumpLogs() {
	c.mu.Lock()
	nodes := slices.Clone(c.nodes)
	c.mu.Unlock()
	for _, n := range nodes {
		b, err := os.ReadFile(n.logPath)
		if err != nil {
			c.t.Logf("%s: no log: %v", n.name, err)
			continue
		}
		if dir := os.Getenv("LATCH_CLUSTER_LOG_DIR"); dir != "" { // whole logs, for study
			_ = os.WriteFile(filepath.Join(dir, n.name+".log"), b, 0o644)
		}
		if len(b) > 64<<10 {
			b = append([]byte("[...]\n"), b[len(b)-64<<10:]...)
		}
		c.t.Logf("---- %s (http %s, gossip %s, data %s) log:\n%s", n.name, n.http, n.gossip, n.data, b)
	}
}

// waitFor polls cond every few milliseconds until it reports true, failing t after
// within with what and cond's last detail. It returns how long it took.
func (c *procCluster) waitFor(t *testing.T, within time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	c.waitBy(t, start, start.Add(within), what, cond)
	return time.Since(start)
}

// waitBy is waitFor with a deadline counted from an earlier start (the moment a
// change was acknowledged): cond is tried at least once, and again until deadline.
func (c *procCluster) waitBy(t *testing.T, start, deadline time.Time, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; last: %s", what, deadline.Sub(start).Round(time.Millisecond), detail)
		}
		c.checkAlive(t)
		time.Sleep(5 * time.Millisecond)
	}
}

// do sends a request to the node (path relative to the endpoint) with an optional
// bearer token and JSON body, and returns the status and body; a transport error is
// returned, not fatal.
func (n *procNode) do(ctx context.Context, token, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.c.endpoint+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// mgmt is the shared e2e helpers' view of this node (adminToken, mustAPI, clientToken,
// postToken), reaching it at its --http address; failures go to t.
func (n *procNode) mgmt(t *testing.T) *testNode {
	return &testNode{t: t, endpoint: "http://" + n.http}
}

// probe is GET path's status and JSON body (nil on a transport error).
func (n *procNode) probe(path string) (int, map[string]any) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st, raw, err := n.do(ctx, "", "GET", path, nil)
	if err != nil {
		return 0, nil
	}
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	return st, body
}

// waitReady waits until /readyz answers 200 and returns the node's id.
func (n *procNode) waitReady(t *testing.T, within time.Duration) string {
	t.Helper()
	var id string
	n.c.waitFor(t, within, n.name+" /readyz ready", func() (bool, string) {
		if gone, err := n.exited(); gone {
			t.Fatalf("%s exited while starting: %v", n.name, err)
		}
		st, body := n.probe("/readyz")
		id, _ = body["node"].(string)
		return st == http.StatusOK, fmt.Sprintf("%d %v", st, body)
	})
	return id
}

// nodeID is the node id /readyz reports ("" when the node does not answer).
func (n *procNode) nodeID() string {
	_, body := n.probe("/readyz")
	id, _ := body["node"].(string)
	return id
}

// raftView is this node's view of the directory's raft group, read from /api/cluster.
type raftView struct {
	Leader   string   // node id (16 hex digits) of the leader, "" if none known
	Voters   []string // node ids
	Learners []string
	Applied  uint64
}

// raftStatus reads the raft part of /api/cluster. It accepts node ids as strings or
// numbers (formatted as cluster.FormatNodeID does).
func (n *procNode) raftStatus() (raftView, error) {
	st, body := n.probe("/api/cluster")
	if st != http.StatusOK {
		return raftView{}, fmt.Errorf("%s /api/cluster = %d %v", n.name, st, body)
	}
	r, ok := findRaft(body)
	if !ok {
		return raftView{}, fmt.Errorf("%s /api/cluster has no raft status: %v", n.name, body)
	}
	v := raftView{Leader: nodeIDOf(field(r, "leader")), Voters: nodeIDsOf(field(r, "voters")), Learners: nodeIDsOf(field(r, "learners"))}
	if f, ok := field(r, "applied").(float64); ok {
		v.Applied = uint64(f)
	}
	return v, nil
}

// findRaft finds the raft group's status in /api/cluster's body: under "raft" or
// "directory", possibly nested one level ("raft": {"directory": {...}}).
func findRaft(body map[string]any) (map[string]any, bool) {
	for _, k := range []string{"raft", "Raft", "directory", "Directory"} {
		if m, ok := body[k].(map[string]any); ok {
			if field(m, "voters") != nil || field(m, "leader") != nil {
				return m, true
			}
			if inner, ok := findRaft(m); ok {
				return inner, true
			}
		}
	}
	return nil, false
}

// field is m[k] with k matched case-insensitively.
func field(m map[string]any, k string) any {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return nil
}

func nodeIDOf(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		if v == 0 {
			return ""
		}
		return fmt.Sprintf("%016x", uint64(v))
	case map[string]any: // {"id": ...}
		return nodeIDOf(field(v, "id"))
	}
	return ""
}

func nodeIDsOf(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		if id := nodeIDOf(e); id != "" {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
}

// leader finds the raft leader among the running nodes: the node whose id the
// running nodes agree on as leader.
func (c *procCluster) leader(t *testing.T, within time.Duration) *procNode {
	t.Helper()
	var found *procNode
	c.waitFor(t, within, "a raft leader agreed on by the running nodes", func() (bool, string) {
		ids := map[string]*procNode{}
		var leaderID string
		var views []string
		for _, n := range c.running() {
			id := n.nodeID()
			v, err := n.raftStatus()
			if err != nil || id == "" {
				return false, fmt.Sprint(err)
			}
			ids[id] = n
			views = append(views, fmt.Sprintf("%s(%s) sees leader %q", n.name, id, v.Leader))
			if v.Leader == "" || (leaderID != "" && v.Leader != leaderID) {
				return false, strings.Join(views, "; ")
			}
			leaderID = v.Leader
		}
		found = ids[leaderID]
		return found != nil, strings.Join(views, "; ")
	})
	return found
}

// running lists the nodes the test has not stopped.
func (c *procCluster) running() []*procNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*procNode
	for _, n := range c.nodes {
		if n.running() {
			out = append(out, n)
		}
	}
	return out
}

// ctxVia is ctx whose oauth2 and go-oidc HTTP calls reach node n.
func (n *procNode) ctxVia(ctx context.Context) context.Context {
	return oidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, n.client), n.client)
}

// jwks is the node's /oidc/jwks body, byte for byte.
func (n *procNode) jwks(t *testing.T) []byte {
	t.Helper()
	st, raw, err := n.do(t.Context(), "", "GET", "/oidc/jwks", nil)
	if err != nil || st != http.StatusOK {
		t.Fatalf("%s /oidc/jwks = %d %v: %s", n.name, st, err, raw)
	}
	return raw
}

// verifyVia verifies a JWT against the node's own published keys (go-oidc's remote
// key set on the node's /oidc/jwks), as a resource server behind that node would.
func (n *procNode) verifyVia(ctx context.Context, tok string) (accessClaims, error) {
	ks := oidc.NewRemoteKeySet(n.ctxVia(ctx), n.c.issuer()+"/jwks")
	payload, err := ks.VerifySignature(n.ctxVia(ctx), tok)
	if err != nil {
		return accessClaims{}, err
	}
	var c accessClaims
	err = json.Unmarshal(payload, &c)
	return c, err
}

// tokenKID is the kid of a JWS's protected header.
func tokenKID(t *testing.T, tok string) string {
	t.Helper()
	h, _, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("not a JWT: %.40q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatalf("JWT header: %v", err)
	}
	var hdr struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &hdr); err != nil {
		t.Fatalf("JWT header %s: %v", raw, err)
	}
	return hdr.KID
}

// newBrowserVia is the shared e2e browser (cookie jar, no redirects followed) whose
// requests for the endpoint reach node n.
func (n *procNode) newBrowserVia(t *testing.T) *browser {
	b := newBrowser(t, n.c.endpoint)
	b.c.Transport = n.client.Transport
	return b
}

// errSignIn is a sign-in step's refusal: the Experience API's status and answer.
type errSignIn struct {
	step   string
	status int
	body   map[string]any
}

func (e *errSignIn) Error() string {
	return fmt.Sprintf("%s = %d %v", e.step, e.status, e.body)
}

// trySignIn is the shared browser.signIn that returns a refusal instead of failing the
// test (a flow polled until a replicated change shows).
func trySignIn(b *browser, username, password string) (string, error) {
	if st, body := b.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		return "", &errSignIn{"PUT /api/experience", st, body}
	}
	st, body := b.experience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "username", "value": username}, "password": password,
	})
	if st != http.StatusOK {
		return "", &errSignIn{"password verification", st, body}
	}
	vid, _ := body["verificationId"].(string)
	if st, body := b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": vid}); st != http.StatusNoContent {
		return "", &errSignIn{"identification", st, body}
	}
	if st, body = b.experience("POST", "/api/experience/submit", nil); st != http.StatusOK {
		return "", &errSignIn{"submit", st, body}
	}
	to, _ := body["redirectTo"].(string)
	if to == "" {
		return "", errors.New("submit without redirectTo")
	}
	return to, nil
}

// percentile is the p-th percentile (0..100) of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}
