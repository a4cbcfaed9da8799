// Package membertest holds the test doubles of a cluster's membership that the raft
// autopilots (cluster.Autopilot, cluster/shards) consume: a gossip membership a test
// edits by hand, and a clock the test advances. It is imported by tests only.
package membertest

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/latchid/latch/cluster"
)

// Members is a gossip membership the test drives (cluster.AutopilotMembers,
// shards.Members). The zero value is not usable: see NewMembers.
type Members struct {
	mu       sync.Mutex
	nodes    map[uint64]cluster.NodeInfo
	departed map[uint64]bool
	watch    chan struct{}
}

// NewMembers returns an empty membership.
func NewMembers() *Members {
	return &Members{nodes: map[uint64]cluster.NodeInfo{}, departed: map[uint64]bool{}, watch: make(chan struct{})}
}

// Nodes returns the live members.
func (f *Members) Nodes() []cluster.NodeInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Values(f.nodes))
}

// Departures returns the members that left (true) or died (false) and have not
// come back.
func (f *Members) Departures() map[uint64]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.departed)
}

// MembershipChanged returns a channel closed at the next change.
func (f *Members) MembershipChanged() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.watch
}

func (f *Members) change(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
	close(f.watch)
	f.watch = make(chan struct{})
}

// Join makes node id (raft address raft) a live member.
func (f *Members) Join(id uint64, raft string) {
	f.change(func() {
		f.nodes[id] = cluster.NodeInfo{NodeID: id, ID: cluster.FormatNodeID(id), Raft: raft}
		delete(f.departed, id)
	})
}

// Leaving marks live member id as announcing a graceful leave.
func (f *Members) Leaving(id uint64) {
	f.change(func() {
		n := f.nodes[id]
		n.Leaving = true
		f.nodes[id] = n
	})
}

// Gone removes id from the live members: it left gracefully (left) or was declared
// dead.
func (f *Members) Gone(id uint64, left bool) {
	f.change(func() {
		delete(f.nodes, id)
		f.departed[id] = left
	})
}

// Clock is a clock that moves only when the test advances it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock reading start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now is the clock's reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock d forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
