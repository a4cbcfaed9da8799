package httpapi

import (
	"net/http"
	"net/url"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// serveEndSession is RP-Initiated Logout 1.0 (basic), GET and POST: it ends the OP
// session of this browser, clears the _session cookie and returns to the client's
// post_logout_redirect_uri when that URI is registered for the client named by
// id_token_hint or client_id; otherwise it shows a signed-out page.
//
// As Logto's logoutSource auto-submits its confirmation form, no confirmation is asked.
// Back-channel logout and revoking the session's grants come with a later issue.
func (s *Server) serveEndSession(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	raw, err := authorizeParams(r)
	if err != nil {
		s.writeErrorPage(w, r, err)
		return
	}
	params := make(url.Values, len(raw))
	for k, vs := range raw {
		for _, v := range vs {
			if v == "" {
				continue
			}
			if params.Has(k) {
				s.writeErrorPage(w, r, oauth.InvalidRequest("parameter "+k+" is included more than once"))
				return
			}
			params.Set(k, v)
		}
	}

	clientID := params.Get("client_id")
	if hint := params.Get("id_token_hint"); hint != "" {
		// RP-Initiated Logout 2: an expired ID token is an acceptable hint.
		h, err := oidcflow.ParseIDTokenHint(hint, s.issuer, s.keys)
		if err != nil {
			s.writeErrorPage(w, r, oauth.InvalidRequest("id_token_hint is not a valid ID token of this provider"))
			return
		}
		switch {
		case clientID == "":
			clientID = h.Audiences[0]
		case !slices.Contains(h.Audiences, clientID):
			s.writeErrorPage(w, r, oauth.InvalidRequest("client_id does not match id_token_hint"))
			return
		}
	}
	var app *directory.Application
	if clientID != "" {
		a, ok := s.dir.Application(clientID)
		if !ok {
			s.writeErrorPage(w, r, oauth.InvalidClient("unknown client_id"))
			return
		}
		app = a
	}
	// RP-Initiated Logout 3: the URI must have been registered by the client; never
	// redirect anywhere else.
	redirect := params.Get("post_logout_redirect_uri")
	if redirect != "" && (app == nil || !slices.Contains(app.OIDCClientMetadata.PostLogoutRedirectURIs, redirect)) {
		redirect = ""
	}

	if v := cookie(r, cookieSession); v != "" && s.actors != nil {
		if id, secret, ok := actors.SplitToken(v); ok {
			if _, err := s.actors.EndSession(r.Context(), id, secret); err != nil {
				if e, isProto := oauth.From(err); !isProto || e.Code == oauth.CodeServerError || e.Code == oauth.CodeTemporarilyUnavailable {
					s.writeErrorPage(w, r, err)
					return
				}
				// login_required: the session had already ended.
			}
		}
	}
	s.setCookie(w, cookieSession, "", -1)

	if redirect == "" {
		s.writePage(w, http.StatusOK, "signed_out", nil)
		return
	}
	var q url.Values
	if st := params.Get("state"); st != "" {
		q = url.Values{"state": {st}}
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, oidcflow.AuthorizationResponse(redirect, oidcflow.ResponseModeQuery, q), http.StatusSeeOther)
}
