package persistence

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ScanShard calls fn for the live records of kind in shard held by this node's replica,
// in key order, starting after the key after ("" from the first). fn returning an error
// stops the scan with it. It is the page source of a scan through a shard's leader for a
// node that holds no replica of the shard (cmd/latch's store proxy).
func (s *ShardedStore) ScanShard(ctx context.Context, shard uint32, kind, after string, fn func(key string, rec Record) error) error {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	if !s.sharded(kind) {
		return fmt.Errorf("persistence: %s is not a sharded kind", kind)
	}
	if shard >= s.shards {
		return fmt.Errorf("persistence: shard %d of %d", shard, s.shards)
	}
	return s.local.scanShardAfter(ctx, shard, kind, after, fn)
}

// scanShardAfter is ScanShard on the shard key layout.
func (s *PebbleStore) scanShardAfter(ctx context.Context, shard uint32, kind, after string, fn func(key string, rec Record) error) error {
	if err := validKind(kind); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	now := s.now()
	prefix, upper := shardKindBounds(shard, kind)
	lower := prefix
	if after != "" {
		lower = append(append(bytes.Clone(prefix), after...), 0) // the first key greater than after
	}
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		key := string(it.Key()[len(prefix):])
		version, expires, err := decodeHeader(raw)
		if err != nil {
			return fmt.Errorf("persistence: scan %s/%s: %w", kind, key, err)
		}
		if expiredAt(expires, now) {
			continue
		}
		if err := fn(key, Record{Version: version, ExpiresAt: expiryTime(expires), Value: bytes.Clone(raw[recordHeaderLen:])}); err != nil {
			return err
		}
	}
	return it.Error()
}
