package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// guardedRequest sends body with contentType (and origin when not "") to path, with the
// interaction cookie.
func (e *expEnv) guardedRequest(method, path, contentType, origin, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body == "" {
		r = httptest.NewRequest(method, path, nil)
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	r.AddCookie(&http.Cookie{Name: cookieInteraction, Value: e.uid})
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func wantAPIError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var got APIError
	if w.Code != status || json.Unmarshal(w.Body.Bytes(), &got) != nil || got.Code != code || got.Message == "" {
		t.Fatalf("= %d %s, want %d %s in Logto's error shape", w.Code, w.Body, status, code)
	}
}

// A cross-site page can POST to the Experience API with a text/plain body (a "simple"
// request: no CORS preflight) or with a foreign Origin; both are refused before any
// step runs, while the sign-in page's own requests (same origin, JSON) go through.
func TestExperienceRefusesCrossSiteRequests(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	path := "/api/experience/verification/password"
	body := `{"identifier":{"type":"username","value":"alice"},"password":"` + tPassword + `"}`

	for _, tt := range []struct {
		name, method, path, contentType, origin string
		status                                  int
		code                                    string
	}{
		{"foreign origin", "POST", path, "application/json", "https://evil.example", http.StatusForbidden, "auth.forbidden"},
		{"foreign port", "POST", path, "application/json", "http://localhost:3002", http.StatusForbidden, "auth.forbidden"},
		{"foreign scheme", "POST", path, "application/json", "https://localhost:3001", http.StatusForbidden, "auth.forbidden"},
		{"opaque origin", "POST", path, "application/json", "null", http.StatusForbidden, "auth.forbidden"},
		{"foreign origin, PUT", "PUT", "/api/experience", "application/json", "https://evil.example", http.StatusForbidden, "auth.forbidden"},
		{"text/plain, same origin", "POST", path, "text/plain", "http://localhost:3001", http.StatusUnsupportedMediaType, "guard.invalid_input"},
		{"text/plain, no origin", "POST", path, "text/plain;charset=UTF-8", "", http.StatusUnsupportedMediaType, "guard.invalid_input"},
		{"form-encoded", "POST", path, "application/x-www-form-urlencoded", "", http.StatusUnsupportedMediaType, "guard.invalid_input"},
		{"multipart", "POST", path, "multipart/form-data; boundary=x", "", http.StatusUnsupportedMediaType, "guard.invalid_input"},
		{"body without a type", "POST", path, "", "", http.StatusUnsupportedMediaType, "guard.invalid_input"},
		{"text/plain submit", "POST", "/api/experience/submit", "text/plain", "", http.StatusUnsupportedMediaType, "guard.invalid_input"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.guardedRequest(tt.method, tt.path, tt.contentType, tt.origin, body)
			wantAPIError(t, w, tt.status, tt.code)
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
			}
		})
	}
	// Nothing was verified by the refused requests.
	var view interactionJSON
	e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
	if len(view.VerificationRecords) != 0 {
		t.Fatalf("a refused request left %d verification records", len(view.VerificationRecords))
	}

	// The page's own requests: same origin (any case, default port spelled or not does
	// not matter for http://localhost:3001), JSON with a charset, or no Origin at all.
	for _, origin := range []string{"http://localhost:3001", "HTTP://LOCALHOST:3001", ""} {
		if w := e.guardedRequest("POST", path, "application/json; charset=utf-8", origin, body); w.Code != http.StatusOK {
			t.Fatalf("same-origin JSON (Origin %q) = %d %s", origin, w.Code, w.Body)
		}
	}
	// A step without a body needs no Content-Type.
	if w := e.guardedRequest("POST", "/api/experience/submit", "", "http://localhost:3001", ""); w.Code == http.StatusUnsupportedMediaType || w.Code == http.StatusForbidden {
		t.Fatalf("bodiless submit = %d %s", w.Code, w.Body)
	}
}

// The sign-in page's JavaScript-free form posts: a foreign Origin and a body that is
// not form-encoded get a plain error page; the page's own post signs in.
func TestSignInFormRefusesCrossSitePosts(t *testing.T) {
	e := newExpEnv(t)
	form := url.Values{"identifier": {tUsername}, "password": {tPassword}}.Encode()
	for _, tt := range []struct {
		name, path, contentType, origin string
		status                          int
	}{
		{"foreign origin", "/sign-in", "application/x-www-form-urlencoded", "https://evil.example", http.StatusForbidden},
		{"opaque origin", "/sign-in", "application/x-www-form-urlencoded", "null", http.StatusForbidden},
		{"foreign origin, register", "/register", "application/x-www-form-urlencoded", "https://evil.example", http.StatusForbidden},
		{"text/plain", "/sign-in", "text/plain", "", http.StatusUnsupportedMediaType},
		{"text/plain, same origin", "/sign-in", "text/plain", "http://localhost:3001", http.StatusUnsupportedMediaType},
		{"multipart", "/sign-in", "multipart/form-data; boundary=x", "", http.StatusUnsupportedMediaType},
		{"JSON", "/register", "application/json", "", http.StatusUnsupportedMediaType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w := e.guardedRequest("POST", tt.path, tt.contentType, tt.origin, form)
			if w.Code != tt.status || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
				t.Fatalf("= %d %q %s, want %d, a plain error page", w.Code, w.Header().Get("Content-Type"), w.Body, tt.status)
			}
			if w.Header().Get("Location") != "" {
				t.Fatalf("refused post redirected to %q", w.Header().Get("Location"))
			}
		})
	}
	w := e.guardedRequest("POST", "/sign-in", "application/x-www-form-urlencoded", "http://localhost:3001", form)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "http://localhost:3001/oidc/auth/"+e.uid {
		t.Fatalf("same-origin form post: %d Location %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
}

func TestPostGuardOrigin(t *testing.T) {
	for _, tt := range []struct {
		endpoint string
		origins  map[string]bool // Origin header -> foreign
	}{
		{"https://id.example.com", map[string]bool{
			"https://id.example.com": false, "https://id.example.com:443": false, "https://ID.example.com": false,
			"http://id.example.com": true, "https://id.example.com:8443": true, "https://example.com": true,
			"https://id.example.com.evil.example": true, "null": true, "": true, "id.example.com": true,
		}},
		{"http://[::1]:3001", map[string]bool{"http://[::1]:3001": false, "http://[::1]": true, "http://127.0.0.1:3001": true}},
	} {
		g := newPostGuard(tt.endpoint)
		for origin, foreign := range tt.origins {
			r := httptest.NewRequest("POST", "/api/experience/submit", nil)
			r.Header.Set("Origin", origin)
			if got := g.foreignOrigin(r); got != foreign {
				t.Errorf("endpoint %s, Origin %q: foreign = %v, want %v", tt.endpoint, origin, got, foreign)
			}
		}
		r := httptest.NewRequest("POST", "/api/experience/submit", nil)
		if g.foreignOrigin(r) {
			t.Errorf("endpoint %s: a request without Origin is foreign", tt.endpoint)
		}
		r.Header["Origin"] = []string{tt.endpoint, tt.endpoint}
		if !g.foreignOrigin(r) {
			t.Errorf("endpoint %s: two Origin headers pass", tt.endpoint)
		}
	}
}
