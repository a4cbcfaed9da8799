package httpapi

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/persistence"
)

const (
	tAdminID     = "admin-app"
	tAdminSecret = "admin-secret-0123456789abcdef"
)

// newTestServer wires a Server over a real Pebble store on an in-memory filesystem.
func newTestServer(tb testing.TB, now func() time.Time) *Server {
	tb.Helper()
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	dir, err := directory.Open(tb.Context(), directory.Config{Store: store, Now: now, Rand: rand.Reader,
		Argon2: directory.Argon2Params{Memory: 64, Time: 1}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := dir.Bootstrap(tb.Context(), tAdminID, tAdminSecret); err != nil {
		tb.Fatal(err)
	}
	k, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := oidcflow.NewKeyRing(k)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: dir, Keys: ring, Now: now, Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func tokenRequest(form url.Values) *http.Request {
	r := httptest.NewRequest("POST", "/oidc/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(tAdminID, tAdminSecret)
	return r
}

var mgmtForm = url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"all"}}

func TestManagementAuthorization(t *testing.T) {
	clock := time.Now()
	now := func() time.Time { return clock }
	s := newTestServer(t, now)
	h := s.Handler()

	issue := func(form url.Values) string {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, tokenRequest(form))
		if w.Code != 200 {
			t.Fatalf("token: %d %s", w.Code, w.Body)
		}
		var resp oidcflow.TokenResponse
		_ = json.Unmarshal(w.Body.Bytes(), &resp)
		return resp.AccessToken
	}
	good := issue(mgmtForm)
	noScope := issue(url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"other"}})

	tests := []struct {
		name     string
		header   string
		advance  time.Duration
		wantCode int
	}{
		{name: "valid", header: "Bearer " + good, wantCode: 200},
		{name: "missing", header: "", wantCode: 401},
		{name: "basic scheme", header: "Basic abc", wantCode: 401},
		{name: "garbage", header: "Bearer abc.def.ghi", wantCode: 401},
		{name: "no all scope", header: "Bearer " + noScope, wantCode: 403},
		{name: "expired", header: "Bearer " + good, advance: 2 * time.Hour, wantCode: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saved := clock
			clock = clock.Add(tt.advance)
			defer func() { clock = saved }()
			r := httptest.NewRequest("GET", "/api/applications", nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.wantCode, w.Body)
			}
			if w.Code >= 400 {
				var e APIError
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code == "" || e.Message == "" {
					t.Fatalf("error shape %s", w.Body)
				}
			}
		})
	}
}

func TestTokenRequestContentType(t *testing.T) {
	s := newTestServer(t, time.Now)
	r := tokenRequest(mgmtForm)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code != 400 || !strings.Contains(w.Body.String(), `"invalid_request"`) {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
}

// BenchmarkTokenClientCredentials measures the token endpoint in process (handler,
// client auth, directory reads, ES256 signing), without the network.
func BenchmarkTokenClientCredentials(b *testing.B) {
	s := newTestServer(b, time.Now)
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
}
