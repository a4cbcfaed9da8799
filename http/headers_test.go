package httpapi

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"
)

// TestSecurityHeaders is the regression test of issue 12: X-Content-Type-Options:
// nosniff was missing from most responses (404s, API errors, OIDC JSON), and no
// response carried Strict-Transport-Security. Every response of Server.Handler() now
// has nosniff, and HSTS exactly when the endpoint is https; and, as Logto's core,
// its own Logto-Core-Request-Id.
func TestSecurityHeaders(t *testing.T) {
	e := newMgmtEnv(t)
	seenIDs := map[string]bool{} // every response has its own Logto-Core-Request-Id, across servers too
	for _, endpoint := range []string{"http://localhost:3001", "https://id.example"} {
		s, err := New(Config{Endpoint: endpoint, Directory: e.dir, Keys: e.s.keys, Now: e.s.now, Rand: rand.Reader})
		if err != nil {
			t.Fatal(err)
		}
		s.router.GET("/test/panic", func(http.ResponseWriter, *http.Request, httprouter.Params) { panic("test") })
		h := s.Handler()
		https := strings.HasPrefix(endpoint, "https://")
		for _, rq := range []struct {
			method, path, body string
			status             int // 0: any
		}{
			{"GET", "/no/such/path", "", http.StatusNotFound},
			{"DELETE", "/oidc/jwks", "", http.StatusMethodNotAllowed},
			{"GET", "/oidc/.well-known/openid-configuration", "", http.StatusOK},
			{"GET", "/oidc/jwks", "", http.StatusOK},
			{"POST", "/oidc/token", "grant_type=nope", http.StatusBadRequest},
			{"GET", "/oidc/auth?client_id=unknown", "", 0},
			{"GET", "/oidc/session/end", "", 0},
			{"GET", "/api/applications", "", http.StatusUnauthorized},
			{"GET", "/api/status", "", 0},
			{"GET", "/sign-in", "", 0},
			{"GET", "/ui/no-such-asset.js", "", http.StatusNotFound},
			{"GET", "/test/panic", "", http.StatusInternalServerError},
		} {
			r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
			if rq.body != "" {
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if rq.status != 0 && w.Code != rq.status {
				t.Errorf("%s %s %s: status %d, want %d", endpoint, rq.method, rq.path, w.Code, rq.status)
			}
			id := w.Header().Get("Logto-Core-Request-Id")
			if id == "" || seenIDs[id] {
				t.Errorf("%s %s %s (%d): Logto-Core-Request-Id %q missing or repeated", endpoint, rq.method, rq.path, w.Code, id)
			}
			seenIDs[id] = true
			if got := w.Header().Values("X-Content-Type-Options"); len(got) != 1 || got[0] != "nosniff" {
				t.Errorf("%s %s %s (%d): X-Content-Type-Options = %q, want nosniff", endpoint, rq.method, rq.path, w.Code, got)
			}
			hsts := w.Header().Get("Strict-Transport-Security")
			switch {
			case https && !strings.HasPrefix(hsts, "max-age=31536000"):
				t.Errorf("%s %s %s: Strict-Transport-Security = %q, want max-age=31536000", endpoint, rq.method, rq.path, hsts)
			case !https && hsts != "":
				t.Errorf("%s %s %s: Strict-Transport-Security = %q on a plain-http endpoint", endpoint, rq.method, rq.path, hsts)
			}
		}
	}
}

// TestUnknownOIDCRoute: a path under /oidc that no route serves answers as Logto's
// OIDC provider does.
func TestUnknownOIDCRoute(t *testing.T) {
	e := newMgmtEnv(t)
	w := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/oidc/nonexistent", nil))
	want := `{"code":"oidc.invalid_request","error":"invalid_request","error_description":"unrecognized route or not allowed method (GET on /nonexistent)","message":"Request is invalid."}`
	if w.Code != http.StatusNotFound || strings.TrimSpace(w.Body.String()) != want {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
}
