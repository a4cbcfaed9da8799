package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHTTPBoundedLabels(t *testing.T) {
	reg := NewRegistry()
	m := NewHTTP(reg)
	m.Token("client_credentials", "success", time.Millisecond)
	m.Token("urn:made:up:"+strings.Repeat("x", 10), "invalid_grant", time.Millisecond)
	m.Token("client_credentials", "Some Error With Spaces", time.Millisecond)
	if got := testutil.ToFloat64(m.tokens.WithLabelValues("other", "invalid_grant")); got != 1 {
		t.Errorf("unknown grant type counted as other %v times, want 1", got)
	}
	if got := testutil.ToFloat64(m.tokens.WithLabelValues("client_credentials", "other")); got != 1 {
		t.Errorf("malformed result counted as other %v times, want 1", got)
	}
	observe := m.Route("GET", "/api/users/:userId")
	observe(200, time.Millisecond)
	observe(404, time.Millisecond)
	observe(999, time.Millisecond)
	for class, want := range map[string]float64{"2xx": 1, "4xx": 1, "other": 1} {
		if got := testutil.ToFloat64(m.requests.WithLabelValues("/api/users/:userId", "GET", class)); got != want {
			t.Errorf("code %s: %v, want %v", class, got, want)
		}
	}
}

// BenchmarkObserve is what a token request pays for metrics: its route's observer and
// the token counter and histogram.
func BenchmarkObserve(b *testing.B) {
	m := NewHTTP(NewRegistry())
	observe := m.Route("POST", "/oidc/token")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			observe(200, 70*time.Microsecond)
			m.Token("client_credentials", "success", 65*time.Microsecond)
		}
	})
}
