package bench

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// exposition is a /metrics document as client_golang writes it: other families, a
// histogram, grain calls of several kinds and results.
const exposition = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP latch_grain_activations_total Grains activated on this node, by kind.
# TYPE latch_grain_activations_total counter
latch_grain_activations_total{kind="session"} 7
# HELP latch_grain_calls_total Grain requests by kind, where the activation was (local, remote) and result (ok, error).
# TYPE latch_grain_calls_total counter
latch_grain_calls_total{kind="grant",result="ok",where="local"} 10
latch_grain_calls_total{kind="grant",result="ok",where="remote"} 20
latch_grain_calls_total{kind="refresh_family",result="error",where="remote"} 1
latch_grain_calls_total{kind="refresh_family",result="ok",where="local"} 5.5e+01
latch_grain_calls_total{kind="session",result="ok",where="elsewhere"} 1000
# HELP latch_http_request_duration_seconds Request latency.
# TYPE latch_http_request_duration_seconds histogram
latch_http_request_duration_seconds_bucket{code="2xx",method="POST",route="/oidc/token",le="0.005"} 3
latch_http_request_duration_seconds_bucket{code="2xx",method="POST",route="/oidc/token",le="+Inf"} 4
latch_http_request_duration_seconds_sum{code="2xx",method="POST",route="/oidc/token"} 0.01
latch_http_request_duration_seconds_count{code="2xx",method="POST",route="/oidc/token"} 4
`

func TestParseGrainCalls(t *testing.T) {
	t.Parallel()
	gc, err := parseGrainCalls([]byte(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if gc.local != 65 || gc.remote != 21 {
		t.Errorf("local/remote = %v/%v, want 65/21", gc.local, gc.remote)
	}
	// A node that has made no grain call yet exports no such family: zero, not an error.
	gc, err = parseGrainCalls([]byte("# TYPE go_goroutines gauge\ngo_goroutines 3\n"))
	if err != nil || gc != (grainCalls{}) {
		t.Errorf("no family: %+v, %v", gc, err)
	}
	for _, bad := range []string{"<html>not found</html>", "latch_grain_calls_total{where=\"local\" 3\n"} {
		if _, err := parseGrainCalls([]byte(bad)); err == nil {
			t.Errorf("parseGrainCalls(%q): no error", bad)
		}
	}
}

func TestRemoteHopsDelta(t *testing.T) {
	t.Parallel()
	eps := []string{"http://a:1", "http://b:2", "http://c:3", "http://d:4"}
	before := []*grainCalls{{local: 100, remote: 50}, {local: 10, remote: 0}, nil, {local: 9, remote: 9}}
	after := []*grainCalls{{local: 130, remote: 60}, {local: 10, remote: 0}, nil, {local: 8, remote: 9}}
	errs := []error{nil, nil, errors.New("GET http://c:3/metrics: status 404"), nil}
	r := remoteHops(eps, before, after, errs)
	if n := r.Nodes[0]; n.Local != 30 || n.Remote != 10 || n.RemoteShare == nil || *n.RemoteShare != 0.25 {
		t.Errorf("node a: %+v", n)
	}
	if n := r.Nodes[1]; n.Local != 0 || n.Remote != 0 || n.RemoteShare != nil || n.Error != "" {
		t.Errorf("node b (idle): %+v", n)
	}
	if n := r.Nodes[2]; !strings.Contains(n.Error, "404") {
		t.Errorf("node c (no /metrics): %+v", n)
	}
	if n := r.Nodes[3]; !strings.Contains(n.Error, "went down") {
		t.Errorf("node d (restarted): %+v", n)
	}
	if r.Local != 30 || r.Remote != 10 || r.RemoteShare == nil || *r.RemoteShare != 0.25 {
		t.Errorf("total %+v", r)
	}
	if !strings.Contains(r.Note, "http://c:3") || !strings.Contains(r.Note, "http://d:4") || strings.Contains(r.Note, "http://a:1") {
		t.Errorf("note %q", r.Note)
	}
	if d := r.describe(); !strings.HasPrefix(d, "25.0% of 40 grain calls took a remote hop (a:1 25.0% of 40, b:2 none, c:3 unread, d:4 unread); left out") {
		t.Errorf("describe: %q", d)
	}

	// No node readable: skipped, with the reason.
	r = remoteHops(eps[:1], []*grainCalls{nil}, []*grainCalls{nil}, []error{errors.New("connection refused")})
	if r.RemoteShare != nil || !strings.HasPrefix(r.Note, "skipped") || !strings.Contains(r.describe(), "connection refused") {
		t.Errorf("all unreadable: %+v", r)
	}
}

// TestHopProbeOverHTTP reads two nodes' /metrics before and after their counters move,
// and one node whose /metrics is missing.
func TestHopProbeOverHTTP(t *testing.T) {
	t.Parallel()
	var remote atomic.Int64
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "# TYPE latch_grain_calls_total counter\nlatch_grain_calls_total{kind=\"grant\",result=\"ok\",where=\"local\"} 4\nlatch_grain_calls_total{kind=\"grant\",result=\"ok\",where=\"remote\"} %d\n", remote.Load())
	}))
	t.Cleanup(metrics.Close)
	none := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(none.Close)
	p := &hopProbe{client: metrics.Client(), endpoints: []string{metrics.URL, none.URL}}
	before, errs := p.read(t.Context())
	remote.Store(12)
	after, errs2 := p.read(t.Context())
	if errs[0] != nil || errs2[0] != nil || errs[1] == nil {
		t.Fatalf("errors %v / %v", errs, errs2)
	}
	r := remoteHops(p.endpoints, before, after, errs)
	if r.Local != 0 || r.Remote != 12 || r.RemoteShare == nil || *r.RemoteShare != 1 || !strings.Contains(r.Nodes[1].Error, "status 404") {
		t.Errorf("%+v", r)
	}
}
