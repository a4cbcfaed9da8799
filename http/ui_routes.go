package httpapi

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// The sign-in pages: html/template plus a stylesheet and a script, embedded in the
// binary (no front-end build step). The script drives the Experience API; the forms
// also post without JavaScript (ui_form.go).
//
//go:embed ui
var uiFiles embed.FS

// pathUIAssets serves the pages' stylesheet and script. The pages themselves are at
// pathSignIn and pathRegister (declared with /oidc/auth, which redirects to them), where
// Logto's are.
const pathUIAssets = "/ui/"

// Page modes.
const (
	modeSignIn        = "sign-in"
	modeRegister      = "register"
	modeNoInteraction = "no-interaction"
)

// uiPages holds the parsed templates and the assets. Built once from embedded files, read
// only afterwards.
var uiPages = mustLoadUI()

type uiBundle struct {
	tmpl    *template.Template
	assets  fs.FS
	version string // content hash of the assets, appended to their URLs to bust caches
}

func mustLoadUI() uiBundle {
	tmpl := template.Must(template.ParseFS(uiFiles, "ui/*.html"))
	assets, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err)
	}
	h := sha256.New()
	for _, name := range []string{"style.css", "sign-in.js", "demo.css", "mfa-webauthn.js"} {
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			panic(err)
		}
		h.Write(b)
	}
	return uiBundle{tmpl: tmpl, assets: assets, version: hex.EncodeToString(h.Sum(nil))[:12]}
}

// pageData is what the page template renders.
type pageData struct {
	Mode  string
	Title string
	// AppName is the application the person signs in to, when known.
	AppName string
	// Error is shown above the form (JavaScript-free posts) or on the no-interaction page.
	Error string
	// Identifier is the username or email to put back in the form after an error.
	Identifier string
	Assets     string
	Version    string
	Brand      uiBrand // ui_brand.go
	// CodeSignIn and ForgotPassword: the sign-in page links to /sign-in/code and
	// /forgot-password when the settings offer them (ui_register_code.go).
	CodeSignIn, ForgotPassword bool
}

// Form reports whether the page has a form (and so its script).
func (d pageData) Form() bool { return d.Mode == modeSignIn || d.Mode == modeRegister }

// contentSecurityPolicy allows only this origin's files: no inline script or style;
// images also from https (and http://localhost), for the settings' logo. No
// form-action: Chrome applies it to the redirects after a post too, and the JS-free
// sign-in ends in a redirect to the application.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https: http://localhost:*; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// setPageHeaders sets the security headers of every sign-in page.
func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Frame-Options", "DENY")
	// same-origin, not no-referrer: under no-referrer browsers send "Origin: null" with
	// the pages' own form posts, which the post guard (formguard.go) must refuse.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// routesUI registers the sign-in and register pages and their assets. Their
// JavaScript-free form posts are registered with the Experience API (routesExperience).
func (s *Server) routesUI(r *routeTable) {
	for path, mode := range map[string]string{pathSignIn: modeSignIn, pathRegister: modeRegister} {
		page := func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) { s.servePage(w, req, mode) }
		r.GET(path, page)
		r.HEAD(path, page) // net/http drops the body
	}
	assets := http.StripPrefix(pathUIAssets, http.FileServerFS(uiPages.assets))
	r.GET(pathUIAssets+"*file", func(w http.ResponseWriter, req *http.Request, p httprouter.Params) {
		name := strings.TrimPrefix(p.ByName("file"), "/")
		if name == brandCSSName {
			s.serveBrandCSS(w, req) // ui_brand.go
			return
		}
		if name == "" || strings.HasSuffix(name, ".html") {
			writeAPIError(w, apiErr(http.StatusNotFound, "guard.not_found", "not found"))
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=86400")
		assets.ServeHTTP(w, req)
	})
}

// servePage renders the sign-in or register page for the interaction in the request's
// cookie, or, when there is none (or it expired), a page that sends the person back to
// their application.
func (s *Server) servePage(w http.ResponseWriter, r *http.Request, mode string) {
	if x := (&experience{s: s}); mode == modeRegister && s.browser != nil && x.registerByCode() {
		x.serveCodePage(w, r, modeRegisterCode) // ui_register_code.go: sign-up by email or phone
		return
	}
	data := pageData{Mode: mode}
	uid, err := interactionUID(r)
	if err != nil || s.browser == nil {
		s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction})
		return
	}
	rec, err := s.browser.Interactions.Interaction(r.Context(), uid)
	switch {
	case err == nil:
		if app, ok := s.dir.Application(rec.Request.ClientID); ok {
			data.AppName = app.Name
		}
	case isNotFound(grainError(err)):
		s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction, Error: "it may have expired"})
		return
	default:
		// The form still works; its script shows whatever the Experience API answers.
		s.log.Warn("sign-in page: reading the interaction failed", "err", err)
	}
	s.renderPage(w, http.StatusOK, data)
}

// isNotFound reports an Experience API error that means "no such interaction".
func isNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && (ae.Code == "session.not_found" || ae.Code == "session.interaction_not_found")
}

// renderPage writes the page with the security headers. The template runs into a
// buffer first, so a template error is a clean 500, not half a page.
func (s *Server) renderPage(w http.ResponseWriter, status int, data pageData) {
	switch data.Mode {
	case modeSignIn:
		data.Title = "Sign in"
		if s.browser != nil {
			x := &experience{s: s}
			data.CodeSignIn, data.ForgotPassword = x.signInByCodeOffered(), x.forgotPasswordOffered()
		}
	case modeRegister:
		data.Title = "Create your account"
	default:
		data.Title = "Start from your application"
	}
	data.Assets, data.Version = pathUIAssets, uiPages.version
	data.Brand = s.brand(data.AppName)
	var buf bytes.Buffer
	if err := uiPages.tmpl.ExecuteTemplate(&buf, "page", data); err != nil {
		s.log.Error("sign-in page: template failed", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
