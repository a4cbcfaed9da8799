package main

import (
	"strings"
	"testing"
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
