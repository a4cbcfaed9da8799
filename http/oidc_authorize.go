package httpapi

import (
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// Sign-in UI paths /oidc/auth sends the browser to.
const (
	pathSignIn   = "/sign-in"
	pathRegister = "/register"
)

// serveAuthorize is the authorization endpoint (OIDC Core 3.1.2), GET and POST: it
// decodes the request, runs op.Browser.Authorize and answers with the authorization
// response, or sends the browser to the sign-in UI with the _interaction cookie.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	params, err := authorizeParams(r)
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	if s.browser == nil {
		s.writeErrorPage(w, r, oauth.TemporarilyUnavailable("browser sign-in is not enabled on this node"))
		return
	}
	res, err := s.browser.Authorize(r.Context(), op.AuthorizeRequest{Params: params, SessionCookie: cookie(r, cookieSession)})
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	if res.Response != nil {
		s.respondToClient(w, r, res.Response)
		return
	}
	s.applyCookie(w, cookieInteraction, &res.SignIn.Interaction)
	target := pathSignIn
	switch {
	case res.SignIn.Consent:
		target = pathConsent // consent.go
	case res.SignIn.Register:
		target = pathRegister
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// serveResume is /oidc/auth/:uid, where the browser lands after the Experience API
// submitted the interaction: op.Browser.Resume signs the user in and the code goes to
// the client.
func (s *Server) serveResume(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	if s.browser == nil {
		s.writeErrorPage(w, r, oauth.TemporarilyUnavailable("browser sign-in is not enabled on this node"))
		return
	}
	res, err := s.browser.Resume(r.Context(), op.ResumeRequest{
		UID:               p.ByName("uid"),
		InteractionCookie: cookie(r, cookieInteraction),
		SessionCookie:     cookie(r, cookieSession),
	})
	if res != nil {
		if res.ClearInteraction {
			s.setCookie(w, cookieInteraction, "", -1)
		}
		s.applyCookie(w, cookieSession, res.Session)
	}
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	if res.Consent { // a third-party application waits for consent (consent.go)
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, pathConsent, http.StatusSeeOther)
		return
	}
	s.respondToClient(w, r, res.Response)
}

// authorizeParams reads the request's parameters: the query for GET, the form body for
// POST (OIDC Core 3.1.2.1). Repeats and empty values are judged by the flow.
func authorizeParams(r *http.Request) (url.Values, error) {
	raw := r.URL.RawQuery
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, oauth.InvalidRequest("content type must be application/x-www-form-urlencoded")
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, oidcflow.MaxFormBytes+1))
		if err != nil {
			return nil, oauth.InvalidRequest("could not read request body")
		}
		if len(body) > oidcflow.MaxFormBytes {
			return nil, oauth.InvalidRequest("request body too large")
		}
		raw = string(body)
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return nil, oauth.InvalidRequest("malformed request parameters")
	}
	return v, nil
}

// respondToClient delivers an authorization response: a 303 to the redirect URI (query
// or fragment) or an auto-posting form (form_post).
func (s *Server) respondToClient(w http.ResponseWriter, r *http.Request, res *op.ClientResponse) {
	if res.ResponseMode == oidcflow.ResponseModeFormPost {
		s.writeFormPost(w, res.RedirectURI, res.Params)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, oidcflow.AuthorizationResponse(res.RedirectURI, res.ResponseMode, res.Params), http.StatusSeeOther)
}
