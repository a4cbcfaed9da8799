package httpapi

import "net/http"

// Values of the headers every response carries, shared read-only: assigned straight
// into the header map so that the hot path pays no canonicalization and no
// allocation. A handler that adds to one gets a new slice (cap is 1).
var (
	nosniffValue = []string{"nosniff"}
	// One year, Mozilla's and hstspreload.org's minimum; subdomains too, since an
	// identity provider's cookies and redirects must never go over plain http.
	hstsValue = []string{"max-age=31536000; includeSubDomains"}
)

// securityHeaders wraps next so that every response (API answers, OIDC JSON, the
// sign-in UI, redirects, 404s, 405s and recovered panics alike) carries
// X-Content-Type-Options: nosniff, so that no browser runs an answer as script or
// HTML other than as its declared type, and, when the public endpoint is https,
// Strict-Transport-Security (RFC 6797), so that a browser never reaches Latch over
// plain http again. Headers are set before next runs, so a handler may still
// override them.
func securityHeaders(next http.Handler, https bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["X-Content-Type-Options"] = nosniffValue
		if https {
			h["Strict-Transport-Security"] = hstsValue
		}
		next.ServeHTTP(w, r)
	})
}
