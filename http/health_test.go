package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHealthAndReadiness(t *testing.T) {
	s := newTestServer(t, time.Now)
	var notReady atomic.Pointer[map[string]string]
	calls := 0
	s.readiness = func(ctx context.Context) ReadinessReport {
		calls++
		if _, ok := ctx.Deadline(); !ok {
			t.Error("readiness called without the request's budget")
		}
		rep := ReadinessReport{Node: "00000000000000aa"}
		if m := notReady.Load(); m != nil {
			rep.NotReady = *m
		}
		return rep
	}
	h := s.Handler()
	get := func(path string) (int, map[string]any, http.Header) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", path, err, w.Body)
		}
		return w.Code, body, w.Header()
	}

	if code, body, hdr := get("/healthz"); code != 200 || body["status"] != "ok" || hdr.Get("Cache-Control") != "no-store" {
		t.Errorf("/healthz = %d %v %v", code, body, hdr)
	}
	if code, body, _ := get("/readyz"); code != 200 || body["status"] != "ready" || body["node"] != "00000000000000aa" {
		t.Errorf("/readyz ready = %d %v", code, body)
	}
	notReady.Store(&map[string]string{"cluster": "not joined", "store": "closed"})
	code, body, _ := get("/readyz")
	nr, _ := body["notReady"].(map[string]any)
	if code != 503 || body["status"] != "not_ready" || nr["cluster"] != "not joined" || nr["store"] != "closed" {
		t.Errorf("/readyz not ready = %d %v", code, body)
	}
	// Liveness does not depend on readiness.
	if code, _, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz while not ready = %d", code)
	}
	if calls != 2 {
		t.Errorf("readiness called %d times, want once per /readyz", calls)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("HEAD", "/readyz", nil))
	if w.Code != 503 {
		t.Errorf("HEAD /readyz = %d, want 503", w.Code)
	}
}

// Without a Readiness callback a serving node is ready.
func TestReadinessDefault(t *testing.T) {
	h := newTestServer(t, time.Now).Handler()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != 200 {
		t.Fatalf("/readyz = %d %s", w.Code, w.Body)
	}
}

// /api/status is Logto's probe: 204 without a body while the cluster probe succeeds,
// 503 when it fails; /api/cluster shows the probe's report in both cases.
func TestStatusAndClusterReport(t *testing.T) {
	s := newTestServer(t, time.Now)
	var failing atomic.Bool
	s.status = func(*http.Request) (any, error) {
		rep := map[string]any{"node": "00000000000000aa"}
		if failing.Load() {
			rep["pingError"] = "grain unreachable"
			return rep, errors.New("grain unreachable")
		}
		return rep, nil
	}
	h := s.Handler()
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}
	if w := get("/api/status"); w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Errorf("/api/status healthy = %d %q", w.Code, w.Body)
	}
	if w := get("/api/cluster"); w.Code != 200 || !strings.Contains(w.Body.String(), `"node":"00000000000000aa"`) {
		t.Errorf("/api/cluster healthy = %d %s", w.Code, w.Body)
	}
	failing.Store(true)
	if w := get("/api/status"); w.Code != http.StatusServiceUnavailable {
		t.Errorf("/api/status failing = %d %s", w.Code, w.Body)
	}
	if w := get("/api/cluster"); w.Code != 200 || !strings.Contains(w.Body.String(), "grain unreachable") {
		t.Errorf("/api/cluster failing = %d %s", w.Code, w.Body)
	}
}
