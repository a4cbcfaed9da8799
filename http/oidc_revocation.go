package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// serveRevocation is the revocation endpoint (RFC 7009 2): op.Provider.Revoke. Success
// is 200 with an empty body (2.2: "The content of the response body is ignored by the
// client"), as node-oidc-provider answers.
func (s *Server) serveRevocation(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	req, err := decodePresentedToken(r)
	if err != nil {
		s.setCORS(w, r, nil)
		s.writeOAuthError(w, r, err)
		return
	}
	app, err := s.op.Revoke(r.Context(), req)
	s.setCORS(w, r, app)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	noStore(w.Header())
	w.WriteHeader(http.StatusOK)
}
