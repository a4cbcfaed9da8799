package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// consoleErrorRecorder is injected into every document before its own content runs (a
// DevTools script is not subject to the page's CSP): it records uncaught errors,
// failed loads of the page's resources, CSP violations and console.error calls in
// window.__consoleErrors, which the test reads on every page.
const consoleErrorRecorder = `(() => {
  const errs = window.__consoleErrors = [];
  window.addEventListener('error', e => errs.push(e.message || ('failed to load ' + ((e.target && (e.target.src || e.target.href)) || '?'))), true);
  window.addEventListener('unhandledrejection', e => errs.push('unhandled rejection: ' + e.reason));
  document.addEventListener('securitypolicyviolation', e => errs.push('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));
  const ce = console.error.bind(console);
  console.error = (...a) => { errs.push(a.join(' ')); ce(...a); };
})();`

// TestChromiumConsole drives the Admin Console in a real browser as a newcomer does on
// a fresh data directory: the first visit offers to create the first administrator;
// that administrator signs in through Latch's sign-in page and, in the console,
// creates an application (its secret shown once), an API resource with a scope, a
// User role granting it and a user holding the role. That user then signs in through
// the demo app and sees the resource's scope in the access token's claims; in the
// console the same user gets the "not an administrator" page. Every console page is
// captured at 1000 and 360 px (into $LATCH_E2E_ARTIFACTS or a temporary directory),
// and on each one nothing overflows horizontally at 360 px, the stylesheet applies
// and the browser reports no error. Skips without Chromium, as TestChromiumSignIn.
func TestChromiumConsole(t *testing.T) {
	binary := chromiumBinary(t)
	n := startNode(t, t.TempDir(), nil)
	shots := os.Getenv("LATCH_E2E_ARTIFACTS")
	if shots == "" {
		shots = t.TempDir()
	}
	shots = filepath.Join(shots, "console")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	page := launchChromium(t, binary)
	page.call("Page.addScriptToEvaluateOnNewDocument", map[string]any{"source": consoleErrorRecorder}, nil)
	c := &consoleDriver{t: t, p: page, dir: shots}
	c.size(1000)

	// First visit: the welcome page, and nothing else.
	page.navigate(n.endpoint + "/console")
	page.waitFor("the welcome page", `location.pathname === "/console/welcome" && !!document.getElementById("welcome-form")`)
	c.check("welcome")
	page.typeInto("username", "root_admin")
	page.typeInto("password", "console-admin-pw")
	page.typeInto("confirm", "console-admin-pw")
	page.click("welcome-submit")

	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", "root_admin")
	page.typeInto("password", "console-admin-pw")
	page.click("submit")

	page.waitFor("the console's getting-started page", `location.pathname === "/console" && !!document.getElementById("express-sample")`)
	if who := page.evalString(`document.getElementById("console-user").textContent`); who != "root_admin" {
		t.Fatalf("signed in as %q", who)
	}
	if got := page.evalString(`document.getElementById("endpoint").textContent`); got != n.endpoint {
		t.Fatalf("endpoint shown %q, want %q", got, n.endpoint)
	}
	c.check("getting-started")

	// An application: the secret is shown once, on the answer of the form.
	c.open("nav-applications", "/console/applications", "app-create")
	c.check("applications")
	page.typeInto("app-name", "Orders web")
	c.setSelect("app-type", "Traditional")
	page.typeInto("app-redirect", "http://localhost:3000/callback")
	page.click("app-create-submit")
	page.waitFor("the new application", `!!document.getElementById("new-secret") && !!document.getElementById("app-id")`)
	if secret := page.evalString(`document.getElementById("new-secret").textContent`); len(secret) < 20 {
		t.Fatalf("secret %q", secret)
	}
	if got := page.evalString(`document.getElementById("redirectUris").value`); got != "http://localhost:3000/callback" {
		t.Fatalf("redirect URIs %q", got)
	}
	c.check("application")
	page.typeInto("corsAllowedOrigins", "http://localhost:3000")
	c.submit("app-save", "saved")
	if got := page.evalString(`document.getElementById("corsAllowedOrigins").value`); got != "http://localhost:3000" {
		t.Fatalf("CORS origins after save %q", got)
	}

	// An API resource with a scope.
	c.open("nav-resources", "/console/resources", "resource-create")
	c.check("resources")
	page.typeInto("res-name", "Orders API")
	page.typeInto("res-indicator", "https://orders.example")
	c.submit("resource-create-submit", "created")
	page.typeInto("scope-name", "read:orders")
	page.typeInto("scope-description", "Read orders")
	c.submit("scope-create-submit", "created")
	if got := page.evalString(`document.getElementById("scopes").textContent`); !strings.Contains(got, "read:orders") {
		t.Fatalf("scopes: %q", got)
	}
	c.check("resource")

	// A User role granting it.
	c.open("nav-roles", "/console/roles", "role-create")
	c.check("roles")
	page.typeInto("role-name", "order-reader")
	page.typeInto("role-description", "Reads orders")
	c.setSelect("role-type", "User")
	c.submit("role-create-submit", "created")
	c.selectByText("role-scope", "Orders API: read:orders")
	c.submit("role-scope-add", "assigned")
	if got := page.evalString(`document.getElementById("role-scopes").textContent`); !strings.Contains(got, "read:orders") {
		t.Fatalf("role scopes: %q", got)
	}
	c.check("role")

	// A third-party application may ask for what the console allows it.
	c.open("nav-applications", "/console/applications", "app-create")
	page.typeInto("app-name", "Partner")
	c.setSelect("app-type", "Traditional")
	page.typeInto("app-redirect", "https://partner.example/callback")
	if _, err := page.eval(`document.getElementById("app-third-party").checked = true`); err != nil {
		t.Fatal(err)
	}
	page.click("app-create-submit")
	page.waitFor("the new third-party application", `!!document.getElementById("new-secret") && !!document.getElementById("consent-user")`)
	c.setSelect("consent-user", "email")
	c.submit("consent-user-add", "assigned")
	c.selectByText("consent-resource", "Orders API: read:orders")
	c.submit("consent-resource-add", "assigned")
	if got := page.evalString(`document.getElementById("consent-scopes").textContent`); !strings.Contains(got, "email") || !strings.Contains(got, "read:orders") {
		t.Fatalf("consent scopes: %q", got)
	}
	c.check("application-third-party")

	// A user holding the role.
	c.open("nav-users", "/console/users", "user-create")
	page.typeInto("new-username", "bob")
	page.typeInto("new-name", "Bob Orders")
	page.typeInto("new-password", "bob-password-1")
	c.submit("user-create-submit", "created")
	c.selectByText("user-role", "order-reader")
	c.submit("user-role-assign", "assigned")
	if got := page.evalString(`document.getElementById("user-roles").textContent`); !strings.Contains(got, "order-reader") {
		t.Fatalf("user roles: %q", got)
	}
	page.typeInto("customData", `{"plan": "gold"}`)
	c.submit("user-custom-data-save", "saved")
	c.check("user")
	c.open("nav-users", "/console/users", "user-create")
	page.typeInto("q", "bob")
	if _, err := page.eval(`window.__stale = true`); err != nil {
		t.Fatal(err)
	}
	page.click("user-search")
	page.waitFor("the search result", `!window.__stale && location.search.includes("q=bob") && document.querySelectorAll("tbody tr").length === 1 && document.querySelector("tbody").textContent.includes("bob")`)
	c.check("users")

	c.open("nav-keys", "/console/signing-keys", "keys-rotate")
	c.check("signing-keys")

	// The organization template, an organization with the user as a member.
	c.open("nav-org-template", "/console/organization-template", "org-role-create")
	page.typeInto("os-name", "read:members")
	c.submit("org-scope-create", "created")
	page.typeInto("or-name", "member")
	c.submit("org-role-create", "created")
	if got := page.evalString(`document.getElementById("org-roles").textContent + document.getElementById("org-scopes").textContent`); !strings.Contains(got, "member") || !strings.Contains(got, "read:members") {
		t.Fatalf("organization template: %q", got)
	}
	c.check("organization-template")
	c.open("nav-orgs", "/console/organizations", "org-create")
	c.check("organizations")
	page.typeInto("org-name", "Acme")
	c.submit("org-create-submit", "created")
	c.selectByText("org-user", "bob")
	c.submit("org-member-add", "assigned")
	if got := page.evalString(`document.getElementById("org-members").textContent`); !strings.Contains(got, "bob") {
		t.Fatalf("organization members: %q", got)
	}
	c.check("organization")

	c.open("nav-sie", "/console/sign-in-experience", "sie-branding")
	page.typeInto("primaryColor", "#0b7a75")
	c.submit("sie-save", "saved")
	if got := page.evalString(`document.getElementById("primaryColor").value`); got != "#0b7a75" {
		t.Fatalf("brand colour after save %q", got)
	}
	c.check("sign-in-experience")
	c.open("nav-connectors", "/console/connectors", "connector-create")
	c.check("connectors")

	// The console's session ends at /oidc/session/end, which sends the browser back.
	page.click("console-sign-out")
	page.waitFor("the sign-in page after signing out", `location.pathname === "/sign-in" && !!document.getElementById("identifier")`)

	// The user signs in through the demo app and sees the role's scope.
	page.navigate(n.endpoint + "/demo-app")
	page.waitFor("the demo's start page", `document.readyState === "complete" && !!document.getElementById("demo-form")`)
	page.typeInto("resource", "https://orders.example")
	page.typeInto("scope", "read:orders")
	page.click("demo-sign-in")
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.typeInto("identifier", "bob")
	page.typeInto("password", "bob-password-1")
	page.click("submit")
	page.waitFor("the demo's signed-in page", `location.pathname === "/demo-app" && !!document.getElementById("id-token-claims")`)
	idClaims := page.evalString(`document.getElementById("id-token-claims").textContent`)
	resource := page.evalString(`(document.getElementById("resource-claims") || {}).textContent || ""`)
	userinfo := page.evalString(`(document.getElementById("userinfo") || {}).textContent || ""`)
	if !strings.Contains(idClaims, `"name": "Bob Orders"`) || !strings.Contains(resource, `"scope": "read:orders"`) ||
		!strings.Contains(resource, `"aud": "https://orders.example"`) || !strings.Contains(userinfo, `"plan": "gold"`) {
		t.Fatalf("demo app:\nID token %s\naccess token %s\nuserinfo %s", idClaims, resource, userinfo)
	}

	// The same browser session in the console: not an administrator.
	page.navigate(n.endpoint + "/console")
	page.waitFor("the not-an-administrator page", `!!document.getElementById("not-admin")`)
	c.check("not-admin")
	page.click("not-admin-sign-out")
	page.waitFor("the sign-in page after signing out", `location.pathname === "/sign-in" && !!document.getElementById("identifier")`)

	// The demo app's own session ends too.
	page.navigate(n.endpoint + "/demo-app")
	page.waitFor("the demo's signed-in page", `document.readyState === "complete" && !!document.getElementById("demo-sign-out")`)
	if _, err := page.eval(`document.getElementById("demo-sign-out").scrollIntoView({block: "center"})`); err != nil {
		t.Fatal(err)
	}
	page.click("demo-sign-out")
	page.waitFor("the demo's start page after sign-out", `location.pathname === "/demo-app" && !!document.getElementById("demo-form")`)
}

// consoleDriver adds to cdpPage what the console test repeats.
type consoleDriver struct {
	t   *testing.T
	p   *cdpPage
	dir string
}

func (c *consoleDriver) size(width int) {
	c.t.Helper()
	c.p.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}, nil)
	c.p.waitFor(fmt.Sprintf("the %d px layout", width), fmt.Sprintf(`window.innerWidth === %d`, width))
}

// open follows a navigation link and waits for the page's element wantID.
func (c *consoleDriver) open(linkID, path, wantID string) {
	c.t.Helper()
	if _, err := c.p.eval(fmt.Sprintf(`window.__stale = true; document.getElementById(%q).scrollIntoView({block: "center"})`, linkID)); err != nil {
		c.t.Fatal(err)
	}
	c.p.click(linkID)
	c.p.waitFor(path, fmt.Sprintf(`!window.__stale && document.readyState === "complete" && location.pathname === %q && !!document.getElementById(%q)`, path, wantID))
}

// submit clicks a form's button and waits for the notice the post redirects to.
func (c *consoleDriver) submit(buttonID, done string) {
	c.t.Helper()
	// The old document is marked, so that the wait below sees the new one only.
	if _, err := c.p.eval(fmt.Sprintf(`window.__stale = true; document.getElementById(%q).scrollIntoView({block: "center"})`, buttonID)); err != nil {
		c.t.Fatal(err)
	}
	c.p.click(buttonID)
	c.p.waitFor("the notice after "+buttonID, fmt.Sprintf(`!window.__stale && document.readyState === "complete" && location.search === "?done=%s" && (!!document.getElementById("console-notice") || !!document.getElementById("console-error"))`, done))
	if e := c.p.evalString(`(document.getElementById("console-error") || {}).textContent || ""`); e != "" {
		c.t.Fatalf("%s: %s", buttonID, e)
	}
}

func (c *consoleDriver) setSelect(id, value string) {
	c.t.Helper()
	if _, err := c.p.eval(fmt.Sprintf(`document.getElementById(%q).value = %q`, id, value)); err != nil {
		c.t.Fatal(err)
	}
}

func (c *consoleDriver) selectByText(id, text string) {
	c.t.Helper()
	v := c.p.evalString(fmt.Sprintf(`(() => { const s = document.getElementById(%q); const o = [...s.options].find(o => o.textContent.trim() === %q); if (!o) return ""; s.value = o.value; return o.value; })()`, id, text))
	if v == "" {
		c.t.Fatalf("no option %q in #%s: %s", text, id, c.p.evalString(fmt.Sprintf(`document.getElementById(%q).textContent`, id)))
	}
}

// check captures the page at 1000 and 360 px and fails when, at 360 px, the document
// is wider than the window, when the stylesheet did not apply, or when the browser
// recorded an error.
func (c *consoleDriver) check(name string) {
	c.t.Helper()
	c.p.waitFor(name+" loaded with the console's stylesheet",
		`document.readyState === "complete" && getComputedStyle(document.body).backgroundColor === "rgb(246, 247, 249)"`)
	c.shot(name + "-1000.png")
	c.size(360)
	if w := c.p.evalString(`String(document.documentElement.scrollWidth)`); w != "360" {
		c.shot(name + "-360-overflow.png")
		wide := c.p.evalString(`[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 361).slice(0, 5).map(e => e.tagName + "#" + e.id + "." + e.className).join(", ")`)
		c.t.Fatalf("%s: at 360 px the page is %s px wide (%s)", name, w, wide)
	}
	c.shot(name + "-360.png")
	c.size(1000)
	var errs []string
	raw, err := c.p.eval(`window.__consoleErrors || ["the error recorder did not run"]`)
	if err != nil || json.Unmarshal(raw, &errs) != nil {
		c.t.Fatalf("%s: reading the browser's errors: %v %s", name, err, raw)
	}
	if len(errs) > 0 {
		c.t.Fatalf("%s: the browser reported errors: %q", name, errs)
	}
}

// shot saves a full-page PNG.
func (c *consoleDriver) shot(name string) {
	c.t.Helper()
	var res struct {
		Data string `json:"data"`
	}
	if err := c.p.try("Page.captureScreenshot", map[string]any{"format": "png", "captureBeyondViewport": true}, &res); err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	b, err := base64.StdEncoding.DecodeString(res.Data)
	if err == nil {
		err = os.WriteFile(filepath.Join(c.dir, name), b, 0o644)
	}
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
}

// TestConsoleSignInFlow is the console's sign-in without a browser: a real client
// (cookie jar, redirects followed) and the sign-in page's JavaScript-free form. The
// welcome form creates the first administrator, whose code is redeemed for a
// Management API token; the pages answer; a second welcome is refused; sign-out ends
// the Latch session, so the console asks to sign in again.
func TestConsoleSignInFlow(t *testing.T) {
	n := startNode(t, t.TempDir(), nil)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		resp, err := client.PostForm(n.endpoint+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := client.Get(n.endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := post("/console/welcome", url.Values{"username": {"root_admin"}, "password": {"admin-password"}, "confirm": {"admin-password"}})
	if resp.Request.URL.Path != "/sign-in" {
		t.Fatalf("after the welcome form: %s %d\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	resp, body = post("/sign-in", url.Values{"identifier": {"root_admin"}, "password": {"admin-password"}})
	if resp.Request.URL.Path != "/console" || resp.StatusCode != http.StatusOK || !strings.Contains(body, `id="console-user">root_admin<`) {
		t.Fatalf("after signing in: %s %d\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	if resp, body := get("/console/roles"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "default:admin") {
		t.Fatalf("roles page: %d\n%s", resp.StatusCode, body)
	}
	// The administrator's role shows in the Management API, holding the scope "all".
	admin := n.adminToken(t.Context())
	var roles []struct{ ID, Name, Type string }
	n.mustAPI(admin, "GET", "/api/roles?search=default:admin", nil, 200, &roles)
	if len(roles) != 1 || roles[0].Type != "User" {
		t.Fatalf("roles %+v", roles)
	}
	var scopes []struct{ Name string }
	n.mustAPI(admin, "GET", "/api/roles/"+roles[0].ID+"/scopes", nil, 200, &scopes)
	if len(scopes) != 1 || scopes[0].Name != "all" {
		t.Fatalf("the administrator role's scopes: %+v", scopes)
	}

	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if csrf == nil {
		t.Fatalf("no CSRF token on the page:\n%s", body)
	}

	// The administrator's own session and grant (the console's) show on their user
	// page; revoking the grant answers the page with a notice.
	var users []struct{ ID, Username string }
	n.mustAPI(admin, "GET", "/api/users", nil, 200, &users)
	if len(users) != 1 || users[0].Username != "root_admin" {
		t.Fatalf("users %+v", users)
	}
	resp, body = get("/console/users/" + users[0].ID)
	session := regexp.MustCompile(`name="sessionId" value="([^"]+)"`).FindStringSubmatch(body)
	grant := regexp.MustCompile(`name="grantId" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || session == nil || grant == nil || !strings.Contains(body, "admin-console") {
		t.Fatalf("user page: %d\n%s", resp.StatusCode, body)
	}
	resp, body = post("/console/users/"+users[0].ID, url.Values{"csrf": {csrf[1]}, "action": {"revoke-grant"}, "grantId": {grant[1]}})
	if resp.StatusCode != http.StatusOK || resp.Request.URL.RawQuery != "done=revoked" || strings.Contains(body, `name="grantId"`) {
		t.Fatalf("after revoking the grant: %s %d\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	resp, body = post("/console/sign-out", url.Values{"csrf": {csrf[1]}})
	if resp.Request.URL.Path != "/sign-in" {
		t.Fatalf("after signing out: %s %d\n%s", resp.Request.URL, resp.StatusCode, body)
	}
	// Signing in again from a deeper page lands back on it.
	if resp, _ := get("/console/roles"); resp.Request.URL.Path != "/sign-in" {
		t.Fatalf("a page after signing out: %s", resp.Request.URL)
	}
	resp, body = post("/sign-in", url.Values{"identifier": {"root_admin"}, "password": {"admin-password"}})
	if resp.Request.URL.Path != "/console/roles" || resp.StatusCode != http.StatusOK || !strings.Contains(body, "default:admin") {
		t.Fatalf("after signing in again: %s %d", resp.Request.URL, resp.StatusCode)
	}
	if resp, _ := post("/console/welcome", url.Values{"username": {"intruder"}, "password": {"intruder-pw"}, "confirm": {"intruder-pw"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("a second welcome = %d", resp.StatusCode)
	}
}
