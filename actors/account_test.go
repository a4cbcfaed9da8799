package actors

import (
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func entryIDs(list []*msg.AccountEntry) []string {
	var out []string
	for _, e := range list {
		out = append(out, e.GetId())
	}
	return out
}

func TestAccountIndex(t *testing.T) {
	t.Parallel()
	c, store := testClient(t)
	ctx := ctxT(t)
	account := newID(t)
	now := time.Now()
	soon, later := now.Add(time.Hour).UnixMilli(), now.Add(48*time.Hour).UnixMilli()

	idx := must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if entryCount(idx) != 0 {
		t.Fatalf("new account index %v", idx)
	}
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{
		Sessions: []*msg.AccountEntry{{Id: "s1", ExpiresAtMs: soon}, {Id: "s-past", ExpiresAtMs: now.Add(-time.Second).UnixMilli()}},
		Grants:   []*msg.AccountEntry{{Id: "g1", ClientId: "app", ParentId: "s1"}},
	}))
	// Tracking again: the later expiry wins, an earlier one never shortens; fields fill in.
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{
		Sessions: []*msg.AccountEntry{{Id: "s1", ExpiresAtMs: later}, {Id: "s2", ExpiresAtMs: soon}},
		Families: []*msg.AccountEntry{{Id: "f1", ParentId: "g1", ExpiresAtMs: soon}},
	}))
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{Sessions: []*msg.AccountEntry{{Id: "s1", ExpiresAtMs: soon}}}))
	wantErr(t, c.TrackAccount(ctx, account, &msg.AccountTrack{Grants: []*msg.AccountEntry{{}}}), oauth.CodeInvalidRequest, 400)

	idx = must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if got := entryIDs(idx.GetSessions()); !slices.Equal(got, []string{"s1", "s2"}) {
		t.Fatalf("sessions %v, want s1 s2 (an already expired entry is not kept)", got)
	}
	if s1 := idx.GetSessions()[0]; s1.GetExpiresAtMs() != later {
		t.Errorf("s1 expires %d, want the later %d", s1.GetExpiresAtMs(), later)
	}
	g1 := idx.GetGrants()[0]
	if g1.GetClientId() != "app" || g1.GetParentId() != "s1" || g1.GetExpiresAtMs() < now.Add(oidcflow.DefaultLifetimes().Grant-time.Minute).UnixMilli() {
		t.Errorf("grant entry %v: want its client, session and oidcflow.DefaultLifetimes().Grant by default", g1)
	}
	if got := entryIDs(idx.GetFamilies()); !slices.Equal(got, []string{"f1"}) {
		t.Errorf("families %v", got)
	}
	// The record lives as long as its last entry.
	rec, err := store.Get(ctx, AccountKindName, account)
	if err != nil || rec.ExpiresAt.UnixMilli() != g1.GetExpiresAtMs() {
		t.Fatalf("record expires %v (%v), want the grant entry's %d", rec.ExpiresAt, err, g1.GetExpiresAtMs())
	}

	mustOK(t, c.ForgetAccount(ctx, account, &msg.AccountForget{SessionIds: []string{"s1", "unknown"}, GrantIds: []string{"g1"}}))
	mustOK(t, c.ForgetAccount(ctx, account, &msg.AccountForget{SessionIds: []string{"unknown"}}))
	idx = must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if got := entryIDs(idx.GetSessions()); !slices.Equal(got, []string{"s2"}) || len(idx.GetGrants()) != 0 {
		t.Fatalf("after forget: %v", idx)
	}
	rec, _ = store.Get(ctx, AccountKindName, account)
	if rec.ExpiresAt.UnixMilli() != soon {
		t.Errorf("record expiry %v after its longest entry left, want %d", rec.ExpiresAt, soon)
	}
	// Forgetting the last entries deletes the record.
	mustOK(t, c.ForgetAccount(ctx, account, &msg.AccountForget{SessionIds: []string{"s2"}, FamilyIds: []string{"f1"}}))
	if _, err := store.Get(ctx, AccountKindName, account); err == nil {
		t.Fatal("an empty account index is still stored")
	}
}

func TestAccountIndexBounded(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account := newID(t)
	var add []*msg.AccountEntry
	for i := range maxAccountEntries + 10 {
		add = append(add, &msg.AccountEntry{Id: newID(t) + string(rune('a'+i%26))})
	}
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{Sessions: add}))
	idx := must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if n := len(idx.GetSessions()); n != maxAccountEntries || idx.GetSessions()[0].GetId() != add[10].GetId() {
		t.Fatalf("%d sessions kept (first %s), want the newest %d", n, idx.GetSessions()[0].GetId(), maxAccountEntries)
	}
}

// newAccountSession creates a live session of account with one client on grantID.
func newAccountSession(t *testing.T, c *Client, account, grantID string) (id, secret string) {
	t.Helper()
	id, secret = newID(t), newSecretT(t)
	must[*msg.SessionRecord](t)(c.CreateSession(ctxT(t), id, &msg.SessionRecord{AccountId: account, SecretHash: HashSecret(secret)}))
	if grantID != "" {
		must[*msg.GrantRecord](t)(c.EnsureGrant(ctxT(t), grantID, &msg.GrantEnsure{AccountId: account, ClientId: testClientID, SessionId: id, Scopes: []string{"openid"}}))
		must[*msg.SessionRecord](t)(c.AddSessionClient(ctxT(t), id, secret, &msg.SessionClient{ClientId: testClientID, GrantId: grantID, Sid: "sid-" + grantID}, time.Time{}))
	}
	return id, secret
}

func TestSessionAdmin(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account, gid := newID(t), newID(t)
	id, secret := newAccountSession(t, c, account, gid)

	rec := must[*msg.SessionRecord](t)(c.PeekSession(ctx, id))
	if rec.GetAccountId() != account || rec.GetSecretHash() != "" || len(rec.GetClients()) != 1 {
		t.Fatalf("peek %v: want the session without its secret hash", rec)
	}
	_, err := c.PeekSession(ctx, newID(t))
	wantErr(t, err, oauth.CodeLoginRequired, 400)

	// Forgetting a grant removes its client entry; an unknown grant changes nothing.
	mustOK(t, c.ForgetSessionGrant(ctx, id, "other"))
	mustOK(t, c.ForgetSessionGrant(ctx, id, gid))
	if rec := must[*msg.SessionRecord](t)(c.Session(ctx, id, secret)); len(rec.GetClients()) != 0 {
		t.Fatalf("clients after ForgetSessionGrant: %v", rec.GetClients())
	}
	mustOK(t, c.ForgetSessionGrant(ctx, newID(t), gid))

	rec = must[*msg.SessionRecord](t)(c.RevokeSession(ctx, id))
	if rec.GetAccountId() != account || rec.GetSecretHash() != "" {
		t.Fatalf("revoked %v", rec)
	}
	_, err = c.Session(ctx, id, secret)
	wantErr(t, err, oauth.CodeLoginRequired, 400)
	_, err = c.RevokeSession(ctx, id)
	wantErr(t, err, oauth.CodeLoginRequired, 400)
}

// The lists show live targets of the account only, and drop the rest from the index.
func TestAccountListsHeal(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account, other := newID(t), newID(t)
	live, ended, foreign := newID(t), newID(t), newID(t)
	sLive, _ := newAccountSession(t, c, account, live)
	sEnded, secret := newAccountSession(t, c, account, ended)
	sForeign, _ := newAccountSession(t, c, other, foreign)
	must[*msg.SessionRecord](t)(c.EndSession(ctx, sEnded, secret))
	mustOK(t, c.RevokeGrant(ctx, ended))
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{
		Sessions: []*msg.AccountEntry{{Id: sLive}, {Id: sEnded}, {Id: sForeign}, {Id: newID(t)}},
		Grants:   []*msg.AccountEntry{{Id: live}, {Id: ended}, {Id: foreign}, {Id: newID(t)}},
	}))

	sessions := must[[]AccountSession](t)(c.AccountSessions(ctx, account))
	if len(sessions) != 1 || sessions[0].ID != sLive || sessions[0].Record.GetSecretHash() != "" {
		t.Fatalf("sessions %+v, want only %s", sessions, sLive)
	}
	grants := must[[]AccountGrant](t)(c.AccountGrants(ctx, account))
	if len(grants) != 1 || grants[0].ID != live || grants[0].Record.GetClientId() != testClientID {
		t.Fatalf("grants %+v, want only %s", grants, live)
	}
	idx := must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if got := entryIDs(idx.GetSessions()); !slices.Equal(got, []string{sLive}) {
		t.Errorf("index sessions after listing %v", got)
	}
	if got := entryIDs(idx.GetGrants()); !slices.Equal(got, []string{live}) {
		t.Errorf("index grants after listing %v", got)
	}
}

// RevokeAccount ends every session, revokes every grant (also one only an ended
// session's client names) and family, and leaves an empty index.
func TestRevokeAccount(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account := newID(t)
	g1, g2, gUnindexed := newID(t), newID(t), newID(t)
	s1, secret1 := newAccountSession(t, c, account, g1)
	s2, secret2 := newAccountSession(t, c, account, gUnindexed)
	must[*msg.GrantRecord](t)(c.EnsureGrant(ctx, g2, &msg.GrantEnsure{AccountId: account, ClientId: testClientID}))
	fid, fsecret := newID(t), newSecretT(t)
	mustOK(t, createRefreshFamily(ctx, c, fid, &msg.RefreshFamilyRecord{GrantId: g2, ClientId: testClientID, AccountId: account}, fsecret))
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{
		Sessions: []*msg.AccountEntry{{Id: s1}, {Id: s2}, {Id: newID(t)}},
		Grants:   []*msg.AccountEntry{{Id: g1}, {Id: g2}},
		Families: []*msg.AccountEntry{{Id: fid, ParentId: g2}},
	}))

	ended := must[[]EndedSession](t)(c.RevokeAccount(ctx, account))
	if len(ended) != 2 || len(ended[0].Record.GetClients()) != 1 || ended[0].Record.GetClients()[0].GetSid() != "sid-"+g1 {
		t.Fatalf("ended %+v, want both sessions with their clients", ended)
	}
	for id, secret := range map[string]string{s1: secret1, s2: secret2} {
		_, err := c.Session(ctx, id, secret)
		wantErr(t, err, oauth.CodeLoginRequired, 400)
	}
	for _, g := range []string{g1, g2, gUnindexed} {
		_, err := c.CheckGrant(ctx, g)
		wantErrDesc(t, err, oauth.CodeInvalidGrant, "revoked")
	}
	if f := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid); !f.GetRevoked() {
		t.Fatal("the refresh family is not revoked")
	}
	idx := must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if entryCount(idx) != 0 {
		t.Fatalf("index after RevokeAccount: %v", idx)
	}
	// Idempotent.
	if again := must[[]EndedSession](t)(c.RevokeAccount(ctx, account)); len(again) != 0 {
		t.Fatalf("second RevokeAccount ended %v", again)
	}
}

// A grain answers a message it does not handle with Unsupported and keeps working
// (CONVENTIONS.md: a type sent before every member knows it must not crash one).
func TestLifecycleGrainsRefuseForeignMessages(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account := newID(t)
	for _, tc := range []struct {
		kind string
		m    proto.Message
	}{
		{AccountKindName, &msg.SessionPeek{}},
		{SessionKindName, &msg.AccountList{}},
	} {
		_, err := Call[*msg.Ack](ctx, c.node, tc.kind, account, tc.m)
		if !errors.Is(err, cluster.ErrUnsupported) {
			t.Errorf("%s answered %T with %v, want cluster.ErrUnsupported", tc.kind, tc.m, err)
		}
	}
	mustOK(t, c.TrackAccount(ctx, account, &msg.AccountTrack{Sessions: []*msg.AccountEntry{{Id: "s"}}}))
	if idx := must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account)); len(idx.GetSessions()) != 1 {
		t.Fatalf("account grain after a foreign message: %v", idx)
	}
}
