package actors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/clustertest"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Every member runs in its own process (see package clustertest); they share the
// parent's MemStore over net/rpc (sharedstore_test.go), which simulates replication.

func testLogger() *slog.Logger {
	if os.Getenv("LATCH_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// failingKindName is a test grain kind that answers every request with invalid_grant,
// to show that the OAuth error survives a call across members.
const failingKindName = "always-invalid-grant"

func failingKind() *protocluster.Kind {
	return protocluster.NewKind(failingKindName, actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*msg.Ping); ok {
			c.Respond(FailureOf(testLogger(), oauth.InvalidGrant("refresh token reused")))
		}
	}))
}

// futureMessage is a message of a protobuf type built at run time and registered
// nowhere, as if a newer release sent it.
func futureMessage() (proto.Message, error) {
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("latch_future_actors_test.proto"),
		Package: proto.String("latch.future.v9"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("RotateHarder"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("family"), JsonName: proto.String("family"), Number: proto.Int32(1),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}
	file, err := protodesc.NewFile(fd, new(protoregistry.Files))
	if err != nil {
		return nil, err
	}
	md := file.Messages().ByName("RotateHarder")
	if _, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return nil, errors.New("the future type is registered; the test would prove nothing")
	}
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("family"), protoreflect.ValueOfString("f1"))
	return m, nil
}

type memberPayload struct {
	Join      []string
	Timing    cluster.GossipTiming
	StoreAddr string
}

type memberReady struct{ Address, Gossip string }

type memberReq struct {
	Op        string // ping, fail, future, unhandled, wrongtype, owners, members
	Kind      string // for owners
	Key       string
	Keys      []string
	TimeoutMS int
}

type memberReply struct {
	Pong    *msg.Pong // as JSON
	Owners  []string
	Members []string

	Err                                                      string
	Code, Description                                        string
	Status                                                   int
	IsInvalidGrant, IsDeadline, IsUnavailable, IsUnsupported bool
	IsUnexpectedReply                                        bool
	Took                                                     time.Duration
}

func (r *memberReply) setErr(err error) {
	if err == nil {
		return
	}
	r.Err = err.Error()
	var oe *oauth.Error
	if errors.As(err, &oe) {
		r.Code, r.Description, r.Status = oe.Code, oe.Description, oe.Status
	}
	r.IsInvalidGrant = errors.Is(err, oauth.InvalidGrant(""))
	r.IsDeadline = errors.Is(err, context.DeadlineExceeded)
	r.IsUnavailable = errors.Is(err, cluster.ErrUnavailable)
	r.IsUnsupported = errors.Is(err, cluster.ErrUnsupported)
	r.IsUnexpectedReply = errors.Is(err, ErrUnexpectedReply)
}

// TestChildMember is the member process of TestHealthAcrossMembers.
func TestChildMember(t *testing.T) {
	var p memberPayload
	if !clustertest.Payload(t, &p) {
		t.Skip("helper: runs only as a member process of the multi-member tests")
	}
	store, err := dialStore(p.StoreAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	logger := testLogger()
	n, err := cluster.Start(t.Context(), cluster.Config{
		GossipAddr:     "127.0.0.1:0",
		Join:           p.Join,
		Kinds:          []*protocluster.Kind{HealthKind(store, logger), failingKind()},
		Logger:         logger,
		Gossip:         p.Timing,
		RequestTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Stop(false) }()

	err = clustertest.Serve(memberReady{Address: n.Address(), Gossip: n.GossipAddress()}, func(raw json.RawMessage) any {
		var req memberReq
		if err := json.Unmarshal(raw, &req); err != nil {
			return memberReply{Err: err.Error()}
		}
		return serveMemberRequest(t.Context(), n, req)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func serveMemberRequest(ctx context.Context, n *cluster.Node, req memberReq) (rep memberReply) {
	began := time.Now()
	defer func() { rep.Took = time.Since(began) }()
	timeout := 5 * time.Second
	if req.TimeoutMS > 0 {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	switch req.Op {
	case "ping":
		pong, err := Ping(ctx, n, req.Key)
		rep.Pong = pong
		rep.setErr(err)
	case "fail":
		_, err := Call[*msg.Pong](ctx, n, failingKindName, req.Key, &msg.Ping{})
		rep.setErr(err)
	case "future":
		m, err := futureMessage()
		if err == nil {
			_, err = Call[*msg.Pong](ctx, n, HealthKindName, req.Key, m)
		}
		rep.setErr(err)
	case "unhandled": // a known type the Health grain does not handle
		_, err := Call[*msg.Pong](ctx, n, HealthKindName, req.Key, &msg.HealthRecord{})
		rep.setErr(err)
	case "wrongtype": // Ping answers a Pong, not a HealthRecord
		_, err := Call[*msg.HealthRecord](ctx, n, HealthKindName, req.Key, &msg.Ping{})
		rep.setErr(err)
	case "owners":
		p := n.Placement()
		for _, k := range req.Keys {
			addr := ""
			if o := p.Owner(req.Kind, k); o != nil {
				addr = o.Address()
			}
			rep.Owners = append(rep.Owners, addr)
		}
	case "members":
		rep.Members = n.Members()
	default:
		rep.Err = "unknown op " + req.Op
	}
	return rep
}

type memberProc struct {
	*clustertest.Child
	name, address, gossip string
}

func startMemberProc(t *testing.T, name string, p memberPayload) *memberProc {
	t.Helper()
	var ready memberReady
	c := clustertest.Start(t, name, "TestChildMember", p, &ready)
	return &memberProc{Child: c, name: name, address: ready.Address, gossip: ready.Gossip}
}

func (m *memberProc) do(req memberReq) memberReply {
	var rep memberReply
	m.Call(req, &rep)
	return rep
}

func (m *memberProc) ping(t *testing.T, key string) *msg.Pong {
	t.Helper()
	rep := m.do(memberReq{Op: "ping", Key: key})
	if rep.Err != "" || rep.Pong == nil {
		t.Fatalf("%s: Ping(%s): %s", m.name, key, rep.Err)
	}
	return rep.Pong
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func seeOnly(ms ...*memberProc) func() bool {
	want := make([]string, len(ms))
	for i, m := range ms {
		want[i] = m.address
	}
	slices.Sort(want)
	return func() bool {
		for _, m := range ms {
			if !slices.Equal(m.do(memberReq{Op: "members"}).Members, want) {
				return false
			}
		}
		return true
	}
}

func TestHealthAcrossMembers(t *testing.T) {
	store := actorstest.NewMemStore()
	storeAddr := serveStore(t, store)
	// Milliseconds of gossip, but over a second to declare a crashed member dead, so
	// the test observes the window in which the dead owner is still placed.
	timing := cluster.GossipTiming{
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
		GossipInterval: 10 * time.Millisecond, PushPullInterval: 300 * time.Millisecond,
		TCPTimeout: 200 * time.Millisecond, GossipToTheDeadTime: 500 * time.Millisecond,
		SuspicionMult: 5, LeaveTimeout: 500 * time.Millisecond, JoinRetryMax: 100 * time.Millisecond,
	}
	a := startMemberProc(t, "a", memberPayload{Timing: timing, StoreAddr: storeAddr})
	b := startMemberProc(t, "b", memberPayload{Timing: timing, StoreAddr: storeAddr, Join: []string{a.gossip}})
	waitFor(t, 5*time.Second, "a and b to see each other", seeOnly(a, b))

	// ownedByB returns a key of kind that both members place on b.
	ownedByB := func(kind string) string {
		cands := make([]string, 100)
		for i := range cands {
			cands[i] = fmt.Sprintf("%s-%d", kind, i)
		}
		owners := a.do(memberReq{Op: "owners", Kind: kind, Keys: cands}).Owners
		if !slices.Equal(owners, b.do(memberReq{Op: "owners", Kind: kind, Keys: cands}).Owners) {
			t.Fatalf("a and b place %s keys differently", kind)
		}
		return cands[slices.Index(owners, b.address)]
	}
	kB := ownedByB(HealthKindName)

	t.Run("Ping is served by the owner on the other member", func(t *testing.T) {
		for i, from := range []*memberProc{a, b, a} {
			pong := from.ping(t, kB)
			if pong.ServedBy != b.address || pong.Pings != uint64(i+1) || pong.Version != uint64(i+1) {
				t.Errorf("ping %d from %s = %+v, want served by %s with count and version %d",
					i+1, from.name, pong, b.address, i+1)
			}
		}
		rec, err := store.Get(t.Context(), HealthKindName, kB)
		if err != nil || rec.Version != 3 {
			t.Errorf("stored record = v%d, %v; want version 3 (reply only after the write)", rec.Version, err)
		}
	})

	t.Run("an OAuth error survives the call", func(t *testing.T) {
		rep := a.do(memberReq{Op: "fail", Key: ownedByB(failingKindName)})
		if !rep.IsInvalidGrant || rep.Description != "refresh token reused" || rep.Status != 400 {
			t.Errorf("got %+v, want invalid_grant / refresh token reused / 400", rep)
		}
	})

	t.Run("messages the grain cannot take fail fast", func(t *testing.T) {
		tests := []struct {
			op   string
			want func(memberReply) bool
		}{
			{"future", func(r memberReply) bool { return r.IsUnsupported }},    // type unknown to b
			{"unhandled", func(r memberReply) bool { return r.IsUnsupported }}, // known, not handled
			{"wrongtype", func(r memberReply) bool { return r.IsUnexpectedReply }},
		}
		for _, tt := range tests {
			rep := a.do(memberReq{Op: tt.op, Key: kB, TimeoutMS: 2000})
			if !tt.want(rep) || rep.Took > time.Second {
				t.Errorf("%s: %+v", tt.op, rep)
			}
		}
		if pong := a.ping(t, kB); pong.ServedBy != b.address || pong.Pings != 5 {
			t.Errorf("b after the unknown types: %+v, want 5 pings (wrongtype was a ping)", pong)
		}
	})

	t.Run("owner crash: deadline, then the survivor reloads from the store", func(t *testing.T) {
		b.Kill()
		rep := a.do(memberReq{Op: "ping", Key: kB, TimeoutMS: 300})
		if !rep.IsDeadline || !rep.IsUnavailable || rep.Took > 500*time.Millisecond {
			t.Fatalf("ping to the dead owner: %+v; want DeadlineExceeded and ErrUnavailable within 300 ms", rep)
		}
		waitFor(t, 5*time.Second, "a to declare b dead", seeOnly(a))
		pong := a.ping(t, kB)
		if pong.ServedBy != a.address || pong.Pings != 6 || pong.Version != 6 {
			t.Errorf("after takeover: %+v; want served by %s, pings and version 6", pong, a.address)
		}
	})
	a.Close()
}
