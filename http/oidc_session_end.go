package httpapi

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/op"
)

// serveEndSession is OpenID Connect RP-Initiated Logout 1.0, GET and POST (2: "The OP
// MUST support the use of the HTTP GET and POST methods"). op.Browser.EndSession decides
// (parameter rules, post_logout_redirect_uri, the session's end and its fan-out); here
// the _session cookie is cleared and the browser redirected or shown the signed-out
// page.
func (s *Server) serveEndSession(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	params, err := authorizeParams(r)
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	sessionCookie := cookie(r, cookieSession)
	if s.browser == nil {
		sessionCookie = "" // no grains here: the cookie is only cleared
	}
	res, err := s.endSession(r, op.EndSessionRequest{Params: params, SessionCookie: sessionCookie})
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	s.setCookie(w, cookieSession, "", -1)
	if res.RedirectTo == "" {
		s.writePage(w, http.StatusOK, "signed_out", nil)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, res.RedirectTo, http.StatusSeeOther)
}

func (s *Server) endSession(r *http.Request, in op.EndSessionRequest) (*op.EndSessionResult, error) {
	if s.browser == nil {
		return &op.EndSessionResult{}, nil
	}
	return s.browser.EndSession(r.Context(), in)
}
