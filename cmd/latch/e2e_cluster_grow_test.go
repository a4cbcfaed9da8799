package main

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// A single node writes its shards without the Raft log while each shard's group is
// that node alone (raftgroup.Group.Alone). Nodes added to it must still get every
// such write: the founder is killed once the others hold every shard, and every family
// signed in and rotated on the founder alone, and during the growth, rotates on the
// survivors.
func TestClusterGrowsFromOneNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t, hotExtraFlags()...)
	n1 := c.startCluster(1)[0]
	f := newHotApp(t, newClusterFixture(t, n1), n1)
	fams := makeFamilies(t, f, []*procNode{n1}, 6)

	// The families rotate through the founder alone while two nodes join.
	load := startHotLoad(t, f, fams, func() []*procNode { return []*procNode{n1} })
	n2 := c.addNode("node2", n1.gossip)
	n3 := c.addNode("node3", n1.gossip)
	n2.waitReady(t, 60*time.Second)
	n3.waitReady(t, 60*time.Second)
	c.waitVoters(t, 3, 60*time.Second)
	took := c.waitFor(t, 120*time.Second, "every node a voter of every shard", func() (bool, string) {
		for _, n := range c.running() {
			st, body := n.probe("/api/cluster")
			sh, _ := body["shards"].(map[string]any)
			if st != http.StatusOK || sh == nil {
				return false, fmt.Sprintf("%s: /api/cluster %d", n.name, st)
			}
			voting, _ := sh["voting"].([]any)
			if count, _ := sh["count"].(float64); len(voting) != int(count) {
				return false, fmt.Sprintf("%s votes in %d of %v shards", n.name, len(voting), count)
			}
		}
		return true, ""
	})
	t.Logf("every shard on three voters %v after the joins were ready", took.Round(time.Millisecond))
	load.halt()
	load.check(t, []*procNode{n1})
	before := make([]int, len(fams))
	for i, fam := range fams {
		before[i] = fam.rotations
	}

	n1.kill()
	survivors := []*procNode{n2, n3}
	after := startHotLoad(t, f, fams, func() []*procNode { return survivors })
	time.Sleep(5 * time.Second)
	after.halt()
	after.check(t, survivors)
	for i, fam := range fams {
		if fam.failed == "" && fam.rotations <= before[i] {
			t.Errorf("family %d made no rotation on the survivors", i)
		}
	}
}
