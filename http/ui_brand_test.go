package httpapi

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// patchSignInExp changes the settings as PATCH /api/sign-in-exp does.
func patchSignInExp(t *testing.T, e *expEnv, patch map[string]any) {
	t.Helper()
	raw := map[string]json.RawMessage{}
	for k, v := range patch {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		raw[k] = b
	}
	if _, err := e.dir.UpdateSignInExperience(t.Context(), raw, nil); err != nil {
		t.Fatal(err)
	}
}

// brandCSSHref returns the brand stylesheet's URL in body ("" when absent).
func brandCSSHref(body string) string {
	m := regexp.MustCompile(`<link rel="stylesheet" href="(/ui/brand\.css\?v=[0-9a-f]+)">`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestSignInPagesBranding(t *testing.T) {
	e := newExpEnv(t)

	// Logto's seed (its logo and colour) shows Latch's own look, with no terms.
	w := e.page("GET", "/sign-in", nil)
	body := w.Body.String()
	if strings.Contains(body, "logto.io") || brandCSSHref(body) != "" || !strings.Contains(body, `class="brand"`) ||
		strings.Contains(body, `id="terms"`) {
		t.Fatalf("default settings rendered a brand:\n%s", body)
	}

	patchSignInExp(t, e, map[string]any{
		"branding":         map[string]any{"logoUrl": "https://cdn.example.com/acme.svg?x=1&y=2"},
		"color":            map[string]any{"primaryColor": "#FF5500", "isDarkModeEnabled": true, "darkPrimaryColor": "#123"},
		"termsOfUseUrl":    "https://example.com/terms",
		"privacyPolicyUrl": "https://example.com/privacy",
	})
	var css string
	for _, path := range []string{"/sign-in", "/register"} {
		w := e.page("GET", path, nil)
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d", path, w.Code)
		}
		checkPageHeaders(t, w)
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https:") ||
			strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP %q does not allow the https logo", csp)
		}
		for _, want := range []string{
			`<img id="brand-logo" src="https://cdn.example.com/acme.svg?x=1&amp;y=2" alt="Photo Album">`,
			`<a id="terms-of-use" href="https://example.com/terms"`,
			`<a id="privacy-policy" href="https://example.com/privacy"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("GET %s lacks %q:\n%s", path, want, body)
			}
		}
		if css = brandCSSHref(body); css == "" {
			t.Fatalf("GET %s has no brand stylesheet:\n%s", path, body)
		}
	}

	// The code pages too (terms on sign-in by code, as on sign-in).
	for path, terms := range map[string]bool{pathSignInCode: true, pathForgotPassword: false} {
		body := e.page("GET", path, nil).Body.String()
		if !strings.Contains(body, `id="brand-logo"`) || brandCSSHref(body) != css || strings.Contains(body, `id="terms-of-use"`) != terms {
			t.Errorf("GET %s: logo, stylesheet %q or terms (%v) missing:\n%s", path, css, terms, body)
		}
	}

	w = e.page("GET", css, nil)
	got := w.Body.String()
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/css; charset=utf-8" ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Header().Get("Cache-Control"), "max-age") {
		t.Fatalf("GET %s = %d %v", css, w.Code, w.Header())
	}
	if !strings.Contains(got, ":root { --accent: #ff5500;") || !strings.Contains(got, "@media (prefers-color-scheme: dark)") ||
		!strings.Contains(got, "--accent: #112233;") {
		t.Errorf("brand.css:\n%s", got)
	}

	// Another colour, another URL (caches bust).
	patchSignInExp(t, e, map[string]any{"color": map[string]any{"primaryColor": "#00aa00", "isDarkModeEnabled": false, "darkPrimaryColor": "#112233"}})
	if next := brandCSSHref(e.page("GET", "/sign-in", nil).Body.String()); next == "" || next == css {
		t.Errorf("brand.css URL %q after a colour change, was %q", next, css)
	}
}

// The settings refuse, when written, a colour that is not #rgb/#rrggbb and a logo that
// is not an http(s) or data: URL (Logto's colorGuard and brandingGuard, stricter on the
// scheme). What they accept is still checked again before it reaches the page or the
// stylesheet: only https (or http://localhost) logos, no credentials in them.
func TestSignInPagesBrandingRefusesMaliciousValues(t *testing.T) {
	e := newExpEnv(t)
	refused := func(field string, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		_, err := e.dir.UpdateSignInExperience(t.Context(), map[string]json.RawMessage{field: b}, nil)
		if err == nil || !strings.Contains(err.Error(), "guard.invalid_input") {
			t.Errorf("%s %s stored (%v), want guard.invalid_input", field, b, err)
		}
	}
	for _, color := range []string{
		`red;}body{background:url(https://evil.example/x)}`,
		`#ff0000;}*{display:none`,
		`#ff00001`,
		`expression(alert(1))`,
	} {
		refused("color", map[string]any{"primaryColor": color, "isDarkModeEnabled": true, "darkPrimaryColor": "#112233"})
		refused("color", map[string]any{"primaryColor": "#112233", "isDarkModeEnabled": true, "darkPrimaryColor": color})
	}
	refused("color", map[string]any{"primaryColor": "#112233"}) // Logto's guard wants the whole object
	for _, logo := range []string{`javascript:alert(1)`, `//evil.example/logo.png`, `logo.png`} {
		refused("branding", map[string]any{"logoUrl": logo})
	}
	for _, logo := range []string{
		`http://evil.example/logo.png`, // plain http off localhost
		`data:image/svg+xml,<svg onload=alert(1)>`,
		`https://u:p@evil.example/logo.png`,
	} {
		patchSignInExp(t, e, map[string]any{
			"branding":         map[string]any{"logoUrl": logo},
			"termsOfUseUrl":    nil,
			"privacyPolicyUrl": nil,
		})
		body := e.page("GET", "/sign-in", nil).Body.String()
		if strings.Contains(body, `id="brand-logo"`) || strings.Contains(body, "evil") {
			t.Errorf("logo %q rendered:\n%s", logo, body)
		}
	}
	if b := e.s.brand(""); b.LogoURL != "" || b.CSS != "" {
		t.Errorf("brand = %+v", b)
	}
	// A stored javascript: link (the directory only checks for a scheme and a host)
	// is not rendered.
	patchSignInExp(t, e, map[string]any{"termsOfUseUrl": "javascript://example.com/%0aalert(1)"})
	if body := e.page("GET", "/register", nil).Body.String(); strings.Contains(body, "javascript") || strings.Contains(body, `id="terms"`) {
		t.Errorf("javascript: terms link rendered:\n%s", body)
	}
	// http://localhost is allowed for development.
	patchSignInExp(t, e, map[string]any{"branding": map[string]any{"logoUrl": "http://localhost:8080/logo.png"}})
	if body := e.page("GET", "/sign-in", nil).Body.String(); !strings.Contains(body, `src="http://localhost:8080/logo.png"`) {
		t.Errorf("localhost logo not rendered:\n%s", body)
	}
}
