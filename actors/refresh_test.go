package actors

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/persistence"
	"google.golang.org/protobuf/proto"
)

const day = 24 * time.Hour

// newFamily creates a refresh family on grant gid from rec (grant, client and account
// filled in) and returns its id and first secret.
func newFamily(t *testing.T, c *Client, gid string, rec *msg.RefreshFamilyRecord) (id, secret string) {
	t.Helper()
	id, secret = newID(t), newSecretT(t)
	rec.GrantId, rec.ClientId, rec.AccountId = gid, testClientID, testAccountID
	mustOK(t, createRefreshFamily(ctxT(t), c, id, rec, secret))
	return id, secret
}

// TestRefreshRotation runs Logto's rotation rules through the grain, one row per rule
// and app type, with the clock injected through now_ms.
func TestRefreshRotation(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	ttl := 14 * day

	tests := []struct {
		name string
		rec  *msg.RefreshFamilyRecord
		at   time.Time // when the token is used
		// want: rotated, and the next expiry.
		wantRotated bool
		wantExpires time.Time
	}{
		{"Traditional, 10 % of the TTL: kept",
			&msg.RefreshFamilyRecord{AppType: "Traditional", Rotate: true},
			now.Add(ttl / 10), false, now.Add(ttl)},
		{"Traditional, 70 % of the TTL: rotated with a fresh TTL",
			&msg.RefreshFamilyRecord{AppType: "Traditional", Rotate: true},
			now.Add(ttl * 7 / 10), true, now.Add(ttl * 7 / 10).Add(ttl)},
		{"SPA, fresh: rotated, keeps the remaining TTL",
			&msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true},
			now.Add(time.Minute), true, now.Add(ttl)},
		{"Native, fresh: rotated with a fresh app TTL",
			&msg.RefreshFamilyRecord{AppType: "Native", Rotate: true, TtlSeconds: int64(30 * day / time.Second)},
			now.Add(time.Minute), true, now.Add(time.Minute).Add(30 * day)},
		{"Native, rotateRefreshToken off: kept",
			&msg.RefreshFamilyRecord{AppType: "Native", Rotate: false},
			now.Add(ttl * 9 / 10), false, now.Add(ttl)},
		{"Native, family a year old: kept",
			&msg.RefreshFamilyRecord{AppType: "Native", Rotate: true, CreatedAtMs: now.Add(-366 * day).UnixMilli(),
				CurrentIssuedAtMs: now.UnixMilli(), GrantExpiresAtMs: now.Add(100 * day).UnixMilli()},
			now.Add(time.Minute), false, now.Add(ttl)},
		{"Native: capped at the grant's expiry",
			&msg.RefreshFamilyRecord{AppType: "Native", Rotate: true, GrantExpiresAtMs: now.Add(5 * day).UnixMilli()},
			now.Add(day), true, now.Add(5 * day)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			if tt.rec.CreatedAtMs == 0 {
				tt.rec.CreatedAtMs = now.UnixMilli()
			}
			fid, secret := newFamily(t, c, gid, tt.rec)
			used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, secret, testClientID, tt.at, "", nil, nil))
			if used.GetRotated() != tt.wantRotated || used.GetNextExpiresAtMs() != tt.wantExpires.UnixMilli() {
				t.Fatalf("used: rotated %v, expires %v; want %v, %v", used.GetRotated(),
					time.UnixMilli(used.GetNextExpiresAtMs()), tt.wantRotated, tt.wantExpires)
			}
			stored := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
			if !tt.wantRotated {
				if used.GetNextSecret() != secret || stored.GetGeneration() != 1 || len(stored.GetConsumed()) != 0 {
					t.Fatalf("kept token: next secret changed or family rotated (%v)", stored)
				}
				return
			}
			if used.GetNextSecret() == secret || len(used.GetNextSecret()) != 43 {
				t.Fatalf("rotated to %q", used.GetNextSecret())
			}
			if stored.GetGeneration() != 2 || stored.GetCurrentHash() != HashSecret(used.GetNextSecret()) ||
				stored.GetCurrentExpiresAtMs() != tt.wantExpires.UnixMilli() || len(stored.GetConsumed()) != 1 ||
				stored.GetConsumed()[0].GetHash() != HashSecret(secret) {
				t.Fatalf("stored after rotation: %v", stored)
			}
			if used.GetFamily().GetGeneration() != 2 || len(used.GetFamily().GetConsumed()) != 0 {
				t.Errorf("reply family %v: want generation 2 and no consumed tokens", used.GetFamily())
			}
			// The successor works.
			must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, used.GetNextSecret(), testClientID, tt.at.Add(time.Second), "", nil, nil))
		})
	}
}

// TestRefreshReuse: within 3 s a consumed token answers the same successor; after, it
// is reuse (OAuth 2.0 Security BCP 4.14.2), which revokes the family and its grant.
func TestRefreshReuse(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	atSecret := newSecretT(t)
	mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(atSecret)}, ""))
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native", Rotate: true, CreatedAtMs: now.UnixMilli()})
	mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(newSecretT(t))}, fid))
	mustUsed := must[*msg.RefreshUsed](t)

	first := mustUsed(useAt(t, c, ctx, fid, s0, testClientID, now, "", nil, nil))
	for _, d := range []time.Duration{0, time.Second, oidcflow.DefaultLifetimes().RefreshReuse - time.Millisecond} {
		again := mustUsed(useAt(t, c, ctx, fid, s0, testClientID, now.Add(d), "", nil, nil))
		if again.GetNextSecret() != first.GetNextSecret() || !again.GetRotated() || again.GetNextExpiresAtMs() != first.GetNextExpiresAtMs() {
			t.Fatalf("within the window (+%v): %v, want the same successor %v", d, again, first)
		}
	}
	if g := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid).GetGeneration(); g != 2 {
		t.Fatalf("generation %d after one rotation and three retries, want 2", g)
	}

	// After the window: reuse.
	_, err := useAt(t, c, ctx, fid, s0, testClientID, now.Add(oidcflow.DefaultLifetimes().RefreshReuse), "", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "refresh token already used")
	_, err = useAt(t, c, ctx, fid, first.GetNextSecret(), testClientID, now.Add(oidcflow.DefaultLifetimes().RefreshReuse), "", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "revoked")
	stored := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
	if !stored.GetRevoked() {
		t.Fatal("family not revoked after reuse")
	}
	wantNotStored(t, fid, first.GetNextSecret())
	// The grant is revoked by message (fire-and-forget): wait for it.
	waitFor(t, 5*time.Second, "the grant to be revoked", func() bool {
		_, err := c.CheckGrant(ctx, gid)
		return errors.Is(err, oauth.InvalidGrant(""))
	})
	_, err = lookupAt(t, c, ctx, gid, atSecret, time.Time{})
	wantErr(t, err, oauth.CodeInvalidToken, 401)
}

// TestRefreshChainWithinWindow: a stale concurrent request ends on the newest token,
// not on a consumed one that would count as reuse later.
func TestRefreshChainWithinWindow(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli()})
	s1 := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now, "", nil, nil)).GetNextSecret()
	s2 := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s1, testClientID, now.Add(time.Second), "", nil, nil)).GetNextSecret()
	got := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now.Add(2*time.Second), "", nil, nil))
	if got.GetNextSecret() != s2 || s2 == s1 {
		t.Fatalf("stale token answered %q, want the newest %q", got.GetNextSecret(), s2)
	}
	// No live secret at rest: neither the current token (s2) nor an older one.
	wantNotStored(t, fid, s1, s2)
	// s1, consumed within the window, answers with s2 as well.
	if got := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s1, testClientID, now.Add(2*time.Second), "", nil, nil)); got.GetNextSecret() != s2 {
		t.Fatalf("s1 within the window answered %q, want %q", got.GetNextSecret(), s2)
	}
	// Later, s2 is current and fine; s1 is reuse.
	must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s2, testClientID, now.Add(10*time.Second), "", nil, nil))
}

// wantNotStored fails when the family's stored record holds any of secrets: a reader
// of the store must not be able to use a live token.
func wantNotStored(t *testing.T, fid string, secrets ...string) {
	t.Helper()
	_, store := testClient(t)
	rec, err := store.Get(t.Context(), RefreshKindName, fid)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		if bytes.Contains(rec.Value, []byte(s)) {
			t.Errorf("the stored family record holds the live secret %q", s)
		}
	}
}

// TestRefreshStoresNoLiveSecret: the successor answered within the reuse window is
// never in the family's record in the clear; it is sealed under the consumed token's
// secret (stored only as a hash), so an activation that did not rotate (the shard's new
// leader after a failover, a restarted member) answers a retry within the window with
// the same successor, and nobody who reads the record without the consumed token can.
func TestRefreshStoresNoLiveSecret(t *testing.T) {
	t.Parallel()
	c, store := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native", Rotate: true, CreatedAtMs: now.UnixMilli()})
	s1 := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now, "", nil, nil)).GetNextSecret()
	wantNotStored(t, fid, s1)
	if got := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now.Add(time.Second), "", nil, nil)); got.GetNextSecret() != s1 {
		t.Fatalf("within the window: %q, want the successor %q", got.GetNextSecret(), s1)
	}
	wantNotStored(t, fid, s1)

	// Another activation over the same record, within the window, opens the sealed
	// successor with the presented (consumed) token, and only with it.
	rec := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
	last := rec.GetConsumed()[len(rec.GetConsumed())-1]
	if got, ok := openSuccessor(s0, last.GetSealedSuccessor()); !ok || got != s1 {
		t.Fatalf("the sealed successor opens under s0 to %q %v, want %q", got, ok, s1)
	}
	if _, ok := openSuccessor(s1, last.GetSealedSuccessor()); ok {
		t.Fatal("the sealed successor opens under another secret")
	}
	other := &refreshGrain{grainBase: newGrainBase[*msg.RefreshFamilyRecord](newGrainEnv(store, testLogger(),
		Options{Peers: shared.peers, keyNow: testClocks.now}), RefreshKindName)}
	other.key = fid
	other.state = NewState[*msg.RefreshFamilyRecord](store, RefreshKindName, fid)
	got, ok := other.use(&msg.RefreshFamilyUse{Secret: s0, ClientId: testClientID}).(*msg.RefreshUsed)
	if !ok || got.GetNextSecret() != s1 {
		t.Fatalf("window answer by an activation that did not rotate: %v, want the successor", got)
	}
	if loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid).GetRevoked() {
		t.Fatal("the window answer revoked the family")
	}
	must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s1, testClientID, now.Add(2*time.Second), "", nil, nil))
}

func TestRefreshFamilyRefusals(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())

	// Create.
	fid, secret := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Traditional", Rotate: true})
	wantErr(t, createRefreshFamily(ctx, c, fid, &msg.RefreshFamilyRecord{GrantId: gid, ClientId: testClientID}, "s"), oauth.CodeInvalidRequest, 409)
	wantErr(t, createRefreshFamily(ctx, c, newID(t), &msg.RefreshFamilyRecord{ClientId: testClientID}, "s"), oauth.CodeInvalidRequest, 400)
	wantErr(t, createRefreshFamily(ctx, c, newID(t), &msg.RefreshFamilyRecord{GrantId: gid, ClientId: testClientID}, ""), oauth.CodeInvalidRequest, 400)
	stored := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
	if stored.GetTtlSeconds() != int64(14*day/time.Second) || stored.GetGeneration() != 1 ||
		stored.GetCurrentExpiresAtMs()-stored.GetCurrentIssuedAtMs() != (14*day).Milliseconds() ||
		stored.GetGrantExpiresAtMs()-stored.GetCreatedAtMs() != oidcflow.DefaultLifetimes().Grant.Milliseconds() {
		t.Fatalf("defaults: %v", stored)
	}

	tests := []struct {
		name, secret, client string
		at                   time.Time
		desc                 string
	}{
		{"unknown token", "nope", testClientID, now, "refresh token not found"},
		{"another client", secret, "other-app", now, "client mismatch"},
		{"expired (the family ends with its current token)", secret, testClientID, now.Add(15 * day), ""},
	}
	for _, tt := range tests {
		_, err := useAt(t, c, ctx, fid, tt.secret, tt.client, tt.at, "", nil, nil)
		wantErrDesc(t, err, oauth.CodeInvalidGrant, tt.desc)
	}
	_, err := useAt(t, c, ctx, newID(t), secret, testClientID, now, "", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "refresh token not found")
	must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, secret, testClientID, now, "", nil, nil)) // still fine

	// Revocation of the family: idempotent.
	mustOK(t, c.RevokeRefreshFamily(ctx, fid))
	mustOK(t, c.RevokeRefreshFamily(ctx, fid))
	mustOK(t, c.RevokeRefreshFamily(ctx, newID(t)))
	_, err = useAt(t, c, ctx, fid, secret, testClientID, now, "", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "revoked")
	must[*msg.GrantRecord](t)(c.CheckGrant(ctx, gid)) // the grant is untouched

	// A family whose grant is dead is refused, and revokes itself.
	fid2, secret2 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native", Rotate: true})
	mustOK(t, c.RevokeGrant(ctx, gid))
	_, err = useAt(t, c, ctx, fid2, secret2, testClientID, time.Time{}, "", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "grant revoked")
	if !loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid2).GetRevoked() {
		t.Error("the family of a dead grant is not revoked")
	}
	// A family whose grant never existed.
	fid3, secret3 := newFamily(t, c, newID(t), &msg.RefreshFamilyRecord{AppType: "Native", Rotate: true})
	_, err = useAt(t, c, ctx, fid3, secret3, testClientID, time.Time{}, "", nil, nil)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
}

// TestRefreshConcurrentUse: 16 requests present the same token at once. Exactly one
// rotation happens; every request succeeds with the same successor (the 3 s window).
func TestRefreshConcurrentUse(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native", Rotate: true, CreatedAtMs: now.UnixMilli()})

	const n = 16
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		replies = make([]*msg.RefreshUsed, n)
		errs    = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			replies[i], errs[i] = useAt(t, c, ctxT(t), fid, s0, testClientID, now, "", nil, nil)
		})
	}
	close(start)
	wg.Wait()
	successors := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if !replies[i].GetRotated() {
			t.Fatalf("request %d: not rotated", i)
		}
		successors[replies[i].GetNextSecret()]++
	}
	if len(successors) != 1 {
		t.Fatalf("%d distinct successors across %d requests, want exactly 1", len(successors), n)
	}
	stored := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
	if stored.GetGeneration() != 2 || len(stored.GetConsumed()) != 1 {
		t.Fatalf("after %d concurrent uses: generation %d, %d consumed; want one rotation", n, stored.GetGeneration(), len(stored.GetConsumed()))
	}
}

func TestPeersUnbound(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := peerCall[*msg.Ack](ctx, nil, GrantKindName, "g", &msg.GrantCheck{}); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("nil Peers: %v, want ErrUnavailable", err)
	}
	if _, err := peerCall[*msg.Ack](ctx, NewPeers(), GrantKindName, "g", &msg.GrantCheck{}); !errors.Is(err, cluster.ErrUnavailable) {
		t.Errorf("unbound Peers: %v, want ErrUnavailable", err)
	}
}

// TestRefreshRefusesUngrantedResourceBeforeRotating: a refresh asking for a resource or
// scope the family was not granted is refused, and (because the check comes before the
// rotation) the presented token is still the current one afterwards.
func TestRefreshRefusesUngrantedResourceBeforeRotating(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
		Scopes: []string{"openid", "offline_access"}, Resources: []string{"https://api.example"}})

	_, err := useAt(t, c, ctx, fid, s0, testClientID, now, "https://other.example", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidTarget, "not granted")
	_, err = useAt(t, c, ctx, fid, s0, testClientID, now, "", []string{"openid", "admin"}, nil)
	wantErrDesc(t, err, oauth.CodeInvalidScope, "exceeds")
	used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now, "https://api.example", []string{"openid"}, nil))
	if !used.GetRotated() {
		t.Fatalf("SPA refresh after refusals: %v, want a rotation from the untouched token", used)
	}
	if g := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid).GetGeneration(); g != 2 {
		t.Fatalf("generation %d, want 2: refusals must not rotate", g)
	}
}

// TestRefreshUseStoresAccessToken: a use that carries an opaque access token has the
// family's grant store it, with the family's scopes or the narrower requested ones; a
// refused use (wrong client, reuse, a revoked grant) leaves no usable token behind.
func TestRefreshUseStoresAccessToken(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
		Scopes: []string{"openid", "offline_access", "profile"}})
	newAT := func() (string, *msg.AccessTokenRecord) {
		s := newSecretT(t)
		return s, &msg.AccessTokenRecord{Hash: HashSecret(s), IssuedAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(time.Hour).UnixMilli()}
	}
	lookup := func(secret string) (*msg.AccessTokenInfo, error) {
		return lookupAt(t, c, ctx, gid, secret, now.Add(time.Second))
	}

	at1, rec1 := newAT()
	used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now, "", nil, rec1))
	info := must[*msg.AccessTokenInfo](t)(lookup(at1))
	if got := info.GetAccessToken().GetScopes(); !slices.Equal(got, []string{"openid", "offline_access", "profile"}) {
		t.Fatalf("access token scopes %v, want the family's", got)
	}
	if !slices.Contains(info.GetGrant().GetRefreshFamilies(), fid) {
		t.Fatalf("grant families %v, want %s recorded", info.GetGrant().GetRefreshFamilies(), fid)
	}

	at2, rec2 := newAT()
	s1 := used.GetNextSecret()
	used = must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s1, testClientID, now.Add(time.Second), "", []string{"openid"}, rec2))
	if got := must[*msg.AccessTokenInfo](t)(lookup(at2)).GetAccessToken().GetScopes(); !slices.Equal(got, []string{"openid"}) {
		t.Fatalf("access token scopes %v, want the requested [openid]", got)
	}

	// Refusals store nothing: another client, then the reuse of s0 after the window.
	at3, rec3 := newAT()
	_, err := useAt(t, c, ctx, fid, used.GetNextSecret(), "someone-else", now.Add(2*time.Second), "", nil, rec3)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "client mismatch")
	at4, rec4 := newAT()
	_, err = useAt(t, c, ctx, fid, s0, testClientID, now.Add(oidcflow.DefaultLifetimes().RefreshReuse+time.Minute), "", nil, rec4)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "already used")
	for _, s := range []string{at3, at4} {
		_, err := lookup(s)
		wantErr(t, err, oauth.CodeInvalidToken, 401)
	}

	// A revoked grant: the family answers invalid_grant and revokes itself.
	gid2 := newGrant(t, c)
	fid2, f2s0 := newFamily(t, c, gid2, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli()})
	mustOK(t, c.RevokeGrant(ctx, gid2))
	at5, rec5 := newAT()
	_, err = useAt(t, c, ctx, fid2, f2s0, testClientID, now, "", nil, rec5)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	if _, err := lookupAt(t, c, ctx, gid2, at5, now); err == nil {
		t.Fatal("an access token of a revoked grant is usable")
	}
	waitFor(t, 5*time.Second, "the family of the revoked grant to be revoked", func() bool {
		return loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid2).GetRevoked()
	})
}

// TestRefreshUndoesRotationWhenGrantUnreachable: when the grant cannot be asked (here:
// the grain has no Peers), the use answers temporarily_unavailable and undoes the
// rotation it had written, so the presented token is still the current one: a retry
// after the reuse window is not taken for reuse.
func TestRefreshUndoesRotationWhenGrantUnreachable(t *testing.T) {
	t.Parallel()
	store := actorstest.NewMemStore()
	g := &refreshGrain{grainBase: newGrainBase[*msg.RefreshFamilyRecord](newGrainEnv(store, testLogger(), Options{keyNow: testClocks.now}), RefreshKindName)}
	g.key = newID(t)
	g.state = NewState[*msg.RefreshFamilyRecord](store, RefreshKindName, g.key)
	now := time.UnixMilli(time.Now().UnixMilli())
	s0 := newSecretT(t)
	if r, ok := g.create(&msg.RefreshFamilyCreate{Secret: s0, Record: &msg.RefreshFamilyRecord{
		GrantId: newID(t), ClientId: testClientID, AccountId: testAccountID, AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
	}}).(*msg.Ack); !ok {
		t.Fatalf("create: %v", r)
	}
	for _, at := range []time.Time{now, now.Add(oidcflow.DefaultLifetimes().RefreshReuse + time.Minute)} {
		setClock(t, RefreshKindName, g.key, at)
		f, ok := g.use(&msg.RefreshFamilyUse{Secret: s0, ClientId: testClientID}).(*msg.Failure)
		if !ok || f.GetCode() != oauth.CodeTemporarilyUnavailable {
			t.Fatalf("use at %v with the grant unreachable: %v, want temporarily_unavailable", at, f)
		}
		st := NewState[*msg.RefreshFamilyRecord](store, RefreshKindName, g.key)
		if err := st.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		rec := st.Current()
		if rec.GetGeneration() != 1 || len(rec.GetConsumed()) != 0 || rec.GetRevoked() || !hashesEqual(rec.GetCurrentHash(), HashSecret(s0)) {
			t.Fatalf("after the failed use: %v, want the family untouched (generation 1, s0 current)", rec)
		}
	}
}

// TestRefreshOrganizationRefusedBeforeRotating: a refresh with organization_id is
// refused before the family rotates when the account is not a member (access_denied,
// Options.OrganizationAccess) or the family lacks urn:logto:scope:organizations
// (insufficient_scope); the token stays current, and a member's refresh rotates.
func TestRefreshOrganizationRefusedBeforeRotating(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	org := newID(t)
	use := func(fid, secret, orgID string) (*msg.RefreshUsed, error) {
		setClock(t, RefreshKindName, fid, now)
		return Call[*msg.RefreshUsed](ctx, c.node, RefreshKindName, fid,
			&msg.RefreshFamilyUse{Secret: secret, ClientId: testClientID, OrganizationId: orgID})
	}
	withScope, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
		Scopes: []string{"openid", "offline_access", oidcflow.ScopeOrganizations}})
	without, s1 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
		Scopes: []string{"openid", "offline_access"}})

	_, err := use(withScope, s0, org)
	wantErr(t, err, oauth.CodeAccessDenied, 403)
	shared.orgMembers.Store(org+"/"+testAccountID, true)
	t.Cleanup(func() { shared.orgMembers.Delete(org + "/" + testAccountID) })
	_, err = use(without, s1, org)
	wantErr(t, err, oauth.CodeInsufficientScope, 403)
	for fid, want := range map[string]uint32{withScope: 1, without: 1} {
		if g := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid).GetGeneration(); g != want {
			t.Fatalf("family %s generation %d, want %d: refusals must not rotate", fid, g, want)
		}
	}
	used, err := use(withScope, s0, org)
	if err != nil || !used.GetRotated() {
		t.Fatalf("member's refresh: %v %v, want a rotation from the untouched token", used, err)
	}
	// Without organization_id the family without the scope is fine.
	if _, err := use(without, s1, ""); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshAppAccessRefusedBeforeRotating: a refresh the application's access
// control refuses (Options.AppAccess) answers its error before the family rotates; the
// token stays current and rotates once the account is allowed again.
func TestRefreshAppAccessRefusedBeforeRotating(t *testing.T) {
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.UnixMilli(time.Now().UnixMilli())
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
		Scopes: []string{"openid", "offline_access"}})
	use := func() (*msg.RefreshUsed, error) {
		setClock(t, RefreshKindName, fid, now)
		return Call[*msg.RefreshUsed](ctx, c.node, RefreshKindName, fid, &msg.RefreshFamilyUse{Secret: s0, ClientId: testClientID})
	}
	key := testClientID + "/" + testAccountID
	shared.appDenied.Store(key, true)
	_, err := use()
	shared.appDenied.Delete(key)
	wantErr(t, err, oauth.CodeAccessDenied, 400)
	if g := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid).GetGeneration(); g != 1 {
		t.Fatalf("generation %d after the refusal, want 1: a refusal must not rotate", g)
	}
	used, err := use()
	if err != nil || !used.GetRotated() {
		t.Fatalf("allowed refresh: %v %v, want a rotation from the untouched token", used, err)
	}
}

// putHook runs before its store's next Put once armed (then disarms itself).
type putHook struct {
	persistence.Store
	before func()
}

func (s *putHook) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	if f := s.before; f != nil {
		s.before = nil
		f()
	}
	return s.Store.Put(ctx, kind, key, expect, value, expiresAt)
}

// TestRefreshUndoSparesAHandedOutSuccessor: activation A rotates s0 and cannot check
// the grant, so it undoes the rotation; before its undo lands, activation B (the
// shard's new leader) answers a retry of s0 within the reuse window with the successor.
// That answer is written, so A's undo, conditional on the version it read, no longer
// applies: the client keeps a token the family knows. (Before, B answered without a
// write and A's undo made that token unknown: "refresh token not found".)
func TestRefreshUndoSparesAHandedOutSuccessor(t *testing.T) {
	t.Parallel()
	store := &putHook{Store: actorstest.NewMemStore()}
	activation := func(key string) *refreshGrain { // no Peers: the grant cannot be asked
		g := &refreshGrain{grainBase: newGrainBase[*msg.RefreshFamilyRecord](newGrainEnv(store, testLogger(), Options{keyNow: testClocks.now}), RefreshKindName)}
		g.key = key
		g.state = g.newState()
		return g
	}
	a := activation(newID(t))
	now := time.UnixMilli(time.Now().UnixMilli())
	setClock(t, RefreshKindName, a.key, now)
	s0 := newSecretT(t)
	if r, ok := a.create(&msg.RefreshFamilyCreate{Secret: s0, Record: &msg.RefreshFamilyRecord{
		GrantId: newID(t), ClientId: testClientID, AccountId: testAccountID, AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(),
	}}).(*msg.Ack); !ok {
		t.Fatalf("create: %v", r)
	}
	puts := 0
	var retried proto.Message
	var arm func()
	arm = func() {
		store.before = func() {
			if puts++; puts == 1 { // A's rotation: let it through, stop at the next Put
				arm()
				return
			}
			// A's undo is next: B answers the retry first.
			retried = activation(a.key).use(&msg.RefreshFamilyUse{Secret: s0, ClientId: testClientID})
		}
	}
	arm()
	if f, ok := a.use(&msg.RefreshFamilyUse{Secret: s0, ClientId: testClientID}).(*msg.Failure); !ok || f.GetCode() != oauth.CodeTemporarilyUnavailable {
		t.Fatalf("A's use with the grant unreachable: %v, want temporarily_unavailable", f)
	}
	if retried == nil {
		t.Fatal("B never answered the retry")
	}
	st := NewState[*msg.RefreshFamilyRecord](store.Store, RefreshKindName, a.key)
	if err := st.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec := st.Current()
	if rec.GetGeneration() != 2 || len(rec.GetConsumed()) != 1 || !rec.GetConsumed()[0].GetHandedOut() {
		t.Fatalf("after the undo: %v, want the rotation kept, its successor marked handed out", rec)
	}
	s1, ok := openSuccessor(s0, rec.GetConsumed()[0].GetSealedSuccessor())
	if !ok || !hashesEqual(HashSecret(s1), rec.GetCurrentHash()) {
		t.Fatal("the successor B handed out is not the family's current token")
	}
}
