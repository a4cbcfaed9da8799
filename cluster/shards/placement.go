package shards

import (
	"encoding/binary"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Place returns the replicas of shard among nodes (node ids), in rank order by
// rendezvous (highest random weight) hashing of (node id, shard): up to n of them,
// fewer when fewer nodes are given. Every node computes the same ranks from the same
// set, whatever its order; a node that joins takes only the shards it now ranks in the
// top n for (about n/len(nodes) of them), and when a replica goes, the next one in rank
// replaces it.
//
// cluster.Placement.Ranks ranks actor-system addresses for grain keys; shard replicas
// are Raft members, identified by their persisted node id whatever address they
// restart on, so they are ranked by node id here, with the same weight function.
func Place(nodes []uint64, shard uint32, n int) []uint64 {
	if n <= 0 || len(nodes) == 0 {
		return nil
	}
	sh := shardHash(shard)
	type ranked struct {
		w  uint64
		id uint64
	}
	rs := make([]ranked, 0, len(nodes))
	for _, id := range nodes {
		if id == 0 || slices.ContainsFunc(rs, func(r ranked) bool { return r.id == id }) {
			continue
		}
		rs = append(rs, ranked{weight(sh, nodeHash(id)), id})
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		case a.id < b.id: // ties (astronomically unlikely) break the same way everywhere
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	n = min(n, len(rs))
	out := make([]uint64, n)
	for i := range out {
		out[i] = rs[i].id
	}
	return out
}

func shardHash(shard uint32) uint64 {
	var b [10]byte
	copy(b[:], "sh")
	binary.BigEndian.PutUint32(b[2:], shard)
	return xxhash.Sum64(b[:6])
}

func nodeHash(id uint64) uint64 {
	var b [10]byte
	copy(b[:], "nd")
	binary.BigEndian.PutUint64(b[2:], id)
	return xxhash.Sum64(b[:])
}

// weight combines a shard hash and a node hash into a rendezvous weight (the splitmix64
// finalizer, as cluster.Placement): every bit of the result depends on every bit of
// both, so the ranking for one shard is independent of the ranking for another.
func weight(key, member uint64) uint64 {
	z := key ^ member
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}
