package persistence

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// ShardMetaKind is the store kind of the shards' own bookkeeping: key "<shard>" holds
// the index of the last log entry applied to that shard on this node (8 bytes BE). It
// is never a sharded kind: a snapshot carries the index in its header.
const ShardMetaKind = "shard-meta"

// ErrAppliedBefore is the result of a shard log entry at or below the shard's applied
// index: a restart replaying its log. Nothing is written.
var ErrAppliedBefore = errors.New("persistence: shard entry applied before")

// ErrWrongShard reports a write whose kind is not a sharded kind, or whose key belongs
// to another shard than the one it was proposed to.
var ErrWrongShard = errors.New("persistence: record does not belong to the shard")

// ShardResult is what ShardMachine.Apply returns for an entry (and so what a shard's
// Proposer hands back to the proposing ShardedStore).
type ShardResult struct {
	// Versions holds one version per mutation of a batch entry, as Store.Apply.
	Versions []uint64
	// Removed is how many records a sweep entry deleted.
	Removed int
	// Err is ErrConflict (a precondition failed: nothing of the batch was written),
	// ErrMalformedShardData, ErrWrongShard, ErrAppliedBefore, or a store failure.
	Err error
}

// ShardMachineConfig configures NewShardMachine.
type ShardMachineConfig struct {
	// Store is this node's store; every shard of the node shares it. Required.
	Store *PebbleStore
	// Shard is the shard this machine applies, below Shards.
	Shard uint32
	// Shards is the cluster's shard count (at least 1).
	Shards uint32
	// Kinds are the sharded kinds (the hot state: grains, their owned records, the
	// throttle, the outbox). The machine keeps them in the shard key layout
	// (shard_keys.go), where Snapshot and Restore cover exactly Shard's key range; any
	// other kind (the directory's) is never touched, and an entry writing one is
	// refused. Required; must not include ShardMetaKind.
	Kinds []string
	// NoSync commits applied entries without an fsync. It is safe when the Raft log is
	// synced (persistence.RaftLog): an entry is durable in the log before it is applied,
	// and the applied index is committed in the same Pebble batch as the entry's records,
	// so a crash loses both together and the group hands the lost entries to Apply again
	// on restart (GroupConfig.Applied = AppliedIndex()). It halves the fsyncs of a write.
	NoSync bool
	// Logger receives entries that are refused or fail; nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration at once.
func (c ShardMachineConfig) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("persistence: ShardMachineConfig.Store is required"))
	}
	if c.Shards == 0 {
		errs = append(errs, errors.New("persistence: ShardMachineConfig.Shards must be at least 1"))
	} else if c.Shard >= c.Shards {
		errs = append(errs, fmt.Errorf("persistence: ShardMachineConfig.Shard %d is not below Shards %d", c.Shard, c.Shards))
	}
	errs = append(errs, validShardKinds(c.Kinds)...)
	return errors.Join(errs...)
}

func validShardKinds(kinds []string) []error {
	var errs []error
	if len(kinds) == 0 {
		errs = append(errs, errors.New("persistence: the sharded Kinds are required"))
	}
	for _, k := range kinds {
		if err := validKind(k); err != nil {
			errs = append(errs, err)
		}
		if k == ShardMetaKind {
			errs = append(errs, fmt.Errorf("persistence: %q cannot be a sharded kind", ShardMetaKind))
		}
	}
	return errs
}

// ShardMachine is one shard's Raft state machine on this node (raftgroup.StateMachine):
// it applies the shard's log entries to the node's PebbleStore, each atomically with the
// shard's applied index. Apply is deterministic: its outcome depends only on the entry
// (whose time, the proposer's clock, decides every expiry) and on the records of the
// shard, which every replica reached by applying the same entries.
//
// Apply, Snapshot and Restore are serialized (the group calls them from one goroutine;
// a mutex makes other callers safe). Machines of different shards run in parallel on
// one store: their keys never overlap.
type ShardMachine struct {
	store         *PebbleStore
	shard, shards uint32
	kinds         []string
	wo            *pebble.WriteOptions
	log           *slog.Logger
	metaKey       []byte
	keyOf         recordKeyOf // the shard key layout of shard (shard_keys.go)

	mu      sync.Mutex
	applied atomic.Uint64
	metaBuf []byte // the applied-index record being written; under mu
}

// NewShardMachine returns the state machine of cfg.Shard, with the applied index it
// persisted (pass AppliedIndex as the group's GroupConfig.Applied).
func NewShardMachine(cfg ShardMachineConfig) (*ShardMachine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &ShardMachine{
		store: cfg.Store, shard: cfg.Shard, shards: cfg.Shards, kinds: slices.Clone(cfg.Kinds),
		wo: cfg.Store.wo, log: cfg.Logger, keyOf: inShard(cfg.Shard),
	}
	if cfg.NoSync {
		m.wo = pebble.NoSync
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.metaKey, _ = recordKey(ShardMetaKind, strconv.FormatUint(uint64(cfg.Shard), 10))
	raw, err := cfg.Store.getRaw(m.metaKey)
	if err != nil {
		return nil, fmt.Errorf("persistence: shard %d: reading the applied index: %w", cfg.Shard, err)
	}
	if raw != nil {
		idx, err := decodeApplied(raw)
		if err != nil {
			return nil, fmt.Errorf("persistence: shard %d: %w", cfg.Shard, err)
		}
		m.applied.Store(idx)
	}
	return m, nil
}

// AppliedIndex is the index of the last entry applied to this shard on this node (0:
// none), as persisted with the shard's records.
func (m *ShardMachine) AppliedIndex() uint64 { return m.applied.Load() }

// Shard returns the shard m applies.
func (m *ShardMachine) Shard() uint32 { return m.shard }

func decodeApplied(raw []byte) (uint64, error) {
	rec, err := decodeRecord(raw)
	if err != nil {
		return 0, err
	}
	if len(rec.Value) != 8 {
		return 0, fmt.Errorf("%w: applied index of %d bytes", errCorrupt, len(rec.Value))
	}
	return binary.BigEndian.Uint64(rec.Value), nil
}

// appliedSet is the raw write of index as the shard's applied index. The value lives in
// m.metaBuf until the next call: callers hold mu.
func (m *ShardMachine) appliedSet(index uint64) []rawSet {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], index)
	m.metaBuf = encodeRecord(m.metaBuf[:0], 1, time.Time{}, v[:])
	return []rawSet{{key: m.metaKey, value: m.metaBuf}}
}

// owns reports whether kind/key is a record of this shard.
func (m *ShardMachine) owns(kind, key string) bool {
	return slices.Contains(m.kinds, kind) && ShardOf(kind, key, m.shards) == m.shard
}

// Apply applies the log entry at index and returns a ShardResult. An entry at or below
// the applied index is skipped (ErrAppliedBefore). An entry that does not decode, or
// writes a record that is not the shard's, is refused (ErrMalformedShardData,
// ErrWrongShard) the same way on every replica; a batch whose preconditions fail writes
// nothing (ErrConflict). In these cases the applied index is still recorded. A store
// failure (I/O error) is returned without recording it: this replica then lacks an entry
// the others applied, and must be restored from a snapshot (or the node stopped).
func (m *ShardMachine) Apply(index uint64, data []byte) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx := context.Background() // an apply is never abandoned halfway
	if cur := m.applied.Load(); index <= cur {
		return ShardResult{Err: fmt.Errorf("%w: entry %d, applied index %d", ErrAppliedBefore, index, cur)}
	}
	extra := m.appliedSet(index)
	e, err := m.entry(data)
	if err != nil {
		m.log.Error("persistence: refusing a shard log entry", "shard", m.shard, "index", index, "err", err)
		if _, serr := m.store.applyShard(ctx, time.Time{}, m.keyOf, nil, extra, m.wo, nil); serr != nil {
			return m.storeFailed(index, serr)
		}
		m.applied.Store(index)
		return ShardResult{Err: err}
	}
	res, err := m.write(e, extra, m.wo, nil)
	if err != nil {
		return m.storeFailed(index, err)
	}
	m.applied.Store(index)
	return res
}

// entry decodes a shard entry (its values aliasing data: applyShard copies them into
// its batch) and refuses one naming a record that is not the shard's.
func (m *ShardMachine) entry(data []byte) (*shardEntry, error) {
	e, err := decodeShardEntryAlias(data, true)
	if err == nil {
		err = m.checkOwned(e)
	}
	return e, err
}

// write applies e's batch or sweep with extra in the same Pebble batch. The error is
// a store failure (I/O); a failed precondition is the result's ErrConflict.
func (m *ShardMachine) write(e *shardEntry, extra []rawSet, wo *pebble.WriteOptions, ps *pendingSync) (ShardResult, error) {
	ctx := context.Background() // a write is never abandoned halfway
	var (
		res ShardResult
		err error
	)
	switch e.Op {
	case shardOpBatch:
		res.Versions, res.Err = m.store.applyShard(ctx, e.Now, m.keyOf, e.Muts, extra, wo, ps)
		if res.Err != nil && !errors.Is(res.Err, ErrConflict) {
			return res, res.Err
		}
	case shardOpSweep:
		res.Removed, err = m.store.sweepShard(ctx, e.Now, m.keyOf, e.Sweep, extra, wo, ps)
	}
	return res, err
}

// ApplyAlone applies what a log entry of the shard would carry, without a log entry and
// with a synced write: a group of one member commits an entry once that member holds
// it durably, and this write is that (raftgroup.Group.Alone decides when it may be
// used). Log entries applied before or after such writes meet each mutation's expected
// version as usual.
//
// groupApplied is the group's applied index, read under the machine's lock (so in
// order with Snapshot): when the machine's own applied index is behind it (the group
// applied entries the machine never sees, such as configuration changes), the write
// records it, since a restart restores the group's latest snapshot over a machine whose
// applied index is older than that snapshot's, which would undo this write.
//
// The write is published under the machine's lock and its fsync awaited after it
// (pendingSync), so writes to the shard made meanwhile share that fsync.
func (m *ShardMachine) ApplyAlone(data []byte, groupApplied func() uint64) ShardResult {
	var ps pendingSync
	res := m.applyAlone(data, groupApplied, &ps)
	if err := ps.wait(); err != nil && res.Err == nil {
		res.Err = err
	}
	return res
}

func (m *ShardMachine) applyAlone(data []byte, groupApplied func() uint64, ps *pendingSync) ShardResult {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := m.entry(data)
	if err != nil {
		return ShardResult{Err: err}
	}
	var extra []rawSet
	index := groupApplied()
	if index > m.applied.Load() {
		extra = m.appliedSet(index)
	}
	res, err := m.write(e, extra, m.store.wo, ps)
	if err != nil {
		res.Err = err
		return res
	}
	if extra != nil {
		m.applied.Store(index)
	}
	return res
}

func (m *ShardMachine) storeFailed(index uint64, err error) ShardResult {
	m.log.Error("persistence: the store failed to apply a shard log entry", "shard", m.shard, "index", index, "err", err)
	return ShardResult{Err: fmt.Errorf("persistence: shard %d entry %d: %w", m.shard, index, err)}
}

// checkOwned refuses an entry naming a record that is not the shard's.
func (m *ShardMachine) checkOwned(e *shardEntry) error {
	for _, mu := range e.Muts {
		if !m.owns(mu.Kind, mu.Key) {
			return fmt.Errorf("%w: %s/%s in shard %d", ErrWrongShard, mu.Kind, mu.Key, m.shard)
		}
	}
	for _, s := range e.Sweep {
		if !m.owns(s.Kind, s.Key) {
			return fmt.Errorf("%w: %s/%s in shard %d", ErrWrongShard, s.Kind, s.Key, m.shard)
		}
	}
	return nil
}

// Snapshot returns every stored record of the shard (expired ones not swept yet
// included, each with its version and expiry) and the applied index, from one
// consistent read of the store.
//
// Cost: the shard's records are one contiguous key range (shard_keys.go), so a
// snapshot is one bounded iteration over them alone, whatever else the node holds
// (BenchmarkShardSnapshot measures it). The whole snapshot is built in memory.
func (m *ShardMachine) Snapshot() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var (
		applied uint64
		metaErr error
		body    []byte
		n       uint64
	)
	err := m.store.scanShardRaw(context.Background(), m.shard, m.metaKey,
		func(raw []byte) {
			if raw != nil {
				applied, metaErr = decodeApplied(raw)
			}
		},
		func(kind, key string, raw []byte) error {
			version, expires, err := decodeHeader(raw)
			if err != nil {
				return fmt.Errorf("%s/%s: %w", kind, key, err)
			}
			body = appendString(body, kind)
			body = appendString(body, key)
			body = binary.AppendUvarint(body, version)
			body = binary.AppendVarint(body, expires)
			body = appendBytes(body, raw[recordHeaderLen:])
			n++
			return nil
		})
	if err == nil {
		err = metaErr
	}
	if err != nil {
		return nil, fmt.Errorf("persistence: snapshot of shard %d: %w", m.shard, err)
	}
	out := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(body))
	out = append(out, shardFormatV1)
	out = binary.AppendUvarint(out, uint64(m.shard))
	out = binary.AppendUvarint(out, uint64(m.shards))
	out = binary.AppendUvarint(out, applied)
	out = binary.AppendUvarint(out, n)
	return append(out, body...), nil
}

// Restore replaces the shard's records on this node with a snapshot's, atomically,
// with its applied index: the shard's key range is deleted (one DeleteRange) and the
// snapshot's records written at their versions and expiries. Records of other
// shards and other kinds (the directory) are left alone. A snapshot that does not
// decode, is of another shard or shard count, or holds a record that is not the
// shard's, changes nothing.
func (m *ShardMachine) Restore(snapshot []byte) error {
	s, err := decodeShardSnapshot(snapshot)
	if err != nil {
		return fmt.Errorf("persistence: restore of shard %d: %w", m.shard, err)
	}
	if s.Shard != m.shard || s.Shards != m.shards {
		return fmt.Errorf("persistence: restore of shard %d of %d: the snapshot is of shard %d of %d", m.shard, m.shards, s.Shard, s.Shards)
	}
	for _, r := range s.Recs {
		if !m.owns(r.Kind, r.Key) {
			return fmt.Errorf("persistence: restore of shard %d: %w: %s/%s", m.shard, ErrWrongShard, r.Kind, r.Key)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.store.replaceShard(m.shard, s.Recs, m.appliedSet(s.Applied), m.wo); err != nil {
		return err
	}
	m.applied.Store(s.Applied)
	return nil
}

// Clear deletes the shard's records and its applied index on this node: its replica
// was dropped (this node was removed from the shard's group), and a later replica
// starts from a snapshot.
func (m *ShardMachine) Clear() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.store.replaceShard(m.shard, nil, m.appliedSet(0), m.wo); err != nil {
		return err
	}
	m.applied.Store(0)
	return nil
}
