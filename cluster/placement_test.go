package cluster

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/asynkron/protoactor-go/cluster"
)

func testMembers(n int, kinds ...string) []*cluster.Member {
	if len(kinds) == 0 {
		kinds = []string{"grant"}
	}
	ms := make([]*cluster.Member, n)
	for i := range ms {
		ms[i] = &cluster.Member{
			Id:    fmt.Sprintf("id-%d", i),
			Host:  "10.0.0." + fmt.Sprint(i+1),
			Port:  7000,
			Kinds: kinds,
		}
	}
	return ms
}

const placementKeys = 100_000

func TestPlacementBalance(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 4, 5} {
		t.Run(fmt.Sprintf("%d members", n), func(t *testing.T) {
			t.Parallel()
			p := NewPlacement(testMembers(n))
			counts := map[string]int{}
			for i := range placementKeys {
				counts[p.Owner("grant", fmt.Sprintf("key-%d", i)).Address()]++
			}
			want := float64(placementKeys) / float64(n)
			for addr, got := range counts {
				if dev := math.Abs(float64(got)-want) / want; dev > 0.03 {
					t.Errorf("%s owns %d keys, want %.0f ± 3%% (off by %.1f%%)", addr, got, want, 100*dev)
				}
			}
			if len(counts) != n {
				t.Errorf("%d members own keys, want %d", len(counts), n)
			}
		})
	}
}

func TestPlacementJoinMovesOnlyToNewMember(t *testing.T) {
	t.Parallel()
	for _, n := range []int{3, 4} {
		t.Run(fmt.Sprintf("%d+1 members", n), func(t *testing.T) {
			t.Parallel()
			ms := testMembers(n + 1)
			before, after := NewPlacement(ms[:n]), NewPlacement(ms)
			newcomer := ms[n].Address()
			moved := 0
			for i := range placementKeys {
				key := fmt.Sprintf("key-%d", i)
				o1, o2 := before.Owner("grant", key).Address(), after.Owner("grant", key).Address()
				if o1 == o2 {
					continue
				}
				moved++
				if o2 != newcomer {
					t.Fatalf("key %s moved from %s to %s, not to the new member %s", key, o1, o2, newcomer)
				}
			}
			want := float64(placementKeys) / float64(n+1)
			if dev := math.Abs(float64(moved)-want) / want; dev > 0.05 {
				t.Errorf("%d keys moved, want about %.0f (1/%d)", moved, want, n+1)
			}
		})
	}
}

func TestPlacementOwnerLeavesReplicaTakesOver(t *testing.T) {
	t.Parallel()
	ms := testMembers(5)
	full := NewPlacement(ms)
	for i := range 2000 {
		key := fmt.Sprintf("key-%d", i)
		ranks := full.Ranks("grant", key, 3)
		var rest []*cluster.Member
		for _, m := range ms {
			if m != ranks[0] {
				rest = append(rest, m)
			}
		}
		got := NewPlacement(rest).Ranks("grant", key, 2)
		if got[0] != ranks[1] || got[1] != ranks[2] {
			t.Fatalf("key %s: without owner %s ranks are %s,%s; want the old replicas %s,%s",
				key, ranks[0].Address(), got[0].Address(), got[1].Address(), ranks[1].Address(), ranks[2].Address())
		}
	}
}

func TestPlacementDeterministic(t *testing.T) {
	t.Parallel()
	ms := testMembers(5)
	shuffled := append([]*cluster.Member(nil), ms...)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	a, b := NewPlacement(ms), NewPlacement(shuffled)
	for i := range 5000 {
		key := fmt.Sprintf("key-%d", i)
		ra, rb := a.Ranks("grant", key, 5), b.Ranks("grant", key, 5)
		if len(ra) != 5 {
			t.Fatalf("Ranks returned %d members, want 5", len(ra))
		}
		seen := map[string]bool{}
		for j := range ra {
			if ra[j].Address() != rb[j].Address() {
				t.Fatalf("key %s rank %d: %s vs %s depending on member order", key, j, ra[j].Address(), rb[j].Address())
			}
			if seen[ra[j].Address()] {
				t.Fatalf("key %s: %s ranked twice", key, ra[j].Address())
			}
			seen[ra[j].Address()] = true
		}
		if o := a.Owner("grant", key); o != ra[0] {
			t.Fatalf("key %s: Owner %s is not rank 0 %s", key, o.Address(), ra[0].Address())
		}
	}
}

func TestPlacementKinds(t *testing.T) {
	t.Parallel()
	grants := testMembers(2, "grant")
	sessions := []*cluster.Member{{Id: "s", Host: "10.0.1.1", Port: 7000, Kinds: []string{"session"}}}
	p := NewPlacement(append(grants, sessions...))
	tests := []struct {
		name      string
		kind      string
		n         int
		wantRanks int
		wantAddrs map[string]bool
	}{
		{"grant only on grant members", "grant", 5, 2, map[string]bool{grants[0].Address(): true, grants[1].Address(): true}},
		{"session only on its member", "session", 3, 1, map[string]bool{sessions[0].Address(): true}},
		{"unknown kind has no owner", "nope", 3, 0, nil},
		{"zero ranks", "grant", 0, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.Ranks(tt.kind, "k", tt.n)
			if len(got) != tt.wantRanks {
				t.Fatalf("Ranks(%q, n=%d) = %d members, want %d", tt.kind, tt.n, len(got), tt.wantRanks)
			}
			for _, m := range got {
				if !tt.wantAddrs[m.Address()] {
					t.Errorf("member %s ranked for kind %q", m.Address(), tt.kind)
				}
			}
			if o := p.Owner(tt.kind, "k"); (o == nil) != (tt.wantRanks == 0 && tt.kind == "nope") && tt.n > 0 {
				t.Errorf("Owner(%q) = %v", tt.kind, o)
			}
		})
	}
	if p.Hosts("nope") || !p.Hosts("session") {
		t.Error("Hosts reports the wrong kinds")
	}
	if got := NewPlacement(nil).Owner("grant", "k"); got != nil {
		t.Errorf("empty placement owner = %v, want nil", got)
	}
}

func BenchmarkPlacementOwner(b *testing.B) {
	p := NewPlacement(testMembers(5))
	for i := 0; b.Loop(); i++ {
		_ = p.Owner("grant", "some-grain-key-0123456789")
	}
}
