package httpapi

import (
	"encoding/json"
	"mime"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// serveUserinfo is the UserInfo endpoint (OIDC Core 5.3), GET and POST: the bearer token
// (RFC 6750 2.1 header or 2.2 form body) goes to op.Provider.Userinfo.
func (s *Server) serveUserinfo(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	claims, app, err := s.userinfo(r)
	s.setCORS(w, r, app)
	if err != nil {
		s.writeBearerError(w, r, err)
		return
	}
	writeNoStoreJSON(w, claims)
}

func (s *Server) userinfo(r *http.Request) (map[string]any, *directory.Application, error) {
	tok, err := bearerToken(r)
	if err != nil {
		return nil, nil, err
	}
	return s.op.Userinfo(r.Context(), tok)
}

// bearerToken reads the access token from the Authorization header (RFC 6750 2.1) or,
// for POST, from a form body's access_token (2.2); using both is invalid_request.
func bearerToken(r *http.Request) (string, error) {
	var tok string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return "", oauth.InvalidRequest("Authorization must use the Bearer scheme")
		}
		tok = strings.TrimSpace(rest)
	}
	if r.Method == http.MethodPost {
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/x-www-form-urlencoded" {
			form, err := readForm(r)
			if err != nil {
				return "", err
			}
			if v := form.Get("access_token"); v != "" {
				if tok != "" {
					return "", oauth.InvalidRequest("the access token must be sent one way only")
				}
				tok = v
			}
		}
	}
	if tok == "" {
		return "", &oauth.Error{Code: oauth.CodeInvalidToken, Description: "no access token provided", Status: http.StatusUnauthorized}
	}
	return tok, nil
}

// writeBearerError answers a protected-resource error (RFC 6750 3): the status of the
// error, a Bearer challenge carrying its code, and a JSON body.
func (s *Server) writeBearerError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := protocolError(err)
	if !ok {
		s.log.Error("userinfo failed", "err", err)
	}
	h := w.Header()
	unavailable(h, s.log, r, e, err)
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	challenge := `Bearer realm="` + s.issuer + `"`
	if e.Code != oauth.CodeServerError {
		challenge += `, error="` + e.Code + `"`
		if e.Description != "" {
			challenge += `, error_description="` + strings.ReplaceAll(e.Description, `"`, `'`) + `"`
		}
	}
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Status == http.StatusBadRequest {
		h.Set("WWW-Authenticate", challenge)
	}
	w.WriteHeader(e.Status)
	_ = json.NewEncoder(w).Encode(e)
}
