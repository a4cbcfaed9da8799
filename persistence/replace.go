package persistence

import (
	"context"
	"fmt"
	"slices"
)

// KindRecord is one record given to ReplaceKinds: kind/key with its whole state,
// version included.
type KindRecord struct {
	Kind, Key string
	Record
}

// KindReplacer is implemented by stores that can replace every record of some kinds
// at once: what a replicated state machine needs to restore a snapshot (the
// directory's Raft group) without touching the store's other kinds.
type KindReplacer interface {
	// ReplaceKinds atomically deletes every record of kinds and writes recs, each at
	// its own Version (> 0) and ExpiresAt. Every record's kind must be one of kinds,
	// and no kind/key may appear twice. Records of other kinds are left alone. Durable
	// at the store's durability before it returns; the store keeps no reference to
	// recs.
	ReplaceKinds(ctx context.Context, kinds []string, recs []KindRecord) error
}

var _ KindReplacer = (*PebbleStore)(nil)

// ValidateReplace reports a malformed ReplaceKinds call: a bad kind, a record of a
// kind not listed, an empty key, a zero version, or a kind/key named twice. Stores
// call it before writing anything.
func ValidateReplace(kinds []string, recs []KindRecord) error {
	for _, k := range kinds {
		if err := validKind(k); err != nil {
			return fmt.Errorf("persistence: replace: %w", err)
		}
	}
	seen := make(map[[2]string]struct{}, len(recs))
	for i, r := range recs {
		if !slices.Contains(kinds, r.Kind) {
			return fmt.Errorf("persistence: replace: record %d has kind %q, not one of the kinds replaced", i, r.Kind)
		}
		if r.Key == "" {
			return fmt.Errorf("persistence: replace: record %d (%s): empty key", i, r.Kind)
		}
		if r.Version == 0 {
			return fmt.Errorf("persistence: replace: record %d (%s/%s): version 0", i, r.Kind, r.Key)
		}
		k := [2]string{r.Kind, r.Key}
		if _, dup := seen[k]; dup {
			return fmt.Errorf("persistence: replace names %s/%s twice", r.Kind, r.Key)
		}
		seen[k] = struct{}{}
	}
	return nil
}

// ReplaceKinds implements KindReplacer: one Pebble batch holding a range deletion of
// each kind's key span followed by the records' sets (later entries of a batch shadow
// earlier ones, so the sets survive the range deletions), committed at the store's
// durability. It holds every stripe lock while it commits, so no conditional write
// checks a version in the middle of the replacement.
func (s *PebbleStore) ReplaceKinds(ctx context.Context, kinds []string, recs []KindRecord) error {
	if err := ValidateReplace(kinds, recs); err != nil {
		return err
	}
	if len(kinds) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.gate.enter() {
		return ErrClosed
	}
	defer s.gate.leave()

	b := s.db.NewBatch()
	defer b.Close()
	for _, kind := range kinds {
		lower := append([]byte(kind), kindSep)
		upper := append([]byte(kind), kindSep+1)
		if err := b.DeleteRange(lower, upper, nil); err != nil {
			return fmt.Errorf("persistence: replace %s: %w", kind, err)
		}
	}
	for _, r := range recs {
		k, err := recordKey(r.Kind, r.Key)
		if err != nil {
			return err
		}
		buf := getEncodeBuffer()
		*buf = encodeRecord((*buf)[:0], r.Version, r.ExpiresAt, r.Value)
		err = b.Set(k, *buf, nil)
		putEncodeBuffer(buf)
		if err != nil {
			return fmt.Errorf("persistence: replace %s/%s: %w", r.Kind, r.Key, err)
		}
	}
	for i := range s.stripes {
		s.stripes[i].Lock()
	}
	defer func() {
		for i := range s.stripes {
			s.stripes[i].Unlock()
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := b.Commit(s.wo); err != nil {
		return fmt.Errorf("persistence: replace: %w", err)
	}
	return nil
}
