package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

// TestUnreachableGrainAnswers503: a request whose grain cannot be reached within its
// budget (here the budget is spent before the grain call, as when the grain's member
// is dead or has no leader) answers 503 temporarily_unavailable with Retry-After, on
// the OIDC endpoints in RFC 6749's shape and on /api in Logto's, never 500.
func TestUnreachableGrainAnswers503(t *testing.T) {
	e := newLifecycleEnv(t)
	web := e.issue(e.web)
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: e.s.dir, Keys: e.s.keys, OP: e.s.op,
		Browser: testBrowser(t, e.s.issuer, e.s.dir, e.s.keys, e.clock.Now),
		Now:     e.clock.Now, Rand: e.s.rand, RequestTimeout: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	want503 := func(what string, w *httptest.ResponseRecorder, field, code string) {
		t.Helper()
		var body map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %d %q: %v", what, w.Code, w.Body, err)
		}
		if w.Code != http.StatusServiceUnavailable || body[field] != code || w.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: %d %v (Retry-After %q), want 503 %s=%s with Retry-After", what, w.Code, body,
				w.Header().Get("Retry-After"), field, code)
		}
	}

	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {web.refresh}}
	r := httptest.NewRequest("POST", "/oidc/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(e.web.ID, e.secrets[e.web.ID])
	want503("refresh", serve(r), "error", oauth.CodeTemporarilyUnavailable)

	r = httptest.NewRequest("GET", "/oidc/me", nil)
	r.Header.Set("Authorization", "Bearer "+web.opaque)
	want503("userinfo", serve(r), "error", oauth.CodeTemporarilyUnavailable)

	r = httptest.NewRequest("PUT", "/api/experience", strings.NewReader(`{"interactionEvent":"SignIn"}`))
	r.Header.Set("Content-Type", "application/json")
	r.AddCookie(&http.Cookie{Name: cookieInteraction, Value: "no-such-interaction"})
	want503("experience", serve(r), "code", "request.temporarily_unavailable")

	// The same requests within a budget are served (the 503 came from the budget).
	if w := e.post("/oidc/token", e.web, form); w.Code != http.StatusOK {
		t.Fatalf("refresh within the budget: %d %s", w.Code, w.Body)
	}
}
