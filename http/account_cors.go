package httpapi

import (
	"net/http"
	"strings"
)

// CORS for the Account API (/api/my-account/**, /api/verifications/**), which an
// application's own pages call from the browser with the user's access token. Logto
// answers any origin there (koaCors with the account and verification prefixes); Latch
// answers only the origins its applications registered (customClientMetadata.
// corsAllowedOrigins, or the origin of a redirect URI), as for /oidc/token. No cookie
// is involved, so Access-Control-Allow-Credentials is never sent.

// accountCORSPrefixes are the paths whose routes answer CORS preflights.
var accountCORSPrefixes = []string{"/api/my-account", "/api/verifications/"}

// accountPreflight is the router's GlobalOPTIONS: httprouter calls it for an OPTIONS
// request to a path that has routes (having set Allow). A preflight from a registered
// origin to the Account API gets the CORS answer; any other OPTIONS request gets the
// router's usual answer (the Allow header).
func (s *Server) accountPreflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !hasAnyPrefix(r.URL.Path, accountCORSPrefixes) {
		return
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !s.anyAppAllowsOrigin(origin) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", h.Get("Allow"))
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Logto-Verification-Id")
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}

func hasAnyPrefix(path string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}
