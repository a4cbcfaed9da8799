package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// TestChromiumMfaEnrollment: in a real browser, with the sign-in page's script and with
// JavaScript disabled, a user under a Mandatory MFA policy is sent from the sign-in form
// to the TOTP setup page, enters the code of the key the page shows, sees the backup
// codes once, and ends at the application with a code.
func TestChromiumMfaEnrollment(t *testing.T) {
	browser := chromiumBinary(t)
	for _, js := range []bool{true, false} {
		t.Run(fmt.Sprintf("javascript=%v", js), func(t *testing.T) { chromiumMfaEnrollment(t, browser, js) })
	}
}

func chromiumMfaEnrollment(t *testing.T, browser string, js bool) {
	n := startNode(t, t.TempDir(), nil)
	admin := n.adminToken(t.Context())
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp", "BackupCode"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)

	got := make(chan string, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			select {
			case got <- r.URL.RawQuery:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>App</title><h1>Signed in</h1>")
	}))
	t.Cleanup(app.Close)
	var created struct {
		ID string `json:"id"`
	}
	n.createApp(admin, map[string]any{
		"name": "Chromium MFA SPA", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{app.URL + "/callback"}, "postLogoutRedirectUris": []string{}},
	}, &created)
	const username, password = "chromium_mfa", "a long enough password"
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": username, "password": password}, http.StatusOK, nil)
	oc := oauth2.Config{ClientID: created.ID, RedirectURL: app.URL + "/callback", Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: n.issuer() + "/auth", TokenURL: n.issuer() + "/token"}}

	page := launchChromium(t, browser)
	if !js {
		page.call("Emulation.setScriptExecutionDisabled", map[string]any{"value": true}, nil)
	}
	page.navigate(oc.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", username)
	page.typeInto("password", password)
	clickInView(t, page, "submit")
	page.waitFor("the TOTP setup page", `location.pathname === "/mfa-binding/totp" && document.readyState === "complete" && !!document.getElementById("totp-secret")`)
	page.screenshot("mfa-binding.png")
	if w := page.evalString(`String(document.getElementById("totp-qr").naturalWidth)`); w == "0" {
		t.Fatal("the QR code image did not load")
	}
	secret := page.evalString(`document.getElementById("totp-secret").textContent`)
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	page.typeInto("code", code)
	clickInView(t, page, "submit") // below the QR code: out of the default viewport
	page.waitFor("the backup codes", `!!document.getElementById("backup-codes") && document.readyState === "complete"`)
	if n := page.evalString(`String(document.querySelectorAll("#backup-codes li").length)`); n != "10" {
		t.Fatalf("%s backup codes shown", n)
	}
	clickInView(t, page, "submit")
	select {
	case q := <-got:
		v, _ := url.ParseQuery(q)
		if v.Get("code") == "" || v.Get("state") != "st" {
			t.Fatalf("callback query %q", q)
		}
	case <-time.After(30 * time.Second):
		page.screenshot("mfa-stuck.png")
		t.Fatalf("the browser never reached the app; it is at %s", page.evalString("location.href"))
	}
	if !strings.HasPrefix(page.evalString("location.href"), app.URL) {
		page.waitFor("the app's page", fmt.Sprintf(`location.href.startsWith(%q)`, app.URL))
	}
}

// clickInView scrolls the element with id into the viewport, then clicks it.
func clickInView(t *testing.T, page *cdpPage, id string) {
	t.Helper()
	if _, err := page.eval(fmt.Sprintf(`(() => { document.getElementById(%q).scrollIntoView({block: "center"}); return true; })()`, id)); err != nil {
		t.Fatalf("scroll to #%s: %v", id, err)
	}
	page.click(id)
}
