package persistence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// ShardProposer replicates a shard's log entries: the contract of cluster/shards'
// Proposer (persistence may not import cluster; cmd wires one to the other).
type ShardProposer interface {
	// Propose replicates data in shard's group and returns what the shard's state
	// machine (ShardMachine.Apply: a ShardResult) returned on this node once this node
	// applied it.
	Propose(ctx context.Context, shard uint32, data []byte) (any, error)
}

// ErrUnavailable reports a write its shard could not take in time: no leader or no
// quorum before the deadline, or no replica of the shard here. The write may still
// apply later; the caller answers "try again" (HTTP 503), never a server error.
var ErrUnavailable = errors.New("persistence: shard unavailable")

// ErrCrossShard reports a batch whose records are in more than one shard: a Raft
// group orders one shard's writes only, so such a batch cannot be atomic. Grains never
// write one (a grain's records share its shard; cross-grain effects are messages).
var ErrCrossShard = errors.New("persistence: batch spans shards")

// ShardedStoreConfig configures NewShardedStore.
type ShardedStoreConfig struct {
	// Local is this node's store: reads come from it, and the node's ShardMachines
	// apply every shard's entries to it. Required. The ShardedStore does not own it:
	// its Close leaves Local open.
	Local *PebbleStore
	// Proposer replicates writes. Required.
	Proposer ShardProposer
	// Shards is the cluster's shard count (at least 1).
	Shards uint32
	// Kinds are the sharded kinds, as ShardMachineConfig.Kinds. Required.
	Kinds []string
	// Now is the clock stamped on every entry: the proposer's time, by which every
	// replica judges expiry when it applies the entry. Nil means time.Now.
	Now func() time.Time
	// Leads reports whether this node leads a shard; SweepExpired proposes deletions
	// only for those (a sweep is work for the shard's leader, which hosts its grains and
	// whose proposals need no hop). Nil means every shard with expired records here.
	Leads func(shard uint32) bool
}

// Validate reports every problem with the configuration at once.
func (c ShardedStoreConfig) Validate() error {
	var errs []error
	if c.Local == nil {
		errs = append(errs, errors.New("persistence: ShardedStoreConfig.Local is required"))
	}
	if c.Proposer == nil {
		errs = append(errs, errors.New("persistence: ShardedStoreConfig.Proposer is required"))
	}
	if c.Shards == 0 {
		errs = append(errs, errors.New("persistence: ShardedStoreConfig.Shards must be at least 1"))
	}
	errs = append(errs, validShardKinds(c.Kinds)...)
	return errors.Join(errs...)
}

// ShardedStore is the Store grains use in a cluster (DESIGN.md "The grain contract"):
// a write (Put, Delete, Insert, Apply) becomes one log entry of its key's shard
// (ShardOf), proposed through the Proposer and answered with what the shard's state
// machine decided once this node applied it (the new versions, or ErrConflict), so it
// is durable on a quorum when it returns. Reads (Get, Scan, Count) are local: on the
// shard's leader, which hosts the shard's grains and applied every write it
// acknowledged, they are current; on another replica they may lag.
//
// Writes to a kind that is not one of Kinds are refused: the directory and node-local
// records are not written through shards.
//
// The Proposer must accept any shard: grains write on the shard's leader, but the
// throttle and the outbox write from whichever node served the request, which may hold
// no replica of the key's shard (the Proposer then forwards to the leader).
type ShardedStore struct {
	local  *PebbleStore
	prop   ShardProposer
	shards uint32
	kinds  []string
	now    func() time.Time
	leads  func(uint32) bool

	gate   closeGate
	closer sync.Once
}

var (
	_ Store    = (*ShardedStore)(nil)
	_ Inserter = (*ShardedStore)(nil)
	_ Counter  = (*ShardedStore)(nil)
)

// NewShardedStore returns a store writing through cfg.Proposer.
func NewShardedStore(cfg ShardedStoreConfig) (*ShardedStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &ShardedStore{local: cfg.Local, prop: cfg.Proposer, shards: cfg.Shards, kinds: slices.Clone(cfg.Kinds),
		now: cfg.Now, leads: cfg.Leads, gate: closeGate{drained: make(chan struct{})}}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// ShardOf returns the shard of kind/key in this store's cluster.
func (s *ShardedStore) ShardOf(kind, key string) uint32 { return ShardOf(kind, key, s.shards) }

// Get implements Store: a local read.
func (s *ShardedStore) Get(ctx context.Context, kind, key string) (Record, error) {
	if !s.gate.enter() {
		return Record{}, ErrClosed
	}
	defer s.gate.leave()
	if !s.sharded(kind) {
		return s.local.Get(ctx, kind, key)
	}
	return s.local.getInShard(ctx, ShardOf(kind, key, s.shards), kind, key)
}

// sharded reports whether kind is one of the sharded kinds, stored in the shard key
// layout (shard_keys.go). Reads of any other kind (never written through this store)
// see the local store's plain layout, as PebbleStore's own methods do.
func (s *ShardedStore) sharded(kind string) bool { return slices.Contains(s.kinds, kind) }

// Scan implements Store: a local read of the records of kind this node holds (the
// shards it is a replica of).
func (s *ShardedStore) Scan(ctx context.Context, kind string, fn func(key string, rec Record) error) error {
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()
	if !s.sharded(kind) {
		return s.local.Scan(ctx, kind, fn)
	}
	return s.local.scanInShards(ctx, s.shards, kind, fn)
}

// Count implements Counter: local, as Scan.
func (s *ShardedStore) Count(ctx context.Context, kind string) (KindCount, error) {
	if !s.gate.enter() {
		return KindCount{}, ErrClosed
	}
	defer s.gate.leave()
	if !s.sharded(kind) {
		return s.local.Count(ctx, kind)
	}
	return s.local.countInShards(ctx, s.shards, kind)
}

// Put implements Store.
func (s *ShardedStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	v, err := s.propose(ctx, []shardMutation{{Mutation: Mutation{Kind: kind, Key: key, Expect: expect, Value: value, ExpiresAt: expiresAt}}})
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// Insert implements Inserter: one entry whose apply writes version 1 without reading
// the key.
func (s *ShardedStore) Insert(ctx context.Context, kind, key string, value []byte, expiresAt time.Time) (uint64, error) {
	v, err := s.propose(ctx, []shardMutation{{Mutation: Mutation{Kind: kind, Key: key, Value: value, ExpiresAt: expiresAt, Insert: true}}})
	if err != nil {
		return 0, err
	}
	return v[0], nil
}

// Delete implements Store. An unconditional delete of an absent record is still one
// entry (whether the record exists is decided when the entry applies).
func (s *ShardedStore) Delete(ctx context.Context, kind, key string, expect uint64) error {
	_, err := s.propose(ctx, []shardMutation{{Mutation: Mutation{Kind: kind, Key: key, Expect: expect, Delete: true}}})
	return err
}

// Apply implements Store: the batch is one entry of its shard. A batch naming records
// of two shards is refused with ErrCrossShard before anything is proposed.
func (s *ShardedStore) Apply(ctx context.Context, muts []Mutation) ([]uint64, error) {
	if err := ValidateBatch(muts); err != nil {
		return nil, err
	}
	if len(muts) == 0 {
		if !s.gate.enter() {
			return nil, ErrClosed
		}
		s.gate.leave()
		return nil, nil
	}
	sm := make([]shardMutation, len(muts))
	for i, m := range muts {
		sm[i] = shardMutation{Mutation: m}
	}
	return s.propose(ctx, sm)
}

// propose validates muts, encodes them as one entry of their shard stamped with the
// clock, proposes it and returns the state machine's versions.
func (s *ShardedStore) propose(ctx context.Context, muts []shardMutation) ([]uint64, error) {
	if err := validateShardMuts(muts); err != nil {
		return nil, err
	}
	shard, err := s.shardOfBatch(muts)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()
	// A fresh buffer, never a pooled one: the proposer (Raft's log) keeps data.
	size := 11 + binary.MaxVarintLen64
	for _, m := range muts {
		size += 1 + 5*binary.MaxVarintLen64 + len(m.Kind) + len(m.Key) + len(m.Value)
	}
	data := encodeShardEntry(make([]byte, 0, size), &shardEntry{Op: shardOpBatch, Now: s.now(), Muts: muts})
	res, err := s.result(s.prop.Propose(ctx, shard, data))
	if err != nil {
		return nil, err
	}
	if len(res.Versions) != len(muts) {
		return nil, fmt.Errorf("persistence: shard %d answered %d versions for %d mutations", shard, len(res.Versions), len(muts))
	}
	return res.Versions, nil
}

// result turns a Proposer's answer into a ShardResult.
func (s *ShardedStore) result(v any, err error) (ShardResult, error) {
	if err != nil {
		return ShardResult{}, err
	}
	res, ok := v.(ShardResult)
	if !ok {
		return ShardResult{}, fmt.Errorf("persistence: a shard answered %T, not a ShardResult", v)
	}
	return res, res.Err
}

// shardOfBatch returns the one shard of muts' records, refusing unsharded kinds.
func (s *ShardedStore) shardOfBatch(muts []shardMutation) (uint32, error) {
	var shard uint32
	for i, m := range muts {
		if !slices.Contains(s.kinds, m.Kind) {
			return 0, fmt.Errorf("%w: %q is not a sharded kind", ErrWrongShard, m.Kind)
		}
		sh := ShardOf(m.Kind, m.Key, s.shards)
		if i > 0 && sh != shard {
			return 0, fmt.Errorf("%w: %s/%s is in shard %d, %s/%s in shard %d", ErrCrossShard,
				muts[0].Kind, muts[0].Key, shard, m.Kind, m.Key, sh)
		}
		shard = sh
	}
	return shard, nil
}

// SweepExpired implements Store: it finds the records of the sharded kinds that have
// expired by the clock in the local store, and proposes their deletion in entries of at
// most sweepChunk records per shard (only the shards this node leads when Leads is set:
// it reads only their key ranges). Each replica deletes a record only if it is still at
// the version seen here and expired at the entry's time, so a record rewritten
// meanwhile survives. It returns how
// many records the entries deleted. Run it on each shard's leader, on a timer; the
// node-local PebbleStore.SweepExpired must not run over shard records (it would delete
// them on one replica by its own clock, outside the log).
func (s *ShardedStore) SweepExpired(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.gate.enter() {
		return 0, ErrClosed
	}
	defer s.gate.leave()
	now := s.now()
	pending := make(map[uint32][]sweepItem)
	removed := 0
	flush := func(shard uint32) error {
		items := pending[shard]
		delete(pending, shard)
		if len(items) == 0 {
			return nil
		}
		data := encodeShardEntry(nil, &shardEntry{Op: shardOpSweep, Now: now, Sweep: items})
		res, err := s.result(s.prop.Propose(ctx, shard, data))
		removed += res.Removed
		return err
	}
	for _, kind := range s.kinds {
		type cand struct {
			shard uint32
			item  sweepItem
		}
		var cands []cand
		err := s.local.scanExpiredInShards(ctx, s.shards, s.leads, kind, now, func(shard uint32, key string, version uint64) {
			cands = append(cands, cand{shard, sweepItem{Kind: kind, Key: key, Version: version}})
		})
		if err != nil {
			return removed, fmt.Errorf("persistence: sweep %s: %w", kind, err)
		}
		for _, c := range cands {
			shard := c.shard // one Leads allows: the others' ranges were not read
			pending[shard] = append(pending[shard], c.item)
			if len(pending[shard]) == sweepChunk {
				if err := flush(shard); err != nil {
					return removed, err
				}
			}
		}
	}
	shards := make([]uint32, 0, len(pending))
	for sh := range pending {
		shards = append(shards, sh)
	}
	slices.Sort(shards)
	for _, sh := range shards {
		if err := flush(sh); err != nil {
			return removed, err
		}
	}
	return removed, nil
}

// Close implements Store: later calls return ErrClosed once in-flight ones are done.
// The local store stays open (its owner closes it).
func (s *ShardedStore) Close() error {
	s.closer.Do(s.gate.shut)
	return nil
}
