package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/op"
)

// routesTokenLifecycle registers token introspection (RFC 7662) and revocation
// (RFC 7009), with CORS preflights like the token endpoint's: both are called with
// the same client authentication, and browser apps (SPAs) revoke their refresh tokens
// at sign-out.
func (s *Server) routesTokenLifecycle(r *routeTable) {
	r.POST("/oidc/token/introspection", s.serveIntrospection)
	r.POST("/oidc/token/revocation", s.serveRevocation)
	r.OPTIONS("/oidc/token/introspection", s.corsPreflight("POST", false))
	r.OPTIONS("/oidc/token/revocation", s.corsPreflight("POST", false))
}

// serveIntrospection is the introspection endpoint (RFC 7662 2): op.Provider.Introspect.
func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	req, err := decodePresentedToken(r)
	if err != nil {
		s.setCORS(w, r, nil)
		s.writeOAuthError(w, r, err)
		return
	}
	resp, app, err := s.op.Introspect(r.Context(), req)
	s.setCORS(w, r, app)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, resp)
}

// decodePresentedToken reads an introspection or revocation request: the form and the
// client's credentials.
func decodePresentedToken(r *http.Request) (op.PresentedToken, error) {
	form, err := readForm(r)
	if err != nil {
		return op.PresentedToken{}, err
	}
	client, err := clientAuth(r, form)
	if err != nil {
		return op.PresentedToken{}, err
	}
	return op.PresentedToken{Client: client, Token: form.Get("token"), Hint: form.Get("token_type_hint")}, nil
}
