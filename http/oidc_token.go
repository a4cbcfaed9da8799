package httpapi

import (
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// serveToken is the token endpoint (RFC 6749 3.2): decode the form and the client's
// credentials once, run op.Provider.Token, encode. The grant types, client
// authentication and every rule of the grants live in op.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	start := s.now()
	resp, app, grant, err := s.token(r)
	if s.metrics != nil {
		result := "success"
		if err != nil {
			e, _ := protocolError(err)
			result = e.Code
		}
		s.metrics.Token(grant, result, s.now().Sub(start))
	}
	if s.audit != nil {
		s.auditToken(r, grant, app, &resp, err) // mgmt_logs_emit.go
	}
	s.setCORS(w, r, app)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, resp)
}

// token also returns the grant_type the client sent, for the metrics.
func (s *Server) token(r *http.Request) (oidcflow.TokenResponse, *directory.Application, string, error) {
	form, err := readForm(r)
	if err != nil {
		return oidcflow.TokenResponse{}, nil, "", err
	}
	grant := form.Get("grant_type")
	client, err := clientAuth(r, form)
	if err != nil {
		return oidcflow.TokenResponse{}, nil, grant, err
	}
	resp, app, err := s.op.Token(r.Context(), op.TokenRequest{
		GrantType:      grant,
		Client:         client,
		Code:           form.Get("code"),
		RedirectURI:    form.Get("redirect_uri"),
		CodeVerifier:   form.Get("code_verifier"),
		RefreshToken:   form.Get("refresh_token"),
		OrganizationID: form.Get("organization_id"),
		Resources:      form["resource"],
		Scope:          form.Get("scope"),
		// token exchange (RFC 8693 2.1)
		SubjectToken:     form.Get("subject_token"),
		SubjectTokenType: form.Get("subject_token_type"),
		ActorToken:       form.Get("actor_token"),
		ActorTokenType:   form.Get("actor_token_type"),
	})
	return resp, app, grant, err
}

// readForm reads a bounded form body. RFC 6749 3.2 requires
// application/x-www-form-urlencoded.
func readForm(r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, oauth.InvalidRequest("content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, oidcflow.MaxFormBytes+1))
	if err != nil {
		return nil, oauth.InvalidRequest("could not read request body")
	}
	return oidcflow.ParseForm(string(body))
}
