package cluster

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// freeLoopbackPort returns a port free for both TCP and UDP on 127.0.0.1 right now.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", l.Addr().String())
		_ = l.Close()
		if err == nil {
			_ = pc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// nodesOf returns, per node id, what m sees of the live members.
func (m *member) nodesOf(t *testing.T) map[uint64]NodeInfo {
	t.Helper()
	out := map[uint64]NodeInfo{}
	for _, n := range m.do(t, childReq{Op: "nodes"}).Nodes {
		n.NodeID, _ = ParseNodeID(n.ID) // NodeID is not in NodeInfo's JSON
		out[n.NodeID] = n
	}
	return out
}

// A member is identified by its node id, not by its process: killed and restarted with
// the same node id and ports, it rejoins and the others see the same node id on the
// same addresses with a new actor-system id, and route to the new process.
func TestRestartKeepsNodeID(t *testing.T) {
	t.Run("restarted after it was declared dead", func(t *testing.T) { testRestartKeepsNodeID(t, observableFailureTiming()) })
	// Restarted before the failure detector declared it dead: the others learn the new
	// process from its refutation (new metadata under the same name), and must drop
	// the PIDs they cached for the old one, which sat on the same address.
	slow := observableFailureTiming()
	slow.SuspicionMult = 50
	t.Run("restarted while still alive to the others", func(t *testing.T) { testRestartKeepsNodeID(t, slow) })
}

func testRestartKeepsNodeID(t *testing.T, timing GossipTiming) {
	gossipA := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	payloadA := childPayload{Timing: timing, GossipAddr: gossipA, RemotePort: freeLoopbackPort(t),
		NodeID: 0xa11ce, RaftAddr: "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))}
	a := startMemberProcess(t, "a", payloadA)
	b := startMemberProcess(t, "b", childPayload{Timing: timing, Join: []string{gossipA}, NodeID: 0xb0b})
	waitFor(t, 5*time.Second, "a and b to see each other", sameMembers(t, a, b))
	if a.nodeID != 0xa11ce || b.nodeID != 0xb0b {
		t.Fatalf("node ids %x, %x; want the configured a11ce, b0b", a.nodeID, b.nodeID)
	}
	seen := b.nodesOf(t)[0xa11ce]
	if seen.ID != "00000000000a11ce" || seen.Address != a.address || seen.Gossip != gossipA ||
		seen.Raft != payloadA.RaftAddr || seen.SystemID != a.systemID {
		t.Fatalf("b sees a as %+v; want id 00000000000a11ce, address %s, gossip %s, raft %s, system %s",
			seen, a.address, gossipA, payloadA.RaftAddr, a.systemID)
	}
	kA := keysOwnedBy(t, b, a.address, "a", 1)[0]
	first := b.echo(t, kA, "before")

	a.Kill()
	a2 := startMemberProcess(t, "a2", payloadA)
	if a2.nodeID != a.nodeID || a2.address != a.address || a2.systemID == a.systemID {
		t.Fatalf("restarted a: node %x address %s system %s; want node %x, address %s, a new system id",
			a2.nodeID, a2.address, a2.systemID, a.nodeID, a.address)
	}
	waitFor(t, 10*time.Second, "b to see the restarted a", func() bool {
		n, ok := b.nodesOf(t)[0xa11ce]
		return ok && n.SystemID == a2.systemID && len(b.nodesOf(t)) == 2
	})
	waitFor(t, 10*time.Second, "the restarted a to see b", func() bool {
		_, ok := a2.nodesOf(t)[0xb0b]
		return ok
	})
	again := b.do(t, childReq{Op: "echo", Key: kA, Value: "after", TimeoutMS: 2000})
	if again.Err != "" {
		t.Fatalf("b's first request to the restarted a: %s", again.Err)
	}
	if again.Address != a.address || again.Value != "after" || first.Value != "before" {
		t.Errorf("after restart: %+v; want served by %s", again, a.address)
	}
	if pid := a2.active(t, kA); pid != again.PID {
		t.Errorf("restarted a's activation is %q, reply came from %q", pid, again.PID)
	}
}

// A member declared dead and restarted without seeds (a founder restarted with its
// first command line, without --join) is joined again by the others: memberlist alone
// stops gossiping with a dead member after GossipToTheDeadTime, leaving two clusters.
func TestReconnectToDeadMember(t *testing.T) {
	timing := observableFailureTiming()
	timing.SuspicionMult = 1
	timing.GossipToTheDeadTime = time.Millisecond // memberlist forgets the dead at once
	timing.ReconnectInterval = 100 * time.Millisecond
	gossipA := "127.0.0.1:" + strconv.Itoa(freeLoopbackPort(t))
	payloadA := childPayload{Timing: timing, GossipAddr: gossipA, NodeID: 0xa11ce}
	a := startMemberProcess(t, "a", payloadA)
	b := startMemberProcess(t, "b", childPayload{Timing: timing, Join: []string{gossipA}, NodeID: 0xb0b})
	waitFor(t, 5*time.Second, "a and b to see each other", sameMembers(t, a, b))
	a.Kill()
	waitFor(t, 10*time.Second, "b to declare a dead", sameMembers(t, b))
	if left, ok := b.do(t, childReq{Op: "departures"}).Departures[0xa11ce]; !ok || left {
		t.Fatalf("b's departure record of a = %v, %v; want dead", left, ok)
	}
	a2 := startMemberProcess(t, "a2", payloadA)
	waitFor(t, 10*time.Second, "b and the restarted a (no seeds) to see each other", sameMembers(t, a2, b))
}
