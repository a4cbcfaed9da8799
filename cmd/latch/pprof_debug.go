//go:build latchpprof

package main

// A build for profiling only (go build -tags latchpprof ./cmd/latch): with
// LATCH_PPROF=127.0.0.1:6060 set, `latch serve` also serves net/http/pprof there
// (/debug/pprof/profile, /trace, ...). Release builds have no such listener.

import (
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

func init() {
	addr := os.Getenv("LATCH_PPROF")
	if addr == "" {
		return
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		slog.Error("LATCH_PPROF must be a loopback host:port", "addr", addr)
		os.Exit(2)
	}
	go func() {
		slog.Warn("pprof listening (latchpprof build)", "addr", addr)
		if err := http.ListenAndServe(addr, nil); err != nil {
			slog.Error("pprof", "err", err)
		}
	}()
}
