package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// routesOIDC registers the OpenID Provider endpoints under /oidc.
func (s *Server) routesOIDC(r *routeTable) {
	r.GET("/oidc/.well-known/openid-configuration", s.serveDiscovery)
	r.GET("/oidc/.well-known/oauth-authorization-server", s.serveDiscovery)
	r.GET("/oidc/jwks", s.serveJWKS)
	r.POST("/oidc/token", s.serveToken)
	s.routesTokenLifecycle(r) // introspection and revocation (oidc_introspection.go)

	// Browser flow: authorization (and its resume after sign-in), userinfo, logout.
	r.GET("/oidc/auth", s.serveAuthorize)
	r.POST("/oidc/auth", s.serveAuthorize)
	r.GET("/oidc/auth/:uid", s.serveResume)
	r.GET("/oidc/me", s.serveUserinfo)
	r.POST("/oidc/me", s.serveUserinfo)
	r.GET("/oidc/session/end", s.serveEndSession)
	r.POST("/oidc/session/end", s.serveEndSession)

	// CORS preflights (cors.go). Token and userinfo answer only their clients' origins;
	// discovery and JWKS are public.
	r.OPTIONS("/oidc/token", s.corsPreflight("POST", false))
	r.OPTIONS("/oidc/me", s.corsPreflight("GET, POST", false))
	r.OPTIONS("/oidc/jwks", s.corsPreflight("GET", true))
	r.OPTIONS("/oidc/.well-known/openid-configuration", s.corsPreflight("GET", true))
	r.OPTIONS("/oidc/.well-known/oauth-authorization-server", s.corsPreflight("GET", true))
	r.GET("/api/status", s.serveStatus)
	r.GET("/api/cluster", s.serveCluster)
	s.routesHealth(r) // /healthz and /readyz (health.go)
}

func (s *Server) serveDiscovery(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*") // public metadata, as every OP serves it
	_, _ = w.Write(s.discoveryDocument())
}

// discoveryDoc is the discovery document encoded for the signing algorithms algs.
type discoveryDoc struct {
	algs []string
	doc  []byte
}

// discoveryDocument is the encoded discovery document. The algorithms it lists follow
// the key ring, which follows the directory (a rotation to another algorithm), so it
// is re-encoded when they change.
func (s *Server) discoveryDocument() []byte {
	algs := s.keys.Algs()
	if d := s.discovery.Load(); d != nil && slices.Equal(d.algs, algs) {
		return d.doc
	}
	doc, err := json.Marshal(oidcflow.NewDiscovery(s.issuer, algs))
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	s.discovery.Store(&discoveryDoc{algs: algs, doc: doc})
	return doc
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=300")
	h.Set("Access-Control-Allow-Origin", "*")
	_, _ = w.Write(s.keys.JWKS())
}

// serveStatus is Logto's /api/status: 204, no body, when the node is healthy. With a
// cluster probe configured, it also pings a grain through the actor system and the
// store, and answers 503 when that fails.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if s.status != nil {
		if _, err := s.status(r); err != nil {
			s.log.Warn("status probe failed", "err", err)
			writeAPIError(w, apiErr(http.StatusServiceUnavailable, "status.unavailable", "node is not ready"))
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// serveCluster is Latch's GET /api/cluster: the cluster probe's report (this node, the
// members, the directory's raft group), 200 whenever there is one, also while the
// grain ping fails (the report says why), since that is when an operator reads it.
func (s *Server) serveCluster(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if s.status == nil {
		writeAPIError(w, apiErr(http.StatusNotFound, "entity.not_found", "this node has no cluster report"))
		return
	}
	body, err := s.status(r)
	if body == nil {
		s.log.Warn("cluster report failed", "err", err)
		writeAPIError(w, apiErr(http.StatusServiceUnavailable, "status.unavailable", "node is not ready"))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// writeOAuthError writes a protocol error per RFC 6749 5.2. Errors that are not
// *oauth.Error are logged and shown as server_error, never with their cause; an
// unreachable grain or a spent request budget is 503 temporarily_unavailable with
// Retry-After (protocolError).
func (s *Server) writeOAuthError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := protocolError(err)
	if !ok {
		s.log.Error("oidc handler failed", "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	unavailable(h, s.log, r, e, err)
	noStore(h)
	h.Set("Content-Type", "application/json; charset=utf-8")
	if e.Code == oauth.CodeInvalidClient && e.Status == http.StatusUnauthorized && !basicAuthorization(r) {
		// RFC 6749 5.2 requires 401 only when the client authenticated through the
		// Authorization header; otherwise Logto (node-oidc-provider) answers 400.
		c := *e
		c.Status = http.StatusBadRequest
		e = &c
	}
	if e.Status == http.StatusUnauthorized {
		// RFC 6749 5.2: 401 for invalid_client with a WWW-Authenticate challenge.
		h.Set("WWW-Authenticate", `Basic realm="latch", error="`+e.Code+`"`)
	}
	w.WriteHeader(e.Status)
	if r.URL.Query().Get("parse_error") == "false" {
		_ = json.NewEncoder(w).Encode(e) // Logto's raw OAuth error, for clients that reserve "code"
		return
	}
	_ = json.NewEncoder(w).Encode(logtoOIDCError(e))
}

// oidcErrorJSON is Logto's OIDC error body (koa-oidc-error-handler): the OAuth error with
// Logto's code ("oidc.<error>", or "session.not_found") and message beside it, and an
// error_uri for invalid_grant. Clients that only know RFC 6749 read error and
// error_description as always.
type oidcErrorJSON struct {
	Code        string `json:"code"`
	Message     string `json:"message"`
	ErrorURI    string `json:"error_uri,omitempty"`
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// oidcErrorMessages are Logto's English phrases of errors/oidc.ts.
var oidcErrorMessages = map[string]string{
	"invalid_token":             "Invalid token provided.",
	"invalid_request":           "Request is invalid.",
	"invalid_grant":             "Grant request is invalid.",
	"access_denied":             "Access denied.",
	"invalid_target":            "Invalid resource indicator.",
	"unsupported_grant_type":    "Unsupported `grant_type` requested.",
	"unsupported_response_type": "Unsupported `response_type` requested.",
	"server_error":              "An unknown OIDC error occurred. Please try again later.",
}

func logtoOIDCError(e *oauth.Error) oidcErrorJSON {
	out := oidcErrorJSON{Code: "oidc." + e.Code, Error: e.Code, Description: e.Description}
	d := e.Description
	switch {
	case strings.Contains(d, "session") && strings.Contains(d, "not found") || strings.Contains(d, "authorization request has expired"):
		out.Code, out.Message = "session.not_found", "Session not found. Please go back and sign in again."
	case e.Code == oauth.CodeInvalidScope:
		out.Message = "Invalid scope: " + d + "."
	case oidcErrorMessages[e.Code] != "":
		out.Message = oidcErrorMessages[e.Code]
	default:
		out.Message = "An OIDC error occurred: " + out.Code + "."
	}
	if e.Code == oauth.CodeInvalidGrant {
		out.ErrorURI = "https://openid.sh/debug/invalid_grant"
	}
	return out
}

// noStore marks a response that carries tokens or token metadata as uncacheable
// (RFC 6749 5.1, RFC 7662 2.2).
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// writeNoStoreJSON writes v as a 200 JSON body that must not be cached.
func writeNoStoreJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	noStore(h)
	h.Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}
