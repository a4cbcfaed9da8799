package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// The Raft log of every group of a process lives in one Pebble database of its own
// (RaftLogConfig.Dir, e.g. <data>/raft), not in the PebbleStore's database:
//   - its write pattern is a synced append per Ready and a range delete per compaction,
//     which would sit in the store's WAL between the conditional writes of every request
//     and hold their fsyncs back (and theirs would hold the log's);
//   - the store's key space is kind/key with a record header and TTL sweeps over it; the
//     log's keys are binary and must never be scanned or swept as records;
//   - the applied state machines write to the PebbleStore; the log is their input. Losing
//     one directory never silently corrupts the other: a wiped log is a new member.
//
// It is still one storage engine (Pebble) and one database for all groups.
//
// Key layout: 'r' | group id (8 bytes BE) | kind (1 byte) [| index (8 bytes BE)].
//   - kind 'e': a log entry (proto raftpb.Entry) by index;
//   - kind 'h': the HardState;
//   - kind 's': the latest snapshot (raftpb.Snapshot: metadata with the ConfState, and data);
//   - kind 't': the truncated state: index and term of the entry just before the first
//     one kept (the snapshot index after a snapshot or compaction), 16 bytes.
const (
	raftKeyPrefix    = 'r'
	raftKindEntry    = 'e'
	raftKindHard     = 'h'
	raftKindSnapshot = 's'
	raftKindTrunc    = 't'
)

// raftTailCache bounds how many of the last entries of a group stay in memory; reads of
// older entries (a lagging follower) go to Pebble.
const raftTailCache = 4096

// RaftLogConfig configures OpenRaftLog.
type RaftLogConfig struct {
	// Dir holds the database. Required.
	Dir string
	// FS is the filesystem; nil means the disk.
	FS vfs.FS
	// NoSync writes without fsync (tests only): a crash may lose acknowledged entries,
	// which breaks Raft's guarantees.
	NoSync bool
	// Logger receives Pebble's log lines; nil discards them.
	Logger *slog.Logger
}

// raftLogMemTable is the raft log's memtable size.
const raftLogMemTable = 64 << 20

// RaftLog is the Pebble database holding the Raft logs of many groups.
//
// Group commit: the synced Saves of every group go to one writer goroutine, which
// commits all those queued while its previous commit was syncing in one Pebble batch
// with one fsync, then releases their callers. A node's shard groups each have one
// append in flight (a Ready loop waits for its Save), so with many groups this, not the
// number of writes per group, is what lets many writes share an fsync.
type RaftLog struct {
	db *pebble.DB
	wo *pebble.WriteOptions

	mu     sync.Mutex
	groups map[uint64]*RaftGroupLog
	closed bool

	// savec hands synced Saves to the writer (unbuffered: a Save the writer took is
	// answered even when the log closes); stop ends the writer, done when it ended.
	savec chan *saveReq
	stop  chan struct{}
	done  chan struct{}
	// maxGroupCommit bounds the Saves of one commit.
	maxGroupCommit int
}

// RaftSave is one group's part of SaveMany: what its Ready hands over (any part may be
// empty), as RaftGroupLog.Save takes it.
type RaftSave struct {
	Log       *RaftGroupLog
	HardState *pb.HardState
	Entries   []*pb.Entry
	Snapshot  *pb.Snapshot
}

type saveReq struct {
	RaftSave
	err  error
	done chan struct{}
}

// OpenRaftLog opens (creating if needed) the Raft log database in cfg.Dir.
func OpenRaftLog(cfg RaftLogConfig) (*RaftLog, error) {
	if strings.TrimSpace(cfg.Dir) == "" {
		return nil, errors.New("persistence: RaftLogConfig.Dir is required")
	}
	fs := cfg.FS
	if fs == nil {
		fs = vfs.Default
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	opts := &pebble.Options{
		FS:                 fs,
		Logger:             pebbleLogger{logger},
		FormatMajorVersion: pebble.FormatNewest,
		// Entries are written once and truncated soon after (groups snapshot often):
		// a large memtable lets most of them die before a flush, and compressing
		// random-looking payloads (tokens, hashes) costs CPU for little.
		MemTableSize: raftLogMemTable,
	}
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("persistence: open raft log: %w", err)
	}
	wo := pebble.Sync
	if cfg.NoSync {
		wo = pebble.NoSync
	}
	l := &RaftLog{
		db: db, wo: wo, groups: map[uint64]*RaftGroupLog{},
		savec: make(chan *saveReq), stop: make(chan struct{}), done: make(chan struct{}),
		maxGroupCommit: 1024,
	}
	go l.writer()
	return l, nil
}

// writer commits the synced Saves queued meanwhile together: one batch, one fsync.
func (l *RaftLog) writer() {
	defer close(l.done)
	var reqs []*saveReq
	for {
		reqs = reqs[:0]
		select {
		case <-l.stop:
			return
		case r := <-l.savec:
			reqs = append(reqs, r)
		}
	drain:
		for len(reqs) < l.maxGroupCommit {
			select {
			case r := <-l.savec:
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		l.commit(reqs, l.wo)
		for _, r := range reqs {
			close(r.done)
		}
	}
}

// Close closes the database. Group logs must no longer be used.
func (l *RaftLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	close(l.stop)
	<-l.done
	return l.db.Close()
}

// Group returns the log of one group, loading its state on first use. It implements
// raft.Storage plus the writes a Ready loop needs.
func (l *RaftLog) Group(id uint64) (*RaftGroupLog, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, errors.New("persistence: raft log closed")
	}
	if g, ok := l.groups[id]; ok {
		return g, nil
	}
	g := &RaftGroupLog{log: l, id: id}
	if err := g.load(); err != nil {
		return nil, err
	}
	l.groups[id] = g
	return g, nil
}

// RaftGroupLog is the Raft log of one group. Its methods are safe for concurrent use.
type RaftGroupLog struct {
	log *RaftLog
	id  uint64

	mu        sync.Mutex
	hard      *pb.HardState
	snap      *pb.Snapshot
	truncIdx  uint64 // index of the entry before the first kept one
	truncTerm uint64
	last      uint64
	tail      []*pb.Entry // the last entries, contiguous up to last (may be empty)
	deleted   bool        // DeleteGroup dropped this log: writes fail
}

// errGroupDeleted is the error of a write to a log that RaftLog.DeleteGroup dropped.
var errGroupDeleted = errors.New("persistence: raft group log deleted")

var _ raft.Storage = (*RaftGroupLog)(nil)

func (g *RaftGroupLog) key(kind byte) []byte {
	k := make([]byte, 10, 18)
	k[0] = raftKeyPrefix
	binary.BigEndian.PutUint64(k[1:9], g.id)
	k[9] = kind
	return k
}

func (g *RaftGroupLog) entryKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64(g.key(raftKindEntry), index)
}

func (g *RaftGroupLog) get(k []byte, m proto.Message) (bool, error) {
	raw, closer, err := g.log.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer closer.Close()
	if err := proto.Unmarshal(raw, m); err != nil {
		return false, fmt.Errorf("%w: raft group %d: %v", errCorrupt, g.id, err)
	}
	return true, nil
}

func (g *RaftGroupLog) load() error {
	g.hard = &pb.HardState{}
	if _, err := g.get(g.key(raftKindHard), g.hard); err != nil {
		return err
	}
	g.snap = &pb.Snapshot{}
	if _, err := g.get(g.key(raftKindSnapshot), g.snap); err != nil {
		return err
	}
	g.snap = pb.EnsureSnapshot(g.snap)
	raw, closer, err := g.log.db.Get(g.key(raftKindTrunc))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return err
	default:
		if len(raw) != 16 {
			closer.Close()
			return fmt.Errorf("%w: raft group %d truncated state", errCorrupt, g.id)
		}
		g.truncIdx = binary.BigEndian.Uint64(raw[:8])
		g.truncTerm = binary.BigEndian.Uint64(raw[8:])
		closer.Close()
	}
	g.last = g.truncIdx
	it, err := g.log.db.NewIter(&pebble.IterOptions{LowerBound: g.entryKey(0), UpperBound: g.key(raftKindEntry + 1)})
	if err != nil {
		return err
	}
	defer it.Close()
	if it.Last() {
		k := it.Key()
		if idx := binary.BigEndian.Uint64(k[len(k)-8:]); idx > g.last {
			g.last = idx
		}
	}
	return it.Error()
}

// InitialState implements raft.Storage.
func (g *RaftGroupLog) InitialState() (*pb.HardState, *pb.ConfState, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return proto.Clone(g.hard).(*pb.HardState), pb.EnsureConfState(proto.Clone(g.snap.GetMetadata().GetConfState()).(*pb.ConfState)), nil
}

// FirstIndex implements raft.Storage.
func (g *RaftGroupLog) FirstIndex() (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.truncIdx + 1, nil
}

// LastIndex implements raft.Storage.
func (g *RaftGroupLog) LastIndex() (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last, nil
}

// Snapshot implements raft.Storage.
func (g *RaftGroupLog) Snapshot() (*pb.Snapshot, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return proto.Clone(g.snap).(*pb.Snapshot), nil
}

// Term implements raft.Storage.
func (g *RaftGroupLog) Term(i uint64) (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case i < g.truncIdx:
		return 0, raft.ErrCompacted
	case i == g.truncIdx:
		return g.truncTerm, nil
	case i > g.last:
		return 0, raft.ErrUnavailable
	}
	if e := g.cached(i); e != nil {
		return e.GetTerm(), nil
	}
	e := &pb.Entry{}
	ok, err := g.get(g.entryKey(i), e)
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("%w: raft group %d misses entry %d", errCorrupt, g.id, i)
	}
	return e.GetTerm(), nil
}

func (g *RaftGroupLog) cached(i uint64) *pb.Entry {
	if len(g.tail) == 0 {
		return nil
	}
	first := g.tail[0].GetIndex()
	if i < first || i > g.last {
		return nil
	}
	return g.tail[i-first]
}

// Entries implements raft.Storage.
func (g *RaftGroupLog) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if lo <= g.truncIdx {
		return nil, raft.ErrCompacted
	}
	if hi > g.last+1 {
		return nil, fmt.Errorf("persistence: raft group %d: entries hi %d beyond last index %d", g.id, hi, g.last)
	}
	if g.last == g.truncIdx {
		return nil, raft.ErrUnavailable
	}
	var out []*pb.Entry
	var size uint64
	add := func(e *pb.Entry) bool {
		s := uint64(proto.Size(e))
		if len(out) > 0 && size+s > maxSize {
			return false
		}
		size += s
		out = append(out, e)
		return true
	}
	if len(g.tail) > 0 && lo >= g.tail[0].GetIndex() {
		for i := lo; i < hi; i++ {
			if !add(g.cached(i)) {
				break
			}
		}
		return out, nil
	}
	it, err := g.log.db.NewIter(&pebble.IterOptions{LowerBound: g.entryKey(lo), UpperBound: g.entryKey(hi)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	next := lo
	for valid := it.First(); valid; valid = it.Next() {
		raw, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		e := &pb.Entry{}
		if err := proto.Unmarshal(raw, e); err != nil {
			return nil, fmt.Errorf("%w: raft group %d entry: %v", errCorrupt, g.id, err)
		}
		if e.GetIndex() != next {
			return nil, fmt.Errorf("%w: raft group %d: entry %d where %d was expected", errCorrupt, g.id, e.GetIndex(), next)
		}
		next++
		if !add(e) {
			break
		}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, raft.ErrUnavailable
	}
	return out, nil
}

// Save persists what one Ready hands over, in one batch (synced when sync is true): the
// snapshot first (it replaces the whole log), then the entries (overwriting any
// conflicting tail), then the HardState. Any of them may be empty. A synced Save is
// committed together with the synced Saves other groups make meanwhile (group commit:
// see RaftLog); it returns once durable.
func (g *RaftGroupLog) Save(hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot, sync bool) error {
	if !sync || g.log.wo == pebble.NoSync {
		return g.log.SaveMany([]RaftSave{{Log: g, HardState: hs, Entries: entries, Snapshot: snap}}, sync)
	}
	r := &saveReq{RaftSave: RaftSave{Log: g, HardState: hs, Entries: entries, Snapshot: snap}, done: make(chan struct{})}
	select {
	case g.log.savec <- r:
	case <-g.log.stop:
		return errors.New("persistence: raft log closed")
	}
	<-r.done
	return r.err
}

// SaveMany persists the Saves of several groups (each as RaftGroupLog.Save) in one
// Pebble batch, synced when sync is true: one fsync for all. A group appears at most
// once. A Save its log refuses (a snapshot older than the log's, an append leaving a
// gap) writes nothing and the others are written; SaveMany returns the first error.
func (l *RaftLog) SaveMany(saves []RaftSave, sync bool) error {
	seen := make(map[*RaftGroupLog]bool, len(saves))
	reqs := make([]*saveReq, len(saves))
	for i, sv := range saves {
		if sv.Log == nil || sv.Log.log != l {
			return errors.New("persistence: SaveMany: a group log of another raft log")
		}
		if seen[sv.Log] {
			return fmt.Errorf("persistence: SaveMany: raft group %d appears twice", sv.Log.id)
		}
		seen[sv.Log] = true
		reqs[i] = &saveReq{RaftSave: sv}
	}
	wo := l.wo
	if !sync {
		wo = pebble.NoSync
	}
	l.commit(reqs, wo)
	for _, r := range reqs {
		if r.err != nil {
			return r.err
		}
	}
	return nil
}

// commit writes reqs in one batch and sets each one's err. A request whose own writes
// are refused (a stale snapshot, a gap) fails alone; a failed commit fails them all. A
// group appearing twice (a writer's queue cannot hold that: a group's Ready loop waits
// for its Save) has its later request refused rather than deadlock on its lock.
func (l *RaftLog) commit(reqs []*saveReq, wo *pebble.WriteOptions) {
	b := l.db.NewBatch()
	defer b.Close()
	type staged struct {
		r       *saveReq
		install func()
	}
	var ok []staged
	locked := make(map[*RaftGroupLog]bool, len(reqs))
	defer func() {
		for g := range locked {
			g.mu.Unlock()
		}
	}()
	for _, r := range reqs {
		g := r.Log
		if locked[g] {
			r.err = fmt.Errorf("persistence: raft group %d saved twice in one commit", g.id)
			continue
		}
		g.mu.Lock()
		locked[g] = true
		sub := l.db.NewBatch()
		install, err := g.prepare(sub, r.HardState, r.Entries, r.Snapshot)
		if err == nil && install != nil {
			err = b.Apply(sub, nil)
		}
		sub.Close()
		if err != nil {
			r.err = err
			continue
		}
		if install != nil {
			ok = append(ok, staged{r, install})
		}
	}
	if b.Empty() {
		return
	}
	if err := b.Commit(wo); err != nil {
		for _, s := range ok {
			s.r.err = err
		}
		return
	}
	for _, s := range ok {
		s.install()
	}
}

// prepare writes a Save into b and returns what installs its new in-memory state once
// b is committed (nil: nothing to write). The caller holds g.mu.
func (g *RaftGroupLog) prepare(b *pebble.Batch, hs *pb.HardState, entries []*pb.Entry, snap *pb.Snapshot) (func(), error) {
	if g.deleted {
		return nil, errGroupDeleted
	}
	truncIdx, truncTerm, last, tail := g.truncIdx, g.truncTerm, g.last, g.tail
	newSnap := g.snap
	if snap.GetMetadata().GetIndex() > 0 {
		si := snap.GetMetadata().GetIndex()
		if si <= g.snap.GetMetadata().GetIndex() {
			return nil, raft.ErrSnapOutOfDate
		}
		raw, err := proto.Marshal(snap)
		if err != nil {
			return nil, err
		}
		if err := b.Set(g.key(raftKindSnapshot), raw, nil); err != nil {
			return nil, err
		}
		if err := b.DeleteRange(g.entryKey(0), g.key(raftKindEntry+1), nil); err != nil {
			return nil, err
		}
		truncIdx, truncTerm, last, tail = si, snap.GetMetadata().GetTerm(), si, nil
		if err := b.Set(g.key(raftKindTrunc), truncBytes(truncIdx, truncTerm), nil); err != nil {
			return nil, err
		}
		newSnap = proto.Clone(snap).(*pb.Snapshot)
	}
	if len(entries) > 0 {
		// Entries at or before the truncation point are already in the snapshot.
		for len(entries) > 0 && entries[0].GetIndex() <= truncIdx {
			entries = entries[1:]
		}
	}
	if len(entries) > 0 {
		first := entries[0].GetIndex()
		if first > last+1 {
			return nil, fmt.Errorf("persistence: raft group %d: append at %d leaves a gap after %d", g.id, first, last)
		}
		if first <= last {
			if err := b.DeleteRange(g.entryKey(first), g.key(raftKindEntry+1), nil); err != nil {
				return nil, err
			}
		}
		for _, e := range entries {
			raw, err := proto.Marshal(e)
			if err != nil {
				return nil, err
			}
			if err := b.Set(g.entryKey(e.GetIndex()), raw, nil); err != nil {
				return nil, err
			}
		}
		switch {
		case len(tail) > 0 && first == tail[len(tail)-1].GetIndex()+1:
			// A plain append (every Ready of a leader): it writes only past g.tail's
			// length, so g.tail stays intact if the commit fails, and the slice's spare
			// capacity is reused instead of copying the whole cache per Save.
			tail = append(tail, entries...)
		case len(tail) > 0 && first >= tail[0].GetIndex() && first <= tail[len(tail)-1].GetIndex():
			// Overwriting a conflicting tail: copy, so that a failed commit leaves
			// g.tail as it was.
			keep := tail[: first-tail[0].GetIndex() : first-tail[0].GetIndex()]
			tail = append(keep, entries...)
		default:
			tail = append([]*pb.Entry(nil), entries...)
		}
		if len(tail) > raftTailCache {
			tail = tail[len(tail)-raftTailCache:]
		}
		last = entries[len(entries)-1].GetIndex()
	}
	newHard := g.hard
	if !raft.IsEmptyHardState(hs) {
		raw, err := proto.Marshal(hs)
		if err != nil {
			return nil, err
		}
		if err := b.Set(g.key(raftKindHard), raw, nil); err != nil {
			return nil, err
		}
		newHard = proto.Clone(hs).(*pb.HardState)
	}
	if b.Empty() {
		return nil, nil
	}
	return func() {
		g.truncIdx, g.truncTerm, g.last, g.tail, g.snap, g.hard = truncIdx, truncTerm, last, tail, newSnap, newHard
	}, nil
}

// DeleteGroup drops the whole log of group id (entries, hard state, snapshot, truncated
// state) in one synced range deletion: a replica that left the group (cluster/shards'
// Replicas.Drop). The group must be stopped; a RaftGroupLog of it still held refuses
// writes, and Group(id) afterwards returns an empty log.
func (l *RaftLog) DeleteGroup(id uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return errors.New("persistence: raft log closed")
	}
	if g, ok := l.groups[id]; ok {
		g.mu.Lock()
		defer g.mu.Unlock()
	}
	lo := (&RaftGroupLog{id: id}).key(0)[:9]
	hi := binary.BigEndian.AppendUint64([]byte{raftKeyPrefix}, id+1)
	if id == ^uint64(0) {
		hi = []byte{raftKeyPrefix + 1}
	}
	if err := l.db.DeleteRange(lo, hi, l.wo); err != nil {
		return fmt.Errorf("persistence: delete raft group %d: %w", id, err)
	}
	if g, ok := l.groups[id]; ok {
		g.deleted = true
		g.hard, g.snap = &pb.HardState{}, pb.EnsureSnapshot(&pb.Snapshot{})
		g.truncIdx, g.truncTerm, g.last, g.tail = 0, 0, 0, nil
		delete(l.groups, id)
	}
	return nil
}

// CreateSnapshot records a snapshot of the state machine at applied index i (which
// must be in the log) with the ConfState as of i. It does not compact; see Compact.
func (g *RaftGroupLog) CreateSnapshot(i uint64, cs *pb.ConfState, data []byte) (*pb.Snapshot, error) {
	term, err := g.Term(i)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return nil, errGroupDeleted
	}
	if i <= g.snap.GetMetadata().GetIndex() {
		return nil, raft.ErrSnapOutOfDate
	}
	snap := &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(i), Term: new(term), ConfState: proto.Clone(pb.EnsureConfState(cs)).(*pb.ConfState)}}
	raw, err := proto.Marshal(snap)
	if err != nil {
		return nil, err
	}
	if err := g.log.db.Set(g.key(raftKindSnapshot), raw, g.log.wo); err != nil {
		return nil, err
	}
	g.snap = snap
	return proto.Clone(snap).(*pb.Snapshot), nil
}

// Compact discards the entries before index i: FirstIndex becomes i+1 and Term(i) stays
// answerable. i must not exceed the last index, nor (by the caller's policy) the
// applied index or the latest snapshot.
func (g *RaftGroupLog) Compact(i uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.deleted {
		return errGroupDeleted
	}
	if i <= g.truncIdx {
		return raft.ErrCompacted
	}
	if i > g.last {
		return fmt.Errorf("persistence: raft group %d: compact %d beyond last index %d", g.id, i, g.last)
	}
	var term uint64
	if e := g.cached(i); e != nil {
		term = e.GetTerm()
	} else {
		e := &pb.Entry{}
		ok, err := g.get(g.entryKey(i), e)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: raft group %d misses entry %d", errCorrupt, g.id, i)
		}
		term = e.GetTerm()
	}
	b := g.log.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(g.entryKey(0), g.entryKey(i+1), nil); err != nil {
		return err
	}
	if err := b.Set(g.key(raftKindTrunc), truncBytes(i, term), nil); err != nil {
		return err
	}
	if err := b.Commit(g.log.wo); err != nil {
		return err
	}
	g.truncIdx, g.truncTerm = i, term
	for len(g.tail) > 0 && g.tail[0].GetIndex() <= i {
		g.tail = g.tail[1:]
	}
	return nil
}

func truncBytes(index, term uint64) []byte {
	b := binary.BigEndian.AppendUint64(nil, index)
	return binary.BigEndian.AppendUint64(b, term)
}

// Metrics returns the Raft log database's Pebble metrics, for the /metrics collector;
// nil once the log is closed.
func (l *RaftLog) Metrics() *pebble.Metrics {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	return l.db.Metrics()
}
