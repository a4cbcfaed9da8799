package httpapi

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// Readiness reports whether this node can serve, for /readyz. It is called on every
// probe (load balancers poll every few seconds), so it must be cheap: no store write,
// at most a store read or a cached probe. The context carries the request's budget.
type Readiness func(ctx context.Context) ReadinessReport

// ReadinessReport is /readyz's answer.
type ReadinessReport struct {
	// Node identifies the answering node (its persisted node id); informational.
	Node string `json:"node,omitempty"`
	// NotReady names each check that fails ("cluster", "store", "directory": not a
	// member of the directory's raft group yet, no leader, catching up, not
	// bootstrapped) with why; empty means ready.
	NotReady map[string]string `json:"notReady,omitempty"`
}

// healthBody is the JSON of /healthz and /readyz.
type healthBody struct {
	Status   string            `json:"status"`
	Node     string            `json:"node,omitempty"`
	NotReady map[string]string `json:"notReady,omitempty"`
}

// routesHealth registers the load balancer probes: /healthz answers 200 while the
// process serves HTTP (liveness); /readyz answers 200 when this node can serve
// requests and 503 naming what is not ready otherwise. Neither is throttled, and
// neither is cached.
func (s *Server) routesHealth(r *routeTable) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r.Handle(method, "/healthz", s.serveHealthz)
		r.Handle(method, "/readyz", s.serveReadyz)
	}
}

func (s *Server) serveHealthz(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
}

func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	w.Header().Set("Cache-Control", "no-store")
	var rep ReadinessReport
	if s.readiness != nil {
		rep = s.readiness(r.Context())
	}
	if len(rep.NotReady) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, healthBody{Status: "not_ready", Node: rep.Node, NotReady: rep.NotReady})
		return
	}
	writeJSON(w, http.StatusOK, healthBody{Status: "ready", Node: rep.Node})
}
