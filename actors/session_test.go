package actors

import (
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestSession(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	mustRec := must[*msg.SessionRecord](t)
	id, secret := newID(t), newSecretT(t)

	_, err := c.Session(ctx, id, secret)
	wantErr(t, err, oauth.CodeLoginRequired, 400)
	_, err = c.CreateSession(ctx, id, &msg.SessionRecord{AccountId: "user-1"})
	wantErr(t, err, oauth.CodeInvalidRequest, 400)

	before := time.Now()
	rec := mustRec(c.CreateSession(ctx, id, &msg.SessionRecord{
		AccountId: "user-1", SecretHash: HashSecret(secret), Amr: []string{"pwd"},
	}))
	if rec.GetCreatedAtMs() < before.UnixMilli() || rec.GetLoginAtMs() != rec.GetCreatedAtMs() ||
		rec.GetExpiresAtMs() < before.Add(oidcflow.DefaultLifetimes().Session).UnixMilli() {
		t.Fatalf("created %v", rec)
	}
	_, err = c.CreateSession(ctx, id, &msg.SessionRecord{AccountId: "user-2", SecretHash: HashSecret("x")})
	wantErr(t, err, oauth.CodeInvalidRequest, 409)

	// The secret is checked; a wrong one looks like no session at all.
	if got := mustRec(c.Session(ctx, id, secret)); got.GetAccountId() != "user-1" {
		t.Fatalf("Session = %v", got)
	}
	for _, bad := range []string{"", "wrong", secret + "x"} {
		_, err = c.Session(ctx, id, bad)
		wantErrDesc(t, err, oauth.CodeLoginRequired, "no live session")
	}
	_, err = c.Session(ctx, newID(t), secret)
	wantErrDesc(t, err, oauth.CodeLoginRequired, "no live session")

	// AddClient upserts by client_id and extends, never shortens.
	far := time.UnixMilli(rec.GetExpiresAtMs()).Add(time.Hour)
	mustRec(c.AddSessionClient(ctx, id, secret, &msg.SessionClient{ClientId: "a", GrantId: "g1", Sid: "s1"}, far))
	rec = mustRec(c.AddSessionClient(ctx, id, secret, &msg.SessionClient{ClientId: "b", GrantId: "g2", Sid: "s2"}, time.Now().Add(time.Minute)))
	rec = mustRec(c.AddSessionClient(ctx, id, secret, &msg.SessionClient{ClientId: "a", GrantId: "g3", Sid: "s3"}, time.Time{}))
	if rec.GetExpiresAtMs() != far.UnixMilli() {
		t.Errorf("expires_at_ms = %d, want the furthest extension %d", rec.GetExpiresAtMs(), far.UnixMilli())
	}
	if len(rec.GetClients()) != 2 || rec.GetClients()[0].GetClientId() != "b" || rec.GetClients()[1].GetGrantId() != "g3" {
		t.Errorf("clients %v, want b then a (upserted with g3)", rec.GetClients())
	}
	_, err = c.AddSessionClient(ctx, id, "wrong", &msg.SessionClient{ClientId: "c"}, time.Time{})
	wantErr(t, err, oauth.CodeLoginRequired, 400)
	_, err = c.AddSessionClient(ctx, id, secret, &msg.SessionClient{}, time.Time{})
	wantErr(t, err, oauth.CodeInvalidRequest, 400)

	// End: checked, returns the record, deletes it.
	_, err = c.EndSession(ctx, id, "wrong")
	wantErr(t, err, oauth.CodeLoginRequired, 400)
	rec = mustRec(c.EndSession(ctx, id, secret))
	if len(rec.GetClients()) != 2 {
		t.Errorf("ended session %v, want its two clients", rec)
	}
	_, err = c.Session(ctx, id, secret)
	wantErr(t, err, oauth.CodeLoginRequired, 400)
	_, err = c.EndSession(ctx, id, secret)
	wantErr(t, err, oauth.CodeLoginRequired, 400)
	_, err = c.Session(ctx, "", secret)
	wantErr(t, err, oauth.CodeLoginRequired, 400)
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	id, secret := newID(t), newSecretT(t)
	_, err := c.CreateSession(ctx, id, &msg.SessionRecord{AccountId: "u", SecretHash: HashSecret(secret), ExpiresAtMs: time.Now().Add(-time.Second).UnixMilli()})
	wantErr(t, err, oauth.CodeInvalidRequest, 400)

	must[*msg.SessionRecord](t)(c.CreateSession(ctx, id, &msg.SessionRecord{
		AccountId: "u", SecretHash: HashSecret(secret), ExpiresAtMs: time.Now().Add(300 * time.Millisecond).UnixMilli(),
	}))
	must[*msg.SessionRecord](t)(c.Session(ctx, id, secret))
	waitFor(t, 5*time.Second, "the session to expire", func() bool {
		_, err := c.Session(ctx, id, secret)
		return err != nil
	})
	_, err = c.AddSessionClient(ctx, id, secret, &msg.SessionClient{ClientId: "a"}, time.Time{})
	wantErr(t, err, oauth.CodeLoginRequired, 400)
}

// TestSessionFanOut: the Session grain tells the account index of itself and of its
// clients' grants, and ending it revokes the grants the logout selects, grain to grain.
func TestSessionFanOut(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account := "acct-" + newID(t)
	ensure := func(scopes ...string) string {
		id := newID(t)
		must[*msg.GrantRecord](t)(c.EnsureGrant(ctx, id, &msg.GrantEnsure{AccountId: account, ClientId: "client-" + id, Scopes: scopes}))
		return id
	}
	online, offline, kept := ensure("openid"), ensure("openid", "offline_access"), ensure("openid")
	sessionWith := func(grants ...string) (string, string) {
		id, secret := newID(t), newSecretT(t)
		must[*msg.SessionRecord](t)(c.CreateSession(ctx, id, &msg.SessionRecord{AccountId: account, SecretHash: HashSecret(secret)}))
		for _, g := range grants {
			must[*msg.SessionRecord](t)(c.AddSessionClient(ctx, id, secret, &msg.SessionClient{ClientId: "client-" + g, GrantId: g, Sid: "sid"}, time.Time{}))
		}
		return id, secret
	}
	sid, secret := sessionWith(online, offline, kept)

	// The index learnt of the session and its grants from the Session grain.
	idx := must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if got := entryIDs(idx.GetSessions()); len(got) != 1 || got[0] != sid {
		t.Fatalf("indexed sessions %v, want [%s]", got, sid)
	}
	if got := entryIDs(idx.GetGrants()); len(got) != 3 {
		t.Fatalf("indexed grants %v, want the session's three", got)
	}

	// RP-initiated logout: grants without offline_access are revoked, but for kept clients.
	ended := must[*msg.SessionRecord](t)(Call[*msg.SessionRecord](ctx, c.node, SessionKindName, sid, &msg.SessionEnd{
		Secret: secret, RevokeGrants: msg.GrantRevocation_GRANT_REVOCATION_ONLINE, KeepClientIds: []string{"client-" + kept},
	}))
	if len(ended.GetClients()) != 3 {
		t.Fatalf("ended session %v", ended)
	}
	_, err := c.CheckGrant(ctx, online)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	must[*msg.GrantRecord](t)(c.CheckGrant(ctx, offline))
	must[*msg.GrantRecord](t)(c.CheckGrant(ctx, kept))
	idx = must[*msg.AccountRecord](t)(c.AccountIndex(ctx, account))
	if len(idx.GetSessions()) != 0 || len(idx.GetGrants()) != 2 {
		t.Fatalf("index after logout: sessions %v grants %v, want none and the two kept", entryIDs(idx.GetSessions()), entryIDs(idx.GetGrants()))
	}

	// An administrative end with ALL revokes offline_access grants too.
	sid2, _ := sessionWith(offline)
	must[*msg.SessionRecord](t)(Call[*msg.SessionRecord](ctx, c.node, SessionKindName, sid2,
		&msg.SessionRevoke{RevokeGrants: msg.GrantRevocation_GRANT_REVOCATION_ALL}))
	_, err = c.CheckGrant(ctx, offline)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
}
