package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestChromiumDemoApp signs in through the demo app in a real browser, as an operator
// does after installing: /demo-app, the resource field, Sign in, Latch's sign-in page,
// back on /demo-app with the ID token claims, /oidc/me and the resource's access
// token; the page fits 360 px without horizontal scrolling; Sign out ends on the start
// page. Skips without Chromium, as TestChromiumSignIn.
func TestChromiumDemoApp(t *testing.T) {
	binary := chromiumBinary(t)
	e := newBrowserEnv(t)
	n := e.n

	page := launchChromium(t, binary)
	page.navigate(n.endpoint + "/demo-app")
	page.waitFor("the demo's start page", `document.readyState === "complete" && !!document.getElementById("demo-form")`)
	page.screenshot("demo-start.png")
	page.typeInto("resource", e.api)
	page.typeInto("scope", "read:data")
	page.click("demo-sign-in")

	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", browserUser)
	page.typeInto("password", browserPassword)
	page.click("submit")

	page.waitFor("the demo's signed-in page", `location.pathname === "/demo-app" && !!document.getElementById("id-token-claims")`)
	idClaims := page.evalString(`document.getElementById("id-token-claims").textContent`)
	userinfo := page.evalString(`(document.getElementById("userinfo") || {}).textContent || ""`)
	resource := page.evalString(`(document.getElementById("resource-claims") || {}).textContent || ""`)
	if !strings.Contains(idClaims, `"sub": "`+e.userID+`"`) || !strings.Contains(userinfo, `"username": "`+browserUser+`"`) ||
		!strings.Contains(resource, `"aud": "`+e.api+`"`) || !strings.Contains(resource, `"scope": "read:data"`) {
		t.Fatalf("signed-in page:\nID token %s\nuserinfo %s\nresource %s", idClaims, userinfo, resource)
	}
	page.screenshot("demo-signed-in.png")

	// 360 px wide: nothing overflows horizontally.
	page.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": true}, nil)
	page.waitFor("the 360 px layout", `window.innerWidth === 360`)
	if w := page.evalString(`String(document.documentElement.scrollWidth)`); w != "360" {
		page.screenshot("demo-360-overflow.png")
		t.Fatalf("at 360 px the page is %s px wide", w)
	}
	page.screenshot("demo-signed-in-360.png")

	if _, err := page.eval(`document.getElementById("demo-sign-out").scrollIntoView({block: "center"})`); err != nil {
		t.Fatal(err)
	}
	page.click("demo-sign-out")
	page.waitFor("the demo's start page after sign-out", `location.pathname === "/demo-app" && !!document.getElementById("demo-form")`)
}

// TestChromiumConsent: a third-party application in a real browser. After sign-in the
// consent page lists what the app may ask (profile, not email); Authorize brings the
// code to the app; asked again with prompt=consent, Cancel brings access_denied. The
// page fits 360 px.
func TestChromiumConsent(t *testing.T) {
	binary := chromiumBinary(t)
	e := newBrowserEnv(t)
	n := e.n
	admin := n.adminToken(t.Context())

	got := make(chan url.Values, 4)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			got <- r.URL.Query()
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>App</title><h1>App</h1>")
	}))
	t.Cleanup(app.Close)
	var third struct{ ID string }
	n.createApp(admin, map[string]any{"name": "Third Party Notes", "type": "Traditional", "isThirdParty": true,
		"oidcClientMetadata": map[string]any{"redirectUris": []string{app.URL + "/callback"}, "postLogoutRedirectUris": []string{}}}, &third)
	n.mustAPI(admin, "POST", "/api/applications/"+third.ID+"/user-consent-scopes", map[string]any{"userScopes": []string{"profile"}}, http.StatusCreated, nil)
	authURL := func(state string, extra ...string) string {
		q := url.Values{"client_id": {third.ID}, "redirect_uri": {app.URL + "/callback"}, "response_type": {"code"},
			"scope": {"openid profile email"}, "state": {state}}
		for i := 0; i+1 < len(extra); i += 2 {
			q.Set(extra[i], extra[i+1])
		}
		return n.issuer() + "/auth?" + q.Encode()
	}
	page := launchChromium(t, binary)
	wait := func(what string) url.Values {
		select {
		case q := <-got:
			return q
		case <-time.After(30 * time.Second):
			page.screenshot("wait-timeout.png")
			href, _ := page.eval("location.href")
			text, _ := page.eval("document.body ? document.body.innerText.slice(0, 300) : ''")
			t.Fatalf("the app never got %s (the browser is at %s showing %s)", what, href, text)
			return nil
		}
	}

	page.navigate(authURL("s1"))
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", browserUser)
	page.typeInto("password", browserPassword)
	page.click("submit")
	page.waitFor("the consent page", `location.pathname === "/consent" && !!document.getElementById("consent-form")`)
	scopes := page.evalString(`document.getElementById("consent-scopes").textContent`)
	if !strings.Contains(scopes, "profile") || strings.Contains(scopes, "email") {
		t.Fatalf("consent page lists %q", scopes)
	}
	page.screenshot("consent.png")
	page.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": true}, nil)
	page.waitFor("the 360 px layout", `window.innerWidth === 360`)
	if w := page.evalString(`String(document.documentElement.scrollWidth)`); w != "360" {
		t.Fatalf("at 360 px the consent page is %s px wide", w)
	}
	page.screenshot("consent-360.png")
	page.click("consent-accept")
	if q := wait("the code"); q.Get("code") == "" || q.Get("state") != "s1" {
		t.Fatalf("after Authorize the app got %v", q)
	}

	page.navigate(authURL("s2", "prompt", "consent"))
	page.waitFor("the consent page again", `location.pathname === "/consent" && !!document.getElementById("consent-deny")`)
	page.click("consent-deny")
	if q := wait("the denial"); q.Get("error") != "access_denied" || q.Get("state") != "s2" {
		t.Fatalf("after Cancel the app got %v", q)
	}
}
