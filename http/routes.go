package httpapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
)

// Metrics observes the HTTP edge (metrics.HTTP implements it on a Prometheus
// registry; this package never imports Prometheus). Its methods must not block.
type Metrics interface {
	// Route returns the observer of one registered route (method and httprouter
	// pattern, never a raw path: the label set stays bounded). It is called once per
	// route when the router is built; the observer runs once per request.
	Route(method, pattern string) func(status int, elapsed time.Duration)
	// Token records one token request: the grant_type the client sent and the result
	// ("success" or the OAuth error code).
	Token(grantType, result string, elapsed time.Duration)
	// Lockout counts one sign-in lockout by the password throttle.
	Lockout()
}

// routeTable is what every route of the Server is registered through: it records each
// (method, pattern) for the OpenAPI document (openapi.go), which therefore lists
// exactly what the router serves, and wraps each handler with its route's metrics
// observer. Its GET/POST/... mirror httprouter.Router's, so registering a route reads
// as before.
type routeTable struct {
	r       *httprouter.Router
	metrics Metrics // nil: no instrumentation
	now     func() time.Time
	routes  []registeredRoute

	recorders sync.Pool // of *statusRecorder: an instrumented request allocates none
}

// registeredRoute is one route the router serves.
type registeredRoute struct{ method, path string }

// Handle registers h for method and path and records the route.
func (t *routeTable) Handle(method, path string, h httprouter.Handle) {
	t.routes = append(t.routes, registeredRoute{method, path})
	t.r.Handle(method, path, t.instrument(method, path, h))
}

func (t *routeTable) GET(path string, h httprouter.Handle)     { t.Handle(http.MethodGet, path, h) }
func (t *routeTable) HEAD(path string, h httprouter.Handle)    { t.Handle(http.MethodHead, path, h) }
func (t *routeTable) POST(path string, h httprouter.Handle)    { t.Handle(http.MethodPost, path, h) }
func (t *routeTable) PUT(path string, h httprouter.Handle)     { t.Handle(http.MethodPut, path, h) }
func (t *routeTable) PATCH(path string, h httprouter.Handle)   { t.Handle(http.MethodPatch, path, h) }
func (t *routeTable) DELETE(path string, h httprouter.Handle)  { t.Handle(http.MethodDelete, path, h) }
func (t *routeTable) OPTIONS(path string, h httprouter.Handle) { t.Handle(http.MethodOptions, path, h) }

// instrument wraps h with the route's observer; without Metrics it returns h as is.
func (t *routeTable) instrument(method, path string, h httprouter.Handle) httprouter.Handle {
	if t.metrics == nil {
		return h
	}
	observe := t.metrics.Route(method, path)
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		start := t.now()
		sw, _ := t.recorders.Get().(*statusRecorder)
		if sw == nil {
			sw = new(statusRecorder)
		}
		sw.ResponseWriter, sw.status = w, 0
		returned := false
		defer func() {
			status := sw.status
			switch {
			case !returned && status == 0:
				status = http.StatusInternalServerError // panicking: the PanicHandler answers 500
			case status == 0:
				status = http.StatusOK
			}
			sw.ResponseWriter = nil
			t.recorders.Put(sw)
			observe(status, t.now().Sub(start))
		}()
		h(sw, r, p)
		returned = true
	}
}

// instrumentHandler is instrument for the router's own handlers (not found, method
// not allowed), under a fixed route label.
func (t *routeTable) instrumentHandler(route string, h http.Handler) http.Handler {
	if t.metrics == nil {
		return h
	}
	byMethod := map[string]httprouter.Handle{}
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
		byMethod[m] = t.instrument(m, route, func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { h.ServeHTTP(w, r) })
	}
	other := t.instrument("OTHER", route, func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { h.ServeHTTP(w, r) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle, ok := byMethod[r.Method] // any other method is one label value: bounded
		if !ok {
			handle = other
		}
		handle(w, r, nil)
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
