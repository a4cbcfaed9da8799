package actors

import (
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// The cluster sends a request again when its shard changes leader while it waits, even
// when the first send was committed (cluster.Node.Request). These tests send the same
// message twice, as that re-send does: a create or a code exchange sent again must answer
// as the first did, and anything else that collides must still be refused.

func TestCreatesSentAgain(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)

	// Session: the same record again is the same session; another secret is refused.
	sid, secret := newID(t), newSecretT(t)
	rec := &msg.SessionRecord{AccountId: "user-1", SecretHash: HashSecret(secret)}
	first := must[*msg.SessionRecord](t)(c.CreateSession(ctx, sid, rec))
	again := must[*msg.SessionRecord](t)(c.CreateSession(ctx, sid, rec))
	if again.GetCreatedAtMs() != first.GetCreatedAtMs() || again.GetExpiresAtMs() != first.GetExpiresAtMs() {
		t.Errorf("session sent again = %v, first %v", again, first)
	}
	_, err := c.CreateSession(ctx, sid, &msg.SessionRecord{AccountId: "user-1", SecretHash: HashSecret(secret + "x")})
	wantErr(t, err, oauth.CodeInvalidRequest, 409)
	_, err = c.CreateSession(ctx, sid, &msg.SessionRecord{AccountId: "user-2", SecretHash: HashSecret(secret)})
	wantErr(t, err, oauth.CodeInvalidRequest, 409)

	// Interaction: the same record again; once changed, a create is refused.
	uid := newID(t)
	irec := &msg.InteractionRecord{Uid: uid, Request: &msg.AuthRequest{ClientId: "app", RedirectUri: "https://app/cb"}}
	ifirst := must[*msg.InteractionRecord](t)(c.CreateInteraction(ctx, irec))
	iagain := must[*msg.InteractionRecord](t)(c.CreateInteraction(ctx, irec))
	if iagain.GetCreatedAtMs() != ifirst.GetCreatedAtMs() || iagain.GetRequest().GetClientId() != "app" {
		t.Errorf("interaction sent again = %v, first %v", iagain, ifirst)
	}
	other := &msg.InteractionRecord{Uid: uid, Request: &msg.AuthRequest{ClientId: "other", RedirectUri: "https://app/cb"}}
	_, err = c.CreateInteraction(ctx, other)
	wantErr(t, err, oauth.CodeInvalidRequest, 409)
	must[*msg.InteractionRecord](t)(c.SetInteractionEvent(ctx, uid, InteractionEventSignIn))
	_, err = c.CreateInteraction(ctx, irec)
	wantErr(t, err, oauth.CodeInvalidRequest, 409)

	// Refresh family: the same first secret again; another secret, or the same one once
	// the family rotated, is refused.
	gid := newGrant(t, c)
	fid, fsecret := newID(t), newSecretT(t)
	frec := &msg.RefreshFamilyRecord{GrantId: gid, ClientId: testClientID, AccountId: testAccountID, AppType: "SPA", Rotate: true}
	mustOK(t, createRefreshFamily(ctx, c, fid, frec, fsecret))
	mustOK(t, createRefreshFamily(ctx, c, fid, frec, fsecret))
	wantErr(t, createRefreshFamily(ctx, c, fid, frec, newSecretT(t)), oauth.CodeInvalidRequest, 409)
	must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, fsecret, testClientID, time.Time{}, "", nil, nil))
	wantErr(t, createRefreshFamily(ctx, c, fid, frec, fsecret), oauth.CodeInvalidRequest, 409)

	// A code issued twice (the same hash) is one code, redeemable once.
	code := &msg.CodeRecord{Hash: HashSecret(newSecretT(t)), RedirectUri: testRedirectURI, Scopes: []string{"openid"}}
	mustOK(t, c.IssueCode(ctx, gid, code))
	mustOK(t, c.IssueCode(ctx, gid, code))
	if n := len(loadRecord[*msg.GrantRecord](t, GrantKindName, gid).GetCodes()); n != 1 {
		t.Errorf("the grant holds %d codes after one was issued twice", n)
	}
}

// TestCodeExchangeSentAgain: the same exchange (same attempt id) sent again gets the
// same tokens and revokes nothing; the same code in another exchange is a replay, which
// revokes the grant (RFC 6749 4.1.2).
func TestCodeExchangeSentAgain(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	tc := issueTestCode(t, c, gid, true)
	m := &msg.GrantExchangeCode{
		CodeSecret: tc.secret, ClientId: testClientID, RedirectUri: testRedirectURI, CodeVerifier: tc.verifier,
		RefreshAllowed: true, RefreshAlways: true, AppType: "Traditional", RefreshTtlSeconds: 3600, RefreshRotate: true,
		Attempt: "attempt-1",
	}
	exchange := func() (*msg.CodeExchanged, error) {
		return Call[*msg.CodeExchanged](ctx, c.node, GrantKindName, gid, m)
	}
	first := must[*msg.CodeExchanged](t)(exchange())
	if first.GetFamilyId() == "" || first.GetRefreshSecret() == "" || first.GetAccessTokenSecret() == "" {
		t.Fatalf("first exchange = %v", first)
	}
	if len(first.GetCode().GetSealedExchange()) != 0 {
		t.Errorf("the exchange answers the sealed answer: %v", first.GetCode())
	}
	stored := loadRecord[*msg.GrantRecord](t, GrantKindName, gid).GetCodes()[0]
	if len(stored.GetSealedExchange()) == 0 {
		t.Fatal("the redeemed code keeps no sealed answer")
	}
	for _, s := range []string{first.GetFamilyId(), first.GetRefreshSecret(), first.GetAccessTokenSecret()} {
		if containsBytes(stored.GetSealedExchange(), s) {
			t.Errorf("the sealed answer shows %q in clear", s)
		}
	}

	again := must[*msg.CodeExchanged](t)(exchange())
	if again.GetFamilyId() != first.GetFamilyId() || again.GetRefreshSecret() != first.GetRefreshSecret() ||
		again.GetAccessTokenSecret() != first.GetAccessTokenSecret() {
		t.Fatalf("sent again = %v, first %v", again, first)
	}
	must[*msg.GrantRecord](t)(c.CheckGrant(ctx, gid))
	must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, first.GetAccessTokenSecret(), time.Time{}))
	used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, first.GetFamilyId(), first.GetRefreshSecret(), testClientID, time.Time{}, "", nil, nil))
	if used.GetNextSecret() == "" {
		t.Fatalf("refresh after the exchange sent again = %v", used)
	}

	// Another exchange of the same code: a replay.
	_, err := NewTokens(c).ExchangeCode(ctx, tc.exchange(gid, &op.RefreshPolicy{AppType: "Traditional", TTL: time.Hour, Rotate: true, Always: true}, nil))
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "authorization code already used")
	_, err = c.CheckGrant(ctx, gid)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "grant revoked")
}

func containsBytes(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestInteractionConsumeSentAgain: the same consume (same attempt) answers the record
// again; any other request then finds no interaction.
func TestInteractionConsumeSentAgain(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	uid := newID(t)
	must[*msg.InteractionRecord](t)(c.CreateInteraction(ctx, &msg.InteractionRecord{
		Uid: uid, AccountId: "user-1", Submitted: true, Request: &msg.AuthRequest{ClientId: "app"},
	}))
	consume := func(attempt string) (*msg.InteractionRecord, error) {
		return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid, &msg.InteractionConsume{Attempt: attempt})
	}
	for i := range 2 {
		rec := must[*msg.InteractionRecord](t)(consume("attempt-1"))
		if rec.GetAccountId() != "user-1" || rec.GetConsumedBy() != "" {
			t.Fatalf("consume #%d = %v", i+1, rec)
		}
	}
	_, err := consume("attempt-2")
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.ConsumeInteraction(ctx, uid)
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.Interaction(ctx, uid)
	wantErr(t, err, CodeSessionNotFound, 404)
	_, err = c.SetInteractionEvent(ctx, uid, InteractionEventSignIn)
	wantErr(t, err, CodeSessionNotFound, 404)
}
