package httpapi

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/metrics"
)

// scrape GETs /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", w.Code, w.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(w.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mf
}

// sample returns the metric of family name whose labels include want, or nil.
func sample(mf map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	f := mf[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func TestMetricsTokenRequest(t *testing.T) {
	reg := metrics.NewRegistry()
	s, _ := newFullServer(t, metrics.NewHTTP(reg))
	h := s.Handler()
	mh := metrics.Handler(reg)
	mux := http.NewServeMux()
	mux.Handle("/metrics", mh)
	mux.Handle("/", h)

	tokenCount := func(mf map[string]*dto.MetricFamily, result string) (count float64, observations uint64) {
		labels := map[string]string{"grant_type": "client_credentials", "result": result}
		if m := sample(mf, "latch_token_requests_total", labels); m != nil {
			count = m.GetCounter().GetValue()
		}
		if m := sample(mf, "latch_token_request_duration_seconds", labels); m != nil {
			observations = m.GetHistogram().GetSampleCount()
		}
		return count, observations
	}
	before := scrape(t, mux)
	if c, n := tokenCount(before, "success"); c != 0 || n != 0 {
		t.Fatalf("before any request: count %v, observations %d", c, n)
	}

	form := url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {directory.ManagementAPIScopeAll}}
	w := httptest.NewRecorder()
	mux.ServeHTTP(w, tokenRequest(form))
	if w.Code != http.StatusOK {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	bad := tokenRequest(url.Values{"grant_type": {"client_credentials"}, "resource": {"https://nowhere.example"}})
	mux.ServeHTTP(httptest.NewRecorder(), bad)

	after := scrape(t, mux)
	if c, n := tokenCount(after, "success"); c != 1 || n != 1 {
		t.Errorf("after one token: count %v, histogram observations %d; want 1, 1", c, n)
	}
	if c, _ := tokenCount(after, "invalid_target"); c != 1 {
		t.Errorf("after one refused token: invalid_target count %v, want 1", c)
	}
	m := sample(after, "latch_http_requests_total", map[string]string{"route": "/oidc/token", "method": "POST", "code": "2xx"})
	if m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("latch_http_requests_total{route=/oidc/token,code=2xx} = %v, want 1", m)
	}
	if m := sample(after, "latch_http_request_duration_seconds", map[string]string{"route": "/oidc/token", "method": "POST", "code": "4xx"}); m == nil || m.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("latch_http_request_duration_seconds{route=/oidc/token,code=4xx} = %v, want one observation", m)
	}

	// A raw path is never a label: two users' URLs are one route pattern.
	for _, id := range []string{"u1", "u2"} {
		mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/api/users/"+id, nil))
	}
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/no/such/path/42", nil))
	after = scrape(t, mux)
	if m := sample(after, "latch_http_requests_total", map[string]string{"route": "/api/users/:userId", "method": "GET", "code": "4xx"}); m == nil || m.GetCounter().GetValue() != 2 {
		t.Errorf("GET /api/users/:userId (unauthorized, twice) = %v, want 2", m)
	}
	if m := sample(after, "latch_http_requests_total", map[string]string{"route": "(unmatched)", "method": "GET", "code": "4xx"}); m == nil || m.GetCounter().GetValue() != 1 {
		t.Errorf("unmatched route = %v, want 1", m)
	}
	for _, m := range after["latch_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && (l.GetValue() == "/api/users/u1" || l.GetValue() == "/no/such/path/42") {
				t.Errorf("raw path %q is a label", l.GetValue())
			}
		}
	}
}

// BenchmarkTokenMetrics is a client_credentials token request through the whole
// handler, without and with the Prometheus observer: the difference is what metrics
// cost on the hot path.
func BenchmarkTokenMetrics(b *testing.B) {
	base := newTestServer(b, time.Now)
	for _, bb := range []struct {
		name string
		m    Metrics
	}{{"off", nil}, {"on", metrics.NewHTTP(metrics.NewRegistry())}} {
		b.Run(bb.name, func(b *testing.B) {
			s, err := New(Config{Endpoint: base.endpoint, Directory: base.dir, Keys: base.keys, Metrics: bb.m, Now: time.Now, Rand: rand.Reader})
			if err != nil {
				b.Fatal(err)
			}
			h := s.Handler()
			body := mgmtForm.Encode()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("POST", "/oidc/token", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.SetBasicAuth(tAdminID, tAdminSecret)
					w := httptest.NewRecorder()
					h.ServeHTTP(w, r)
					if w.Code != 200 {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}
