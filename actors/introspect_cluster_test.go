package actors

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// TestIntrospectionAcrossMembers runs the introspection and revocation messages across
// two member processes: the grant on b, its refresh family on a, every request sent
// from the other member, so RefreshFamilyInspect's GrantCheck and the revoked family's
// GrantRevoke cross members too.
func TestIntrospectionAcrossMembers(t *testing.T) {
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
	defer a.Close()
	defer b.Close()
	waitFor(t, 5*time.Second, "a and b to see each other", seeOnly(a, b))

	n := 0
	ownedBy := func(kind string, owner *memberProc) string {
		t.Helper()
		cands := make([]string, 64)
		for i := range cands {
			n++
			cands[i] = fmt.Sprintf("%s-ix%d", kind, n)
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

	gid, fid := ownedBy(GrantKindName, b), ownedBy(RefreshKindName, a)
	at1, at2, famSecret := "at-1", "at-2", "family-secret"
	a.mustGrain(t, GrantKindName, gid, &msg.GrantEnsure{AccountId: testAccountID, ClientId: testClientID, Scopes: []string{"openid"}}, &msg.GrantRecord{})
	for _, s := range []string{at1, at2} {
		a.mustGrain(t, GrantKindName, gid, &msg.GrantCheck{AccessToken: &msg.AccessTokenRecord{Hash: HashSecret(s)}, FamilyId: fid}, &msg.GrantRecord{})
	}
	b.mustGrain(t, RefreshKindName, fid, &msg.RefreshFamilyCreate{Record: &msg.RefreshFamilyRecord{
		GrantId: gid, ClientId: testClientID, AccountId: testAccountID, AppType: "Native", Rotate: true, Sid: "sid-x",
	}, Secret: famSecret}, &msg.Ack{})

	// Inspect on a (driven from b): the family asks its grant on b.
	var fam msg.RefreshFamilyRecord
	b.mustGrain(t, RefreshKindName, fid, &msg.RefreshFamilyInspect{Secret: famSecret}, &fam)
	if fam.GetClientId() != testClientID || fam.GetSid() != "sid-x" {
		t.Fatalf("inspect across members: %v", &fam)
	}
	if oe := b.grain(t, RefreshKindName, fid, &msg.RefreshFamilyInspect{Secret: "wrong"}, nil); oe == nil || oe.Code != oauth.CodeInvalidGrant {
		t.Fatalf("inspect with a wrong secret: %v", oe)
	}

	// One access token revoked on b (driven from a); another client's request is not obeyed.
	var rev msg.TokenRevoked
	a.mustGrain(t, GrantKindName, gid, &msg.GrantRevokeAccessToken{Secret: at1, ClientId: "app-2"}, &rev)
	if !rev.GetFound() || rev.GetRevoked() {
		t.Fatalf("another client's revocation: %v", &rev)
	}
	a.mustGrain(t, GrantKindName, gid, &msg.GrantRevokeAccessToken{Secret: at1, ClientId: testClientID}, &rev)
	if !rev.GetRevoked() || rev.GetGrantId() != gid {
		t.Fatalf("access token revocation: %v", &rev)
	}
	if oe := a.grain(t, GrantKindName, gid, &msg.GrantLookupAccessToken{Secret: at1}, nil); oe == nil || oe.Code != oauth.CodeInvalidToken {
		t.Fatalf("revoked token still found: %v", oe)
	}
	a.mustGrain(t, GrantKindName, gid, &msg.GrantLookupAccessToken{Secret: at2}, &msg.AccessTokenInfo{})

	// The family revoked on a (driven from b) tells its grant on b.
	b.mustGrain(t, RefreshKindName, fid, &msg.RefreshFamilyRevokeToken{Secret: famSecret, ClientId: testClientID}, &rev)
	if !rev.GetRevoked() || rev.GetGrantId() != gid {
		t.Fatalf("refresh token revocation: %v", &rev)
	}
	waitFor(t, 5*time.Second, "the grant on b to learn its family on a was revoked", func() bool {
		return a.grain(t, GrantKindName, gid, &msg.GrantCheck{}, nil) != nil
	})
	if oe := a.grain(t, GrantKindName, gid, &msg.GrantLookupAccessToken{Secret: at2}, nil); oe == nil || oe.Code != oauth.CodeInvalidToken {
		t.Fatalf("a token of the revoked grant: %v", oe)
	}
}
