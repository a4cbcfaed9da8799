package persistence

import (
	"context"
	"fmt"
)

// Apply implements Store: one Pebble batch committed at the store's durability. It
// locks the stripes of every key in ascending stripe order (SweepExpired does the
// same; Put and Delete hold one stripe), checks every precondition under them, and
// holds them until the batch commits, so no single-key write lands between a check
// and the commit and two overlapping batches cannot deadlock.
func (s *PebbleStore) Apply(ctx context.Context, muts []Mutation) ([]uint64, error) {
	if err := ValidateBatch(muts); err != nil {
		return nil, err
	}
	if len(muts) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !s.gate.enter() {
		return nil, ErrClosed
	}
	defer s.gate.leave()

	keys := make([][]byte, len(muts))
	stripes := make([]int, 0, len(muts))
	for i, m := range muts {
		k, err := recordKey(m.Kind, m.Key)
		if err != nil {
			return nil, err
		}
		keys[i] = k
		stripes = append(stripes, s.stripeIndex(k))
	}
	defer s.lockStripes(stripes)()
	if err := ctx.Err(); err != nil { // the caller gave up while we waited
		return nil, err
	}

	now := s.now()
	for i, m := range muts {
		if m.Insert {
			continue // a unique new key: nothing to read
		}
		cur, err := s.liveVersion(keys[i], now)
		if err != nil {
			return nil, fmt.Errorf("persistence: apply %s/%s: %w", m.Kind, m.Key, err)
		}
		if !m.Holds(cur) {
			return nil, ErrConflict
		}
	}
	b := s.db.NewBatch()
	defer b.Close()
	versions := make([]uint64, len(muts))
	writes := 0
	for i, m := range muts {
		switch {
		case m.Check:
			continue
		case m.Delete:
			if err := b.Delete(keys[i], nil); err != nil {
				return nil, fmt.Errorf("persistence: apply %s/%s: %w", m.Kind, m.Key, err)
			}
		default:
			buf := getEncodeBuffer()
			*buf = encodeRecord((*buf)[:0], m.Expect+1, m.ExpiresAt, m.Value)
			err := b.Set(keys[i], *buf, nil) // Set copies into the batch
			putEncodeBuffer(buf)
			if err != nil {
				return nil, fmt.Errorf("persistence: apply %s/%s: %w", m.Kind, m.Key, err)
			}
			versions[i] = m.Expect + 1
		}
		writes++
	}
	if writes > 0 {
		if err := b.Commit(s.wo); err != nil {
			return nil, fmt.Errorf("persistence: apply: %w", err)
		}
	}
	return versions, nil
}
