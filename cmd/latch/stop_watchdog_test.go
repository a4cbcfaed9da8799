package main

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestStopWatchdog(t *testing.T) {
	// A stop that outlasts its budget exits, and says so; the signals' default action is
	// restored first, so a second signal kills at once.
	ctx, cancel := context.WithCancel(t.Context())
	var stopped, exited atomic.Bool
	var out strings.Builder
	done := make(chan struct{})
	go func() {
		stopWatchdog(ctx, func() { stopped.Store(true) }, make(chan struct{}), 20*time.Millisecond, &out, func() { exited.Store(true) })
		close(done)
	}()
	cancel()
	<-done
	if !stopped.Load() || !exited.Load() || !strings.Contains(out.String(), "--stop-timeout") {
		t.Fatalf("overdue stop: signals restored %v, exited %v, said %q", stopped.Load(), exited.Load(), out.String())
	}

	// A stop that finishes in time does not exit.
	ctx, cancel = context.WithCancel(t.Context())
	served := make(chan struct{})
	exited.Store(false)
	done = make(chan struct{})
	go func() {
		stopWatchdog(ctx, func() {}, served, time.Hour, io.Discard, func() { exited.Store(true) })
		close(done)
	}()
	cancel()
	close(served)
	<-done
	if exited.Load() {
		t.Fatal("a stop within its budget exited")
	}

	// serve returning on its own (an error) ends the watchdog without a signal.
	served = make(chan struct{})
	close(served)
	stopWatchdog(t.Context(), func() { t.Error("signals restored without a signal") }, served, time.Millisecond, io.Discard, func() { t.Error("exited without a signal") })
}
