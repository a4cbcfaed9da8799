package httpapi

import (
	"encoding/base64"
	"io"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// serveToken is the token endpoint (RFC 6749 3.2): decode the form once, authenticate the
// client once, then hand the request to the grant.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	resp, app, err := s.token(r)
	s.setCORS(w, r, app)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, resp)
}

// token decodes and authenticates once, then dispatches by grant type. It returns the
// authenticated client (nil before authentication) for the CORS decision.
func (s *Server) token(r *http.Request) (oidcflow.TokenResponse, *directory.Application, error) {
	var none oidcflow.TokenResponse
	form, err := readForm(r)
	if err != nil {
		return none, nil, err
	}
	grant := form.Get("grant_type")
	switch grant {
	case "":
		return none, nil, oauth.InvalidRequest("grant_type is required")
	case oauth.GrantClientCredentials:
	case oauth.GrantAuthorizationCode, oauth.GrantRefreshToken:
		if s.actors == nil {
			return none, nil, oauth.UnsupportedGrantType(grant + " is not enabled on this node")
		}
	default:
		return none, nil, oauth.UnsupportedGrantType("unsupported grant_type " + grant)
	}
	app, err := s.authenticateClient(r, form)
	if err != nil {
		return none, nil, err
	}
	if !grantAllowed(app.Type, grant) {
		return none, app, oauth.UnauthorizedClient(string(app.Type) + " applications may not use " + grant)
	}
	var resp oidcflow.TokenResponse
	switch grant {
	case oauth.GrantAuthorizationCode:
		resp, err = s.tokenAuthorizationCode(r.Context(), app, form)
	case oauth.GrantRefreshToken:
		resp, err = s.tokenRefresh(r.Context(), app, form)
	default:
		resp, err = s.tokenClientCredentials(app, form)
	}
	return resp, app, err
}

// grantAllowed is Logto's table of grant types by application type.
func grantAllowed(t directory.AppType, grant string) bool {
	if t == directory.AppMachineToMachine {
		return grant == oauth.GrantClientCredentials
	}
	return grant == oauth.GrantAuthorizationCode || grant == oauth.GrantRefreshToken
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

// tokenClientCredentials is RFC 6749 4.4 with RFC 8707 resource indicators.
func (s *Server) tokenClientCredentials(app *directory.Application, form url.Values) (oidcflow.TokenResponse, error) {
	req, err := oidcflow.DecodeClientCredentials(form)
	if err != nil {
		return oidcflow.TokenResponse{}, err
	}
	res, ok := s.dir.ResourceByIndicator(req.Resource)
	if !ok {
		return oidcflow.TokenResponse{}, oauth.InvalidTarget("unknown resource indicator")
	}
	jti, err := s.randomID()
	if err != nil {
		return oidcflow.TokenResponse{}, err
	}
	ttl := res.AccessTokenTTL
	if ttl <= 0 {
		ttl = directory.DefaultAccessTokenTTL
	}
	return oidcflow.IssueClientCredentials(oidcflow.ClientCredentialsGrant{
		Issuer:   s.issuer,
		ClientID: app.ID,
		Request:  req,
		TTL:      time.Duration(ttl) * time.Second,
		Granted:  s.dir.AppResourceScopes(app.ID, res.ID),
		Now:      s.now(),
		JTI:      jti,
	}, s.keys)
}

// randomID is 128 bits from the injected reader, base64url.
func (s *Server) randomID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(s.rand, b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
