package persistence

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Key layout: kind + "\x00" + key. Kinds may not contain "\x00", so the prefix
// kind+"\x00" selects exactly one kind ("a\x00..." never mixes with "ab\x00...") and
// the byte range [kind+"\x00", kind+"\x01") bounds a Scan.
const kindSep = 0x00

// Value layout: version uint64 BE | expiresAtUnixNano int64 BE (0 = never) | value.
const recordHeaderLen = 16

// stripeCount is the number of per-key write locks. Put and Delete hold the stripe of
// their key across the read-check-write, so conditional writes are atomic per key while
// unrelated keys proceed (and group-commit) in parallel.
const stripeCount = 256

// sweepChunk bounds how many expired records SweepExpired deletes per batch, and so
// how many stripes it holds across one commit.
const sweepChunk = 128

// DefaultCacheSize is the block cache size used when PebbleConfig.CacheSize is 0.
const DefaultCacheSize = 128 << 20

// DefaultMemTableSize is the memtable size used when PebbleConfig.MemTableSize is 0.
const DefaultMemTableSize = 64 << 20

// errCorrupt marks a stored value that does not decode.
var errCorrupt = errors.New("persistence: corrupt record")

// PebbleConfig configures OpenPebble. The zero value except Dir is a working,
// durable configuration.
type PebbleConfig struct {
	// Dir is the directory holding the database. Required.
	Dir string
	// FS is the filesystem; nil means vfs.Default (the disk). Tests pass vfs.NewMem()
	// or vfs.NewCrashableMem().
	FS vfs.FS
	// NoSync relaxes durability: writes reach Pebble's WAL but are not fsynced before
	// Put/Delete/SweepExpired return. The default (false) syncs every write.
	NoSync bool
	// CacheSize is the size in bytes of Pebble's block cache; 0 means DefaultCacheSize.
	// Conditional writes read the key's current version first, and most of those keys
	// do not exist yet (new tokens, sessions, grants): answering "absent" visits the
	// filter and index blocks of every level, which must stay cached or each write
	// turns into file reads. Pebble's own default (8 MiB) is too small for that.
	CacheSize int64
	// MemTableSize is the size in bytes of one memtable (Pebble keeps up to two in
	// memory); 0 means DefaultMemTableSize. Hot records (refresh families, sessions) are
	// rewritten many times a second under load: a large memtable absorbs their versions
	// so that a flush writes each key once, where Pebble's default (4 MiB) flushes
	// several times a second and leaves the versions to compactions, whose CPU then grows
	// with the data stored.
	MemTableSize int64
	// CommitDelay is the shortest time between two WAL fsyncs (Pebble's
	// WALMinSyncInterval): a Sync write that arrives sooner after the previous fsync
	// waits for the rest of it, so that more writes share the next fsync (PostgreSQL's
	// commit_delay). It only ever delays writers while fsyncs are already back to back;
	// 0 means no delay.
	CommitDelay time.Duration
	// Now is the clock used for TTL expiry; nil means time.Now.
	Now func() time.Time
	// Logger receives Pebble's log lines (info at Debug level, errors at Error
	// level); nil discards them.
	Logger *slog.Logger
}

// Validate reports every problem with the configuration at once.
func (c PebbleConfig) Validate() error {
	var errs []error
	if strings.TrimSpace(c.Dir) == "" {
		errs = append(errs, errors.New("persistence: PebbleConfig.Dir is required"))
	}
	if strings.ContainsRune(c.Dir, 0) {
		errs = append(errs, errors.New("persistence: PebbleConfig.Dir must not contain NUL"))
	}
	if c.CacheSize < 0 {
		errs = append(errs, errors.New("persistence: PebbleConfig.CacheSize must not be negative"))
	}
	if c.MemTableSize < 0 || c.MemTableSize >= 4<<30 {
		errs = append(errs, errors.New("persistence: PebbleConfig.MemTableSize must be between 0 and 4 GiB"))
	}
	if c.CommitDelay < 0 {
		errs = append(errs, errors.New("persistence: PebbleConfig.CommitDelay must not be negative"))
	}
	return errors.Join(errs...)
}

// PebbleStore is the Store on a local Pebble database.
//
// Durability and group commit: unless NoSync is set, every write is committed with
// pebble.Sync and returns only once the WAL is fsynced. Pebble's commit pipeline
// coalesces the Sync commits that are queued while an fsync is in flight into the
// next single fsync (record.LogWriter's flush loop), so concurrent writers on
// different keys share fsyncs: that is Latch's group commit, with no extra queue here
// (BenchmarkPutSyncParallel shows the effect).
//
// Concurrency: all methods are safe for concurrent use. Conditional writes hold one of
// 256 stripe mutexes (chosen by a hash of kind/key) across the read, the check and the
// Sync write; reads take no lock. Close waits for in-flight calls to finish, so Close
// must not be called from inside a Scan callback.
type PebbleStore struct {
	db     *pebble.DB
	wo     *pebble.WriteOptions
	now    func() time.Time
	log    *slog.Logger
	seed   maphash.Seed
	gate   closeGate
	closer sync.Once
	err    error // result of the first Close; written inside closer

	stripes [stripeCount]paddedMutex
}

// paddedMutex keeps neighbouring stripes off one cache line.
type paddedMutex struct {
	sync.Mutex
	_ [64 - 8]byte
}

var _ Store = (*PebbleStore)(nil)

// OpenPebble opens (creating if needed) the Pebble database in cfg.Dir.
func OpenPebble(cfg PebbleConfig) (*PebbleStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	fs := cfg.FS
	if fs == nil {
		fs = vfs.Default
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	wo := pebble.Sync
	if cfg.NoSync {
		wo = pebble.NoSync
	}
	opts := &pebble.Options{
		FS:                 fs,
		Logger:             pebbleLogger{logger},
		FormatMajorVersion: pebble.FormatNewest,
		CacheSize:          cfg.CacheSize,
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	opts.MemTableSize = uint64(cfg.MemTableSize)
	if opts.MemTableSize == 0 {
		opts.MemTableSize = DefaultMemTableSize
	}
	if d := cfg.CommitDelay; d > 0 {
		opts.WALMinSyncInterval = func() time.Duration { return d }
	}
	// Bloom filters on every level: conditional writes read the current version
	// first, and most of those reads are for keys that do not exist yet (new tokens,
	// sessions, grants), which without a filter must visit every level's tables.
	for i := range opts.Levels {
		opts.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("persistence: open pebble at %q: %w", cfg.Dir, err)
	}
	return &PebbleStore{
		db:   db,
		wo:   wo,
		now:  now,
		log:  logger,
		seed: maphash.MakeSeed(),
		gate: closeGate{drained: make(chan struct{})},
	}, nil
}

// Get implements Store.
func (s *PebbleStore) Get(ctx context.Context, kind, key string) (Record, error) {
	k, err := recordKey(kind, key)
	if err != nil {
		return Record{}, err
	}
	return s.getKey(ctx, k, kind, key)
}

// getKey reads the live record stored at k (kind and key name it in errors), whichever
// layout k is in (recordKey, shardRecordKey).
func (s *PebbleStore) getKey(ctx context.Context, k []byte, kind, key string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if !s.gate.enter() {
		return Record{}, ErrClosed
	}
	defer s.gate.leave()

	raw, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return Record{}, ErrNotFound
	}
	if err != nil {
		return Record{}, fmt.Errorf("persistence: get %s/%s: %w", kind, key, err)
	}
	rec, err := decodeRecord(raw) // copies the value out of Pebble's buffer
	_ = closer.Close()
	if err != nil {
		return Record{}, fmt.Errorf("persistence: get %s/%s: %w", kind, key, err)
	}
	if rec.Expired(s.now()) {
		return Record{}, ErrNotFound
	}
	return rec, nil
}

// Put implements Store. An expired record counts as absent: expect 0 recreates it
// with version 1, and any other expect is a conflict.
func (s *PebbleStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	return s.write(ctx, "put", kind, key, expect, true, value, expiresAt)
}

// write stores value at version expect+1 under the key's stripe. With check, the
// record's live version must be expect (Put); without, the key is not read (Insert).
// Either way the stripe is held, so a write never lands between a conditional
// writer's check and its own write.
func (s *PebbleStore) write(ctx context.Context, op, kind, key string, expect uint64, check bool, value []byte, expiresAt time.Time) (uint64, error) {
	k, err := recordKey(kind, key)
	if err != nil {
		return 0, err
	}
	if expect == math.MaxUint64 {
		return 0, fmt.Errorf("persistence: %s %s/%s: version overflow", op, kind, key)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.gate.enter() {
		return 0, ErrClosed
	}
	defer s.gate.leave()
	// Encode (and so copy value) before taking the lock.
	buf := getEncodeBuffer()
	defer putEncodeBuffer(buf)
	enc := encodeRecord((*buf)[:0], expect+1, expiresAt, value)
	*buf = enc

	mu := s.stripe(k)
	mu.Lock()
	defer mu.Unlock()
	if err := ctx.Err(); err != nil { // the caller gave up while we waited
		return 0, err
	}
	if check {
		cur, err := s.liveVersion(k, s.now())
		if err != nil {
			return 0, fmt.Errorf("persistence: %s %s/%s: %w", op, kind, key, err)
		}
		if cur != expect {
			return 0, ErrConflict
		}
	}
	if err := s.db.Set(k, enc, s.wo); err != nil {
		return 0, fmt.Errorf("persistence: %s %s/%s: %w", op, kind, key, err)
	}
	return expect + 1, nil
}

// Delete implements Store.
func (s *PebbleStore) Delete(ctx context.Context, kind, key string, expect uint64) error {
	k, err := recordKey(kind, key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()

	// The unconditional delete takes the stripe too, so that it cannot land between a
	// conditional writer's check and its write.
	mu := s.stripe(k)
	mu.Lock()
	defer mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if expect == 0 {
		// Skip the tombstone (and its fsync) when there is nothing to delete. A
		// corrupt or expired record is deleted like any other.
		_, closer, err := s.db.Get(k)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("persistence: delete %s/%s: %w", kind, key, err)
		}
		_ = closer.Close()
	} else {
		cur, err := s.liveVersion(k, s.now())
		if err != nil {
			return fmt.Errorf("persistence: delete %s/%s: %w", kind, key, err)
		}
		if cur != expect {
			return ErrConflict
		}
	}
	if err := s.db.Delete(k, s.wo); err != nil {
		return fmt.Errorf("persistence: delete %s/%s: %w", kind, key, err)
	}
	return nil
}

// Scan implements Store. It reads a consistent snapshot taken when the scan starts;
// expiry is judged against the clock read once at that moment. A record that does
// not decode stops the scan with an error.
func (s *PebbleStore) Scan(ctx context.Context, kind string, fn func(key string, rec Record) error) (err error) {
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

	lower := append([]byte(kind), kindSep)
	upper := append([]byte(kind), kindSep+1)
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("persistence: scan %s: %w", kind, err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("persistence: scan %s: %w", kind, cerr)
		}
	}()
	now := s.now()
	for valid := it.First(); valid; valid = it.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		raw, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("persistence: scan %s: %w", kind, err)
		}
		key := string(it.Key()[len(lower):])
		version, expires, err := decodeHeader(raw)
		if err != nil {
			return fmt.Errorf("persistence: scan %s/%s: %w", kind, key, err)
		}
		if expiredAt(expires, now) {
			continue
		}
		rec := Record{Version: version, ExpiresAt: expiryTime(expires), Value: bytes.Clone(raw[recordHeaderLen:])}
		if err := fn(key, rec); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("persistence: scan %s: %w", kind, err)
	}
	return nil
}

// sweepCandidate is an expired record seen by SweepExpired's iterator.
type sweepCandidate struct {
	key     []byte
	version uint64
}

// SweepExpired implements Store. It walks every record, and deletes the expired ones
// in batches of at most sweepChunk, each committed at the store's durability. Before
// a record goes into a batch it is re-read under its stripe lock, which is held until
// the batch commits, so a record rewritten since the walk saw it survives. Records
// that do not decode are logged and left in place.
func (s *PebbleStore) SweepExpired(ctx context.Context) (removed int, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if !s.gate.enter() {
		return 0, ErrClosed
	}
	defer s.gate.leave()

	// Records in the shard key layout (shard_keys.go: they start with NUL) are not
	// this store's to sweep: their shard's leader proposes their deletion through the
	// shard's log (ShardedStore.SweepExpired), so that every replica deletes the same.
	it, err := s.db.NewIterWithContext(ctx, &pebble.IterOptions{LowerBound: []byte{1}})
	if err != nil {
		return 0, fmt.Errorf("persistence: sweep: %w", err)
	}
	defer func() {
		if cerr := it.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("persistence: sweep: %w", cerr)
		}
	}()
	now := s.now()
	cands := make([]sweepCandidate, 0, sweepChunk)
	for valid := it.First(); valid; valid = it.Next() {
		raw, err := it.ValueAndErr()
		if err != nil {
			return removed, fmt.Errorf("persistence: sweep: %w", err)
		}
		version, expires, err := decodeHeader(raw)
		if err != nil {
			s.log.Warn("persistence: sweep skips undecodable record", "key", fmt.Sprintf("%q", it.Key()), "err", err)
			continue
		}
		if !expiredAt(expires, now) {
			continue
		}
		cands = append(cands, sweepCandidate{key: bytes.Clone(it.Key()), version: version})
		if len(cands) == sweepChunk {
			n, err := s.deleteExpired(ctx, cands, now)
			removed += n
			if err != nil {
				return removed, err
			}
			cands = cands[:0]
		}
	}
	if err := it.Error(); err != nil {
		return removed, fmt.Errorf("persistence: sweep: %w", err)
	}
	n, err := s.deleteExpired(ctx, cands, now)
	return removed + n, err
}

// deleteExpired deletes those cands that are still expired at now and unchanged, in
// one batch. It locks the stripes involved in ascending order (Put and Delete hold a
// single stripe, so this cannot deadlock) and holds them until the batch commits.
func (s *PebbleStore) deleteExpired(ctx context.Context, cands []sweepCandidate, now time.Time) (int, error) {
	if len(cands) == 0 {
		return 0, nil
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var locked [stripeCount]bool
	for _, c := range cands {
		locked[s.stripeIndex(c.key)] = true
	}
	for i := range locked {
		if locked[i] {
			s.stripes[i].Lock()
		}
	}
	defer func() {
		for i := range locked {
			if locked[i] {
				s.stripes[i].Unlock()
			}
		}
	}()

	b := s.db.NewBatch()
	defer b.Close()
	n := 0
	for _, c := range cands {
		raw, closer, err := s.db.Get(c.key)
		if errors.Is(err, pebble.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return 0, fmt.Errorf("persistence: sweep: %w", err)
		}
		version, expires, derr := decodeHeader(raw)
		_ = closer.Close()
		if derr != nil || version != c.version || !expiredAt(expires, now) {
			continue // rewritten meanwhile
		}
		if err := b.Delete(c.key, nil); err != nil {
			return 0, fmt.Errorf("persistence: sweep: %w", err)
		}
		n++
	}
	if n == 0 {
		return 0, nil
	}
	if err := b.Commit(s.wo); err != nil {
		return 0, fmt.Errorf("persistence: sweep: %w", err)
	}
	return n, nil
}

// Close implements Store. It waits for in-flight calls, then closes Pebble (which
// syncs the WAL). Close is idempotent: later calls wait for the first to finish and
// return nil; every other method returns ErrClosed once Close has begun.
func (s *PebbleStore) Close() error {
	first := false
	s.closer.Do(func() {
		first = true
		s.gate.shut()
		if err := s.db.Close(); err != nil {
			s.err = fmt.Errorf("persistence: close pebble: %w", err)
		}
	})
	if first {
		return s.err
	}
	return nil
}

// liveVersion returns the version of the live record at k, or 0 when it is absent or
// expired at now.
func (s *PebbleStore) liveVersion(k []byte, now time.Time) (uint64, error) {
	raw, closer, err := s.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	version, expires, err := decodeHeader(raw)
	if err != nil {
		return 0, err
	}
	if expiredAt(expires, now) {
		return 0, nil
	}
	return version, nil
}

func (s *PebbleStore) stripeIndex(k []byte) int {
	return int(maphash.Bytes(s.seed, k) % stripeCount)
}

// lockStripes locks the given stripes (indexes, in any order, repeats allowed) in
// ascending order, so that writers locking several keys cannot deadlock, and returns
// the unlock. stripes is sorted in place.
func (s *PebbleStore) lockStripes(stripes []int) (unlock func()) {
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		s.stripes[i].Lock()
	}
	return func() {
		for _, i := range stripes {
			s.stripes[i].Unlock()
		}
	}
}

func (s *PebbleStore) stripe(k []byte) *sync.Mutex {
	return &s.stripes[s.stripeIndex(k)].Mutex
}

// closeGate lets Close wait for in-flight calls without a lock on the hot path and
// without the recursive-read-lock deadlock of a sync.RWMutex (a Scan callback may
// call Get while Close is waiting). state counts in-flight calls; closedBit marks it
// closed.
type closeGate struct {
	state   atomic.Int64
	drained chan struct{} // closed once closed and no call is in flight
	once    sync.Once
}

const closedBit = int64(1) << 62

// enter registers an in-flight call; it reports false once the gate is shut.
func (g *closeGate) enter() bool {
	if g.state.Add(1)&closedBit != 0 {
		g.leave()
		return false
	}
	return true
}

func (g *closeGate) leave() {
	if g.state.Add(-1) == closedBit {
		g.once.Do(func() { close(g.drained) })
	}
}

// shut refuses new calls and waits for in-flight ones to leave. Call it once.
func (g *closeGate) shut() {
	if g.state.Add(closedBit) == closedBit {
		g.once.Do(func() { close(g.drained) })
	}
	<-g.drained
}

// recordKey builds the Pebble key kind + "\x00" + key.
func recordKey(kind, key string) ([]byte, error) {
	if err := validKind(kind); err != nil {
		return nil, err
	}
	if key == "" {
		return nil, errors.New("persistence: empty key")
	}
	k := make([]byte, 0, len(kind)+1+len(key))
	k = append(k, kind...)
	k = append(k, kindSep)
	return append(k, key...), nil
}

func validKind(kind string) error {
	if kind == "" {
		return errors.New("persistence: empty kind")
	}
	if strings.IndexByte(kind, kindSep) >= 0 {
		return fmt.Errorf("persistence: kind %q contains NUL", kind)
	}
	return nil
}

// Representable range of expiresAt in the value layout.
var (
	minExpiry = time.Unix(0, math.MinInt64)
	maxExpiry = time.Unix(0, math.MaxInt64)
)

// expiryNanos maps expiresAt to the stored int64. The zero time is 0 ("never"); times
// outside int64 nanoseconds are clamped; the Unix epoch itself, which would read back
// as "never", is stored 1ns earlier (still in the past for any real clock).
func expiryNanos(t time.Time) int64 {
	switch {
	case t.IsZero():
		return 0
	case t.Before(minExpiry):
		return math.MinInt64
	case t.After(maxExpiry):
		return math.MaxInt64
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return -1
}

func expiryTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// expiredAt is Record.Expired on the stored form.
func expiredAt(expires int64, now time.Time) bool {
	return expires != 0 && !now.Before(time.Unix(0, expires))
}

// encodeRecord appends the value layout for version, expiresAt and value to dst.
// encodeBuffers holds the buffers writes encode records into: Pebble copies a Set's key
// and value into its batch, so the buffer is free again once Set returns.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledEncodeBuffer is the largest buffer kept for reuse; bigger ones (rare large
// records) go to the GC.
const maxPooledEncodeBuffer = 64 << 10

func getEncodeBuffer() *[]byte { return encodeBuffers.Get().(*[]byte) }

func putEncodeBuffer(b *[]byte) {
	if cap(*b) <= maxPooledEncodeBuffer {
		encodeBuffers.Put(b)
	}
}

func encodeRecord(dst []byte, version uint64, expiresAt time.Time, value []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, version)
	dst = binary.BigEndian.AppendUint64(dst, uint64(expiryNanos(expiresAt)))
	return append(dst, value...)
}

// decodeHeader reads version and expiry without touching the value.
func decodeHeader(raw []byte) (version uint64, expires int64, err error) {
	if len(raw) < recordHeaderLen {
		return 0, 0, fmt.Errorf("%w: %d bytes, want at least %d", errCorrupt, len(raw), recordHeaderLen)
	}
	version = binary.BigEndian.Uint64(raw[0:8])
	if version == 0 {
		return 0, 0, fmt.Errorf("%w: version 0", errCorrupt)
	}
	return version, int64(binary.BigEndian.Uint64(raw[8:16])), nil
}

// decodeRecord decodes a stored value into a Record whose Value is a fresh copy
// (never nil, so an empty value reads back as empty, not absent).
func decodeRecord(raw []byte) (Record, error) {
	version, expires, err := decodeHeader(raw)
	if err != nil {
		return Record{}, err
	}
	return Record{
		Version:   version,
		ExpiresAt: expiryTime(expires),
		Value:     bytes.Clone(raw[recordHeaderLen:]),
	}, nil
}

// pebbleLogger sends Pebble's logs to slog. Pebble's info lines (WAL recovery,
// compactions) go to Debug; Fatalf logs at Error and panics, since Pebble does not
// expect it to return.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble", "fatal", true)
	panic("pebble: " + msg)
}

// Metrics returns Pebble's metrics (compactions, levels, memtables, WAL, block cache),
// for the /metrics collector; nil once the store is closed. It takes a few locks
// inside Pebble: call it per scrape, not per request.
func (s *PebbleStore) Metrics() *pebble.Metrics {
	if !s.gate.enter() {
		return nil
	}
	defer s.gate.leave()
	return s.db.Metrics()
}
