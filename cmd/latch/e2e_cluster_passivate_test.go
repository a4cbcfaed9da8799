package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/latchid/latch/actors"
)

// TestClusterGrainsPassivate: with --grain-idle-timeout 2s, refresh families left
// alone stop (their grains leave memory: latch_grain_active falls to 0) and the next
// refresh, through any node, activates them again from their shard: every rotation
// still succeeds, and each round after an idle pause activates every family anew
// (latch_grain_activations_total).
func TestClusterGrainsPassivate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t, "--grain-idle-timeout", "2s")
	nodes := c.startCluster(3)
	f := newHotApp(t, newClusterFixture(t, nodes[0]), nodes[0])
	fams := makeFamilies(t, f, nodes, 6)

	// refreshGrains sums a refresh-grain metric over the nodes.
	refreshGrains := func(name string) float64 {
		var sum float64
		for _, n := range nodes {
			v, _ := familyValue(scrapeURL(t, "http://"+n.http+"/metrics"), name, map[string]string{"kind": actors.RefreshKindName})
			sum += v
		}
		return sum
	}
	for round := range 3 {
		c.waitFor(t, 15*time.Second, "every family grain passivated", func() (bool, string) {
			active := refreshGrains("latch_grain_active")
			return active == 0, fmt.Sprintf("%v refresh grains in memory", active)
		})
		before := refreshGrains("latch_grain_activations_total")
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
		// The last family was used just now, well within its idle timeout.
		if active := refreshGrains("latch_grain_active"); active < 1 {
			t.Errorf("round %d: %v refresh grains in memory right after their use", round, active)
		}
		if got := refreshGrains("latch_grain_activations_total") - before; got < float64(len(fams)) {
			t.Errorf("round %d: %v refresh grain activations for %d families idle for 3 s, want each activated again", round, got, len(fams))
		}
	}
}
