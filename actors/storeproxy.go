package actors

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/persistence"
)

// StoreProxyKindName is the grain kind that runs store calls on hot-state records for
// nodes holding no replica of the records' shard. The cluster routes it like every
// sharded kind (to the shard's leader); its identity is StoreProxyKey of the shard.
const StoreProxyKindName = "store-proxy"

// StoreProxyKey returns the identity of shard's store-proxy grain: the smallest
// "store-proxy-<n>" whose shard (persistence.ShardOf) is shard, so one grain per shard
// serves every proxied call of that shard.
func StoreProxyKey(shard, shards uint32) string {
	for n := 0; ; n++ {
		k := "store-proxy-" + strconv.Itoa(n)
		if persistence.ShardOf(StoreProxyKindName, k, shards) == shard {
			return k
		}
	}
}

// storeProxyGrain runs StoreOps against the member's store. It keeps no state: on the
// shard's leader, the store's reads are current and its writes go through the shard's
// log.
type storeProxyGrain struct{ grainBase[*msg.Ack] }

func (g *storeProxyGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.key = m.Identity.Identity
	case *msg.StoreOp:
		ctx, cancel := g.budgetCtx()
		defer cancel()
		c.Respond(RunStoreOp(ctx, g.env.store, m))
	}
}

// ShardScanner is what a scan op needs of the store: the live records of kind in one
// shard this node replicates, in key order, after a key (persistence.ShardedStore's
// ScanShard).
type ShardScanner interface {
	ScanShard(ctx context.Context, shard uint32, kind, after string, fn func(key string, rec persistence.Record) error) error
}

// A scan answers pages of at most MaxScanPage records and about maxScanBytes (a page
// is one message between members).
const (
	MaxScanPage  = 512
	maxScanBytes = 1 << 20
)

var errPageFull = errors.New("store proxy: page full")

// scanPage runs a scan op: one page of the shard's records after op.Key.
func scanPage(ctx context.Context, store persistence.Store, op *msg.StoreOp, res *msg.StoreResult) error {
	sc, ok := store.(ShardScanner)
	if !ok {
		return errors.New("store proxy: this store cannot scan a shard")
	}
	limit := int(op.GetLimit())
	if limit <= 0 || limit > MaxScanPage {
		limit = MaxScanPage
	}
	size := 0
	err := sc.ScanShard(ctx, op.GetShard(), op.GetKind(), op.GetKey(), func(key string, rec persistence.Record) error {
		if len(res.Records) >= limit || size >= maxScanBytes {
			res.More = true
			return errPageFull
		}
		r := &msg.StoreRecord{Key: key, Version: rec.Version, Value: rec.Value}
		if !rec.ExpiresAt.IsZero() {
			r.ExpiresAtMs = rec.ExpiresAt.UnixMilli()
		}
		res.Records = append(res.Records, r)
		size += len(key) + len(rec.Value)
		return nil
	})
	if errors.Is(err, errPageFull) {
		return nil
	}
	return err
}

// RunStoreOp runs op on store and describes the outcome as a StoreResult.
func RunStoreOp(ctx context.Context, store persistence.Store, op *msg.StoreOp) *msg.StoreResult {
	res := &msg.StoreResult{}
	var err error
	muts := make([]persistence.Mutation, len(op.GetMuts()))
	for i, m := range op.GetMuts() {
		muts[i] = persistence.Mutation{Kind: m.GetKind(), Key: m.GetKey(), Expect: m.GetExpect(), Delete: m.GetDelete(),
			Check: m.GetCheck(), Value: m.GetValue(), ExpiresAt: msTime(m.GetExpiresAtMs()), Insert: m.GetInsert()}
	}
	one := func() (persistence.Mutation, error) {
		if len(muts) != 1 {
			return persistence.Mutation{}, fmt.Errorf("store proxy: %s takes one mutation, got %d", op.GetOp(), len(muts))
		}
		return muts[0], nil
	}
	switch op.GetOp() {
	case "get":
		var rec persistence.Record
		if rec, err = store.Get(ctx, op.GetKind(), op.GetKey()); err == nil {
			res.Found, res.Version, res.Value = true, rec.Version, rec.Value
			if !rec.ExpiresAt.IsZero() {
				res.ExpiresAtMs = rec.ExpiresAt.UnixMilli()
			}
		}
	case "put", "insert", "delete":
		var m persistence.Mutation
		if m, err = one(); err != nil {
			break
		}
		var v uint64
		switch op.GetOp() {
		case "put":
			v, err = store.Put(ctx, m.Kind, m.Key, m.Expect, m.Value, m.ExpiresAt)
		case "insert":
			v, err = persistence.Insert(ctx, store, m.Kind, m.Key, m.Value, m.ExpiresAt)
		default:
			err = store.Delete(ctx, m.Kind, m.Key, m.Expect)
		}
		res.Versions = []uint64{v}
	case "apply":
		res.Versions, err = store.Apply(ctx, muts)
	case "scan":
		err = scanPage(ctx, store, op, res)
	default:
		err = fmt.Errorf("store proxy: unknown op %q", op.GetOp())
	}
	switch {
	case err == nil:
	case errors.Is(err, persistence.ErrNotFound):
		res.Error = "not_found"
	case errors.Is(err, persistence.ErrConflict):
		res.Error = "conflict"
	case errors.Is(err, persistence.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		res.Error = "unavailable"
	default:
		res.Error = err.Error()
	}
	return res
}

// StoreResultError turns a StoreResult's error back into the store's error.
func StoreResultError(res *msg.StoreResult) error {
	switch res.GetError() {
	case "":
		return nil
	case "not_found":
		return persistence.ErrNotFound
	case "conflict":
		return persistence.ErrConflict
	case "unavailable":
		return persistence.ErrUnavailable
	}
	return errors.New(res.GetError())
}

// StoreMutations converts a batch for a StoreOp.
func StoreMutations(muts []persistence.Mutation) []*msg.StoreMutation {
	out := make([]*msg.StoreMutation, len(muts))
	for i, m := range muts {
		var exp int64
		if !m.ExpiresAt.IsZero() {
			exp = m.ExpiresAt.UnixMilli()
		}
		out[i] = &msg.StoreMutation{Kind: m.Kind, Key: m.Key, Expect: m.Expect, Delete: m.Delete, Check: m.Check, Value: m.Value, ExpiresAtMs: exp, Insert: m.Insert}
	}
	return out
}
