// Package metrics exports Latch's Prometheus metrics. Every collector is created on a
// prometheus.Registerer that cmd/latch builds and passes down (no global registry, no
// package-level collector), and the packages it measures never import Prometheus: each
// declares a small observer (httpapi.Metrics, raftgroup.Observer) or already keeps
// counters (outbox.Worker.Stats, Pebble's Metrics) that this package adapts.
//
// Cardinality is bounded: labels are route patterns (never raw paths), status classes,
// grant types from a fixed set, registered OAuth error codes, and Raft group ids; never
// a user, client or token.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every Latch metric.
const Namespace = "latch"

// NewRegistry returns a registry with the Go runtime and process collectors, for
// cmd/latch to pass to the constructors of this package.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves reg in the Prometheus text (or OpenMetrics) exposition format.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

// latencyBuckets span a token request on one node (sub-millisecond) to a request
// that spent its whole budget (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
