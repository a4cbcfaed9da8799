package directory

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/latchid/latch/persistence"
)

// Log replicates the directory's write batches (Raft group 1 in a cluster).
type Log interface {
	// Propose replicates data and returns what Replica.Apply returned for it on this
	// node, once this node has applied it.
	Propose(ctx context.Context, data []byte) (any, error)
}

// ErrUnavailable: a directory write could not be replicated (no leader or no quorum
// before the deadline). http answers 503. The Log adapter in cmd wraps
// raftgroup.ErrUnavailable in it.
var ErrUnavailable = errors.New("directory: no quorum to replicate the write; try again")

// metaRaftApplied is the meta record holding the index of the last log entry applied
// to this node's directory (8 bytes, big endian). Replica.Apply writes it in the same
// atomic batch as the entry's records, so the store and the index never disagree
// after a crash.
const metaRaftApplied = "raft-applied"

// Replicate makes every later write go through l: a write builds its batch as before,
// proposes it, and returns once this node's Replica has applied it (Replica.Apply
// publishes it to memory, on this node as on every other). Call it before serving
// writes, after Open; the directory's Replica must be l's state machine.
func (d *Directory) Replicate(l Log) {
	d.wmu.Lock()
	d.repl = l
	d.wmu.Unlock()
}

// Replica is the directory as the Raft group's state machine: every node applies the
// same entries in the same order to its own store and memory.
type Replica struct{ d *Directory }

// Replica returns the state machine of the directory's Raft group.
func (d *Directory) Replica() *Replica { return &Replica{d: d} }

// AppliedIndex returns the index of the last log entry applied to this node's
// directory (persisted with each entry; 0 when none). Entries that carry no directory
// batch (leader no-ops, configuration changes) never reach the Replica, so the
// group's own applied index may be ahead of it.
func (d *Directory) AppliedIndex() uint64 { return d.appliedIndex.Load() }

// Ready reports whether this directory can serve: it has an admin application and a
// Current signing key (bootstrapped, or caught up with a cluster that is).
func (d *Directory) Ready() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.st.apps[d.st.adminApp]; d.st.adminApp == "" || !ok {
		return false
	}
	for _, k := range d.st.keyList {
		if k.Status == KeyCurrent {
			return true
		}
	}
	return false
}

// Apply applies the log entry at index: the batch a directory write decided (on any
// node), to this node's store and memory, with the index recorded in the same atomic
// store batch. It returns the versions the store gave the batch's mutations, or
// persistence.ErrConflict when a precondition does not hold (nothing of the batch is
// written; the index still is). The outcome depends only on the entry and the state
// every replica reached by applying the same entries before it: no clock, no
// randomness. An entry that does not decode is logged and skipped (its index
// recorded), the same on every node. An entry at or below the applied index was
// applied before (a restart replaying the log) and is skipped.
//
// It takes wmu and then mu, as every write does; commit releases wmu while it waits
// for its proposal, so the proposer's own entry can be applied.
func (r *Replica) Apply(index uint64, data []byte) any {
	d := r.d
	ctx := context.Background() // an apply is never abandoned halfway
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if cur := d.appliedIndex.Load(); index <= cur {
		d.log.Warn("directory: skipping a log entry applied before", "index", index, "applied", cur)
		return fmt.Errorf("directory: log entry %d applied before (applied index %d)", index, cur)
	}
	muts, err := decodeBatch(data)
	if err != nil {
		d.log.Error("directory: skipping a log entry that does not decode", "index", index, "err", err)
		d.recordApplied(ctx, index)
		return fmt.Errorf("directory: log entry %d: %w", index, err)
	}
	all := append(muts[:len(muts):len(muts)], d.appliedMutation(index))
	versions, err := d.store.Apply(ctx, all)
	if errors.Is(err, persistence.ErrConflict) && d.appliedVersionMoved(ctx) {
		// Only the applied-index record's version was off (memory out of step with
		// the store): retry with the store's, rather than refuse every entry from now.
		all[len(muts)] = d.appliedMutation(index)
		versions, err = d.store.Apply(ctx, all)
	}
	switch {
	case err == nil:
		d.appliedVersion = versions[len(muts)]
		d.appliedIndex.Store(index)
		versions = versions[:len(muts)]
		d.applied(muts, versions)
		return versions
	case errors.Is(err, persistence.ErrConflict):
		d.recordApplied(ctx, index)
		return persistence.ErrConflict
	default:
		// The store failed (disk full, I/O error): this node did not apply an entry
		// the others did. Its directory lags until it is restored from a snapshot.
		d.log.Error("directory: the store failed to apply a log entry", "index", index, "err", err)
		return fmt.Errorf("directory: applying log entry %d: %w", index, err)
	}
}

// appliedMutation writes index to the applied-index record, at the version memory
// holds. Callers hold wmu.
func (d *Directory) appliedMutation(index uint64) persistence.Mutation {
	return persistence.Mutation{Kind: kindMeta, Key: metaRaftApplied, Expect: d.appliedVersion,
		Value: binary.BigEndian.AppendUint64(nil, index)}
}

// recordApplied persists index alone (an entry whose batch was not written). On a
// version conflict it re-reads the record's version once and retries. Callers hold
// wmu.
func (d *Directory) recordApplied(ctx context.Context, index uint64) {
	for attempt := 0; attempt < 2; attempt++ {
		versions, err := d.store.Apply(ctx, []persistence.Mutation{d.appliedMutation(index)})
		if err == nil {
			d.appliedVersion = versions[0]
			d.appliedIndex.Store(index)
			return
		}
		if !errors.Is(err, persistence.ErrConflict) {
			d.log.Error("directory: recording the applied index failed", "index", index, "err", err)
			break
		}
		if !d.appliedVersionMoved(ctx) {
			d.log.Error("directory: recording the applied index failed", "index", index, "err", err)
			break
		}
	}
	d.appliedIndex.Store(index) // memory moves on; a restart replays the entry
}

// appliedVersionMoved reports whether the applied-index record's version in the
// store differs from the one memory holds, and if so takes the store's. Callers hold
// wmu.
func (d *Directory) appliedVersionMoved(ctx context.Context) bool {
	before, index := d.appliedVersion, d.appliedIndex.Load()
	if err := d.loadApplied(ctx); err != nil {
		d.log.Error("directory: reading the applied index failed", "err", err)
		return false
	}
	d.appliedIndex.Store(index) // only the version is taken from the store
	return d.appliedVersion != before
}

// loadApplied reads the applied-index record into memory. Callers hold wmu or own d
// exclusively.
func (d *Directory) loadApplied(ctx context.Context) error {
	rec, err := d.store.Get(ctx, kindMeta, metaRaftApplied)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		d.appliedVersion = 0
		d.appliedIndex.Store(0)
		return nil
	case err != nil:
		return fmt.Errorf("directory: loading %s/%s: %w", kindMeta, metaRaftApplied, err)
	case len(rec.Value) != 8:
		return fmt.Errorf("directory: %s/%s holds %d bytes, want 8", kindMeta, metaRaftApplied, len(rec.Value))
	}
	d.appliedVersion = rec.Version
	d.appliedIndex.Store(binary.BigEndian.Uint64(rec.Value))
	return nil
}

// Snapshot returns every directory record (entities, uniqueness index records, meta,
// with their versions) and the applied index, encoded. It holds wmu, so no entry is
// applied while it reads.
func (r *Replica) Snapshot() ([]byte, error) {
	d := r.d
	ctx := context.Background()
	d.wmu.Lock()
	defer d.wmu.Unlock()
	s := snapshotData{applied: d.appliedIndex.Load()}
	for _, kind := range directoryKinds {
		err := d.store.Scan(ctx, kind, func(key string, rec persistence.Record) error {
			if kind == kindMeta && key == metaRaftApplied {
				return nil // travels as s.applied
			}
			s.recs = append(s.recs, persistence.KindRecord{Kind: kind, Key: key,
				Record: persistence.Record{Version: rec.Version, Value: rec.Value}})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("directory: snapshot of %s: %w", kind, err)
		}
	}
	return encodeSnapshot(s), nil
}

// Restore replaces this node's directory with a snapshot's: every record of every
// directory kind in the store, atomically, at the snapshot's versions (the store's
// other kinds, such as sessions and grants, are left alone), then memory and the
// scope caches. A snapshot that does not decode, or whose records do not load,
// changes nothing. The store must implement persistence.KindReplacer.
func (r *Replica) Restore(snapshot []byte) error {
	d := r.d
	ctx := context.Background()
	s, err := decodeSnapshot(snapshot)
	if err != nil {
		return err
	}
	kr, ok := d.store.(persistence.KindReplacer)
	if !ok {
		return fmt.Errorf("directory: the store (%T) cannot replace kinds; it cannot restore a snapshot", d.store)
	}
	// Build the new state first: a record that does not decode fails the restore
	// before the store is touched.
	byKind := make(map[string][]persistence.KindRecord, len(directoryKinds))
	for _, rec := range s.recs {
		byKind[rec.Kind] = append(byKind[rec.Kind], rec)
	}
	next := &Directory{st: newState(), log: d.log}
	for _, kind := range directoryKinds {
		for _, rec := range byKind[kind] {
			if err := next.apply(rec.Kind, rec.Key, rec.Record); err != nil {
				return fmt.Errorf("directory: restore: %w", err)
			}
		}
	}
	recs := s.recs
	if s.applied > 0 {
		recs = append(recs[:len(recs):len(recs)], persistence.KindRecord{Kind: kindMeta, Key: metaRaftApplied,
			Record: persistence.Record{Version: 1, Value: binary.BigEndian.AppendUint64(nil, s.applied)}})
	}

	d.wmu.Lock()
	defer d.wmu.Unlock()
	if err := kr.ReplaceKinds(ctx, directoryKinds, recs); err != nil {
		return fmt.Errorf("directory: restore: %w", err)
	}
	d.publish(func() {
		d.st = next.st
		d.invalidateScopes()
	})
	if s.applied > 0 {
		d.appliedVersion = 1
	} else {
		d.appliedVersion = 0
	}
	d.appliedIndex.Store(s.applied)
	d.log.Info("directory: restored from a snapshot", "applied", s.applied, "records", len(s.recs),
		"applications", len(next.st.apps), "users", len(next.st.users))
	return nil
}
