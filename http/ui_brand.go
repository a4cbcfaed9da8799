package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/latchid/latch/directory"
)

// The sign-in experience's branding on the sign-in pages: the logo (branding.logoUrl),
// the primary colour (color.primaryColor, darkPrimaryColor when isDarkModeEnabled) and
// the terms of use and privacy policy links. The pages' CSP allows no inline style, so
// the colour comes as a tiny stylesheet, /ui/brand.css, that sets style.css's custom
// properties; its URL carries a hash of the colours so that a change busts caches.
// Every value is checked again here, whatever the directory stored: only a #rgb or
// #rrggbb colour reaches the stylesheet, only an https (or http://localhost) URL the
// img, only an http(s) URL the links.

// brandCSSName is the stylesheet's name under pathUIAssets.
const brandCSSName = "brand.css"

// Logto's seed (directory.defaultSignInExperience): shown as Latch's own look, not as
// Logto's logo and colour, until an administrator sets their own.
const (
	seedLogoURL      = "https://logto.io/logo.svg"
	seedPrimaryColor = "#6139F6"
)

// uiBrand is what the pages' "brand-head", "brand-logo" and "brand-terms" templates
// render.
type uiBrand struct {
	// LogoURL is the logo's src; empty shows Latch's built-in mark.
	LogoURL string
	// LogoAlt is the logo's alt text: the application's name, or "Logo".
	LogoAlt string
	// CSS is the brand stylesheet's URL; empty when no colour is set.
	CSS string
	// TermsURL and PrivacyURL are the links shown on the sign-in and register pages.
	TermsURL, PrivacyURL string
}

var hexColorRE = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// brandColors is the colour part of the settings, validated: empty strings when unset
// or malformed.
type brandColors struct{ light, dark string }

func signInExpColors(sie *directory.SignInExperience) brandColors {
	var c struct {
		PrimaryColor      string `json:"primaryColor"`
		IsDarkModeEnabled bool   `json:"isDarkModeEnabled"`
		DarkPrimaryColor  string `json:"darkPrimaryColor"`
	}
	if json.Unmarshal(sie.Fields["color"], &c) != nil {
		return brandColors{}
	}
	var out brandColors
	if col, ok := normHexColor(c.PrimaryColor); ok && !strings.EqualFold(col, seedPrimaryColor) {
		out.light = col
	}
	if col, ok := normHexColor(c.DarkPrimaryColor); ok && c.IsDarkModeEnabled && out.light != "" {
		out.dark = col
	}
	return out
}

// normHexColor returns the colour as #rrggbb in lower case, or false.
func normHexColor(s string) (string, bool) {
	if !hexColorRE.MatchString(s) {
		return "", false
	}
	s = strings.ToLower(s)
	if len(s) == 4 {
		s = "#" + string([]byte{s[1], s[1], s[2], s[2], s[3], s[3]})
	}
	return s, true
}

// logoURLAllowed reports an https URL, or http on localhost (development).
func logoURLAllowed(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil {
		return false
	}
	return u.Scheme == "https" || (u.Scheme == "http" && u.Hostname() == "localhost")
}

// linkURLAllowed reports an http or https URL with a host.
func linkURLAllowed(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http")
}

// brand reads the settings for a page about appName (empty when unknown).
func (s *Server) brand(appName string) uiBrand {
	sie := s.dir.SignInExperience()
	b := uiBrand{LogoAlt: "Logo"}
	if appName != "" {
		b.LogoAlt = appName
	}
	var branding struct {
		LogoURL string `json:"logoUrl"`
	}
	if json.Unmarshal(sie.Fields["branding"], &branding) == nil && branding.LogoURL != seedLogoURL && logoURLAllowed(branding.LogoURL) {
		b.LogoURL = branding.LogoURL
	}
	if c := signInExpColors(sie); c.light != "" {
		sum := sha256.Sum256([]byte(c.light + c.dark))
		b.CSS = pathUIAssets + brandCSSName + "?v=" + hex.EncodeToString(sum[:6])
	}
	for field, dst := range map[string]*string{"termsOfUseUrl": &b.TermsURL, "privacyPolicyUrl": &b.PrivacyURL} {
		var v string
		if json.Unmarshal(sie.Fields[field], &v) == nil && linkURLAllowed(v) {
			*dst = v
		}
	}
	return b
}

// brandCSS is the stylesheet for the colours (empty when none is set).
func brandCSS(c brandColors) string {
	if c.light == "" {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("/* Latch: the sign-in experience's colours. */\n")
	writeAccentVars(&sb, ":root", c.light)
	if c.dark != "" {
		sb.WriteString("@media (prefers-color-scheme: dark) {\n")
		writeAccentVars(&sb, "  :root", c.dark)
		sb.WriteString("}\n")
	}
	return sb.String()
}

// writeAccentVars writes the accent properties of style.css for colour col (#rrggbb).
func writeAccentVars(sb *strings.Builder, sel, col string) {
	v, _ := strconv.ParseUint(col[1:], 16, 32) // validated by normHexColor
	r, g, b := float64(v>>16&0xff), float64(v>>8&0xff), float64(v&0xff)
	hover := fmt.Sprintf("#%02x%02x%02x", int(r*0.85), int(g*0.85), int(b*0.85))
	text := "#ffffff"
	if 0.2126*r+0.7152*g+0.0722*b > 160 { // a light colour takes dark text
		text = "#0e0e14"
	}
	fmt.Fprintf(sb, "%s { --accent: %s; --accent-hover: %s; --accent-text: %s; --focus: rgba(%d, %d, %d, 0.35); }\n",
		sel, col, hover, text, int(r), int(g), int(b))
}

// serveBrandCSS is GET /ui/brand.css: the colours of the settings now (the v= of its
// URL only busts caches).
func (s *Server) serveBrandCSS(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400")
	_, _ = w.Write([]byte(brandCSS(signInExpColors(s.dir.SignInExperience()))))
}
