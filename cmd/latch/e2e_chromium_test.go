package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/websocket"
	"golang.org/x/oauth2"
)

// TestChromiumSignIn clicks through the sign-in page in a real browser: Debian's
// headless Chromium, driven over the Chrome DevTools Protocol by the small client below
// (no npm, no browser download). An SPA starts an authorization-code + PKCE request;
// the browser lands on /sign-in, a wrong password shows the API's message, the right
// one ends at the app's redirect_uri with a code and the app's state, and the code
// redeems for an ID token that go-oidc verifies.
//
// It skips when no Chromium is installed, unless LATCH_REQUIRE_BROWSER is set (CI sets
// it, so the test cannot skip silently there). LATCH_CHROMIUM names the binary;
// LATCH_E2E_ARTIFACTS names a directory for a screenshot of the sign-in page.
func TestChromiumSignIn(t *testing.T) {
	browser := chromiumBinary(t)
	n := startNode(t, t.TempDir(), nil)
	ctx := t.Context()
	admin := n.adminToken(ctx)

	// The application: an SPA whose redirect target records what the browser brings.
	type callback struct{ query string }
	got := make(chan callback, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/callback" {
			select {
			case got <- callback{query: r.URL.RawQuery}:
			default:
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>App</title><h1>Signed in</h1>")
	}))
	t.Cleanup(app.Close)
	redirectURI := app.URL + "/callback"

	var created struct {
		ID string `json:"id"`
	}
	n.createApp(admin, map[string]any{
		"name": "Chromium Test SPA", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{redirectURI}, "postLogoutRedirectUris": []string{}},
	}, &created)
	const username, password = "chromium_user", "a long enough password"
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": username, "password": password}, http.StatusOK, nil)

	provider, err := oidc.NewProvider(ctx, n.issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	oc := oauth2.Config{
		ClientID:    created.ID,
		Endpoint:    provider.Endpoint(),
		RedirectURL: redirectURI,
		Scopes:      []string{oidc.ScopeOpenID, "profile"},
	}
	oc.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	verifier := oauth2.GenerateVerifier()
	const state, nonce = "state-from-the-app", "nonce-from-the-app"
	authURL := oc.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))

	page := launchChromium(t, browser)
	page.navigate(authURL)
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.screenshot("sign-in.png")

	// A wrong password: the page shows the Experience API's message and stays.
	page.typeInto("identifier", username)
	page.typeInto("password", "not the password")
	page.click("submit")
	page.waitFor("the error message", `!document.getElementById("form-error").hidden`)
	if msg := page.evalString(`document.getElementById("form-error").textContent`); !strings.Contains(msg, "Incorrect account or password") {
		t.Fatalf("error shown = %q", msg)
	}
	page.screenshot("sign-in-error.png")

	page.typeInto("password", password) // typeInto replaces the field's value
	page.click("submit")
	var cb callback
	select {
	case cb = <-got:
	case <-time.After(30 * time.Second):
		page.screenshot("stuck.png")
		t.Fatalf("the browser never reached %s; it is at %s", redirectURI, page.evalString("location.href"))
	}
	page.waitFor("the app's page", fmt.Sprintf(`location.href.startsWith(%q)`, redirectURI))

	q, err := url.ParseQuery(cb.query)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("state") != state || q.Get("code") == "" || q.Get("iss") != n.issuer() {
		t.Fatalf("callback query = %q, want code, state %q and iss %q", cb.query, state, n.issuer())
	}

	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: created.ID}).Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("id token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
	}
}

// chromiumBinary finds Chromium, or skips (fails when LATCH_REQUIRE_BROWSER is set).
func chromiumBinary(t *testing.T) string {
	t.Helper()
	candidates := []string{"chromium", "chromium-browser", "google-chrome"}
	if v := os.Getenv("LATCH_CHROMIUM"); v != "" {
		candidates = []string{v}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("LATCH_REQUIRE_BROWSER") != "" {
		t.Fatalf("LATCH_REQUIRE_BROWSER is set but none of %v is installed (apt-get install chromium)", candidates)
	}
	t.Skip("no Chromium installed (apt-get install chromium); set LATCH_REQUIRE_BROWSER to make this a failure")
	return ""
}

// cdpPage is one browser tab driven over the Chrome DevTools Protocol: JSON messages
// {id, method, params} over the tab's WebSocket; replies carry the id, events have none.
type cdpPage struct {
	t      *testing.T
	ws     *websocket.Conn
	nextID int
}

// launchChromium starts headless Chromium with a fresh profile and the DevTools server
// on a free loopback port, opens a tab and connects to it. Cleanup ends the browser's
// whole process group.
func launchChromium(t *testing.T, binary string) *cdpPage {
	t.Helper()
	profile := t.TempDir()
	cmd := exec.Command(binary,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--no-default-browser-check", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-quic",
		"--password-store=basic", "--use-mock-keychain", "--mute-audio",
		"--window-size=1000,900", "--user-data-dir="+profile,
		"--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
		"--remote-allow-origins=http://127.0.0.1", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	var waitOnce sync.Once
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		waitOnce.Do(func() { _ = cmd.Wait() })
	})

	// Chromium writes the port it chose to <profile>/DevToolsActivePort.
	var port string
	deadline := time.Now().Add(30 * time.Second)
	for port == "" {
		if time.Now().After(deadline) {
			t.Fatalf("Chromium did not open its DevTools port:\n%s", stderr.String())
		}
		if f, err := os.Open(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			sc := bufio.NewScanner(f)
			if sc.Scan() {
				if _, err := strconv.Atoi(sc.Text()); err == nil {
					port = sc.Text()
				}
			}
			f.Close()
		}
		if port == "" {
			time.Sleep(50 * time.Millisecond)
		}
	}

	// A new tab: PUT /json/new answers its WebSocket URL.
	req, _ := http.NewRequest("PUT", "http://127.0.0.1:"+port+"/json/new?about:blank", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	var target struct {
		WebSocketDebuggerURL string `json:"webSocketDebuggerUrl"`
	}
	err = json.NewDecoder(resp.Body).Decode(&target)
	resp.Body.Close()
	if err != nil || target.WebSocketDebuggerURL == "" {
		t.Fatalf("open a tab: %v %+v", err, target)
	}
	ws, err := websocket.Dial(target.WebSocketDebuggerURL, "", "http://127.0.0.1")
	if err != nil {
		t.Fatalf("connect to the tab: %v", err)
	}
	ws.MaxPayloadBytes = 64 << 20
	t.Cleanup(func() { _ = ws.Close() })
	p := &cdpPage{t: t, ws: ws}
	p.call("Page.enable", nil, nil)
	p.call("Runtime.enable", nil, nil)
	return p
}

// call sends one command and decodes its result into out (when not nil), skipping the
// events that arrive meanwhile.
func (p *cdpPage) call(method string, params any, out any) {
	p.t.Helper()
	if err := p.try(method, params, out); err != nil {
		p.t.Fatalf("%s: %v", method, err)
	}
}

func (p *cdpPage) try(method string, params any, out any) error {
	p.nextID++
	id := p.nextID
	if params == nil {
		params = struct{}{}
	}
	_ = p.ws.SetDeadline(time.Now().Add(30 * time.Second))
	if err := websocket.JSON.Send(p.ws, map[string]any{"id": id, "method": method, "params": params}); err != nil {
		return err
	}
	for {
		var raw []byte
		if err := websocket.Message.Receive(p.ws, &raw); err != nil {
			return err
		}
		var m struct {
			ID     int             `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			return err
		}
		if m.ID != id {
			continue // an event, or a late reply
		}
		if m.Error != nil {
			return fmt.Errorf("CDP error %d: %s", m.Error.Code, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	}
}

func (p *cdpPage) navigate(u string) {
	p.t.Helper()
	var res struct {
		ErrorText string `json:"errorText"`
	}
	p.call("Page.navigate", map[string]any{"url": u}, &res)
	if res.ErrorText != "" {
		p.t.Fatalf("navigate to %s: %s", u, res.ErrorText)
	}
}

// eval runs a JavaScript expression in the page and returns its value as JSON.
func (p *cdpPage) eval(expr string) (json.RawMessage, error) {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.try("Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return nil, err
	}
	if res.ExceptionDetails != nil {
		return nil, errors.New(res.ExceptionDetails.Text)
	}
	return res.Result.Value, nil
}

func (p *cdpPage) evalString(expr string) string {
	p.t.Helper()
	v, err := p.eval(expr)
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	var s string
	_ = json.Unmarshal(v, &s)
	return s
}

// waitFor polls a JavaScript condition until it holds (navigations in between make
// single evaluations fail; those are retried).
func (p *cdpPage) waitFor(what, cond string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := p.eval("!!(" + cond + ")")
		if err == nil && string(v) == "true" {
			return
		}
		if time.Now().After(deadline) {
			p.screenshot("timeout.png")
			href, _ := p.eval("location.href")
			p.t.Fatalf("waiting for %s: %s never held (at %s, last error %v)", what, cond, href, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// typeInto focuses the input with id, clears it and types text as keyboard input.
func (p *cdpPage) typeInto(id, text string) {
	p.t.Helper()
	if _, err := p.eval(fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.focus(); e.select(); return true; })()`, id)); err != nil {
		p.t.Fatalf("focus #%s: %v", id, err)
	}
	p.call("Input.insertText", map[string]any{"text": text}, nil)
}

// click presses and releases the left mouse button over the middle of the element's
// first box (a link that wraps has one box per line, and its bounding rectangle's middle
// may be outside both).
func (p *cdpPage) click(id string) {
	p.t.Helper()
	// The point must hit the element itself: before the page's stylesheet has loaded, or
	// while the element is outside the viewport, a click at its rectangle lands elsewhere.
	locate := fmt.Sprintf(`(() => {
		if (document.readyState !== "complete") return null;
		const e = document.getElementById(%q);
		if (!e) return null;
		e.scrollIntoView({block: "center"});
		const r = e.getClientRects()[0];
		if (!r) return null;
		const x = r.x + r.width / 2, y = r.y + r.height / 2;
		const hit = document.elementFromPoint(x, y);
		return hit && (hit === e || e.contains(hit)) ? [x, y] : null;
	})()`, id)
	var xy []float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := p.eval(locate)
		if err == nil {
			xy = nil
			if json.Unmarshal(v, &xy) == nil && len(xy) == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			p.screenshot("click-timeout.png")
			p.t.Fatalf("locate #%s: never clickable (last error %v)", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, typ := range []string{"mouseMoved", "mousePressed", "mouseReleased"} {
		ev := map[string]any{"type": typ, "x": xy[0], "y": xy[1]}
		if typ != "mouseMoved" {
			ev["button"], ev["clickCount"] = "left", 1
		}
		p.call("Input.dispatchMouseEvent", ev, nil)
	}
}

// screenshot saves a PNG of the page to $LATCH_E2E_ARTIFACTS (when set) and logs it.
func (p *cdpPage) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("LATCH_E2E_ARTIFACTS")
	if dir == "" {
		return
	}
	var res struct {
		Data string `json:"data"`
	}
	if err := p.try("Page.captureScreenshot", map[string]any{"format": "png"}, &res); err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b, err := base64.StdEncoding.DecodeString(res.Data)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	if err != nil {
		p.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p.t.Logf("screenshot: %s", filepath.Join(dir, name))
}

// startSignedInApp is the application a browser test signs in to: every page says
// "Signed in", and the query of each /callback goes to the returned channel (up to
// queued of them; more are dropped, never blocking the browser).
func startSignedInApp(t *testing.T, queued int) (*httptest.Server, <-chan string) {
	t.Helper()
	got := make(chan string, queued)
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
	return app, got
}
