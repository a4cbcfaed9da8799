package persistence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Shard log entries and snapshots travel between nodes (Raft) and stay in the Raft log:
// their decoders take untrusted bytes and must refuse garbage without panicking
// (FuzzDecodeShardEntry, FuzzDecodeShardSnapshot).

// ErrMalformedShardData reports a shard entry or snapshot that does not decode.
var ErrMalformedShardData = errors.New("persistence: malformed shard entry or snapshot")

// shardFormatV1 is the first byte of every entry and snapshot of this layout.
const shardFormatV1 = 1

// Entry operations.
const (
	shardOpBatch byte = 1 // a batch of conditional mutations (Store.Apply, Put, Delete, Insert)
	shardOpSweep byte = 2 // deletions of records expired at the entry's time (SweepExpired)
)

// Mutation operations inside a batch entry.
const (
	mutPut    byte = 0
	mutDelete byte = 1
	mutCheck  byte = 2
	mutInsert byte = 3 // a put at version 1 that does not read the key (Inserter)
)

// shardMutation is one mutation of a batch entry.
type shardMutation struct {
	Mutation // Mutation.Insert writes version 1 without reading the key; Expect is 0
}

// sweepItem names a record the proposer saw expired, at the version it saw.
type sweepItem struct {
	Kind, Key string
	Version   uint64
}

// shardEntry is a decoded shard log entry.
//
// Layout: format (1) | op (1) | time (int64 BE, Unix ns: the proposer's clock) |
// uvarint count | items. A batch item is op (1) | kind | key | uvarint expect |
// varint expires (stored form, 0 = never) | value; a sweep item is kind | key | uvarint
// version. Strings and values are uvarint length | bytes.
type shardEntry struct {
	Op    byte
	Now   time.Time
	Muts  []shardMutation // Op == shardOpBatch
	Sweep []sweepItem     // Op == shardOpSweep
}

// minShardItem is the smallest encoded item (a sweep item: two one-byte strings with
// empty length prefixes are refused, so at least 1+1+1+1+1 bytes); it bounds counts.
const minShardItem = 5

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// encodeShardEntry appends e's encoding to dst.
func encodeShardEntry(dst []byte, e *shardEntry) []byte {
	dst = append(dst, shardFormatV1, e.Op)
	dst = binary.BigEndian.AppendUint64(dst, uint64(e.Now.UnixNano()))
	switch e.Op {
	case shardOpBatch:
		dst = binary.AppendUvarint(dst, uint64(len(e.Muts)))
		for _, m := range e.Muts {
			op := mutPut
			switch {
			case m.Insert:
				op = mutInsert
			case m.Delete:
				op = mutDelete
			case m.Check:
				op = mutCheck
			}
			dst = append(dst, op)
			dst = appendString(dst, m.Kind)
			dst = appendString(dst, m.Key)
			dst = binary.AppendUvarint(dst, m.Expect)
			dst = binary.AppendVarint(dst, expiryNanos(m.ExpiresAt))
			dst = appendBytes(dst, m.Value)
		}
	case shardOpSweep:
		dst = binary.AppendUvarint(dst, uint64(len(e.Sweep)))
		for _, s := range e.Sweep {
			dst = appendString(dst, s.Kind)
			dst = appendString(dst, s.Key)
			dst = binary.AppendUvarint(dst, s.Version)
		}
	}
	return dst
}

// shardReader decodes with bounds checks; the first failure sticks in err.
type shardReader struct {
	b   []byte
	err error
}

func (r *shardReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformedShardData, what)
	}
	r.b = nil
}

func (r *shardReader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *shardReader) uint64BE() uint64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("truncated")
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *shardReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *shardReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next length-prefixed bytes, aliasing the input.
func (r *shardReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("length past the end")
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// count reads an item count, refusing one the remaining bytes cannot hold.
func (r *shardReader) count(minItem int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minItem) {
		r.fail("count past the end")
		return 0
	}
	return int(n)
}

func (r *shardReader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}

// decodeShardEntry decodes an entry made by encodeShardEntry. A batch it returns is
// valid (ValidateBatch); values are copies, never aliases of data.
func decodeShardEntry(data []byte) (*shardEntry, error) { return decodeShardEntryAlias(data, false) }

// decodeShardEntryAlias is decodeShardEntry whose values alias data when alias is set
// (an apply that writes them into a Pebble batch, which copies, before data changes).
func decodeShardEntryAlias(data []byte, alias bool) (*shardEntry, error) {
	r := shardReader{b: data}
	if f := r.byte(); r.err == nil && f != shardFormatV1 {
		return nil, fmt.Errorf("%w: format %d", ErrMalformedShardData, f)
	}
	e := &shardEntry{Op: r.byte()}
	e.Now = time.Unix(0, int64(r.uint64BE()))
	if r.err != nil {
		return nil, r.err
	}
	switch e.Op {
	case shardOpBatch:
		n := r.count(minShardItem)
		e.Muts = make([]shardMutation, 0, n)
		for range n {
			var m shardMutation
			switch op := r.byte(); op {
			case mutPut:
			case mutDelete:
				m.Delete = true
			case mutCheck:
				m.Check = true
			case mutInsert:
				m.Insert = true
			default:
				r.fail("unknown mutation op")
			}
			m.Kind = string(r.bytes())
			m.Key = string(r.bytes())
			m.Expect = r.uvarint()
			exp := r.varint()
			v := r.bytes()
			if r.err != nil {
				break
			}
			if m.Insert && m.Expect != 0 {
				r.fail("insert with an expected version")
				break
			}
			if !m.Delete && !m.Check {
				m.ExpiresAt = expiryTime(exp)
				if alias {
					m.Value = v
				} else {
					m.Value = append([]byte{}, v...)
				}
			} else if exp != 0 || len(v) != 0 {
				r.fail("delete or check with a record")
				break
			}
			e.Muts = append(e.Muts, m)
		}
		if err := r.done(); err != nil {
			return nil, err
		}
		if err := validateShardMuts(e.Muts); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedShardData, err)
		}
	case shardOpSweep:
		n := r.count(minShardItem)
		e.Sweep = make([]sweepItem, 0, n)
		for range n {
			s := sweepItem{Kind: string(r.bytes()), Key: string(r.bytes()), Version: r.uvarint()}
			if r.err != nil {
				break
			}
			if validKind(s.Kind) != nil || s.Key == "" || s.Version == 0 {
				r.fail("bad sweep item")
				break
			}
			e.Sweep = append(e.Sweep, s)
		}
		if err := r.done(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: op %d", ErrMalformedShardData, e.Op)
	}
	return e, nil
}

// validateShardMuts is ValidateBatch over a batch entry's mutations.
func validateShardMuts(muts []shardMutation) error {
	if len(muts) == 1 { // the common case (Put, Delete, Insert), without ValidateBatch's allocations
		m := muts[0].Mutation
		if validKind(m.Kind) == nil && m.Key != "" && !(m.Delete && m.Check) && !(!m.Delete && !m.Check && m.Expect == math.MaxUint64) {
			return nil
		}
	}
	plain := make([]Mutation, len(muts))
	for i, m := range muts {
		plain[i] = m.Mutation
	}
	return ValidateBatch(plain)
}

// shardSnapshot is a decoded shard snapshot: every record of one shard, expired ones
// not swept yet included, with the index of the last entry applied.
//
// Layout: format (1) | uvarint shard | uvarint shards | uvarint applied | uvarint count
// | records (kind | key | uvarint version | varint expires (stored form) | value).
type shardSnapshot struct {
	Shard, Shards uint32
	Applied       uint64
	Recs          []KindRecord
}

func encodeShardSnapshot(dst []byte, s *shardSnapshot) []byte {
	dst = append(dst, shardFormatV1)
	dst = binary.AppendUvarint(dst, uint64(s.Shard))
	dst = binary.AppendUvarint(dst, uint64(s.Shards))
	dst = binary.AppendUvarint(dst, s.Applied)
	dst = binary.AppendUvarint(dst, uint64(len(s.Recs)))
	for _, r := range s.Recs {
		dst = appendString(dst, r.Kind)
		dst = appendString(dst, r.Key)
		dst = binary.AppendUvarint(dst, r.Version)
		dst = binary.AppendVarint(dst, expiryNanos(r.ExpiresAt))
		dst = appendBytes(dst, r.Value)
	}
	return dst
}

// decodeShardSnapshot decodes a snapshot made by encodeShardSnapshot. Every record has
// a valid kind, a key, a version > 0, and no kind/key appears twice; values are copies.
// Whether the records belong to the shard and its kinds is the state machine's check.
func decodeShardSnapshot(data []byte) (*shardSnapshot, error) {
	r := shardReader{b: data}
	if f := r.byte(); r.err == nil && f != shardFormatV1 {
		return nil, fmt.Errorf("%w: snapshot format %d", ErrMalformedShardData, f)
	}
	s := &shardSnapshot{}
	shard, shards := r.uvarint(), r.uvarint()
	if r.err == nil && (shard > math.MaxUint32 || shards > math.MaxUint32) {
		r.fail("shard number out of range")
	}
	s.Shard, s.Shards = uint32(shard), uint32(shards)
	s.Applied = r.uvarint()
	n := r.count(minShardItem)
	s.Recs = make([]KindRecord, 0, n)
	seen := make(map[[2]string]struct{}, n)
	for range n {
		var rec KindRecord
		rec.Kind = string(r.bytes())
		rec.Key = string(r.bytes())
		rec.Version = r.uvarint()
		rec.ExpiresAt = expiryTime(r.varint())
		v := r.bytes()
		if r.err != nil {
			break
		}
		if validKind(rec.Kind) != nil || rec.Key == "" || rec.Version == 0 {
			r.fail("bad record")
			break
		}
		k := [2]string{rec.Kind, rec.Key}
		if _, dup := seen[k]; dup {
			r.fail("record named twice")
			break
		}
		seen[k] = struct{}{}
		rec.Value = append([]byte{}, v...)
		s.Recs = append(s.Recs, rec)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	return s, nil
}
