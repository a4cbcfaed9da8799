package persistence

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// The shard key layout. ShardMachine and ShardedStore keep the records of the sharded
// kinds under
//
//	"\x00" | 's' | shard (4 bytes BE) | kind | "\x00" | key
//
// so that a shard's records are one contiguous Pebble key range: a Snapshot is one
// bounded iteration and a Restore one DeleteRange plus the records. Every other record
// of the node (the directory's, a shard's applied index, a single node's grains on a
// plain PebbleStore) keeps the layout kind | "\x00" | key; kinds are non-empty and
// NUL-free, so no such key starts with NUL and the two layouts never collide. Only the
// shard code path (ShardMachine, ShardedStore and the PebbleStore methods they call)
// reads or writes this layout: PebbleStore's Store methods are unchanged.
//
// No migration: nothing wrote sharded records before this layout (the shard code is
// not wired into `latch serve` yet), so there are no kind\x00key shard records to move.
// A node that held grains in the plain layout and later turns on shards must not rely
// on them being found by a ShardedStore.

// shardKeyTag follows the leading NUL of a sharded record key; other tags are free for
// other NUL-prefixed layouts later.
const shardKeyTag = 's'

// shardPrefixLen is the length of "\x00" | 's' | shard.
const shardPrefixLen = 6

// shardPrefix returns the prefix of every record key of shard.
func shardPrefix(shard uint32) []byte {
	p := make([]byte, shardPrefixLen, shardPrefixLen+32)
	p[0], p[1] = kindSep, shardKeyTag
	binary.BigEndian.PutUint32(p[2:], shard)
	return p
}

// shardUpper returns the exclusive upper bound of shard's key range.
func shardUpper(shard uint32) []byte {
	if shard == math.MaxUint32 {
		return []byte{kindSep, shardKeyTag + 1}
	}
	return shardPrefix(shard + 1)
}

// shardRecordKey builds the key of kind/key in shard (the shard is the caller's: it is
// not recomputed from the key).
func shardRecordKey(shard uint32, kind, key string) ([]byte, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errors.New("persistence: empty key")
	}
	k := shardPrefix(shard)
	k = append(k, kind...)
	k = append(k, kindSep)
	return append(k, key...), nil
}

// shardKindBounds returns the key range of kind's records in shard.
func shardKindBounds(shard uint32, kind string) (lower, upper []byte) {
	lower = append(append(shardPrefix(shard), kind...), kindSep)
	upper = append(append(shardPrefix(shard), kind...), kindSep+1)
	return lower, upper
}

// splitShardRecordKey returns the kind and key of a sharded record key.
func splitShardRecordKey(k []byte) (kind, key string, err error) {
	if len(k) < shardPrefixLen || k[0] != kindSep || k[1] != shardKeyTag {
		return "", "", fmt.Errorf("%w: %q is not a shard record key", errCorrupt, k)
	}
	rest := k[shardPrefixLen:]
	i := bytes.IndexByte(rest, kindSep)
	if i <= 0 || i == len(rest)-1 {
		return "", "", fmt.Errorf("%w: %q is not a shard record key", errCorrupt, k)
	}
	return string(rest[:i]), string(rest[i+1:]), nil
}

// recordKeyOf maps a record to its stored key: recordKey for the plain layout, a
// shard's shardRecordKey for the shard layout.
type recordKeyOf func(kind, key string) ([]byte, error)

// inShard returns the recordKeyOf of shard's layout.
func inShard(shard uint32) recordKeyOf {
	return func(kind, key string) ([]byte, error) { return shardRecordKey(shard, kind, key) }
}

// getInShard is Get of kind/key stored in shard's key range.
func (s *PebbleStore) getInShard(ctx context.Context, shard uint32, kind, key string) (Record, error) {
	k, err := shardRecordKey(shard, kind, key)
	if err != nil {
		return Record{}, err
	}
	return s.getKey(ctx, k, kind, key)
}

// scanKindInShards calls fn for every stored record of kind in the shards below shards
// for which only reports true (every one when only is nil)
// (expired ones included), shard by shard in ascending order, from one consistent
// Pebble snapshot; fn gets the key and the stored value (valid during the call only).
func (s *PebbleStore) scanKindInShards(ctx context.Context, shards uint32, only func(uint32) bool, kind string, fn func(shard uint32, key string, raw []byte) error) error {
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
	snap := s.db.NewSnapshot()
	defer snap.Close()
	n := 0
	for shard := range shards {
		if only != nil && !only(shard) {
			continue
		}
		lower, upper := shardKindBounds(shard, kind)
		it, err := snap.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		if err != nil {
			return err
		}
		for valid := it.First(); valid; valid = it.Next() {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					_ = it.Close()
					return err
				}
			}
			raw, err := it.ValueAndErr()
			if err == nil {
				err = fn(shard, string(it.Key()[len(lower):]), raw)
			}
			if err != nil {
				_ = it.Close()
				return err
			}
		}
		if err := it.Error(); err != nil {
			_ = it.Close()
			return err
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	return nil
}

// scanInShards is Scan of kind over the shard layout of shards shards.
func (s *PebbleStore) scanInShards(ctx context.Context, shards uint32, kind string, fn func(key string, rec Record) error) error {
	now := s.now()
	return s.scanKindInShards(ctx, shards, nil, kind, func(_ uint32, key string, raw []byte) error {
		version, expires, err := decodeHeader(raw)
		if err != nil {
			return fmt.Errorf("persistence: scan %s/%s: %w", kind, key, err)
		}
		if expiredAt(expires, now) {
			return nil
		}
		return fn(key, Record{Version: version, ExpiresAt: expiryTime(expires), Value: bytes.Clone(raw[recordHeaderLen:])})
	})
}

// countInShards is Count of kind over the shard layout of shards shards.
func (s *PebbleStore) countInShards(ctx context.Context, shards uint32, kind string) (KindCount, error) {
	var c KindCount
	now := s.now()
	err := s.scanKindInShards(ctx, shards, nil, kind, func(_ uint32, _ string, raw []byte) error {
		c.Stored++
		if _, expires, err := decodeHeader(raw); err == nil && !expiredAt(expires, now) {
			c.Live++
		}
		return nil
	})
	if err != nil {
		return KindCount{}, fmt.Errorf("persistence: count %s: %w", kind, err)
	}
	return c, nil
}

// scanExpiredInShards calls fn for every stored record of kind in the shard layout of
// shards shards (those only reports true for; all when nil) expired at now. Records
// that do not decode are skipped.
func (s *PebbleStore) scanExpiredInShards(ctx context.Context, shards uint32, only func(uint32) bool, kind string, now time.Time, fn func(shard uint32, key string, version uint64)) error {
	return s.scanKindInShards(ctx, shards, only, kind, func(shard uint32, key string, raw []byte) error {
		version, expires, err := decodeHeader(raw)
		if err != nil || !expiredAt(expires, now) {
			return nil
		}
		fn(shard, key, version)
		return nil
	})
}
