package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Grains implements cluster.Observer: grain calls by kind and where the activation
// answered (local, remote), and activations by kind. Grain kinds are a fixed set.
type Grains struct {
	calls       *prometheus.CounterVec
	activations *prometheus.CounterVec
	active      *prometheus.GaugeVec

	children sync.Map // grainKey -> prometheus.Counter
}

type grainKey struct {
	kind, where, result string
}

// NewGrains registers the grain collectors on reg.
func NewGrains(reg prometheus.Registerer) *Grains {
	m := &Grains{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "grain", Name: "calls_total",
			Help: "Grain requests by kind, where the activation was (local, remote) and result (ok, error).",
		}, []string{"kind", "where", "result"}),
		activations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "grain", Name: "activations_total",
			Help: "Grains activated on this node, by kind.",
		}, []string{"kind"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace, Subsystem: "grain", Name: "active",
			Help: "Grains in memory on this node, by kind (activated and not yet passivated or moved).",
		}, []string{"kind"}),
	}
	reg.MustRegister(m.calls, m.activations, m.active)
	return m
}

// GrainCall counts one grain request.
func (m *Grains) GrainCall(kind string, local, failed bool) {
	k := grainKey{kind: kind, where: "remote", result: "ok"}
	if local {
		k.where = "local"
	}
	if failed {
		k.result = "error"
	}
	c, ok := m.children.Load(k)
	if !ok {
		c, _ = m.children.LoadOrStore(k, m.calls.WithLabelValues(k.kind, k.where, k.result))
	}
	c.(prometheus.Counter).Inc()
}

// Activated counts one activation (rare: a map lookup in client_golang is fine).
func (m *Grains) Activated(kind string) {
	m.activations.WithLabelValues(kind).Inc()
	m.active.WithLabelValues(kind).Inc()
}

// Deactivated counts one activation gone.
func (m *Grains) Deactivated(kind string) { m.active.WithLabelValues(kind).Dec() }
