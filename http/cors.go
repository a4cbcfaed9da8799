package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// CORS for the OpenID Provider endpoints that browsers call directly (token, userinfo),
// as Logto's clientBasedCORS decides it: an origin may read a response meant for a
// client when it is one of the client's customClientMetadata.corsAllowedOrigins or the
// origin of one of its redirect URIs. Arbitrary origins are never reflected. Discovery
// and JWKS are public metadata and answer "*".
//
// No endpoint here uses cookies, so Access-Control-Allow-Credentials is never sent.

// corsMaxAge lets browsers cache a preflight for 10 minutes.
const corsMaxAge = "600"

// setCORS adds Access-Control-Allow-Origin for the request's Origin when app allows it.
// With app nil (the client is not known, e.g. a request that failed before client
// authentication), any application's origin is accepted, so the browser can read the
// error.
func (s *Server) setCORS(w http.ResponseWriter, r *http.Request, app *directory.Application) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	allowed := false
	if app != nil {
		allowed = appAllowsOrigin(app, origin)
	} else {
		allowed = s.anyAppAllowsOrigin(origin)
	}
	if allowed {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "WWW-Authenticate")
	}
}

// corsPreflight answers OPTIONS for a CORS endpoint (Fetch standard, CORS-preflight).
// The client is unknown at preflight, so any application's origin passes; the actual
// response is then checked against its own client. public endpoints answer "*".
func (s *Server) corsPreflight(methods string, public bool) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		h := w.Header()
		origin := r.Header.Get("Origin")
		switch {
		case public:
			h.Set("Access-Control-Allow-Origin", "*")
		case origin != "" && s.anyAppAllowsOrigin(origin):
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", origin)
		default:
			h.Add("Vary", "Origin")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
		h.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
	}
}

// appAllowsOrigin is Logto's clientBasedCORS for one application.
func appAllowsOrigin(app *directory.Application, origin string) bool {
	want := normalizeOrigin(origin)
	if want == "" {
		return false
	}
	for _, o := range app.CustomClientMetadata.CorsAllowedOrigins {
		if normalizeOrigin(o) == want {
			return true
		}
	}
	for _, u := range app.OIDCClientMetadata.RedirectURIs {
		if normalizeOrigin(u) == want {
			return true
		}
	}
	return false
}

// anyAppAllowsOrigin scans the applications. It runs only for requests that carry an
// Origin and whose client is unknown (preflights, early errors), which browsers cache
// and which are rare next to token requests; the directory is in memory.
func (s *Server) anyAppAllowsOrigin(origin string) bool {
	if normalizeOrigin(origin) == "" {
		return false
	}
	for _, app := range s.dir.Applications() {
		if appAllowsOrigin(app, origin) {
			return true
		}
	}
	return false
}

// normalizeOrigin returns the ASCII serialization of the origin of an http(s) URL
// (scheme://host[:port], lowercase, default port dropped), as JavaScript's URL.origin,
// or "" for anything else (custom schemes and the opaque origin "null" never match).
func normalizeOrigin(s string) string {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
