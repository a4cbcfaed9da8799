package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/raftgroup"
	httpapi "github.com/latchid/latch/http"
	"github.com/latchid/latch/metrics"
	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
)

// opsMetrics is the node's Prometheus registry and the observers built on it, handed
// to the packages that declare them (raftgroup.Observer, cluster.Observer,
// httpapi.Metrics). With --metrics off every accessor returns nil: nothing observed.
type opsMetrics struct {
	cfg serveConfig
	reg *prometheus.Registry // nil: metrics off
	h   *metrics.HTTP
	r   *metrics.Raft
	g   *metrics.Grains
	// addr is the listener of a separate --metrics address, once serving (tests).
	addr net.Addr
}

func newOpsMetrics(cfg serveConfig, store *persistence.PebbleStore) *opsMetrics {
	om := &opsMetrics{cfg: cfg}
	if cfg.Metrics == "off" {
		return om
	}
	om.reg = metrics.NewRegistry()
	om.h, om.r, om.g = metrics.NewHTTP(om.reg), metrics.NewRaft(om.reg), metrics.NewGrains(om.reg)
	metrics.RegisterPebble(om.reg, "store", store.Metrics)
	return om
}

// The accessors return untyped nils when metrics are off (never a typed nil in an
// interface).
func (om *opsMetrics) raft() raftgroup.Observer {
	if om.r == nil {
		return nil
	}
	return om.r
}

func (om *opsMetrics) grains() cluster.Observer {
	if om.g == nil {
		return nil
	}
	return om.g
}

func (om *opsMetrics) http() httpapi.Metrics {
	if om.h == nil {
		return nil
	}
	return om.h
}

func (om *opsMetrics) registerRaftLog(l *persistence.RaftLog) {
	if om.reg != nil {
		metrics.RegisterPebble(om.reg, "raft", l.Metrics)
	}
}

func (om *opsMetrics) registerOutbox(w *outbox.Worker) {
	if om.reg == nil {
		return
	}
	metrics.RegisterOutbox(om.reg, func() metrics.OutboxStats {
		s := w.Stats()
		return metrics.OutboxStats{Delivered: s.Delivered, Retried: s.Retried, GivenUp: s.GivenUp}
	}, w.Pending)
}

// handlerOnHTTP is /metrics for the HTTP listener: set unless metrics are off or on
// their own address.
func (om *opsMetrics) handlerOnHTTP() http.Handler {
	if om.reg == nil || om.cfg.Metrics != "" {
		return nil
	}
	return metrics.Handler(om.reg)
}

// serveSeparately serves /metrics on --metrics host:port, when given; the returned
// func stops it.
func (om *opsMetrics) serveSeparately(log *slog.Logger) (stop func(), err error) {
	if om.reg == nil || om.cfg.Metrics == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", om.cfg.Metrics)
	if err != nil {
		return nil, fmt.Errorf("listen --metrics: %w", err)
	}
	om.addr = ln.Addr()
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(om.reg))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("metrics server", "err", err)
		}
	}()
	log.Info("metrics serving", "addr", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}, nil
}
