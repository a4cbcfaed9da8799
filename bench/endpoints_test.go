package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// seenRequest is what a test node saw of one request.
type seenRequest struct {
	node       int
	method     string
	requestURI string
	host       string
}

// recordingNodes starts n servers that record each request and answer 200 with their
// index.
func recordingNodes(t *testing.T, n int) (origins []string, seen func() []seenRequest) {
	t.Helper()
	var mu sync.Mutex
	var log []seenRequest
	for i := range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			log = append(log, seenRequest{node: i, method: r.Method, requestURI: r.RequestURI, host: r.Host})
			mu.Unlock()
			fmt.Fprint(w, i)
		}))
		t.Cleanup(srv.Close)
		origins = append(origins, srv.URL)
	}
	return origins, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenRequest(nil), log...)
	}
}

// nodeOf sends GET url through rt and returns the index the answering node wrote.
func nodeOf(t *testing.T, rt http.RoundTripper, u string) int {
	t.Helper()
	resp, err := (&http.Client{Transport: rt}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	var i int
	if _, err := fmt.Sscan(string(body), &i); err != nil {
		t.Fatalf("GET %s: body %q", u, body)
	}
	return i
}

func TestEndpointTransportRewritesThePublicOrigin(t *testing.T) {
	t.Parallel()
	origins, seen := recordingNodes(t, 3)
	// The public address is not served: every request for it must be rewritten.
	const public = "http://lb.localhost:3000"
	et, err := newEndpointTransport(NewClient(4, 5*time.Second).Transport, public+"/oidc", origins)
	if err != nil {
		t.Fatal(err)
	}

	// Pinned (setup): every request to the first node.
	for range 4 {
		if got := nodeOf(t, et, public+"/oidc/.well-known/openid-configuration"); got != 0 {
			t.Fatalf("pinned: node %d, want 0", got)
		}
	}
	// Spread: round-robin over the run.
	et.spread(true)
	var got []int
	for range 6 {
		got = append(got, nodeOf(t, et, public+"/oidc/token?x=1"))
	}
	if fmt.Sprint(got) != "[0 1 2 0 1 2]" {
		t.Errorf("spread: nodes %v, want [0 1 2 0 1 2]", got)
	}
	// A browser's own rotation starts at its number, whether or not the shared one
	// spreads, and does not move the shared counter.
	et.spread(false)
	b := et.fork(4)
	got = nil
	for range 4 {
		got = append(got, nodeOf(t, b, public+"/api/experience"))
	}
	if fmt.Sprint(got) != "[1 2 0 1]" {
		t.Errorf("browser 4: nodes %v, want [1 2 0 1]", got)
	}
	if n := nodeOf(t, et, public+"/oidc/token"); n != 0 {
		t.Errorf("pinned again: node %d, want 0", n)
	}
	// A URL on another origin (here a node itself) goes where it names.
	if n := nodeOf(t, b, origins[2]+"/metrics"); n != 2 {
		t.Errorf("a node's own URL went to node %d, want 2", n)
	}
	// browserTransport forks an endpointTransport and leaves any other one alone.
	if browserTransport(et, 1) == http.RoundTripper(et) {
		t.Error("browserTransport did not fork")
	}
	if rt := http.DefaultTransport; browserTransport(rt, 1) != rt {
		t.Error("browserTransport changed a plain transport")
	}

	for _, r := range seen() {
		if strings.HasSuffix(r.requestURI, "/metrics") {
			if r.host != strings.TrimPrefix(origins[2], "http://") {
				t.Errorf("%s: Host %q, want the node's", r.requestURI, r.host)
			}
			continue
		}
		// The path and query are kept; the Host header is the public one, as behind a
		// load balancer.
		if r.host != "lb.localhost:3000" {
			t.Errorf("%s %s on node %d: Host %q, want the public host", r.method, r.requestURI, r.node, r.host)
		}
		if !strings.HasPrefix(r.requestURI, "/oidc/") && r.requestURI != "/api/experience" {
			t.Errorf("unexpected request URI %q", r.requestURI)
		}
	}
	if n := len(seen()); n != 4+6+4+1+1 {
		t.Errorf("nodes saw %d requests, want 16", n)
	}
}

func TestParseEndpoints(t *testing.T) {
	t.Parallel()
	got, err := parseEndpoints(" http://127.0.0.1:3001/, http://127.0.0.1:3002,,https://[::1]:3003")
	if err != nil {
		t.Fatal(err)
	}
	if want := "[http://127.0.0.1:3001 http://127.0.0.1:3002 https://[::1]:3003]"; fmt.Sprint(got) != want {
		t.Errorf("got %v, want %s", got, want)
	}
	for _, bad := range []string{"", " , ", "127.0.0.1:3001", "ftp://h:1", "http://h:1/oidc", "http://h:1?x=1", "http://u:p@h:1", "http://h:1,http://h:1"} {
		if _, err := parseEndpoints(bad); err == nil {
			t.Errorf("parseEndpoints(%q): no error", bad)
		}
	}
}

func TestEndpointsFlags(t *testing.T) {
	t.Parallel()
	c, err := ParseConfig([]string{"--endpoints", "http://127.0.0.1:3001,http://127.0.0.1:3002", "refresh"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target.Issuer != "" || !c.issuerFromEndpoints || len(c.Target.Endpoints) != 2 {
		t.Errorf("without --issuer: issuer %q (from endpoints %v), endpoints %v", c.Target.Issuer, c.issuerFromEndpoints, c.Target.Endpoints)
	}
	c, err = ParseConfig([]string{"--issuer", "http://localhost:3000/oidc", "--endpoints", "http://127.0.0.1:3001"}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target.Issuer != "http://localhost:3000/oidc" || c.issuerFromEndpoints {
		t.Errorf("with --issuer: issuer %q (from endpoints %v)", c.Target.Issuer, c.issuerFromEndpoints)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--endpoints", "http://127.0.0.1:3001", "--engine", EngineEpoll}, "goroutines only"},
		{[]string{"--endpoints", "http://10.1.2.3:3001"}, "--allow-remote"},
		{[]string{"--endpoints", "http://127.0.0.1:3001/oidc"}, "base URL"},
	} {
		if !epollSupported && tc.want == "goroutines only" {
			continue
		}
		_, err := ParseConfig(tc.args, nil, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

// clusterNodes puts n nodes in front of op (one fake OP: the nodes share its state, as
// a cluster's nodes share the directory and the grains). Each node records the refresh
// tokens it was given and the ones it handed out, counts its token requests, and
// exports them at /metrics as grain calls (remote: one per token request; local: a
// baseline plus two per token request), unless metrics is false for it.
type clusterNode struct {
	srv     *httptest.Server
	metrics bool

	mu        sync.Mutex
	tokens    int64
	presented map[string]bool   // refresh tokens presented here
	rotated   map[string]string // new refresh token -> the one it replaced
	hosts     map[string]int
}

func newClusterNodes(t *testing.T, op *fakeOP, metrics ...bool) []*clusterNode {
	t.Helper()
	var nodes []*clusterNode
	for _, m := range metrics {
		n := &clusterNode{metrics: m, presented: map[string]bool{}, rotated: map[string]string{}, hosts: map[string]int{}}
		n.srv = httptest.NewServer(http.HandlerFunc(n.serve(op.srv.Config.Handler)))
		t.Cleanup(n.srv.Close)
		nodes = append(nodes, n)
	}
	return nodes
}

func (n *clusterNode) serve(next http.Handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/metrics" {
			if !n.metrics {
				http.NotFound(w, r)
				return
			}
			n.mu.Lock()
			tokens := n.tokens
			n.mu.Unlock()
			fmt.Fprintf(w, "# HELP latch_grain_calls_total Grain requests.\n# TYPE latch_grain_calls_total counter\n"+
				"latch_grain_calls_total{kind=\"refresh_family\",result=\"ok\",where=\"local\"} %d\n"+
				"latch_grain_calls_total{kind=\"refresh_family\",result=\"ok\",where=\"remote\"} %d\n", 1000+2*tokens, tokens)
			return
		}
		// The issuer's discovery, read from the first node itself, names the node.
		if r.Host != strings.TrimPrefix(n.srv.URL, "http://") || r.URL.Path != "/oidc/.well-known/openid-configuration" {
			n.mu.Lock()
			n.hosts[r.Host]++
			n.mu.Unlock()
		}
		if r.Method != http.MethodPost || r.URL.Path != "/oidc/token" {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var out struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		n.mu.Lock()
		n.tokens++
		if rt := form.Get("refresh_token"); rt != "" {
			n.presented[rt] = true
			if out.RefreshToken != "" {
				n.rotated[out.RefreshToken] = rt
			}
		}
		n.mu.Unlock()
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// TestRefreshAcrossEndpoints runs refresh against three nodes in front of one fake OP:
// every request reaches a node (none the public address), each family's rotations go
// to the nodes in turn, and the report records the endpoints and the grain calls' share
// of remote hops from the nodes' /metrics, leaving out the node without one.
func TestRefreshAcrossEndpoints(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	nodes := newClusterNodes(t, op, true, true, false)
	var eps []string
	for _, n := range nodes {
		eps = append(eps, n.srv.URL)
	}
	jsonPath := filepath.Join(t.TempDir(), "run.json")
	// No --issuer: it is read from the first endpoint's discovery (the fake OP's issuer,
	// its own address, which stands for the cluster's public one).
	code, stdout, stderr := runCommand(t, "--endpoints", strings.Join(eps, ","),
		"--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret,
		"--concurrency", "3", "--warmup", "0", "--requests", "60", "--progress", "0", "--json", jsonPath, "refresh")
	if code != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	rep, err := ReadReport(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK != 60 || rep.Errors != 0 {
		t.Errorf("ok/errors = %d/%d", rep.OK, rep.Errors)
	}
	if rep.Target.Issuer != op.issuer() || fmt.Sprint(rep.Target.Endpoints) != fmt.Sprint(eps) || rep.Target.EndpointRotation == "" {
		t.Errorf("target %+v", rep.Target)
	}
	if !strings.Contains(stdout, "endpoints  "+strings.Join(eps, ", ")) {
		t.Errorf("text report does not name the endpoints:\n%s", stdout)
	}

	// Every token request went through a node, with the public Host header.
	var tokens int64
	publicHost := strings.TrimPrefix(op.srv.URL, "http://")
	for i, n := range nodes {
		n.mu.Lock()
		tokens += n.tokens
		for h := range n.hosts {
			if h != publicHost {
				t.Errorf("node %d got Host %q, want %q", i, h, publicHost)
			}
		}
		if len(n.presented) == 0 {
			t.Errorf("node %d got no refresh", i)
		}
		n.mu.Unlock()
	}
	if all := op.tokens.Load(); tokens != all {
		t.Errorf("the nodes saw %d token requests of the %d the OP served: some bypassed them", tokens, all)
	}
	// Each rotation went to the node after the one of the token it replaced.
	where := map[string]int{}
	for i, n := range nodes {
		n.mu.Lock()
		for rt := range n.presented {
			where[rt] = i
		}
		n.mu.Unlock()
	}
	pairs := 0
	for i, n := range nodes {
		n.mu.Lock()
		for next := range n.rotated {
			if j, ok := where[next]; ok {
				pairs++
				if j != (i+1)%len(nodes) {
					t.Errorf("token rotated on node %d was presented next on node %d, want %d", i, j, (i+1)%len(nodes))
				}
			}
		}
		n.mu.Unlock()
	}
	if pairs < 50 {
		t.Errorf("only %d rotations followed up, want >= 50 of 60", pairs)
	}

	// Remote hops: every load request is one token request, counted on the node that
	// served it (remote 1, local 2); the node without /metrics is left out.
	h := rep.RemoteHops
	if h == nil || len(h.Nodes) != 3 {
		t.Fatalf("remoteHops %+v", h)
	}
	var want int64
	for i := range 2 {
		n := h.Nodes[i]
		if n.Endpoint != eps[i] || n.Error != "" || n.Local != 2*n.Remote || n.Remote == 0 || n.RemoteShare == nil || *n.RemoteShare != 0.3333 {
			t.Errorf("node %d: %+v", i, n)
		}
		want += n.Remote
	}
	if h.Nodes[2].Error == "" || !strings.Contains(h.Note, eps[2]) {
		t.Errorf("node without /metrics: %+v, note %q", h.Nodes[2], h.Note)
	}
	if h.Remote != want || h.Local != 2*want || h.RemoteShare == nil || *h.RemoteShare != 0.3333 {
		t.Errorf("total %+v", h)
	}
	// 60 load requests over three nodes, each browser rotating: ~40 on the two read.
	if want < 30 || want > 50 {
		t.Errorf("%d token requests counted on nodes 0 and 1, want about 40 of 60", want)
	}
	if !strings.Contains(stdout, "grains     33.3% of") {
		t.Errorf("text report without the grain line:\n%s", stdout)
	}
	if left := op.leftovers(); len(left) != 0 {
		t.Errorf("teardown left %v", left)
	}
}
