package cluster

import (
	"testing"
	"time"
)

// A graceful leave is told apart from a death by every other member, however many
// there are: memberlist retransmits a broadcast only RetransmitMult x log10(n+1) times
// (2 with four members), so a leave announced only by gossip reaches two of three
// observers and the third counts it as a death (its autopilot would keep the node in
// the raft group for the dead grace period instead of removing it at once).
func TestGracefulLeaveSeenByEveryMember(t *testing.T) {
	timing := observableFailureTiming()
	a := startMemberProcess(t, "a", childPayload{Timing: timing, NodeID: 0xa})
	b := startMemberProcess(t, "b", childPayload{Timing: timing, Join: []string{a.gossip}, NodeID: 0xb})
	c := startMemberProcess(t, "c", childPayload{Timing: timing, Join: []string{a.gossip}, NodeID: 0xc})
	d := startMemberProcess(t, "d", childPayload{Timing: timing, Join: []string{a.gossip}, NodeID: 0xd})
	waitFor(t, 5*time.Second, "four members", sameMembers(t, a, b, c, d))
	if rep := d.do(t, childReq{Op: "stop", Graceful: true}); rep.Err != "" {
		t.Fatalf("graceful Stop: %s", rep.Err)
	}
	waitFor(t, 3*time.Second, "the leave to be seen", sameMembers(t, a, b, c))
	for _, m := range []*member{a, b, c} {
		if left, ok := m.do(t, childReq{Op: "departures"}).Departures[d.nodeID]; !ok || !left {
			t.Errorf("%s's departures for d = %v, %v; want a graceful leave", m.name, left, ok)
		}
	}
	d.Close()
	c.Close()
	b.Close()
	a.Close()
}
