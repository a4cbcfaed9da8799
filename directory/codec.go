package directory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/latchid/latch/persistence"
)

// The binary forms the directory's Raft group carries: a write batch (one log entry)
// and a snapshot (the whole directory). Both start with a format byte, so a later
// release can change them while still reading these; a decoder rejects what it does
// not know instead of guessing. Entries and snapshots come from other nodes, so the
// decoders treat them as untrusted: every length is checked against what remains,
// nothing is allocated from a count before the bytes behind it are known to exist,
// and trailing bytes are an error.
const (
	batchFormatV1    = 1
	snapshotFormatV1 = 1
)

// Mutation flags of the batch encoding.
const (
	flagDelete = 1 << 0
	flagCheck  = 1 << 1
	knownFlags = flagDelete | flagCheck
)

// minEncodedMutation is the smallest encoded mutation (flags and four one-byte
// lengths/numbers), used to bound a count before allocating for it.
const minEncodedMutation = 5

// errMalformed marks an entry or a snapshot that does not decode.
var errMalformed = errors.New("directory: malformed replicated data")

// encodeBatch encodes a write batch as a log entry:
//
//	format byte (1) | uvarint count | count × (flags byte | uvarint len | kind |
//	uvarint len | key | uvarint expect | uvarint len | value)
//
// Directory records never expire, so a mutation with an ExpiresAt is refused (the
// store judges expiry by its own clock, which would make applying it
// nondeterministic).
func encodeBatch(muts []persistence.Mutation) ([]byte, error) {
	n := 2 + binary.MaxVarintLen64
	for _, m := range muts {
		n += 1 + 4*binary.MaxVarintLen64 + len(m.Kind) + len(m.Key) + len(m.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, batchFormatV1)
	b = binary.AppendUvarint(b, uint64(len(muts)))
	for _, m := range muts {
		if !m.ExpiresAt.IsZero() {
			return nil, fmt.Errorf("directory: %s/%s: a replicated record cannot expire", m.Kind, m.Key)
		}
		var flags byte
		if m.Delete {
			flags |= flagDelete
		}
		if m.Check {
			flags |= flagCheck
		}
		b = append(b, flags)
		b = appendBytes(b, []byte(m.Kind))
		b = appendBytes(b, []byte(m.Key))
		b = binary.AppendUvarint(b, m.Expect)
		b = appendBytes(b, m.Value)
	}
	return b, nil
}

// decodeBatch decodes a log entry made by encodeBatch into a valid batch
// (persistence.ValidateBatch) that does not touch the records the replica keeps for
// itself.
func decodeBatch(data []byte) ([]persistence.Mutation, error) {
	r := reader{b: data}
	if f := r.byte(); f != batchFormatV1 {
		return nil, fmt.Errorf("%w: batch format %d", errMalformed, f)
	}
	n := r.count(minEncodedMutation)
	muts := make([]persistence.Mutation, 0, n)
	for range n {
		var m persistence.Mutation
		flags := r.byte()
		if flags&^knownFlags != 0 {
			r.fail("unknown mutation flags")
		}
		m.Delete, m.Check = flags&flagDelete != 0, flags&flagCheck != 0
		m.Kind = string(r.bytes())
		m.Key = string(r.bytes())
		m.Expect = r.uvarint()
		if v := r.bytes(); len(v) > 0 {
			m.Value = slices.Clone(v)
		}
		if r.err != nil {
			break
		}
		muts = append(muts, m)
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	if err := persistence.ValidateBatch(muts); err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for _, m := range muts {
		if !slices.Contains(directoryKinds, m.Kind) {
			return nil, fmt.Errorf("%w: kind %q is not a directory kind", errMalformed, m.Kind)
		}
		if m.Kind == kindMeta && m.Key == metaRaftApplied {
			return nil, fmt.Errorf("%w: a batch may not write %s/%s", errMalformed, kindMeta, metaRaftApplied)
		}
	}
	return muts, nil
}

// snapshotData is a decoded snapshot: every directory record and the index of the
// last log entry applied to them.
type snapshotData struct {
	applied uint64
	recs    []persistence.KindRecord
}

// encodeSnapshot encodes a snapshot:
//
//	format byte (1) | uvarint applied index | uvarint count | count × (uvarint len |
//	kind | uvarint len | key | uvarint version | uvarint len | value)
func encodeSnapshot(s snapshotData) []byte {
	n := 1 + 2*binary.MaxVarintLen64
	for _, r := range s.recs {
		n += 4*binary.MaxVarintLen64 + len(r.Kind) + len(r.Key) + len(r.Value)
	}
	b := make([]byte, 0, n)
	b = append(b, snapshotFormatV1)
	b = binary.AppendUvarint(b, s.applied)
	b = binary.AppendUvarint(b, uint64(len(s.recs)))
	for _, r := range s.recs {
		b = appendBytes(b, []byte(r.Kind))
		b = appendBytes(b, []byte(r.Key))
		b = binary.AppendUvarint(b, r.Version)
		b = appendBytes(b, r.Value)
	}
	return b
}

// decodeSnapshot decodes what encodeSnapshot made: only directory kinds, each record
// once, at a version > 0, never the replica's own applied-index record.
func decodeSnapshot(data []byte) (snapshotData, error) {
	r := reader{b: data}
	if f := r.byte(); f != snapshotFormatV1 {
		return snapshotData{}, fmt.Errorf("%w: snapshot format %d", errMalformed, f)
	}
	var s snapshotData
	s.applied = r.uvarint()
	n := r.count(minEncodedMutation - 1)
	s.recs = make([]persistence.KindRecord, 0, n)
	for range n {
		var rec persistence.KindRecord
		rec.Kind = string(r.bytes())
		rec.Key = string(r.bytes())
		rec.Version = r.uvarint()
		rec.Value = slices.Clone(r.bytes())
		if rec.Value == nil {
			rec.Value = []byte{}
		}
		if r.err != nil {
			break
		}
		s.recs = append(s.recs, rec)
	}
	if err := r.done(); err != nil {
		return snapshotData{}, err
	}
	if err := persistence.ValidateReplace(directoryKinds, s.recs); err != nil {
		return snapshotData{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	for _, rec := range s.recs {
		if rec.Kind == kindMeta && rec.Key == metaRaftApplied {
			return snapshotData{}, fmt.Errorf("%w: a snapshot record may not be %s/%s", errMalformed, kindMeta, metaRaftApplied)
		}
	}
	return s, nil
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// reader reads the encodings above; the first error sticks and every later read
// returns a zero value.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(why string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", errMalformed, why)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, k := binary.Uvarint(r.b)
	if k <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[k:]
	return v
}

// bytes reads a length-prefixed byte string; the result aliases the input.
func (r *reader) bytes() []byte {
	l := r.uvarint()
	if r.err != nil {
		return nil
	}
	if l > uint64(len(r.b)) {
		r.fail("length past the end")
		return nil
	}
	v := r.b[:l]
	r.b = r.b[l:]
	return v
}

// count reads an item count and checks that the bytes left can hold that many items
// of at least minSize bytes each, so a forged count cannot make us allocate.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minSize) {
		r.fail("count past the end")
		return 0
	}
	return int(n)
}

// done reports the first error, or trailing bytes.
func (r *reader) done() error {
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errMalformed, len(r.b))
	}
	return nil
}
