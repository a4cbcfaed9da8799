// Package httpapi is the HTTP edge of Latch: thin httprouter handlers that decode a
// request once into a typed value, call one function that knows nothing of HTTP, and
// encode its result. It is the only package that touches http.ResponseWriter.
package httpapi

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/customjwt"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// Config wires a Server. Every dependency is a field: no globals.
type Config struct {
	// Endpoint is the public base URL, e.g. http://localhost:3001; the issuer is
	// Endpoint + "/oidc".
	Endpoint  string
	Directory *directory.Directory
	Keys      op.Keys // *op.DirectoryKeys, or a fixed *oidcflow.KeyRing
	// OP runs the token-side OAuth flows (op.Provider); nil builds one from the fields
	// above with the default lifetimes and no grains: client_credentials only (tests of
	// the Management API).
	OP *op.Provider
	// ThrottleStore keeps sign-in lockouts across restarts (the node's
	// persistence.Store); nil keeps them in memory only.
	ThrottleStore ThrottleStore
	// Browser runs the browser flows (authorize, resume, end session) and backs the
	// Experience API and the sign-in pages. Nil disables them (tests of the Management
	// API only).
	Browser *op.Browser
	// Sessions lists and revokes a user's sessions and grants for the Management API,
	// and revokes what a suspended or deleted user holds. Nil disables those routes.
	Sessions *op.Sessions
	// Status reports cluster health: /api/status answers 204 when it returns no error
	// (503 otherwise); /api/cluster shows the report it returns, also alongside an
	// error. nil means "ok" without a probe.
	Status func(r *http.Request) (any, error)
	// Readiness backs /readyz (health.go); nil means ready whenever HTTP is served.
	Readiness Readiness
	// Metrics observes requests, token issuance and sign-in lockouts (metrics.HTTP);
	// nil observes nothing.
	Metrics Metrics
	// MetricsHandler, when set, is served at GET /metrics (the Prometheus scrape
	// endpoint on the HTTP listener); nil when metrics are off or on their own address.
	MetricsHandler http.Handler
	// RequestTimeout is the budget of one request (see withBudget); 0 means
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// BreachedPasswords checks passwords against a breach corpus when the password
	// policy rejects breached passwords (directory.HIBP); nil consults only the
	// bundled list of common passwords (mgmt_signinexp.go).
	BreachedPasswords directory.BreachChecker
	// AuditLog receives the audit log entries (audit.Writer; mgmt_logs_emit.go) and
	// AuditLogs reads them back for /api/logs (audit.Reader); nil records none and
	// lists none.
	AuditLog  AuditLog
	AuditLogs AuditLogReader
	// Webhooks emits Logto's hook events (hooks.Dispatcher; mgmt_hooks_emit.go); nil
	// emits none (hooks can still be managed).
	Webhooks Webhooks
	// Connectors sends email and SMS through the configured connectors
	// (mgmt_connectors.go); nil builds a connectors.Registry over Directory.
	Connectors *connectors.Registry
	// VerificationCodes keeps verification codes and their send counters (kinds
	// passcode.Kind and passcode.RateKind): the node's persistence.Store, or the
	// cluster's sharded store. Nil keeps them in this process's memory.
	VerificationCodes passcode.Store

	Logger *slog.Logger
	Now    func() time.Time
	Rand   io.Reader
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Endpoint == "" || !(strings.HasPrefix(c.Endpoint, "http://") || strings.HasPrefix(c.Endpoint, "https://")) {
		errs = append(errs, errors.New("httpapi: Endpoint must be an http(s) URL"))
	}
	if strings.HasSuffix(c.Endpoint, "/") {
		errs = append(errs, errors.New("httpapi: Endpoint must not end with /"))
	}
	if c.Directory == nil {
		errs = append(errs, errors.New("httpapi: Directory is required"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("httpapi: Keys is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("httpapi: Now is required"))
	}
	if c.Rand == nil {
		errs = append(errs, errors.New("httpapi: Rand is required"))
	}
	if c.Browser != nil {
		if err := c.Browser.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Server holds the handlers' dependencies.
type Server struct {
	endpoint string
	issuer   string
	dir      *directory.Directory
	breach   directory.BreachChecker // Config.BreachedPasswords
	keys     op.Keys
	op       *op.Provider
	browser  *op.Browser
	sessions *op.Sessions
	secure   bool // endpoint is https: cookies get Secure
	status   func(r *http.Request) (any, error)
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader

	jwtRunner     customjwt.Runner // POST /api/configs/jwt-customizer/test
	throttleStore ThrottleStore    // sign-in lockouts; nil: in memory only
	readiness     Readiness        // /readyz; nil: ready

	discovery atomic.Pointer[discoveryDoc] // encoded for the keys' algorithms (oidc_routes.go)
	router    *httprouter.Router
	routes    *routeTable   // every registered route (openapi.go)
	metrics   Metrics       // nil: not observed
	openapi   openAPIDocs   // built from routes once they are all registered
	budget    time.Duration // of one request
	reqIDs    *requestIDs   // Logto-Core-Request-Id (requestid.go)

	audit     AuditLog             // nil: no audit logs recorded
	auditLogs AuditLogReader       // nil: /api/logs lists none
	webhooks  Webhooks             // nil: no webhook events (mgmt_hooks_emit.go)
	conns     *connectors.Registry // mgmt_connectors.go
	codes     *passcode.Codes      // experience_verification_code.go
}

// New builds a Server and its routes.
func New(cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		endpoint: cfg.Endpoint,
		issuer:   cfg.Endpoint + "/oidc",
		dir:      cfg.Directory,
		breach:   cfg.BreachedPasswords,
		keys:     cfg.Keys,
		browser:  cfg.Browser,
		sessions: cfg.Sessions,
		secure:   strings.HasPrefix(cfg.Endpoint, "https://"),
		status:   cfg.Status,
		log:      log,
		now:      cfg.Now,
		rand:     cfg.Rand,
		budget:   cfg.RequestTimeout,
	}
	s.metrics = cfg.Metrics
	s.audit, s.auditLogs = cfg.AuditLog, cfg.AuditLogs
	s.webhooks = cfg.Webhooks
	ids, err := newRequestIDs(cfg.Rand)
	if err != nil {
		return nil, err
	}
	s.reqIDs = ids
	s.throttleStore = cfg.ThrottleStore
	s.readiness = cfg.Readiness
	if s.op = cfg.OP; s.op == nil {
		p, err := op.New(op.Config{Issuer: s.issuer, Directory: cfg.Directory, Keys: cfg.Keys, Logger: log, Now: cfg.Now, Rand: cfg.Rand,
			Claims: &customjwt.Customizer{Dir: cfg.Directory, Log: log}})
		if err != nil {
			return nil, err
		}
		s.op = p
	}
	r := httprouter.New()
	rt := &routeTable{r: r, metrics: cfg.Metrics, now: cfg.Now}
	r.HandleMethodNotAllowed = true
	r.NotFound = rt.instrumentHandler("(unmatched)", http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if rest, ok := strings.CutPrefix(req.URL.Path, "/oidc/"); ok {
			writeJSON(w, http.StatusNotFound, unknownOIDCRoute(req.Method, "/"+rest))
			return
		}
		writeAPIError(w, apiErr(http.StatusNotFound, "guard.not_found", "not found"))
	}))
	r.MethodNotAllowed = rt.instrumentHandler("(method not allowed)", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed) // httprouter's own answer
	}))
	r.GlobalOPTIONS = http.HandlerFunc(s.accountPreflight) // account_cors.go
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.log.Error("panic in handler", "path", req.URL.Path, "panic", v)
		writeAPIError(w, apiErr(http.StatusInternalServerError, "unknown", "internal server error"))
	}
	if err := s.initConnectors(cfg); err != nil { // experience_verification_code.go
		return nil, err
	}
	s.router, s.routes = r, rt
	s.routesOIDC(rt)
	s.routesManagement(rt)
	s.routesExperience(rt)
	s.routesAccount(rt)           // account_verifications.go
	s.routesVerificationCodes(rt) // experience_verification_code.go
	s.routesUI(rt)
	s.routesConsent(rt) // consent.go
	s.routesDemo(rt)    // demo.go, demo_root.go
	s.routesConsole(rt) // console.go
	if cfg.MetricsHandler != nil {
		h := cfg.MetricsHandler
		rt.GET("/metrics", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) { h.ServeHTTP(w, req) })
	}
	s.routesOpenAPI(rt) // last: the documents list every route registered above
	return s, nil
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler {
	return securityHeaders(withRequestID(withBudget(s.router, s.budget), s.reqIDs), s.secure)
}

// Issuer is Endpoint + "/oidc".
func (s *Server) Issuer() string { return s.issuer }

// unknownOIDCRoute is Logto's answer to a path under /oidc that no route serves: the
// OAuth error of its OIDC provider with Logto's code and message beside it.
func unknownOIDCRoute(method, path string) map[string]string {
	return map[string]string{
		"code":              "oidc.invalid_request",
		"message":           "Request is invalid.",
		"error":             "invalid_request",
		"error_description": fmt.Sprintf("unrecognized route or not allowed method (%s on %s)", method, path),
	}
}
