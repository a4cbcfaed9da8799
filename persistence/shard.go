package persistence

import (
	"strings"
)

// Hot state is split into a fixed number of shards (a cluster setting chosen at
// bootstrap); each shard is one Raft group whose leader hosts the shard's grains
// (DESIGN.md "Durability and the cluster"). ShardOf names a record's shard from its key
// alone, so any node can route a grain call, a write or a token without a lookup.
//
// The rule: a record's routing key is its key up to the first '/' (the whole key when
// it has none); the shard is FNV-1a 64 of the routing key modulo shards. The kind does
// not enter the hash: records of different kinds that share a routing key share a
// shard, which is what keeps a grain's records together:
//
//   - a grain's main record is kind/<grain key>, and grain keys (session ids, grant ids,
//     refresh family ids, interaction uids: 16 random bytes in base64url) hold no '/';
//   - records a grain owns beyond its main record are keyed "<grain key>/<rest>": a
//     grant's opaque access tokens ("grant-at", "<grant id>/<hash>");
//   - what a grain keeps inside its main record (a grant's codes, a family's consumed
//     refresh tokens and reuse window) needs no key of its own;
//   - a self-routing token "<grain key>.<secret>" carries the routing key before '.':
//     the identity lookup calls ShardOf(kind, grain key) and reaches the shard's leader.
//
// The identity lookup must use the same function with the grain's own kind and key, so
// a grain whose key happens to hold '/' (an account grain keyed by an imported user id)
// is still found where its record is.
//
// The hash is part of the on-disk and on-wire contract of a cluster: changing it, or
// the shard count of a running cluster, moves records to other shards.
func ShardOf(kind, key string, shards uint32) uint32 {
	_ = kind // records of every kind shard by their routing key alone (see above)
	if shards <= 1 {
		return 0
	}
	return uint32(fnv1a64(RoutingKey(key)) % uint64(shards))
}

// RoutingKey returns the part of a record key that names its shard: the key up to the
// first '/', or the whole key.
func RoutingKey(key string) string {
	if i := strings.IndexByte(key, '/'); i >= 0 {
		return key[:i]
	}
	return key
}

// fnv1a64 is FNV-1a (64 bits) of s: stable across processes, platforms and releases,
// unlike maphash, whose seed is per process.
func fnv1a64(s string) uint64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return h
}
