package actors

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/cluster/clustertest"
	"github.com/latchid/latch/oidcflow/oauth"
)

// grainMemberReq is a request to a TestChildGrainMember process: "call" sends Msg (a
// protobuf message of type Type, as protojson) to the grain Kind/Key; any other Op is
// served as in TestChildMember (owners, members). Field names match memberReq, so
// memberProc.do works on these processes too.
type grainMemberReq struct {
	Op        string
	Kind      string
	Key       string
	Keys      []string
	TimeoutMS int
	Type      string
	Msg       json.RawMessage
}

type grainMemberReply struct {
	memberReply
	Type string          // reply message type
	Msg  json.RawMessage // reply as protojson
}

// TestChildGrainMember is the member process of TestGrainsAcrossMembers: all of Latch's
// grain kinds over the parent's store, with Peers bound.
func TestChildGrainMember(t *testing.T) {
	var p memberPayload
	if !clustertest.Payload(t, &p) {
		t.Skip("helper: runs only as a member process of TestGrainsAcrossMembers")
	}
	store, err := dialStore(p.StoreAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	logger := testLogger()
	peers := NewPeers()
	n, err := cluster.Start(t.Context(), cluster.Config{
		GossipAddr:     "127.0.0.1:0",
		Join:           p.Join,
		Kinds:          Kinds(store, logger, Options{Peers: peers}),
		Logger:         logger,
		Gossip:         p.Timing,
		RequestTimeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	peers.Bind(n)
	defer func() { _ = n.Stop(false) }()

	err = clustertest.Serve(memberReady{Address: n.Address(), Gossip: n.GossipAddress()}, func(raw json.RawMessage) any {
		var req grainMemberReq
		if err := json.Unmarshal(raw, &req); err != nil {
			return grainMemberReply{memberReply: memberReply{Err: err.Error()}}
		}
		if req.Op != "call" {
			return grainMemberReply{memberReply: serveMemberRequest(t.Context(), n, memberReq{
				Op: req.Op, Kind: req.Kind, Key: req.Key, Keys: req.Keys, TimeoutMS: req.TimeoutMS,
			})}
		}
		return serveGrainCall(t.Context(), n, req)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func serveGrainCall(ctx context.Context, n *cluster.Node, req grainMemberReq) (rep grainMemberReply) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(req.Type))
	if err != nil {
		rep.Err = err.Error()
		return rep
	}
	m := mt.New().Interface()
	if err := protojson.Unmarshal(req.Msg, m); err != nil {
		rep.Err = err.Error()
		return rep
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := n.Request(ctx, req.Kind, req.Key, m)
	if err != nil {
		rep.setErr(err)
		return rep
	}
	if f, ok := res.(*msg.Failure); ok {
		rep.setErr(FailureError(f))
		return rep
	}
	rep.Type = string(proto.MessageName(res))
	rep.Msg, err = protojson.Marshal(res)
	if err != nil {
		rep.Err = err.Error()
	}
	return rep
}

// grain sends m to kind/key through member mp and decodes the reply into reply (may be
// nil). It returns the grain's refusal as *oauth.Error (nil on success) and fails the
// test on anything else.
func (m *memberProc) grain(t *testing.T, kind, key string, req, reply proto.Message) *oauth.Error {
	t.Helper()
	data, err := protojson.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var rep grainMemberReply
	m.Call(grainMemberReq{Op: "call", Kind: kind, Key: key, Type: string(proto.MessageName(req)), Msg: data}, &rep)
	switch {
	case rep.Code != "":
		return &oauth.Error{Code: rep.Code, Description: rep.Description, Status: rep.Status}
	case rep.Err != "":
		t.Fatalf("%s: %s to %s/%s: %s", m.name, proto.MessageName(req), kind, key, rep.Err)
	}
	if reply != nil {
		if rep.Type != string(proto.MessageName(reply)) {
			t.Fatalf("%s: %s to %s/%s answered %s, want %s", m.name, proto.MessageName(req), kind, key, rep.Type, proto.MessageName(reply))
		}
		if err := protojson.Unmarshal(rep.Msg, reply); err != nil {
			t.Fatal(err)
		}
	}
	return nil
}

// mustGrain is grain that fails the test on a refusal.
func (m *memberProc) mustGrain(t *testing.T, kind, key string, req, reply proto.Message) {
	t.Helper()
	if oe := m.grain(t, kind, key, req, reply); oe != nil {
		t.Fatalf("%s: %s to %s/%s: %v", m.name, proto.MessageName(req), kind, key, oe)
	}
}

func startGrainMemberProc(t *testing.T, name string, p memberPayload) *memberProc {
	t.Helper()
	var ready memberReady
	c := clustertest.Start(t, name, "TestChildGrainMember", p, &ready)
	return &memberProc{Child: c, name: name, address: ready.Address, gossip: ready.Gossip}
}

// TestGrainsAcrossMembers runs every grain request type across two members (each in its
// own process, sharing the parent's store): the caller is on one member and the grain
// on the other, including the grain-to-grain messages (RefreshFamily -> GrantCheck,
// GrantRevoke; Grant -> RefreshFamilyRevoke).
func TestGrainsAcrossMembers(t *testing.T) {
	store := actorstest.NewMemStore()
	storeAddr := serveStore(t, store)
	timing := cluster.GossipTiming{
		ProbeInterval: 200 * time.Millisecond, ProbeTimeout: 100 * time.Millisecond,
		GossipInterval: 10 * time.Millisecond, PushPullInterval: 300 * time.Millisecond,
		TCPTimeout: 200 * time.Millisecond, GossipToTheDeadTime: 500 * time.Millisecond,
		SuspicionMult: 5, LeaveTimeout: 500 * time.Millisecond, JoinRetryMax: 100 * time.Millisecond,
	}
	a := startGrainMemberProc(t, "a", memberPayload{Timing: timing, StoreAddr: storeAddr})
	b := startGrainMemberProc(t, "b", memberPayload{Timing: timing, StoreAddr: storeAddr, Join: []string{a.gossip}})
	waitFor(t, 5*time.Second, "a and b to see each other", seeOnly(a, b))

	// ownedBy returns a fresh key of kind that both members place on owner.
	n := 0
	ownedBy := func(kind string, owner *memberProc) string {
		t.Helper()
		cands := make([]string, 64)
		for i := range cands {
			n++
			cands[i] = fmt.Sprintf("%s-x%d", kind, n)
		}
		owners := a.do(memberReq{Op: "owners", Kind: kind, Keys: cands}).Owners
		if !slices.Equal(owners, b.do(memberReq{Op: "owners", Kind: kind, Keys: cands}).Owners) {
			t.Fatalf("a and b place %s keys differently", kind)
		}
		i := slices.Index(owners, owner.address)
		if i < 0 {
			t.Fatalf("no %s key among %d placed on %s", kind, len(cands), owner.name)
		}
		return cands[i]
	}
	wantRefusal := func(oe *oauth.Error, code, what string) {
		t.Helper()
		if oe == nil || oe.Code != code {
			t.Fatalf("%s: %v, want %s", what, oe, code)
		}
	}

	// Interaction on b, driven from a.
	uid := ownedBy(InteractionKindName, b)
	var ir msg.InteractionRecord
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionCreate{Record: &msg.InteractionRecord{Request: &msg.AuthRequest{ClientId: testClientID}}}, &ir)
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionSetEvent{Event: InteractionEventSignIn}, &ir)
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionAddVerification{Verification: &msg.Verification{Id: "v1", Type: "Password", UserId: testAccountID}}, &ir)
	wantRefusal(a.grain(t, InteractionKindName, uid, &msg.InteractionIdentify{VerificationId: "nope"}, nil), CodeVerificationSessionNotFound, "Identify with an unknown verification")
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionIdentify{VerificationId: "v1"}, &ir)
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionSetProfile{Username: "alice"}, &ir)
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionSubmit{Amr: []string{"pwd"}}, &ir)
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionGet{}, &ir)
	if !ir.GetSubmitted() || ir.GetAccountId() != testAccountID || ir.GetProfileUsername() != "alice" {
		t.Fatalf("interaction across members: %v", &ir)
	}
	a.mustGrain(t, InteractionKindName, uid, &msg.InteractionConsume{}, &ir)
	wantRefusal(a.grain(t, InteractionKindName, uid, &msg.InteractionConsume{}, nil), CodeSessionNotFound, "second Consume")

	// Session on b, driven from a.
	sid, secret := ownedBy(SessionKindName, b), "session-secret"
	var sr msg.SessionRecord
	a.mustGrain(t, SessionKindName, sid, &msg.SessionCreate{Record: &msg.SessionRecord{AccountId: testAccountID, SecretHash: HashSecret(secret)}}, &sr)
	a.mustGrain(t, SessionKindName, sid, &msg.SessionAddClient{Secret: secret, Client: &msg.SessionClient{ClientId: testClientID, Sid: "s1"}}, &sr)
	wantRefusal(a.grain(t, SessionKindName, sid, &msg.SessionGet{Secret: "wrong"}, nil), oauth.CodeLoginRequired, "Session with a wrong secret")
	a.mustGrain(t, SessionKindName, sid, &msg.SessionGet{Secret: secret}, &sr)
	a.mustGrain(t, SessionKindName, sid, &msg.SessionEnd{Secret: secret}, &sr)
	if len(sr.GetClients()) != 1 {
		t.Fatalf("ended session: %v", &sr)
	}

	// Grant on b (driven from a); its refresh family on a (driven from b), so the
	// family's GrantCheck and the revocation messages cross members too.
	gid, fid := ownedBy(GrantKindName, b), ownedBy(RefreshKindName, a)
	verifier, challenge := pkcePair(t)
	codeSecret, famSecret := "code-secret", "family-secret"
	var gr msg.GrantRecord
	a.mustGrain(t, GrantKindName, gid, &msg.GrantEnsure{AccountId: testAccountID, ClientId: testClientID, Scopes: []string{"openid"}}, &gr)
	a.mustGrain(t, GrantKindName, gid, &msg.GrantIssueCode{Code: &msg.CodeRecord{
		Hash: HashSecret(codeSecret), RedirectUri: testRedirectURI, CodeChallenge: challenge, CodeChallengeMethod: "S256",
	}}, &msg.Ack{})
	// The exchange (no refresh token: the family below is placed on a on purpose).
	redeem := &msg.GrantExchangeCode{CodeSecret: codeSecret, ClientId: testClientID, RedirectUri: testRedirectURI, CodeVerifier: verifier}
	var redeemed msg.CodeExchanged
	a.mustGrain(t, GrantKindName, gid, redeem, &redeemed)
	atSecret := redeemed.GetAccessTokenSecret()
	if atSecret == "" || !redeemed.GetCode().GetRedeemed() {
		t.Fatalf("exchange across members: %v", &redeemed)
	}
	b.mustGrain(t, RefreshKindName, fid, &msg.RefreshFamilyCreate{Record: &msg.RefreshFamilyRecord{
		GrantId: gid, ClientId: testClientID, AccountId: testAccountID, AppType: "Native", Rotate: true,
	}, Secret: famSecret}, &msg.Ack{})
	// A check that stores a token records the family on the grant (as a refresh does).
	a.mustGrain(t, GrantKindName, gid, &msg.GrantCheck{AccessToken: &msg.AccessTokenRecord{Hash: HashSecret("at-2")}, FamilyId: fid}, &gr)
	var used msg.RefreshUsed
	b.mustGrain(t, RefreshKindName, fid, &msg.RefreshFamilyUse{Secret: famSecret, ClientId: testClientID}, &used)
	if !used.GetRotated() || used.GetNextSecret() == famSecret {
		t.Fatalf("refresh across members: %v", &used)
	}
	a.mustGrain(t, GrantKindName, gid, &msg.GrantLookupAccessToken{Secret: atSecret}, &msg.AccessTokenInfo{})
	a.mustGrain(t, GrantKindName, gid, &msg.GrantLookupAccessToken{Secret: "at-2"}, &msg.AccessTokenInfo{})
	a.mustGrain(t, GrantKindName, gid, &msg.GrantCheck{}, &gr)
	if !slices.Contains(gr.GetRefreshFamilies(), fid) {
		t.Fatalf("grant families %v lack %s", gr.GetRefreshFamilies(), fid)
	}

	// Code replay on b: the grant is revoked and tells the family on a.
	wantRefusal(a.grain(t, GrantKindName, gid, redeem, nil), oauth.CodeInvalidGrant, "code replay")
	wantRefusal(a.grain(t, GrantKindName, gid, &msg.GrantLookupAccessToken{Secret: atSecret}, nil), oauth.CodeInvalidToken, "token of a revoked grant")
	waitFor(t, 5*time.Second, "the family on a to learn its grant on b was revoked", func() bool {
		s := NewState[*msg.RefreshFamilyRecord](store, RefreshKindName, fid)
		return s.Load(t.Context()) == nil && s.Current().GetRevoked()
	})
	a.mustGrain(t, GrantKindName, gid, &msg.GrantRevoke{}, &msg.Ack{}) // idempotent

	// Reuse on a: the family revokes itself and tells its grant on b.
	gid2, fid2 := ownedBy(GrantKindName, b), ownedBy(RefreshKindName, a)
	a.mustGrain(t, GrantKindName, gid2, &msg.GrantEnsure{AccountId: testAccountID, ClientId: testClientID}, &gr)
	b.mustGrain(t, RefreshKindName, fid2, &msg.RefreshFamilyCreate{Record: &msg.RefreshFamilyRecord{
		GrantId: gid2, ClientId: testClientID, AccountId: testAccountID, AppType: "SPA", Rotate: true,
	}, Secret: famSecret}, &msg.Ack{})
	b.mustGrain(t, RefreshKindName, fid2, &msg.RefreshFamilyUse{Secret: famSecret, ClientId: testClientID}, &used)
	// The family decides by its member's clock: within the window the consumed token
	// answers the successor, then it is reuse.
	var reuse *oauth.Error
	waitFor(t, 10*time.Second, "the reuse window to pass", func() bool {
		reuse = b.grain(t, RefreshKindName, fid2, &msg.RefreshFamilyUse{Secret: famSecret, ClientId: testClientID}, nil)
		if reuse == nil {
			time.Sleep(100 * time.Millisecond)
		}
		return reuse != nil
	})
	wantRefusal(reuse, oauth.CodeInvalidGrant, "reuse after the window")
	waitFor(t, 5*time.Second, "the grant on b to learn its family on a saw reuse", func() bool {
		return a.grain(t, GrantKindName, gid2, &msg.GrantCheck{}, nil) != nil
	})
	b.mustGrain(t, RefreshKindName, fid2, &msg.RefreshFamilyRevoke{}, &msg.Ack{})
	a.Close()
	b.Close()
}
