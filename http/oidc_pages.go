package httpapi

import (
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"slices"
)

// The OpenID Provider's own small pages: an error page for authorization requests that
// must not be redirected (OIDC Core 3.1.2.6), the form_post response (OAuth 2.0 Form
// Post Response Mode 2) and the signed-out page of the end-session endpoint.
var oidcPages = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign-in error</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}code{background:#f3f3f3;padding:.1rem .3rem}</style>
</head><body>
<h1>Something went wrong</h1>
<p>{{.Description}}</p>
<p>Error: <code>{{.Code}}</code></p>
</body></html>
`))

func init() {
	template.Must(oidcPages.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Submitting…</title></head>
<body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><button type="submit">Continue</button></noscript>
</form>
</body></html>
`))
	template.Must(oidcPages.New("signed_out").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Signed out</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#222}</style>
</head><body>
<h1>You are signed out</h1>
<p>You can close this window.</p>
</body></html>
`))
}

// writePage renders one of oidcPages. These pages are never cached and never framed.
func (s *Server) writePage(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Frame-Options", "DENY")
	if h.Get("Content-Security-Policy") == "" {
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	}
	w.WriteHeader(status)
	if err := oidcPages.ExecuteTemplate(w, name, data); err != nil {
		s.log.Warn("render page", "page", name, "err", err)
	}
}

// writeErrorPage shows a protocol error to the user instead of redirecting it. Errors
// that are not *oauth.Error are logged and shown as server_error.
func (s *Server) writeErrorPage(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := protocolError(err)
	if !ok {
		s.log.Error("oidc browser endpoint failed", "path", r.URL.Path, "err", err)
	}
	unavailable(w.Header(), s.log, r, e, err)
	status := e.Status
	if status == 0 || status == http.StatusUnauthorized {
		status = http.StatusBadRequest
	}
	s.writePage(w, status, "error", e)
}

type formField struct{ Name, Value string }

// writeFormPost answers with an auto-submitting form that posts params to action
// (Form Post Response Mode 2).
func (s *Server) writeFormPost(w http.ResponseWriter, action string, params url.Values) {
	var fields []formField
	for _, k := range slices.Sorted(maps.Keys(params)) {
		for _, v := range params[k] {
			fields = append(fields, formField{k, v})
		}
	}
	// The inline onload handler needs script-src, and the form posts to the client.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'")
	s.writePage(w, http.StatusOK, "form_post", struct {
		Action template.URL // a registered redirect URI: trusted, may use a custom scheme
		Fields []formField
	}{template.URL(action), fields})
}
