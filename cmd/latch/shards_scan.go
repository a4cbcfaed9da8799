package main

import (
	"context"
	"fmt"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/persistence"
)

// ScanShard implements actors.ShardScanner for the store-proxy grain: the records of a
// hot kind in a shard this node replicates (the grain runs on the shard's leader).
func (g *grainStore) ScanShard(ctx context.Context, shard uint32, kind, after string, fn func(key string, rec persistence.Record) error) error {
	s := g.s.Load()
	if s == nil || !g.hot[kind] {
		return fmt.Errorf("%w: no shard of %s here", persistence.ErrUnavailable, kind)
	}
	if h := g.h.Load(); h != nil && !h.mgr.Holds(shard) {
		return fmt.Errorf("%w: shard %d is not replicated here", persistence.ErrUnavailable, shard)
	}
	return s.ScanShard(ctx, shard, kind, after, fn)
}

var _ actors.ShardScanner = (*grainStore)(nil)

// scanCluster calls fn for every live record of kind in the cluster: the shards this
// node replicates from its own replicas, and each other shard page by page through its
// leader's store-proxy grain (a cluster of more nodes than replicas holds only some
// shards on each node). A shard whose leader cannot be reached fails the scan with
// persistence.ErrUnavailable. A shard whose replica moves here or away during the scan
// may be listed from both sides or, rarely, from neither: a read for an operator, not a
// snapshot.
func (g *grainStore) scanCluster(ctx context.Context, kind string, fn func(key string, rec persistence.Record) error) error {
	if err := g.Scan(ctx, kind, fn); err != nil {
		return err
	}
	h := g.h.Load()
	if h == nil || !g.hot[kind] || g.node.Load() == nil {
		return nil
	}
	for shard := range h.shards {
		if h.mgr.Holds(shard) {
			continue
		}
		after := ""
		for {
			res, err := g.proxy(ctx, shard, &msg.StoreOp{Op: "scan", Kind: kind, Key: after, Shard: shard, Limit: actors.MaxScanPage})
			if err != nil {
				return err
			}
			for _, r := range res.GetRecords() {
				rec := persistence.Record{Version: r.GetVersion(), Value: r.GetValue()}
				if ms := r.GetExpiresAtMs(); ms != 0 {
					rec.ExpiresAt = time.UnixMilli(ms)
				}
				if err := fn(r.GetKey(), rec); err != nil {
					return err
				}
				after = r.GetKey()
			}
			if !res.GetMore() || len(res.GetRecords()) == 0 {
				break
			}
		}
	}
	return nil
}

// clusterScanStore is the grain store whose Scan lists the whole cluster's records
// (scanCluster): the store /api/logs reads, so that every node lists every audit log
// on a cluster of more nodes than replicas. Everything else reads through the grain
// store itself (the outbox, the sweeper and the counts want this node's shards only).
type clusterScanStore struct{ *grainStore }

func (c clusterScanStore) Scan(ctx context.Context, kind string, fn func(key string, rec persistence.Record) error) error {
	return c.scanCluster(ctx, kind, fn)
}
