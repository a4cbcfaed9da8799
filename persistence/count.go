package persistence

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// KindCount is how many records of one kind a store holds: the live-count gauge of a
// kind, and (Stored - Live) the expired records still waiting for SweepExpired.
type KindCount struct {
	// Live counts the unexpired records: what Scan would visit.
	Live int
	// Stored also counts expired records not swept yet. Stores without Counter report
	// Stored = Live.
	Stored int
}

// Counter is an optional capability of a Store: counting a kind's records without
// decoding or copying their values. Count finds it by type assertion.
type Counter interface {
	Count(ctx context.Context, kind string) (KindCount, error)
}

// Count counts the records of kind in s: with s's Counter when it has one, else by
// Scan (which sees live records only). It reads a snapshot and writes nothing; its cost
// is one pass over the kind's keys, so call it for gauges, not on a request path.
func Count(ctx context.Context, s Store, kind string) (KindCount, error) {
	if c, ok := s.(Counter); ok {
		return c.Count(ctx, kind)
	}
	n := 0
	err := s.Scan(ctx, kind, func(string, Record) error { n++; return nil })
	return KindCount{Live: n, Stored: n}, err
}

var _ Counter = (*PebbleStore)(nil)

// Count implements Counter: one pass over the kind's key range reading only each
// record's header.
func (s *PebbleStore) Count(ctx context.Context, kind string) (c KindCount, err error) {
	if err := validKind(kind); err != nil {
		return c, err
	}
	if err := ctx.Err(); err != nil {
		return c, err
	}
	if !s.gate.enter() {
		return c, ErrClosed
	}
	defer s.gate.leave()

	lower := append([]byte(kind), kindSep)
	upper := append([]byte(kind), kindSep+1)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return c, fmt.Errorf("persistence: count %s: %w", kind, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("persistence: count %s: %w", kind, cerr)
		}
	}()
	now := s.now()
	for valid := it.First(); valid; valid = it.Next() {
		if c.Stored%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return c, err
			}
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return c, fmt.Errorf("persistence: count %s: %w", kind, err)
		}
		c.Stored++
		if _, expires, err := decodeHeader(raw); err == nil && !expiredAt(expires, now) {
			c.Live++
		}
	}
	if err := it.Error(); err != nil {
		return c, fmt.Errorf("persistence: count %s: %w", kind, err)
	}
	return c, nil
}
