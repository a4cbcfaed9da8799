package main

import (
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeURL GETs a /metrics URL and parses it with the Prometheus text parser.
func scrapeURL(t *testing.T, u string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", u, err)
	}
	return mf
}

// familyValue sums a counter or gauge family's samples whose labels include want.
func familyValue(mf map[string]*dto.MetricFamily, name string, want map[string]string) (sum float64, found bool) {
	for _, m := range mf[name].GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum, found
}

// TestMetricsOnRunningNode scrapes a running node's /metrics: the token counter moves
// after a token request, and the directory's Raft group, Pebble, the outbox and the
// grain calls (the status ping) are exported.
func TestMetricsOnRunningNode(t *testing.T) {
	n := startNode(t, t.TempDir(), nil)
	before := scrapeURL(t, n.endpoint+"/metrics")
	tokens := func(mf map[string]*dto.MetricFamily) float64 {
		v, _ := familyValue(mf, "latch_token_requests_total", map[string]string{"grant_type": "client_credentials", "result": "success"})
		return v
	}
	n.adminToken(t.Context())
	after := scrapeURL(t, n.endpoint+"/metrics")
	if d := tokens(after) - tokens(before); d != 1 {
		t.Errorf("latch_token_requests_total{client_credentials,success} moved by %v, want 1", d)
	}
	if v, _ := familyValue(after, "latch_token_request_duration_seconds", map[string]string{"grant_type": "client_credentials"}); v < 1 {
		t.Errorf("latch_token_request_duration_seconds has %v observations, want >= 1", v)
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"latch_raft_leader_changes_total", map[string]string{"group": "1"}},
		{"latch_raft_is_leader", map[string]string{"group": "1"}},
		{"latch_raft_applied_index", map[string]string{"group": "1"}},
		{"latch_raft_apply_lag_entries", map[string]string{"group": "1"}},
		{"latch_raft_proposal_duration_seconds", map[string]string{"group": "1", "result": "ok"}},
		{"latch_pebble_l0_files", map[string]string{"db": "store"}},
		{"latch_pebble_block_cache_hits_total", map[string]string{"db": "raft"}},
		{"latch_outbox_depth", nil},
		{"latch_outbox_give_ups_total", nil},
		{"latch_http_requests_total", map[string]string{"route": "/oidc/token", "method": "POST", "code": "2xx"}},
		{"go_goroutines", nil},
		// waitReady's /api/status pinged a grain, on this single node.
		{"latch_grain_calls_total", map[string]string{"where": "local", "result": "ok"}},
		{"latch_grain_activations_total", nil},
	} {
		if _, ok := familyValue(after, c.name, c.labels); !ok {
			t.Errorf("%s%v not exported", c.name, c.labels)
		}
	}
	if v, _ := familyValue(after, "latch_raft_is_leader", map[string]string{"group": "1"}); v != 1 {
		t.Errorf("a single node is not its directory group's leader: latch_raft_is_leader = %v", v)
	}
}

// TestMetricsOnOwnAddress: --metrics host:port serves /metrics there and not on the
// HTTP listener.
func TestMetricsOnOwnAddress(t *testing.T) {
	addr := freeAddr(t)
	n := startNode(t, t.TempDir(), func(c *serveConfig) { c.Metrics = addr })
	if _, ok := familyValue(scrapeURL(t, "http://"+addr+"/metrics"), "latch_raft_commit_index", map[string]string{"group": "1"}); !ok {
		t.Error("latch_raft_commit_index not on the --metrics address")
	}
	resp, err := http.Get(n.endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics on the HTTP listener with --metrics given: %s, want 404", resp.Status)
	}
}
