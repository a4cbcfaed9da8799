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

// serveEndSession is OpenID Connect RP-Initiated Logout 1.0, GET and POST (2: "The OP
// MUST support the use of the HTTP GET and POST methods").
//
// Parameters (2): id_token_hint, logout_hint, client_id, post_logout_redirect_uri,
// state, ui_locales.
//   - id_token_hint must be an ID token this OP issued (2: "the OP MUST validate that it
//     was the issuer of the ID Token"); an expired one is accepted ("even when the exp
//     time has passed"). With client_id too, both must name the same client (2: "the OP
//     MUST verify that the Client Identifier matches the one used when issuing the ID
//     Token").
//   - post_logout_redirect_uri is followed only when registered for that client (3:
//     "The value MUST have been previously registered with the OP"); otherwise, or when
//     no client is named, the user sees a signed-out page instead of a redirect.
//   - state comes back with the redirect (3).
//   - logout_hint and ui_locales are accepted and not acted upon: Latch keeps one account
//     per browser session and asks no confirmation (Logto's logoutSource auto-submits
//     its form), and its own pages are English only.
//
// Sign-out is global for this browser (Logto): the OP session ends, then for each client
// of it the grant is revoked unless it holds offline_access (whose refresh tokens
// survive, as Logto documents), and every client with a backchannelLogoutUri gets a
// back-channel logout, queued durably before the answer and delivered later (see
// sessionEnded). The _session cookie is cleared.
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
			rec, err := s.actors.EndSession(r.Context(), id, secret)
			switch e, isProto := oauth.From(err); {
			case err == nil:
				// Errors are logged inside; the session has ended either way.
				_ = s.sessionEnded(r.Context(), id, rec, revokeOnline)
			case !isProto || e.Code == oauth.CodeServerError || e.Code == oauth.CodeTemporarilyUnavailable:
				s.writeErrorPage(w, r, err)
				return
			}
			// login_required: the session had already ended.
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
