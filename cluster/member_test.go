package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/latchid/latch/cluster/clustertest"
)

// Multi-member tests run every member in its own child process (see clustertest for
// why). TestChildMember is the child side: it starts one member with an "echo" grain
// kind and executes the parent's requests against it.

// testLogger logs to stderr when LATCH_TEST_LOG is set, and discards otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("LATCH_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// observableFailureTiming gossips in milliseconds but takes over a second to declare a
// crashed member dead (suspicion 5 x 200 ms), so a test can observe the window in
// which a crashed owner is still placed.
func observableFailureTiming() GossipTiming {
	return GossipTiming{
		ProbeInterval:       200 * time.Millisecond,
		ProbeTimeout:        100 * time.Millisecond,
		GossipInterval:      10 * time.Millisecond,
		PushPullInterval:    300 * time.Millisecond,
		TCPTimeout:          200 * time.Millisecond,
		GossipToTheDeadTime: 500 * time.Millisecond,
		SuspicionMult:       5,
		LeaveTimeout:        500 * time.Millisecond,
		JoinRetryMax:        100 * time.Millisecond,
	}
}

// echoGrain answers a StringValue with "address|pid id|identity|value", and panics on
// "panic".
type echoGrain struct{ identity string }

func (g *echoGrain) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *cluster.ClusterInit:
		g.identity = m.Identity.Identity
	case *wrapperspb.StringValue:
		if m.Value == "panic" {
			panic("echo grain told to panic")
		}
		ctx.Respond(wrapperspb.String(strings.Join(
			[]string{ctx.ActorSystem().Address(), ctx.Self().Id, g.identity, m.Value}, "|")))
	}
}

func echoKind() *cluster.Kind {
	return cluster.NewKind("echo", actor.PropsFromProducer(func() actor.Actor { return &echoGrain{} }))
}

// futureMessage is a message of a protobuf type built at run time and registered
// nowhere, as if a newer release sent it.
func futureMessage() (proto.Message, error) {
	fd := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("latch_future_test.proto"),
		Package: proto.String("latch.future.v9"),
		Syntax:  proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("FromTheFuture"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("note"), JsonName: proto.String("note"), Number: proto.Int32(1),
				Type:  descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}
	file, err := protodesc.NewFile(fd, new(protoregistry.Files))
	if err != nil {
		return nil, err
	}
	md := file.Messages().ByName("FromTheFuture")
	if _, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return nil, errors.New("the future type is registered; the test would prove nothing")
	}
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().ByName("note"), protoreflect.ValueOfString("hello from v9"))
	return m, nil
}

// childPayload configures a member process.
type childPayload struct {
	Join   []string
	Timing GossipTiming
	// GossipAddr overrides the default "127.0.0.1:0".
	GossipAddr string
	// StartOnly makes the child report Start's result and exit.
	StartOnly bool
	// NodeID, RemotePort and RaftAddr set the Config fields of the same names.
	NodeID     uint64
	RemotePort int
	RaftAddr   string
}

type childReady struct {
	Address, Gossip, StartErr string
	NodeID                    uint64
	SystemID                  string
}

// childReq is one request to a member process.
type childReq struct {
	Op        string // echo, echo_many, future, members, nodes, owners, active, stop
	Key       string
	Keys      []string
	Value     string
	N         int
	TimeoutMS int
	Cancel    bool // echo with an already canceled context
	Graceful  bool
}

type childReply struct {
	Address, PID, Identity, Value string

	PIDs    []string
	Members []string
	Owners  []string
	Nodes   []NodeInfo
	// Departures is Node.Departures.
	Departures map[uint64]bool

	Err                                                  string
	IsDeadline, IsUnavailable, IsUnsupported, IsCanceled bool
	Took                                                 time.Duration
}

func (r *childReply) setErr(err error) {
	if err == nil {
		return
	}
	r.Err = err.Error()
	r.IsDeadline = errors.Is(err, context.DeadlineExceeded)
	r.IsUnavailable = errors.Is(err, ErrUnavailable)
	r.IsUnsupported = errors.Is(err, ErrUnsupported)
	r.IsCanceled = errors.Is(err, context.Canceled)
}

func TestChildMember(t *testing.T) {
	var p childPayload
	if !clustertest.Payload(t, &p) {
		t.Skip("helper: runs only as a member process of the multi-member tests")
	}
	if p.GossipAddr == "" {
		p.GossipAddr = "127.0.0.1:0"
	}
	n, err := Start(t.Context(), Config{
		NodeID:         p.NodeID,
		RemotePort:     p.RemotePort,
		RaftAddr:       p.RaftAddr,
		GossipAddr:     p.GossipAddr,
		Join:           p.Join,
		Kinds:          []*cluster.Kind{echoKind()},
		Logger:         testLogger(),
		Gossip:         p.Timing,
		RequestTimeout: 2 * time.Second,
	})
	if p.StartOnly {
		ready := childReady{}
		if err != nil {
			ready.StartErr = err.Error()
		} else {
			_ = n.Stop(false)
		}
		if err := clustertest.Serve(ready, func(json.RawMessage) any { return nil }); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer func() { _ = n.Stop(false) }()

	err = clustertest.Serve(childReady{Address: n.Address(), Gossip: n.GossipAddress(), NodeID: n.NodeID(), SystemID: n.ID()}, func(raw json.RawMessage) any {
		var req childReq
		if err := json.Unmarshal(raw, &req); err != nil {
			return childReply{Err: err.Error()}
		}
		return n.serveChildRequest(t.Context(), req)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// serveChildRequest executes one parent request on this member.
func (n *Node) serveChildRequest(ctx context.Context, req childReq) (rep childReply) {
	began := time.Now()
	defer func() { rep.Took = time.Since(began) }()
	timeout := 5 * time.Second
	if req.TimeoutMS > 0 {
		timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	echo := func(ctx context.Context) (childReply, error) {
		res, err := n.Request(ctx, "echo", req.Key, wrapperspb.String(req.Value))
		if err != nil {
			return childReply{}, err
		}
		s, ok := res.(*wrapperspb.StringValue)
		if !ok {
			return childReply{}, fmt.Errorf("reply %T", res)
		}
		parts := strings.Split(s.Value, "|")
		return childReply{Address: parts[0], PID: parts[1], Identity: parts[2], Value: parts[3]}, nil
	}

	switch req.Op {
	case "echo":
		if req.Cancel {
			var c context.CancelFunc
			ctx, c = context.WithCancel(ctx)
			c()
		}
		r, err := echo(ctx)
		rep = r
		rep.setErr(err)
	case "echo_many":
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range req.N {
			wg.Go(func() {
				r, err := echo(ctx)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					rep.setErr(err)
					return
				}
				rep.PIDs = append(rep.PIDs, r.PID)
			})
		}
		wg.Wait()
	case "future":
		m, err := futureMessage()
		if err != nil {
			rep.setErr(err)
			break
		}
		_, err = n.Request(ctx, "echo", req.Key, m)
		rep.setErr(err)
	case "members":
		rep.Members = n.Members()
	case "nodes":
		rep.Nodes = n.Nodes()
	case "departures":
		rep.Departures = n.Departures()
	case "owners":
		p := n.Placement()
		for _, k := range req.Keys {
			addr := ""
			if o := p.Owner("echo", k); o != nil {
				addr = o.Address()
			}
			rep.Owners = append(rep.Owners, addr)
		}
	case "active":
		if pid := n.lookup.activePID("echo", req.Key); pid != nil {
			rep.PID = pid.Id
		}
	case "stop":
		rep.setErr(n.Stop(req.Graceful))
	default:
		rep.Err = "unknown op " + req.Op
	}
	return rep
}

// member is the parent's handle on a member process.
type member struct {
	*clustertest.Child
	name, address, gossip string
	nodeID                uint64
	systemID              string
}

func startMemberProcess(t *testing.T, name string, p childPayload) *member {
	t.Helper()
	var ready childReady
	c := clustertest.Start(t, name, "TestChildMember", p, &ready)
	return &member{Child: c, name: name, address: ready.Address, gossip: ready.Gossip, nodeID: ready.NodeID, systemID: ready.SystemID}
}

func (m *member) do(t *testing.T, req childReq) childReply {
	t.Helper()
	var rep childReply
	m.Call(req, &rep)
	return rep
}

func (m *member) echo(t *testing.T, key, value string) childReply {
	t.Helper()
	rep := m.do(t, childReq{Op: "echo", Key: key, Value: value})
	if rep.Err != "" {
		t.Fatalf("%s: echo %s: %s", m.name, key, rep.Err)
	}
	return rep
}

func (m *member) members(t *testing.T) []string {
	t.Helper()
	return m.do(t, childReq{Op: "members"}).Members
}

func (m *member) owners(t *testing.T, keys []string) []string {
	t.Helper()
	return m.do(t, childReq{Op: "owners", Keys: keys}).Owners
}

func (m *member) active(t *testing.T, key string) string {
	t.Helper()
	return m.do(t, childReq{Op: "active", Key: key}).PID
}

// waitFor polls cond until it holds or timeout passes.
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

// sameMembers reports whether every given member sees exactly the given members.
func sameMembers(t *testing.T, ms ...*member) func() bool {
	want := make([]string, len(ms))
	for i, m := range ms {
		want[i] = m.address
	}
	return func() bool {
		for _, m := range ms {
			got := m.members(t)
			if len(got) != len(want) {
				return false
			}
			for _, w := range want {
				if !strings.Contains(strings.Join(got, ","), w) {
					return false
				}
			}
		}
		return true
	}
}

// keysOwnedBy returns n "<prefix>-<i>" keys that m places on owner.
func keysOwnedBy(t *testing.T, m *member, owner, prefix string, n int) []string {
	t.Helper()
	cands := make([]string, 200)
	for i := range cands {
		cands[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	var out []string
	for i, o := range m.owners(t, cands) {
		if o == owner && len(out) < n {
			out = append(out, cands[i])
		}
	}
	if len(out) < n {
		t.Fatalf("only %d of 200 %s keys are owned by %s", len(out), prefix, owner)
	}
	return out
}
