package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The demo cookie opens only as sealed: not tampered with, for its own name, under a
// cookie key still listed, before it expires. A rotation keeps it valid until the key
// that sealed it is dropped.
func TestDemoCookieSealing(t *testing.T) {
	e := newExpEnv(t)
	s, ctx := e.s, t.Context()
	if _, err := s.sealCookie(cookieDemo, demoCookie{}, time.Minute); err != errNoCookieKey {
		t.Fatalf("without a cookie key: %v", err)
	}
	if err := e.dir.RotateCookieKey(ctx); err != nil {
		t.Fatal(err)
	}
	sealed, err := s.sealCookie(cookieDemo, demoCookie{State: "st", IDToken: "eyJ.secret.token"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(sealed, "secret") || strings.Contains(sealed, "eyJ") {
		t.Fatalf("sealed value shows its content: %s", sealed)
	}
	var c demoCookie
	if !s.openCookie(cookieDemo, sealed, &c) || c.State != "st" || c.IDToken != "eyJ.secret.token" {
		t.Fatalf("open: %+v", c)
	}
	flipped := []byte(sealed)
	flipped[len(flipped)/2] ^= 1
	if flipped[len(flipped)/2] == '-' || flipped[len(flipped)/2] == '_' || flipped[len(flipped)/2] > 'z' {
		flipped[len(flipped)/2] = 'A'
	}
	for name, tc := range map[string]struct{ cookie, value string }{
		"tampered":     {cookieDemo, string(flipped)},
		"other cookie": {"_other", sealed},
		"not base64":   {cookieDemo, "%%%"},
		"empty":        {cookieDemo, ""},
		"truncated":    {cookieDemo, sealed[:10]},
	} {
		if s.openCookie(tc.cookie, tc.value, &demoCookie{}) {
			t.Errorf("%s: opened", name)
		}
	}
	if err := e.dir.RotateCookieKey(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.openCookie(cookieDemo, sealed, &demoCookie{}) {
		t.Fatal("the previous cookie key no longer opens")
	}
	e.clock.Advance(2 * time.Hour)
	if s.openCookie(cookieDemo, sealed, &demoCookie{}) {
		t.Fatal("expired cookie opened")
	}
	e.clock.Advance(-2 * time.Hour)
	if err := e.dir.RotateCookieKey(ctx); err != nil { // the sealing key is dropped
		t.Fatal(err)
	}
	if s.openCookie(cookieDemo, sealed, &demoCookie{}) {
		t.Fatal("a cookie sealed by a dropped key opened")
	}
}

// `/` is never a 404: it goes to the sign-in page, as Logto's experience app does. The
// demo page has the sign-in pages' CSP (no inline script) and creates its application.
func TestRootAndDemoPage(t *testing.T) {
	e := newExpEnv(t)
	for _, m := range []string{"GET", "HEAD"} {
		w := e.page(m, "/", nil)
		if w.Code != http.StatusFound || w.Header().Get("Location") != "/sign-in" {
			t.Fatalf("%s / = %d %q", m, w.Code, w.Header().Get("Location"))
		}
	}
	w := e.page("GET", "/demo-app", nil)
	csp := w.Header().Get("Content-Security-Policy")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="/demo-app/sign-in"`) ||
		!strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(w.Body.String(), "<script") {
		t.Fatalf("GET /demo-app = %d %q\n%s", w.Code, csp, w.Body)
	}
	if _, ok := e.dir.Application("demo-app"); !ok {
		t.Fatal("the demo app was not created")
	}
	// A callback without the pending cookie is refused.
	if w := e.page("GET", "/demo-app?code=a.b&state=x", nil); w.Code != http.StatusBadRequest {
		t.Fatalf("callback without cookie = %d", w.Code)
	}
}
