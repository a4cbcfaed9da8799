package httpapi

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// pageMatch returns the first group of pattern in a page (HTML-unescaped).
func pageMatch(t *testing.T, body, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("page has no %s:\n%s", pattern, body)
	}
	return html.UnescapeString(m[1])
}

func wantRedirect(t *testing.T, what string, w *httptest.ResponseRecorder, want string) {
	t.Helper()
	if loc := w.Header().Get("Location"); w.Code != http.StatusSeeOther || loc != want {
		t.Fatalf("%s: %d Location %q, want 303 %q\n%s", what, w.Code, loc, want, w.Body)
	}
}

// TestMfaPagesWithoutJavaScript drives enrollment and verification through the pages'
// forms only: sign-in form -> enroll TOTP (key, otpauth link, QR code) -> backup codes
// shown once -> redirectTo; then sign-in -> TOTP page (wrong code, right code), and a
// backup code.
func TestMfaPagesWithoutJavaScript(t *testing.T) {
	e := newExpEnv(t)
	setMfa(t, e.dir, "Mandatory", "Totp", "BackupCode")
	done := "http://localhost:3001/oidc/auth/" + e.uid

	w := e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {tPassword}})
	wantRedirect(t, "sign-in", w, "/mfa-binding")
	w = e.page("GET", "/mfa-binding", nil)
	wantRedirect(t, "mfa-binding", w, "/mfa-binding/totp")

	w = e.page("GET", "/mfa-binding/totp", nil)
	if w.Code != http.StatusOK {
		t.Fatalf("GET /mfa-binding/totp = %d\n%s", w.Code, w.Body)
	}
	checkPageHeaders(t, w)
	body := w.Body.String()
	secret := pageMatch(t, body, `<code id="totp-secret">([A-Z2-7]+)</code>`)
	vid := pageMatch(t, body, `name="verificationId" value="([^"]+)"`)
	uri := pageMatch(t, body, `id="totp-uri" href="([^"]+)"`)
	if !strings.HasPrefix(uri, "otpauth://totp/") || !strings.Contains(uri, "secret="+secret) ||
		!strings.Contains(body, `src="data:image/png;base64,`) || strings.Contains(body, `id="skip"`) {
		t.Fatalf("enrollment page:\n%s", body)
	}

	w = e.page("POST", "/mfa-binding/totp", url.Values{"verificationId": {vid}, "code": {"000000"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Invalid TOTP code") ||
		!strings.Contains(w.Body.String(), secret) {
		t.Fatalf("wrong enrollment code: %d\n%s", w.Code, w.Body)
	}
	w = e.page("POST", "/mfa-binding/totp", url.Values{"verificationId": {vid}, "code": {e.totpCode(secret)}})
	if w.Code != http.StatusOK {
		t.Fatalf("enrollment code: %d\n%s", w.Code, w.Body)
	}
	body = w.Body.String()
	codes := regexp.MustCompile(`<li><code>([0-9a-f]{10})</code></li>`).FindAllStringSubmatch(body, -1)
	if len(codes) != 10 {
		t.Fatalf("backup codes page:\n%s", body)
	}
	bvid := pageMatch(t, body, `name="verificationId" value="([^"]+)"`)
	w = e.page("POST", "/mfa-binding/backup-code", url.Values{"verificationId": {bvid}})
	wantRedirect(t, "backup codes saved", w, done)
	if got := e.amr(); !slices.Equal(got, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("amr = %v", got)
	}

	// Sign in again with the pages: TOTP.
	e.uid = e.newInteraction()
	done = "http://localhost:3001/oidc/auth/" + e.uid
	w = e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {tPassword}})
	wantRedirect(t, "sign-in", w, "/mfa-verification")
	w = e.page("GET", "/mfa-verification", nil)
	wantRedirect(t, "mfa-verification", w, "/mfa-verification/totp")
	w = e.page("GET", "/mfa-verification/totp", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `href="/mfa-verification/backup-code"`) {
		t.Fatalf("TOTP page: %d\n%s", w.Code, w.Body)
	}
	checkPageHeaders(t, w)
	w = e.page("POST", "/mfa-verification/totp", url.Values{"code": {"000000"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Invalid TOTP code") {
		t.Fatalf("wrong code: %d\n%s", w.Code, w.Body)
	}
	e.clock.Advance(30 * time.Second)
	w = e.page("POST", "/mfa-verification/totp", url.Values{"code": {e.totpCode(secret)}})
	wantRedirect(t, "TOTP", w, done)

	// And a backup code, once.
	e.uid = e.newInteraction()
	done = "http://localhost:3001/oidc/auth/" + e.uid
	w = e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {tPassword}})
	wantRedirect(t, "sign-in", w, "/mfa-verification")
	w = e.page("POST", "/mfa-verification/backup-code", url.Values{"code": {codes[0][1]}})
	wantRedirect(t, "backup code", w, done)
	e.uid = e.newInteraction()
	e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {tPassword}})
	w = e.page("POST", "/mfa-verification/backup-code", url.Values{"code": {codes[0][1]}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Invalid backup code") {
		t.Fatalf("spent backup code: %d\n%s", w.Code, w.Body)
	}

	// Without an interaction: the no-interaction page.
	e.cookie = false
	if w := e.page("GET", "/mfa-verification/totp", nil); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Start from your application") {
		t.Fatalf("without cookie: %d\n%s", w.Code, w.Body)
	}
}

func TestMfaPagesSkip(t *testing.T) {
	e := newExpEnv(t)
	setMfa(t, e.dir, "PromptAtSignInAndSignUp", "Totp")
	w := e.page("POST", "/sign-in", url.Values{"identifier": {tUsername}, "password": {tPassword}})
	wantRedirect(t, "sign-in", w, "/mfa-binding")
	w = e.page("GET", "/mfa-binding/totp", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="/mfa-binding/skip"`) {
		t.Fatalf("enrollment page without skip: %d\n%s", w.Code, w.Body)
	}
	w = e.page("POST", "/mfa-binding/skip", url.Values{})
	wantRedirect(t, "skip", w, "http://localhost:3001/oidc/auth/"+e.uid)
}
