package cluster

import (
	"slices"
	"sort"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/cespare/xxhash/v2"
)

// Placement decides which live member owns a grain key and which members hold its
// replicas, by rendezvous (highest random weight) hashing: every member gets a weight
// mix(xxhash64(kind/key) ^ xxhash64(member address)) and members are ranked by weight.
// Rank 0 owns the key, ranks 1..R-1 are its replicas (DESIGN.md "Durability and the
// cluster"). Every node computes the same ranks from the same member set, whatever the
// order it learned the members in; a joining member takes only the keys it now ranks
// first for (about 1/n), and when the owner leaves, rank 1 becomes the owner.
//
// Members are identified by their actor-system address (host:port), not by their
// per-start id, so a node that restarts on the same address owns the same keys again.
//
// A Placement is an immutable snapshot: build a new one for every topology and share it
// freely between goroutines.
type Placement struct {
	all    []placed
	byKind map[string][]placed
}

type placed struct {
	member *cluster.Member
	addr   string
	hash   uint64
}

// NewPlacement builds the placement over members (the live members of one topology).
// Members with an empty address are ignored; a duplicated address counts once.
func NewPlacement(members []*cluster.Member) *Placement {
	p := &Placement{byKind: map[string][]placed{}}
	seen := map[string]bool{}
	for _, m := range members {
		if m == nil {
			continue
		}
		addr := m.Address()
		if m.Host == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		pm := placed{member: m, addr: addr, hash: xxhash.Sum64String(addr)}
		p.all = append(p.all, pm)
		for _, k := range m.Kinds {
			p.byKind[k] = append(p.byKind[k], pm)
		}
	}
	// Sorting fixes the iteration order, so ties (astronomically unlikely with 64-bit
	// weights) break the same way on every node.
	sortPlaced(p.all)
	for _, ms := range p.byKind {
		sortPlaced(ms)
	}
	return p
}

func sortPlaced(ms []placed) {
	sort.Slice(ms, func(i, j int) bool { return ms[i].addr < ms[j].addr })
}

// Members returns the members of this placement, sorted by address.
func (p *Placement) Members() []*cluster.Member {
	out := make([]*cluster.Member, len(p.all))
	for i, m := range p.all {
		out[i] = m.member
	}
	return out
}

// Addresses returns the actor-system addresses of the members, sorted.
func (p *Placement) Addresses() []string {
	out := make([]string, len(p.all))
	for i, m := range p.all {
		out[i] = m.addr
	}
	return out
}

// Hosts reports whether some member hosts kind.
func (p *Placement) Hosts(kind string) bool { return len(p.byKind[kind]) > 0 }

// Owner returns the member that owns kind/key (rank 0), or nil when no live member
// hosts kind.
func (p *Placement) Owner(kind, key string) *cluster.Member {
	ms := p.byKind[kind]
	if len(ms) == 0 {
		return nil
	}
	kh := keyHash(kind, key)
	best, bestW := -1, uint64(0)
	for i, m := range ms {
		if w := weight(kh, m.hash); best < 0 || w > bestW {
			best, bestW = i, w
		}
	}
	return ms[best].member
}

// Ranks returns up to n members hosting kind in rank order for key: the owner first, then
// the replicas. It returns fewer than n when fewer members host kind.
func (p *Placement) Ranks(kind, key string, n int) []*cluster.Member {
	ms := p.byKind[kind]
	if n <= 0 || len(ms) == 0 {
		return nil
	}
	kh := keyHash(kind, key)
	type ranked struct {
		w uint64
		m *cluster.Member
	}
	rs := make([]ranked, len(ms))
	for i, m := range ms {
		rs[i] = ranked{weight(kh, m.hash), m.member}
	}
	// Stable: equal weights keep address order (see NewPlacement).
	slices.SortStableFunc(rs, func(a, b ranked) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		}
		return 0
	})
	n = min(n, len(rs))
	out := make([]*cluster.Member, n)
	for i := range out {
		out[i] = rs[i].m
	}
	return out
}

// keyHash hashes kind and key with a separator so ("ab","c") and ("a","bc") differ.
func keyHash(kind, key string) uint64 {
	var d xxhash.Digest
	d.Reset()
	_, _ = d.WriteString(kind)
	_, _ = d.Write([]byte{0})
	_, _ = d.WriteString(key)
	return d.Sum64()
}

// weight combines a key hash and a member hash into a rendezvous weight. The splitmix64
// finalizer makes every bit of the result depend on every bit of both inputs, so the
// ranking of members for one key is independent of the ranking for another.
func weight(key, member uint64) uint64 {
	z := key ^ member
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}
