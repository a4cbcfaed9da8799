package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func (e *expEnv) page(method, path string, form url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if e.cookie {
		r.AddCookie(&http.Cookie{Name: cookieInteraction, Value: e.uid})
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func checkPageHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Type":           "text/html; charset=utf-8",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "same-origin",
		"X-Content-Type-Options": "nosniff",
		"Cache-Control":          "no-store",
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	body := w.Body.String()
	// No inline script or style: the CSP would block them.
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(m, ` src="/ui/`) {
			t.Errorf("inline script: %s", m)
		}
	}
	if strings.Contains(body, "<style") || strings.Contains(body, " style=") || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
		t.Errorf("inline style or handler in page:\n%s", body)
	}
}

func TestSignInPages(t *testing.T) {
	e := newExpEnv(t)
	tests := []struct {
		name   string
		path   string
		cookie bool
		uid    string
		want   []string
	}{
		{"sign-in", "/sign-in", true, e.uid, []string{`data-mode="sign-in"`, "Photo Album", `name="identifier"`, `href="/register"`, `src="/ui/sign-in.js?v=`}},
		{"register", "/register", true, e.uid, []string{`data-mode="register"`, "Photo Album", `name="username"`, `name="confirm-password"`, `href="/sign-in"`}},
		{"no cookie", "/sign-in", false, "", []string{"Start from your application"}},
		{"expired interaction", "/register", true, "expired-or-unknown", []string{"Start from your application", "expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t, e.cookie, e.uid = t, tt.cookie, tt.uid
			w := e.page("GET", tt.path, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d", w.Code)
			}
			checkPageHeaders(t, w)
			for _, s := range tt.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("page lacks %q:\n%s", s, w.Body)
				}
			}
		})
	}
}

func TestSignInAssets(t *testing.T) {
	e := newExpEnv(t)
	for path, want := range map[string]string{
		"/ui/style.css":  "text/css",
		"/ui/sign-in.js": "javascript",
	} {
		w := e.page("GET", path, nil)
		if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), want) ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s = %d %q", path, w.Code, w.Header().Get("Content-Type"))
		}
	}
	if w := e.page("HEAD", "/sign-in", nil); w.Code != http.StatusOK {
		t.Errorf("HEAD /sign-in = %d", w.Code)
	}
	for _, path := range []string{"/ui/", "/ui/page.html", "/ui/missing.js"} {
		if w := e.page("GET", path, nil); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, w.Code)
		}
	}
}

func TestSignInFormWithoutJavaScript(t *testing.T) {
	e := newExpEnv(t)
	passwordByAnyIdentifier(t, e.dir) // experience_passwordless_test.go

	w := e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {"wrong password"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "Incorrect account or password") ||
		!strings.Contains(w.Body.String(), `value="alice"`) || strings.Contains(w.Body.String(), "wrong password") {
		t.Fatalf("wrong password: %d\n%s", w.Code, w.Body)
	}
	checkPageHeaders(t, w)

	w = e.page("POST", "/sign-in", url.Values{"identifier": {tEmail}, "password": {tPassword}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "http://localhost:3001/oidc/auth/"+e.uid {
		t.Fatalf("sign-in: %d Location %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}

	e.cookie = false
	if w := e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {tPassword}}); w.Code != http.StatusOK ||
		!strings.Contains(w.Body.String(), "Start from your application") {
		t.Fatalf("without cookie: %d\n%s", w.Code, w.Body)
	}
}

func TestRegisterFormWithoutJavaScript(t *testing.T) {
	e := newExpEnv(t)
	w := e.page("POST", "/register", url.Values{"username": {"dave"}, "password": {"daves-password"}, "confirm-password": {"other"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "do not match") {
		t.Fatalf("mismatch: %d\n%s", w.Code, w.Body)
	}
	w = e.page("POST", "/register", url.Values{"username": {"dave"}, "password": {"short"}, "confirm-password": {"short"}})
	if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "at least 8 characters") {
		t.Fatalf("short password: %d\n%s", w.Code, w.Body)
	}
	w = e.page("POST", "/register", url.Values{"username": {"dave"}, "password": {"daves-password"}, "confirm-password": {"daves-password"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "http://localhost:3001/oidc/auth/"+e.uid {
		t.Fatalf("register: %d Location %q\n%s", w.Code, w.Header().Get("Location"), w.Body)
	}
	if _, ok := e.dir.UserByUsername("dave"); !ok {
		t.Fatal("dave was not created")
	}
}
