package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestChromiumBranding: with a logo, a colour and terms links in the sign-in experience,
// the sign-in page in a real browser loads the logo (the CSP allows it), paints its
// button in the colour (through /ui/brand.css, under the CSP with no inline style) and
// links the terms.
func TestChromiumBranding(t *testing.T) {
	browser := chromiumBinary(t)
	n := startNode(t, t.TempDir(), nil)
	ctx := t.Context()
	admin := n.adminToken(ctx)

	// The logo, served on http://localhost (allowed for development).
	logo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="#f50"/></svg>`)
	}))
	t.Cleanup(logo.Close)
	_, port, _ := net.SplitHostPort(logo.Listener.Addr().String())
	logoURL := "http://localhost:" + port + "/logo.svg"

	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "app") }))
	t.Cleanup(app.Close)
	redirectURI := app.URL + "/callback"
	var created struct {
		ID string `json:"id"`
	}
	n.createApp(admin, map[string]any{
		"name": "Branded SPA", "type": "SPA",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{redirectURI}, "postLogoutRedirectUris": []string{}},
	}, &created)
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"branding":         map[string]any{"logoUrl": logoURL},
		"color":            map[string]any{"primaryColor": "#FF5500", "isDarkModeEnabled": false, "darkPrimaryColor": "#8768F8"},
		"termsOfUseUrl":    "https://example.com/terms",
		"privacyPolicyUrl": "https://example.com/privacy",
	}, http.StatusOK, nil)

	provider, err := oidc.NewProvider(ctx, n.issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	oc := oauth2.Config{ClientID: created.ID, Endpoint: provider.Endpoint(), RedirectURL: redirectURI, Scopes: []string{oidc.ScopeOpenID}}
	authURL := oc.AuthCodeURL("state", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))

	page := launchChromium(t, browser)
	page.navigate(authURL)
	page.waitFor("the sign-in page", `location.pathname === "/sign-in" && document.readyState === "complete" && !!document.getElementById("identifier")`)
	page.waitFor("the logo to load", `(() => { const i = document.getElementById("brand-logo"); return !!i && i.complete && i.naturalWidth > 0 })()`)
	page.screenshot("sign-in-branded.png")
	if bg := page.evalString(`getComputedStyle(document.getElementById("submit")).backgroundColor`); bg != "rgb(255, 85, 0)" {
		t.Errorf("button background = %q, want the brand colour rgb(255, 85, 0)", bg)
	}
	if alt := page.evalString(`document.getElementById("brand-logo").alt`); alt != "Branded SPA" {
		t.Errorf("logo alt = %q", alt)
	}
	if href := page.evalString(`document.getElementById("terms-of-use").href + " " + document.getElementById("privacy-policy").href`); !strings.Contains(href, "https://example.com/terms") ||
		!strings.Contains(href, "https://example.com/privacy") {
		t.Errorf("terms links = %q", href)
	}
}
