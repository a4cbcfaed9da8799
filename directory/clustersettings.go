package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// metaHotShards is the kindMeta key of the cluster's hot-state shard count: a cluster
// setting fixed by the node that writes it first, replicated with the directory so that
// every node, a joining one included, runs the same shards.
const metaHotShards = "hot-shards"

type hotShardsMeta struct {
	Shards uint32 `json:"shards"`
}

// HotShards returns the cluster's hot-state shard count, 0 when none was set yet.
func (d *Directory) HotShards() uint32 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.st.hotShards
}

// SetHotShards records n as the cluster's shard count unless one is recorded already;
// it returns the recorded count and whether this call recorded it. Exactly one caller
// in the cluster ever gets true (the write is conditional on the record being absent),
// and that node founds the shards.
func (d *Directory) SetHotShards(ctx context.Context, n uint32) (uint32, bool, error) {
	if n == 0 {
		return 0, false, errors.New("directory: the shard count must be at least 1")
	}
	d.wmu.Lock()
	if cur := d.HotShards(); cur != 0 {
		d.wmu.Unlock()
		return cur, false, nil
	}
	err := d.commit(ctx, func(b *batch) error {
		b.put(kindMeta, metaHotShards, 0, hotShardsMeta{Shards: n})
		return nil
	})
	d.wmu.Unlock()
	if errors.Is(err, ErrConflict) {
		if cur := d.HotShards(); cur != 0 {
			return cur, false, nil
		}
	}
	if err != nil {
		return 0, false, err
	}
	return n, true, nil
}

// applyHotShards publishes the shard count record.
func (d *Directory) applyHotShards(rec []byte) error {
	var m hotShardsMeta
	if err := json.Unmarshal(rec, &m); err != nil {
		return fmt.Errorf("directory: decoding %s/%s: %w", kindMeta, metaHotShards, err)
	}
	d.st.hotShards = m.Shards
	return nil
}
