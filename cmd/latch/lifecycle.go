package main

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
)

// What a node runs beside its HTTP server to keep hot state bounded and observable:
// the expiry sweeper, the back-channel logout worker, and the live-count gauges.

// serveHooks lets tests drive a node's clock and observe it. Production leaves it nil.
type serveHooks struct {
	// now replaces time.Now as the node's clock (store TTLs, grains, HTTP, outbox).
	now func() time.Time
	// started is called once the node serves.
	started func(*nodeRuntime)
}

// nodeRuntime is what a running node exposes for observation: the later metrics
// endpoint reads Gauges and Backchannel.Stats; tests read them too.
type nodeRuntime struct {
	Actors      *actors.Client
	Backchannel *outbox.Worker
	// Gauges returns the live count of each kind of hot state.
	Gauges func(ctx context.Context) (map[string]int, error)
	// Swept counts the expired records the sweeper has deleted.
	Swept *atomic.Int64
	// Store is the node's store (for tests that look at what is stored).
	Store persistence.Store
}

// gaugeKinds are the store kinds whose live records are counted.
var gaugeKinds = []string{
	actors.InteractionKindName, actors.SessionKindName, actors.GrantKindName,
	actors.RefreshKindName, actors.AccountKindName, outbox.Kind,
}

// liveCounts returns the live record count of every hot-state kind, plus the
// authorization codes and opaque access tokens held inside grants ("code",
// "access_token"). It reads the store (one pass per kind, and the grants decoded): call
// it for a gauge, not per request.
func liveCounts(ctx context.Context, store persistence.Store, now time.Time) (map[string]int, error) {
	out := make(map[string]int, len(gaugeKinds)+2)
	for _, kind := range gaugeKinds {
		c, err := persistence.Count(ctx, store, kind)
		if err != nil {
			return nil, err
		}
		out[kind] = c.Live
	}
	codes, tokens, err := actors.GrantContents(ctx, store, now)
	if err != nil {
		return nil, err
	}
	out["code"], out["access_token"] = codes, tokens
	return out, nil
}

// sweepExpired deletes expired records every interval so storage stays bounded: every
// hot-state record carries an expiry (interactions 1 h, codes inside their grant,
// sessions 14 days from their last use, grants 180 days, refresh families their current
// token's, account indexes their last entry's, outbox entries TTL + 1 h).
// After each sweep it logs the back-channel logout counters when they changed.
func sweepExpired(ctx context.Context, sweep func(context.Context) (int, error), interval time.Duration, rt *nodeRuntime, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var last outbox.Stats
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := sweep(ctx)
			rt.Swept.Add(int64(n))
			switch {
			case err != nil && !errors.Is(err, persistence.ErrClosed) && ctx.Err() == nil:
				log.Warn("sweep expired records", "err", err)
			case n > 0:
				log.Debug("swept expired records", "count", n)
			}
			if s := rt.Backchannel.Stats(); s != last {
				last = s
				log.Info("back-channel logouts", "delivered", s.Delivered, "retried", s.Retried, "given_up", s.GivenUp)
			}
		}
	}
}
