package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/cluster/clusterpb"
	"github.com/latchid/latch/cluster/clustertest"
)

func TestStartErrors(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	// These fail before protoactor starts, so they run in this process.
	tests := []struct {
		name    string
		ctx     context.Context
		cfg     Config
		wantErr string
	}{
		{"invalid config", t.Context(), Config{RemotePort: -1}, "remote port"},
		{"remoting port in use", t.Context(), Config{RemotePort: port, GossipAddr: "127.0.0.1:0"}, "remoting address"},
		{"gossip port in use", t.Context(), Config{GossipAddr: taken.Addr().String()}, "gossip address"},
		{"canceled context", canceled, Config{GossipAddr: "127.0.0.1:0"}, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Logger = testLogger()
			n, err := Start(tt.ctx, tt.cfg)
			if err == nil {
				_ = n.Stop(false)
				t.Fatal("Start succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Start error = %v, want it to mention %q", err, tt.wantErr)
			}
		})
	}

	// 192.0.2.1 (TEST-NET-1) is not on this host: memberlist fails inside protoactor's
	// StartMember, after remoting started, and StartMember panics. Start must return
	// the error instead; the child process must then exit cleanly.
	t.Run("gossip bind fails inside StartMember", func(t *testing.T) {
		var ready childReady
		c := clustertest.Start(t, "startfail", "TestChildMember", childPayload{GossipAddr: "192.0.2.1:0", StartOnly: true}, &ready)
		if !strings.Contains(ready.StartErr, "start member") {
			t.Errorf("Start error = %q, want the recovered StartMember failure", ready.StartErr)
		}
		c.Close()
	})
}

// TestProtoactorPanicsOnUnknownType is a canary for the reason guard.go exists: if
// protoactor-go stops panicking here, the guard may be simplified.
func TestProtoactorPanicsOnUnknownType(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("remote.Deserialize of an unknown type no longer panics; revisit guard.go")
		}
	}()
	_, _ = remote.Deserialize([]byte{10, 1, 'x'}, "latch.future.v9.FromTheFuture", 0)
}

func TestSanitizeBatch(t *testing.T) {
	t.Parallel()
	target := actor.NewPID("127.0.0.1:1", "latch-placement")
	known := string(proto.MessageName(&clusterpb.ActivateRequest{}))
	b := &remote.MessageBatch{
		TypeNames: []string{"latch.future.v9.Nope", known},
		Targets:   []*actor.PID{target},
		Senders:   []*actor.PID{target},
		Envelopes: []*remote.MessageEnvelope{
			{TypeId: 0, Target: 0, MessageData: []byte{1, 2, 3}},
			{TypeId: 7, Target: 0},
			{TypeId: 1, Target: 3},
			{TypeId: 1, Target: 0, Sender: 2},
			{TypeId: 1, Target: 0, SerializerId: 9},
			{TypeId: 1, Target: 0, Sender: 1},
		},
	}
	sanitizeBatch(b, testLogger())
	if len(b.Envelopes) != 2 {
		t.Fatalf("kept %d envelopes, want the unknown-type one (rewritten) and the valid one", len(b.Envelopes))
	}
	if b.TypeNames[0] != unsupportedTypeName || b.TypeNames[1] != known {
		t.Errorf("type names = %v", b.TypeNames)
	}
	msg, err := remote.Deserialize(b.Envelopes[0].MessageData, b.TypeNames[b.Envelopes[0].TypeId], 0)
	if err != nil {
		t.Fatal(err)
	}
	if u, ok := msg.(*clusterpb.Unsupported); !ok || u.TypeName != "latch.future.v9.Nope" {
		t.Errorf("rewritten message = %#v, want Unsupported naming the original type", msg)
	}
}

func TestGuardRecoversPanics(t *testing.T) {
	t.Parallel()
	intercept := guardInterceptor(testLogger())
	err := intercept(nil, nil, &grpc.StreamServerInfo{FullMethod: "/remote.Remoting/Receive"},
		func(any, grpc.ServerStream) error { panic("endpoint reader blew up") })
	if status.Code(err) != codes.Internal {
		t.Errorf("err = %v, want an Internal status instead of a crashed process", err)
	}
}

// sendGarbage connects to a member's remoting port as a peer would and sends a batch
// with an unknown type, out-of-range indexes and a bad serializer, followed by one valid
// ActivateRequest for identity.
func sendGarbage(t *testing.T, stream remote.Remoting_ReceiveClient, to, identity string) {
	t.Helper()
	valid, err := proto.Marshal(&clusterpb.ActivateRequest{Kind: "echo", Identity: identity})
	if err != nil {
		t.Fatal(err)
	}
	err = stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{
		MessageBatch: &remote.MessageBatch{
			TypeNames: []string{"latch.future.v9.Nope", string(proto.MessageName(&clusterpb.ActivateRequest{}))},
			Targets:   []*actor.PID{actor.NewPID(to, placementActorName)},
			Envelopes: []*remote.MessageEnvelope{
				{TypeId: 0, Target: 0, MessageData: []byte("not protobuf at all")},
				{TypeId: 9, Target: 0},
				{TypeId: 1, Target: 4},
				{TypeId: 1, Target: 0, SerializerId: 7},
				{TypeId: 1, Target: 0, MessageData: valid},
			},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMembers(t *testing.T) {
	timing := observableFailureTiming()
	a := startMemberProcess(t, "a", childPayload{Timing: timing})
	b := startMemberProcess(t, "b", childPayload{Timing: timing, Join: []string{a.gossip}})
	waitFor(t, 5*time.Second, "a and b to see each other", sameMembers(t, a, b))

	kA := keysOwnedBy(t, a, a.address, "a", 1)[0]
	kB := keysOwnedBy(t, a, b.address, "b", 1)[0]

	t.Run("owners agree", func(t *testing.T) {
		keys := make([]string, 5000)
		for i := range keys {
			keys[i] = fmt.Sprintf("agree-%d", i)
		}
		oa, ob := a.owners(t, keys), b.owners(t, keys)
		if !slices.Equal(oa, ob) {
			t.Fatal("a and b place keys differently")
		}
		if !slices.Contains(oa, a.address) || !slices.Contains(oa, b.address) {
			t.Errorf("one member owns every key")
		}
	})

	t.Run("requests cross both ways", func(t *testing.T) {
		tests := []struct {
			name      string
			from      *member
			key       string
			wantOwner *member
		}{
			{"a to its own key", a, kA, a},
			{"a to b's key (Activate crosses)", a, kB, b},
			{"b to a's key", b, kA, a},
			{"b to its own key", b, kB, b},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := tt.from.echo(t, tt.key, "hi")
				if got.Address != tt.wantOwner.address || got.Identity != tt.key || got.Value != "hi" {
					t.Errorf("reply = %+v, want served by %s for %s", got, tt.wantOwner.address, tt.key)
				}
				if pid := tt.wantOwner.active(t, tt.key); pid != got.PID {
					t.Errorf("owner's activation is %q, reply came from %q", pid, got.PID)
				}
			})
		}
	})

	t.Run("concurrent first requests activate once", func(t *testing.T) {
		key := keysOwnedBy(t, a, b.address, "fresh", 1)[0]
		replies := make(chan childReply, 2)
		for _, m := range []*member{a, b} {
			go func() {
				var rep childReply
				m.Call(childReq{Op: "echo_many", Key: key, N: 16}, &rep)
				replies <- rep
			}()
		}
		seen := map[string]bool{}
		for range 2 {
			rep := <-replies
			if rep.Err != "" {
				t.Fatal(rep.Err)
			}
			for _, p := range rep.PIDs {
				seen[p] = true
			}
		}
		if len(seen) != 1 {
			t.Errorf("replies came from %d activations %v, want 1", len(seen), seen)
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		rep := a.do(t, childReq{Op: "echo", Key: kB, Cancel: true})
		if !rep.IsCanceled {
			t.Errorf("err = %q, want context.Canceled", rep.Err)
		}
	})

	t.Run("unknown message type fails fast and the receiver keeps serving", func(t *testing.T) {
		rep := a.do(t, childReq{Op: "future", Key: kB, TimeoutMS: 2000})
		if !rep.IsUnsupported {
			t.Fatalf("err = %q, want ErrUnsupported", rep.Err)
		}
		if rep.Took > time.Second {
			t.Errorf("took %v; the receiver should answer at once, not let the caller time out", rep.Took)
		}
		if got := a.echo(t, kB, "still there"); got.Address != b.address {
			t.Errorf("after the unknown type: served by %s", got.Address)
		}
	})

	t.Run("a panicking grain is restarted and keeps serving", func(t *testing.T) {
		before := a.echo(t, kB, "before")
		if rep := a.do(t, childReq{Op: "echo", Key: kB, Value: "panic", TimeoutMS: 200}); !rep.IsDeadline {
			t.Fatalf("the panicking request: %+v, want it to time out", rep)
		}
		after := a.echo(t, kB, "after")
		if after.PID != before.PID || after.Identity != kB {
			t.Errorf("after the panic: %+v, want the same activation %s restarted", after, before.PID)
		}
	})

	t.Run("raw garbage batch does not crash the receiver", func(t *testing.T) {
		conn, err := grpc.Dial(b.address, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := remote.NewRemotingClient(conn).Receive(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
			ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
				ServerConnection: &remote.ServerConnection{SystemId: "raw-test", Address: "127.0.0.1:1"},
			}},
		}}); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("connect response: %v", err)
		}
		// The valid envelope after the garbage must still be delivered, twice on the
		// same stream: nothing was lost and the stream was not reset.
		for _, key := range keysOwnedBy(t, a, b.address, "raw", 2) {
			sendGarbage(t, stream, b.address, key)
			waitFor(t, 2*time.Second, "the valid envelope to activate "+key, func() bool {
				return b.active(t, key) != ""
			})
		}
		if got := a.echo(t, kB, "after garbage"); got.Address != b.address {
			t.Errorf("after garbage: served by %s", got.Address)
		}
	})

	t.Run("a joining member takes only its keys and old activations stop", func(t *testing.T) {
		keys := make([]string, 60)
		before := map[string]childReply{}
		for i := range keys {
			keys[i] = fmt.Sprintf("move-%d", i)
			before[keys[i]] = a.echo(t, keys[i], "before")
		}
		c := startMemberProcess(t, "c", childPayload{Timing: timing, Join: []string{b.gossip}})
		waitFor(t, 5*time.Second, "three members", sameMembers(t, a, b, c))

		owners := a.owners(t, keys)
		moved := 0
		for i, key := range keys {
			old := before[key]
			got := a.echo(t, key, "after")
			if owners[i] != c.address {
				if got.Address != old.Address || got.PID != old.PID {
					t.Errorf("%s did not move but its activation changed: %+v -> %+v", key, old, got)
				}
				continue
			}
			moved++
			if got.Address != c.address {
				t.Errorf("%s: served by %s after moving to %s", key, got.Address, c.address)
			}
			oldOwner := map[string]*member{a.address: a, b.address: b}[old.Address]
			waitFor(t, 2*time.Second, "the old activation of "+key+" to stop", func() bool {
				return oldOwner.active(t, key) == ""
			})
		}
		if moved == 0 || moved > len(keys)/2 {
			t.Errorf("%d of %d keys moved to the third member, want about a third", moved, len(keys))
		}

		if rep := c.do(t, childReq{Op: "stop", Graceful: true}); rep.Err != "" {
			t.Errorf("graceful Stop: %s", rep.Err)
		} else {
			t.Logf("graceful stop took %v", rep.Took)
		}
		began := time.Now()
		waitFor(t, 3*time.Second, "the graceful leave to be seen", sameMembers(t, a, b))
		t.Logf("leave seen by a and b %v after Stop returned", time.Since(began))
		if left, ok := a.do(t, childReq{Op: "departures"}).Departures[c.nodeID]; !ok || !left {
			t.Errorf("a's departures for c = %v, %v; want a graceful leave", left, ok)
		}
		c.Close()
	})

	t.Run("dead owner fails within the deadline, then the survivor serves", func(t *testing.T) {
		// A non-graceful Stop leaves no memberlist message behind, as a crash would
		// (the actors tests SIGKILL a member instead).
		if rep := b.do(t, childReq{Op: "stop"}); rep.Err != "" {
			t.Fatalf("Stop(false): %s", rep.Err)
		}
		// a still places kB on b: declaring b dead takes over a second with this timing.
		rep := a.do(t, childReq{Op: "echo", Key: kB, Value: "anyone?", TimeoutMS: 300})
		if !rep.IsDeadline || !rep.IsUnavailable {
			t.Fatalf("err = %q, want DeadlineExceeded and ErrUnavailable", rep.Err)
		}
		if rep.Took > 500*time.Millisecond {
			t.Errorf("failed after %v, want within the 300 ms deadline", rep.Took)
		}
		waitFor(t, 5*time.Second, "a to declare b dead", sameMembers(t, a))
		if left, ok := a.do(t, childReq{Op: "departures"}).Departures[b.nodeID]; !ok || left {
			t.Errorf("a's departures for b = %v, %v; want declared dead, not left", left, ok)
		}
		if got := a.echo(t, kB, "takeover"); got.Address != a.address {
			t.Errorf("after b died: served by %s, want %s", got.Address, a.address)
		}
	})

	b.Close()
	a.Close()
}
