package raftgroup

import (
	"encoding/binary"
	"errors"
)

// dedupWindow is how many of the last applied proposals a group remembers, so that a
// proposal proposed again (after a lost message or a leader change) applies once. A
// copy arriving more than this many entries after the first would apply twice; retries
// happen within one proposal's deadline, far inside it.
const dedupWindow = 4096

type proposalKey struct{ node, pid uint64 }

// dedup is the window of applied proposal ids. It is derived from the log alone (and
// carried in snapshots), so every replica skips the same entries. The results of this
// node's own proposals are kept for a proposer whose first wait was cut short.
type dedup struct {
	max     int
	fifo    []proposalKey
	set     map[proposalKey]struct{}
	results map[proposalKey]any
}

func newDedup(max int) *dedup {
	return &dedup{max: max, set: map[proposalKey]struct{}{}, results: map[proposalKey]any{}}
}

func (d *dedup) seen(node, pid uint64) (any, bool) {
	k := proposalKey{node, pid}
	if _, ok := d.set[k]; !ok {
		return nil, false
	}
	return d.results[k], true
}

func (d *dedup) add(node, pid uint64, v any, keepResult bool) {
	k := proposalKey{node, pid}
	d.fifo = append(d.fifo, k)
	d.set[k] = struct{}{}
	if keepResult {
		d.results[k] = v
	}
	if len(d.fifo) > d.max {
		old := d.fifo[0]
		d.fifo = d.fifo[1:]
		delete(d.set, old)
		delete(d.results, old)
	}
}

func (d *dedup) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(d.fifo)))
	for _, k := range d.fifo {
		b = binary.AppendUvarint(b, k.node)
		b = binary.AppendUvarint(b, k.pid)
	}
	return b
}

var errDedup = errors.New("bad proposal window")

func readDedup(b []byte, max int) (*dedup, []byte, error) {
	d := newDedup(max)
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, errDedup
	}
	b = b[k:]
	for range n {
		node, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, errDedup
		}
		b = b[k:]
		pid, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, errDedup
		}
		b = b[k:]
		d.add(node, pid, nil, false)
	}
	return d, b, nil
}
