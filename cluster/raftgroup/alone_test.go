package raftgroup_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/cluster/raftgroup"
)

// Writes made through Alone while a node is its group's only member reach every member
// added later, including writes racing the addition; once another member is in the
// group, Alone refuses and writes go through the log.
func TestAloneWritesReachNewMembers(t *testing.T) {
	n1 := newNode(t, 1, raftgroup.Config{}, false)
	n1.start(gid, []raftgroup.Peer{{ID: 1, Addr: n1.addr}})
	g := n1.groups[gid]
	waitFor(t, 10*time.Second, "node 1 ready to serve", func() bool { return g.Leadership().Ready })
	sm := n1.sms[gid]
	direct := func(k, v string) { // what a state machine's synced write of an entry does
		sm.mu.Lock()
		defer sm.mu.Unlock()
		sm.M[k] = v
		sm.Log = append(sm.Log, k+"="+v)
	}
	if !g.Alone(func(func() uint64) { direct("first", "alone") }) {
		t.Fatal("Alone refused on a group of one ready member")
	}
	propose(t, g, "a=1") // log entries and Alone writes mix

	// Alone writes keep coming while node 2 is added.
	var (
		wg      sync.WaitGroup
		stop    atomic.Bool
		written []string
		mu      sync.Mutex
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			k := fmt.Sprintf("w%d", i)
			if g.Alone(func(func() uint64) { direct(k, "x") }) {
				mu.Lock()
				written = append(written, k)
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	n2 := newNode(t, 2, raftgroup.Config{}, false)
	n2.start(gid, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.AddLearner(ctx, 2, n2.addr); err != nil {
		t.Fatalf("AddLearner: %v", err)
	}
	if g.Alone(func(func() uint64) { t.Error("Alone ran a write with a learner in the group") }) {
		t.Fatal("Alone accepted a write once a learner was added")
	}
	stop.Store(true)
	wg.Wait()
	if len(written) == 0 {
		t.Fatal("no Alone write before the learner's addition")
	}
	propose(t, g, "b=2")
	want := len(sm.log())
	converged(t, gid, 10*time.Second, want, n1, n2)
	for _, k := range append([]string{"first"}, written...) {
		if _, ok := n2.sms[gid].get(k); !ok {
			t.Fatalf("the learner lacks %q, written alone before it was added", k)
		}
	}
}
