package shards_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/shards"
)

func TestPlace(t *testing.T) {
	nodes := []uint64{11, 22, 33, 44, 55}
	counts := map[uint64]int{}
	moved := 0
	for s := range uint32(1000) {
		got := shards.Place(nodes, s, 3)
		if len(got) != 3 {
			t.Fatalf("shard %d: %v, want 3 replicas", s, got)
		}
		rev := slices.Clone(nodes)
		slices.Reverse(rev)
		if again := shards.Place(append(rev, 33), s, 3); !slices.Equal(again, got) {
			t.Fatalf("shard %d: order or duplicates changed the placement: %v vs %v", s, again, got)
		}
		for _, id := range got {
			counts[id]++
		}
		// A sixth node takes only the shards it now ranks in the top 3 for; the
		// others keep their replicas.
		grown := shards.Place(append(slices.Clone(nodes), 66), s, 3)
		if !slices.Contains(grown, 66) {
			if !slices.Equal(grown, got) {
				t.Fatalf("shard %d: a new node that is not placed moved replicas: %v -> %v", s, got, grown)
			}
		} else {
			moved++
		}
		// Fewer nodes than replicas: every node.
		if two := shards.Place(nodes[:2], s, 3); len(two) != 2 {
			t.Fatalf("shard %d: %v on two nodes", s, two)
		}
	}
	for id, n := range counts {
		if n < 450 || n > 750 { // 600 expected
			t.Errorf("node %d holds %d of 3000 replicas, want about 600", id, n)
		}
	}
	if moved < 350 || moved > 650 { // 3/6 of 1000 expected
		t.Errorf("a sixth node took %d of 1000 shards, want about 500", moved)
	}
	if shards.Place(nil, 1, 3) != nil || shards.Place(nodes, 1, 0) != nil {
		t.Error("no nodes or no replicas should place nothing")
	}
}

func TestConfigValidate(t *testing.T) {
	err := shards.Config{Replicas: -1}.Validate()
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"NodeID", "Host", "Shards", "negative"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
}

// One node founds 64 shards; a second, third and fourth join; every shard ends on its
// rendezvous placement, and what was written before a node joined is on its replica.
func TestGrowFromOneNode(t *testing.T) {
	c := newTestCluster(t)
	n1 := c.add(1, true)
	c.placed(20*time.Second, 1)
	for s := range uint32(testShards) {
		if !n1.mgr.IsLeader(s) || n1.mgr.Leader(s) != 1 {
			t.Fatalf("shard %d: the founding node does not lead it", s)
		}
	}
	c.proposeAll("before", "1")

	c.add(2, false)
	c.placedOrLearners(30*time.Second, 1, 2)
	c.add(3, false)
	c.placed(30*time.Second, 1, 2, 3)
	c.replicated(10*time.Second, "before", "1")
	c.proposeAll("three", "3")
	c.replicated(10*time.Second, "three", "3")

	c.add(4, false)
	c.placed(30*time.Second, 1, 2, 3, 4)
	c.proposeAll("four", "4")
	c.replicated(10*time.Second, "four", "4")
	c.replicated(10*time.Second, "before", "1")
	// Node 4 took about a quarter of the replicas; each node dropped the shards it left.
	drops := 0
	for _, n := range c.alive() {
		for s := range uint32(testShards) {
			if !slices.Contains(n.mgr.Hosted(), s) && n.id != 4 {
				if n.replicas.dropped(s) == 0 {
					t.Errorf("node %d left shard %d without dropping its replica", n.id, s)
				}
				drops++
			}
		}
	}
	if drops == 0 {
		t.Error("a fourth node moved no replica")
	}
}

// Killing one of three hosts (no leave): the shards it led elect new leaders among the
// survivors and take proposals; leadership notifications fire on both sides.
func TestFailover(t *testing.T) {
	c := newTestCluster(t)
	c.grow(3)
	c.proposeAll("a", "1")

	// Kill the node leading the most shards.
	led := map[uint64][]uint32{}
	for s := range uint32(testShards) {
		l := c.leader(s)
		if l == nil {
			t.Fatalf("shard %d: no leader", s)
		}
		led[l.id] = append(led[l.id], s)
	}
	var victim *tnode
	for _, n := range c.alive() {
		if victim == nil || len(led[n.id]) > len(led[victim.id]) {
			victim = n
		}
	}
	survivors := slices.DeleteFunc(c.alive(), func(n *tnode) bool { return n == victim })
	changed := map[uint32][]<-chan struct{}{}
	for _, s := range led[victim.id] {
		for _, n := range survivors {
			changed[s] = append(changed[s], n.mgr.Changed(s))
		}
	}
	victim.kill()
	c.members.Gone(victim.id, false)
	start := time.Now()

	var mu sync.Mutex
	var took []time.Duration
	var wg sync.WaitGroup
	for _, s := range led[victim.id] {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if _, err := survivors[int(s)%2].mgr.Propose(ctx, s, []byte("b=2")); err != nil {
				t.Errorf("shard %d: propose after its leader died: %v", s, err)
				return
			}
			mu.Lock()
			took = append(took, time.Since(start))
			mu.Unlock()
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("failover: %d shards lost their leader (node %d stopped); first successful proposal after %v (fastest shard), median %v, slowest %v",
		len(took), victim.id, took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))

	for _, s := range led[victim.id] {
		ev := victim.leadershipEvents(s)
		if len(ev) == 0 || ev[len(ev)-1].IsLeader || ev[len(ev)-1].Ready {
			t.Errorf("shard %d: the stopped leader's last notification is %+v, want not leading", s, ev)
		}
		var newLeader *tnode
		waitFor(t, 10*time.Second, func() string { return "a ready leader among the survivors" }, func() bool {
			newLeader = c.leader(s)
			return newLeader != nil
		})
		for i, ch := range changed[s] {
			select {
			case <-ch:
			default:
				t.Errorf("shard %d: node %d's Changed channel not closed after its leader died", s, survivors[i].id)
			}
		}
		ev = newLeader.leadershipEvents(s)
		if len(ev) == 0 || !ev[len(ev)-1].IsLeader || !ev[len(ev)-1].Ready {
			t.Errorf("shard %d: node %d leads it but was last told %+v", s, newLeader.id, ev)
		}
	}
	// Every shard still takes writes, and the dead node stays a voter within its grace.
	c.proposeAll("c", "3")
	for s := range uint32(testShards) {
		st, _ := c.leader(s).mgr.Status(s)
		if !slices.Contains(st.Voters, victim.id) {
			t.Fatalf("shard %d: node %d removed within its grace period: voters %v", s, victim.id, st.Voters)
		}
	}
}

// A node declared dead is replaced once the grace period is over, not before.
func TestDeadNodeReplacedAfterGrace(t *testing.T) {
	c := newTestCluster(t)
	c.grow(4)
	victim := c.nodes[4]
	victim.kill()
	c.members.Gone(4, false)
	c.proposeAll("a", "1") // every shard has a leader again
	// Several reconcile passes within the grace period change nothing.
	time.Sleep(500 * time.Millisecond)
	for s := range uint32(testShards) {
		if !slices.Contains(shards.Place([]uint64{1, 2, 3, 4}, s, 3), 4) {
			continue
		}
		l := c.leader(s)
		if l == nil {
			t.Fatalf("shard %d: no leader", s)
		}
		st, _ := l.mgr.Status(s)
		if !slices.Contains(st.Voters, 4) || len(st.Voters) != 3 {
			t.Fatalf("shard %d changed within the grace period: voters %v learners %v", s, st.Voters, st.Learners)
		}
	}
	c.clock.Advance(deadGrace)
	c.placed(30*time.Second, 1, 2, 3)
	c.replicated(10*time.Second, "a", "1")
}

// A node announcing its leave is drained (replaced, its leaderships handed over,
// removed) while it still runs; one that left without draining is replaced at once.
func TestGracefulLeave(t *testing.T) {
	c := newTestCluster(t)
	c.grow(4)
	c.proposeAll("a", "1")
	leaving := c.nodes[4]
	c.members.Leaving(4)
	c.placed(30*time.Second, 1, 2, 3) // also: node 4 hosts no shard any more
	for s := range uint32(testShards) {
		if leaving.mgr.IsLeader(s) {
			t.Fatalf("shard %d: the drained node still leads it", s)
		}
	}
	leaving.kill()
	c.members.Gone(4, true)
	c.replicated(10*time.Second, "a", "1")

	// Node 3 goes with a graceful leave but no drain: removed at once, no grace.
	c.nodes[3].kill()
	c.members.Gone(3, true)
	var last string
	waitFor(t, 30*time.Second, func() string { return "node 3 removed everywhere: " + last }, func() bool {
		for s := range uint32(testShards) {
			l := c.leader(s)
			if l == nil {
				last = "no leader"
				return false
			}
			if st, _ := l.mgr.Status(s); !slices.Equal(st.Voters, []uint64{1, 2}) {
				last = fmt.Sprint("voters ", st.Voters)
				return false
			}
		}
		return true
	})
	c.proposeAll("b", "2")
	c.replicated(10*time.Second, "b", "2")
}

// A node dead past the grace period is replaced; a fifth node joins meanwhile. When the
// dead node comes back on its replicas (at another address), the shards placed on it
// again take it back (and let go of its replacements); the replicas of the shards no
// longer placed on it, which it was removed from while away, are dropped once they
// heard no leader for twice the grace period.
func TestRestartAfterReplacement(t *testing.T) {
	c := newTestCluster(t)
	c.grow(4)
	c.proposeAll("a", "1")
	c.nodes[4].kill()
	c.members.Gone(4, false)
	c.proposeAll("a2", "1") // new leaders, who noticed node 4 missing
	c.clock.Advance(deadGrace)
	c.placed(30*time.Second, 1, 2, 3)
	c.add(5, false)
	c.placed(30*time.Second, 1, 2, 3, 5)
	c.proposeAll("b", "2")

	n4 := c.restart(4)
	var stale []uint32 // shards node 4 holds but is no longer placed on
	for _, s := range n4.mgr.Hosted() {
		if !slices.Contains(shards.Place([]uint64{1, 2, 3, 4, 5}, s, 3), 4) {
			stale = append(stale, s)
		}
	}
	if len(n4.mgr.Hosted()) == 0 || len(stale) == 0 {
		t.Fatalf("node 4 restarted with %d replicas, %d of them stale: the test needs both", len(n4.mgr.Hosted()), len(stale))
	}
	// The shards placed on node 4 again take it back; the stale replicas wait.
	var last string
	waitFor(t, 30*time.Second, func() string { return "node 4 back in its shards: " + last }, func() bool {
		for s := range uint32(testShards) {
			want := slices.Sorted(slices.Values(shards.Place([]uint64{1, 2, 3, 4, 5}, s, 3)))
			l := c.leader(s)
			if l == nil {
				last = fmt.Sprintf("shard %d: no leader", s)
				return false
			}
			if st, _ := l.mgr.Status(s); !slices.Equal(st.Voters, want) || len(st.Learners) > 0 {
				last = fmt.Sprintf("shard %d: voters %v learners %v want %v", s, st.Voters, st.Learners, want)
				return false
			}
		}
		return true
	})
	for _, s := range stale {
		if !slices.Contains(n4.mgr.Hosted(), s) {
			t.Fatalf("shard %d: node 4 dropped its stale replica within the grace period", s)
		}
	}
	c.clock.Advance(2 * deadGrace)
	c.placed(30*time.Second, 1, 2, 3, 4, 5)
	for _, s := range stale {
		if n4.replicas.dropped(s) == 0 {
			t.Errorf("shard %d: stale replica stopped but not dropped", s)
		}
	}
	c.proposeAll("c", "3")
	c.replicated(10*time.Second, "b", "2")
	c.replicated(10*time.Second, "c", "3")
}

// A single node restarted on its replicas resumes every shard and leads it again.
func TestSingleNodeRestart(t *testing.T) {
	c := newTestCluster(t)
	c.add(1, true)
	c.placed(20*time.Second, 1)
	c.proposeAll("a", "1")
	c.nodes[1].kill()
	n := c.restart(1)
	c.placed(20*time.Second, 1)
	if got := len(n.mgr.Hosted()); got != testShards {
		t.Fatalf("restarted with %d shards, want %d", got, testShards)
	}
	c.replicated(10*time.Second, "a", "1")
	c.proposeAll("b", "2")
}

// A placed node that never catches up (gossip sees it, its raft address answers
// nothing) stays a learner, and the replica it would replace stays a voter: nothing is
// taken away before its replacement votes. When it leaves, its learner seats go.
func TestNoRemovalBeforeReplacementCatchesUp(t *testing.T) {
	c := newTestCluster(t)
	c.grow(3)
	c.members.Join(4, "127.0.0.1:1") // nothing listens there
	placedOn4 := 0
	var last string
	waitFor(t, 30*time.Second, func() string { return "node 4 a learner where placed: " + last }, func() bool {
		placedOn4 = 0
		for s := range uint32(testShards) {
			l := c.leader(s)
			if l == nil {
				last = fmt.Sprintf("shard %d: no leader", s)
				return false
			}
			st, _ := l.mgr.Status(s)
			wantLearners := []uint64(nil)
			if slices.Contains(shards.Place([]uint64{1, 2, 3, 4}, s, 3), 4) {
				wantLearners = []uint64{4}
				placedOn4++
			}
			if !slices.Equal(st.Voters, []uint64{1, 2, 3}) || !slices.Equal(st.Learners, wantLearners) {
				last = fmt.Sprintf("shard %d: voters %v learners %v", s, st.Voters, st.Learners)
				return false
			}
		}
		return true
	})
	if placedOn4 == 0 {
		t.Fatal("node 4 is placed on no shard: the test needs some")
	}
	time.Sleep(time.Second) // ten more reconcile passes change nothing
	for s := range uint32(testShards) {
		if st, _ := c.leader(s).mgr.Status(s); !slices.Equal(st.Voters, []uint64{1, 2, 3}) {
			t.Fatalf("shard %d: voters %v while node 4 never caught up", s, st.Voters)
		}
	}
	c.members.Gone(4, true)
	c.placed(30*time.Second, 1, 2, 3)
}
