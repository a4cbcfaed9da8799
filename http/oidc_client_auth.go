package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// authenticateClient identifies and authenticates the client of a token-endpoint request
// once, before any grant logic (RFC 6749 2.3). Confidential clients (Traditional,
// MachineToMachine) use client_secret_basic or client_secret_post; public clients
// (Native, SPA) use none. Logto's SDKs send client_id in the body together with Basic
// credentials: both are accepted when they agree. Using two secret-bearing methods at
// once is refused (RFC 6749 2.3: "MUST NOT use more than one authentication method").
func (s *Server) authenticateClient(r *http.Request, form url.Values) (*directory.Application, error) {
	var (
		id, secret string
		viaBasic   bool
	)
	if h := r.Header.Get("Authorization"); h != "" {
		u, p, err := parseBasic(h)
		if err != nil {
			return nil, err
		}
		id, secret, viaBasic = u, p, true
	}
	bodyID, bodySecret := form.Get("client_id"), form.Get("client_secret")
	switch {
	case viaBasic && bodySecret != "":
		return nil, oauth.InvalidRequest("client authentication must use only one method")
	case viaBasic && bodyID != "" && bodyID != id:
		return nil, oauth.InvalidClient("client_id in the body does not match the Authorization header")
	case !viaBasic:
		id, secret = bodyID, bodySecret
	}
	if id == "" {
		return nil, oauth.InvalidClient("client authentication required")
	}
	app, ok := s.dir.Application(id)
	if !ok {
		return nil, oauth.InvalidClient("client authentication failed")
	}
	if app.Type.Public() {
		if secret != "" {
			return nil, oauth.InvalidClient("public clients authenticate with none")
		}
		return app, nil
	}
	if secret == "" || !s.dir.AuthenticateApp(app, secret) {
		return nil, oauth.InvalidClient("client authentication failed")
	}
	return app, nil
}

// parseBasic decodes RFC 7617 Basic credentials. RFC 6749 2.3.1 says client_id and
// secret are form-urlencoded before base64; Logto's SDKs do not encode first, so a value
// that does not decode as form-urlencoding is taken as is.
func parseBasic(h string) (id, secret string, err error) {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", oauth.InvalidClient("unsupported Authorization scheme for client authentication")
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if derr != nil {
		return "", "", oauth.InvalidClient("malformed Basic credentials")
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok || u == "" {
		return "", "", oauth.InvalidClient("malformed Basic credentials")
	}
	return formUnescape(u), formUnescape(p), nil
}

func formUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}
