package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// serveRoot is `/`. Logto serves its sign-in experience there, whose root route
// navigates to /sign-in; with no sign-in in progress that page says to start from the
// application (Logto's /unknown-session). Latch does the same with a redirect, so `/`
// is never a bare 404.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, pathSignIn, http.StatusFound)
}
