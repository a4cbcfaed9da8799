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

// RunStoreOp runs op on store and describes the outcome as a StoreResult.
func RunStoreOp(ctx context.Context, store persistence.Store, op *msg.StoreOp) *msg.StoreResult {
	res := &msg.StoreResult{}
	var err error
	muts := make([]persistence.Mutation, len(op.GetMuts()))
	for i, m := range op.GetMuts() {
		muts[i] = persistence.Mutation{Kind: m.GetKind(), Key: m.GetKey(), Expect: m.GetExpect(), Delete: m.GetDelete(),
			Check: m.GetCheck(), Value: m.GetValue(), ExpiresAt: msTime(m.GetExpiresAtMs())}
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
		out[i] = &msg.StoreMutation{Kind: m.Kind, Key: m.Key, Expect: m.Expect, Delete: m.Delete, Check: m.Check, Value: m.Value, ExpiresAtMs: exp}
	}
	return out
}
