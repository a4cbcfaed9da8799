package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/latchid/latch/actors"
)

// TestClusterGrainsPassivate: with --grain-idle-timeout 1s, refresh families left
// alone stop (their grains leave memory) and the next refresh, through any node,
// activates them again from their shard: every rotation still succeeds, and each round
// after an idle pause activates every family anew (latch_grain_activations_total).
func TestClusterGrainsPassivate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t, "--grain-idle-timeout", "1s")
	nodes := c.startCluster(3)
	f := newHotApp(t, newClusterFixture(t, nodes[0]), nodes[0])
	fams := makeFamilies(t, f, nodes, 6)

	activations := func() float64 {
		var sum float64
		for _, n := range nodes {
			v, _ := familyValue(scrapeURL(t, "http://"+n.http+"/metrics"), "latch_grain_activations_total",
				map[string]string{"kind": actors.RefreshKindName})
			sum += v
		}
		return sum
	}
	for round := range 3 {
		time.Sleep(3 * time.Second) // three idle timeouts: every family grain stops
		before := activations()
		for _, fam := range fams {
			for i := range 2 { // two rotations in a row, through two nodes
				n := nodes[(fam.idx+round+i)%len(nodes)]
				a, err := f.refreshVia(t.Context(), n, fam.token())
				if err != nil || a.status != http.StatusOK || a.rt == "" {
					t.Fatalf("round %d, family %d through %s: %v %d %s", round, fam.idx, n.name, err, a.status, a.body)
				}
				fam.rt = a.rt
			}
		}
		if got := activations() - before; got < float64(len(fams)) {
			t.Errorf("round %d: %v refresh grain activations for %d families idle for 3 s, want each activated again", round, got, len(fams))
		}
	}
}
