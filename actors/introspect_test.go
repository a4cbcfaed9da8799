package actors

import (
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestSplitIssuedToken(t *testing.T) {
	key, secret, err := NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, tok string
		ok        bool
	}{
		{"issued", key + "." + secret, true},
		{"no dot", key + secret, false},
		{"short key", key[1:] + "." + secret, false},
		{"long secret", key + "." + secret + "A", false},
		{"padding", key + "." + secret[:42] + "=", false},
		{"std base64", key[:21] + "+." + secret, false},
		{"two dots", key + "." + secret[:21] + "." + secret[22:], false},
		{"empty", "", false},
		{"non-ASCII", strings.Repeat("é", 11) + "." + secret, false},
	}
	for _, tt := range tests {
		k, s, ok := SplitIssuedToken(tt.tok)
		if ok != tt.ok || (ok && (k != key || s != secret)) {
			t.Errorf("%s: SplitIssuedToken = %q %q %v, want ok %v", tt.name, k, s, ok, tt.ok)
		}
	}
}

// FuzzSplitIssuedToken: never a panic; what it accepts splits back into the input and
// has the issued lengths and alphabet.
func FuzzSplitIssuedToken(f *testing.F) {
	key, secret, _ := NewToken(rand.Reader)
	for _, s := range []string{key + "." + secret, "a.b", "", ".", key + ".", "." + secret, key + "." + secret + "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		k, s, ok := SplitIssuedToken(tok)
		if !ok {
			return
		}
		if k+"."+s != tok || len(k) != 22 || len(s) != 43 || !base64URL(k) || !base64URL(s) {
			t.Fatalf("SplitIssuedToken(%q) = %q, %q", tok, k, s)
		}
	})
}

// TestInspectRefreshToken: only the family's current, unexpired token of a live grant
// is active; inspecting writes nothing and never rotates.
func TestInspectRefreshToken(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	now := time.UnixMilli(time.Now().UnixMilli())
	gid := newGrant(t, c)
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli(), Sid: "sid-9"})

	before := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
	fam := must[*msg.RefreshFamilyRecord](t)(inspectAt(t, c, ctx, fid, s0, now))
	if fam.GetClientId() != testClientID || fam.GetAccountId() != testAccountID || fam.GetSid() != "sid-9" ||
		fam.GetCurrentExpiresAtMs() != before.GetCurrentExpiresAtMs() || len(fam.GetConsumed()) != 0 || fam.GetCurrentHash() != before.GetCurrentHash() {
		t.Fatalf("inspect = %v", fam)
	}
	if after := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid); after.GetGeneration() != before.GetGeneration() {
		t.Fatal("inspecting rotated the token")
	}

	inactive := []struct {
		name   string
		family string
		secret string
		at     time.Time
	}{
		{"wrong secret", fid, newSecretT(t), now},
		{"unknown family", newID(t), s0, now},
		{"a grant id", gid, s0, now},
		{"expired", fid, s0, time.UnixMilli(before.GetCurrentExpiresAtMs())},
	}
	for _, tt := range inactive {
		_, err := inspectAt(t, c, ctx, tt.family, tt.secret, tt.at)
		if !errors.Is(err, oauth.InvalidGrant("")) {
			t.Errorf("%s: %v, want invalid_grant", tt.name, err)
		}
	}

	// Rotated (SPA: every use): the consumed token is inactive even within the reuse
	// window; the successor is active.
	used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid, s0, testClientID, now, "", nil, nil))
	_, err := inspectAt(t, c, ctx, fid, s0, now.Add(time.Second))
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	must[*msg.RefreshFamilyRecord](t)(inspectAt(t, c, ctx, fid, used.GetNextSecret(), now.Add(time.Second)))

	// The grant dies: the family's token is inactive at once, without a write.
	mustOK(t, c.RevokeGrant(ctx, gid))
	fid2, s2 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native", Rotate: true})
	_, err = inspectAt(t, c, ctx, fid2, s2, time.Time{})
	wantErr(t, err, oauth.CodeInvalidGrant, 400)

	// A revoked family.
	gid3 := newGrant(t, c)
	fid3, s3 := newFamily(t, c, gid3, &msg.RefreshFamilyRecord{AppType: "Native"})
	mustOK(t, c.RevokeRefreshFamily(ctx, fid3))
	_, err = inspectAt(t, c, ctx, fid3, s3, time.Time{})
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
}

// TestRevokeRefreshToken: the family's client revokes it by its current or a consumed
// token, and the grant follows; another client's request is reported, not obeyed.
func TestRevokeRefreshToken(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	mustRev := must[*msg.TokenRevoked](t)

	gid := newGrant(t, c)
	atSecret := newSecretT(t)
	mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(atSecret)}, ""))
	fid, s0 := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native"})

	for _, tt := range []struct {
		name, family, secret, client string
		want                         *msg.TokenRevoked
	}{
		{"unknown family", newID(t), s0, testClientID, &msg.TokenRevoked{}},
		{"wrong secret", fid, newSecretT(t), testClientID, &msg.TokenRevoked{}},
		{"another client", fid, s0, "app-2", &msg.TokenRevoked{Found: true, ClientId: testClientID, GrantId: gid}},
	} {
		got := mustRev(revokeRefreshAt(t, c, ctx, tt.family, tt.secret, tt.client, time.Time{}))
		if got.GetFound() != tt.want.GetFound() || got.GetRevoked() || got.GetClientId() != tt.want.GetClientId() || got.GetGrantId() != tt.want.GetGrantId() {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	must[*msg.RefreshFamilyRecord](t)(inspectAt(t, c, ctx, fid, s0, time.Time{}))

	got := mustRev(revokeRefreshAt(t, c, ctx, fid, s0, testClientID, time.Time{}))
	if !got.GetFound() || !got.GetRevoked() || got.GetGrantId() != gid {
		t.Fatalf("revoke by the family's client: %v", got)
	}
	if !loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid).GetRevoked() {
		t.Fatal("family not revoked")
	}
	_, err := useAt(t, c, ctx, fid, s0, testClientID, time.Time{}, "", nil, nil)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	// Idempotent: nothing more to revoke.
	if again := mustRev(revokeRefreshAt(t, c, ctx, fid, s0, testClientID, time.Time{})); again.GetFound() || again.GetRevoked() {
		t.Fatalf("second revocation: %v", again)
	}
	// The family told its grant (fire-and-forget).
	waitFor(t, 5*time.Second, "the grant to be revoked", func() bool {
		_, err := c.CheckGrant(ctx, gid)
		return errors.Is(err, oauth.InvalidGrant(""))
	})
	_, err = lookupAt(t, c, ctx, gid, atSecret, time.Time{})
	wantErr(t, err, oauth.CodeInvalidToken, 401)

	// A consumed token the family remembers revokes it too.
	now := time.UnixMilli(time.Now().UnixMilli())
	gid2 := newGrant(t, c)
	fid2, s1 := newFamily(t, c, gid2, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true, CreatedAtMs: now.UnixMilli()})
	used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, fid2, s1, testClientID, now, "", nil, nil))
	if got := mustRev(revokeRefreshAt(t, c, ctx, fid2, s1, testClientID, now.Add(time.Minute))); !got.GetRevoked() {
		t.Fatalf("revoke by a consumed token: %v", got)
	}
	_, err = inspectAt(t, c, ctx, fid2, used.GetNextSecret(), now.Add(time.Minute))
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
}

// TestRevokeAccessToken: one opaque token goes; the grant, its other tokens and its
// families stay.
func TestRevokeAccessToken(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	mustRev := must[*msg.TokenRevoked](t)
	now := time.Now()

	gid := newGrant(t, c)
	s1, s2 := newSecretT(t), newSecretT(t)
	for _, s := range []string{s1, s2} {
		mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(s)}, ""))
	}
	fid, rt := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "Native"})

	if got := mustRev(revokeAccessAt(t, c, ctx, gid, s1, "app-2", now)); !got.GetFound() || got.GetRevoked() || got.GetClientId() != testClientID {
		t.Fatalf("another client: %v", got)
	}
	must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, s1, now))
	if got := mustRev(revokeAccessAt(t, c, ctx, newID(t), s1, testClientID, now)); got.GetFound() {
		t.Fatalf("unknown grant: %v", got)
	}
	if got := mustRev(revokeAccessAt(t, c, ctx, gid, newSecretT(t), testClientID, now)); got.GetFound() {
		t.Fatalf("unknown token: %v", got)
	}
	if got := mustRev(revokeAccessAt(t, c, ctx, gid, s1, testClientID, now)); !got.GetRevoked() || got.GetGrantId() != gid {
		t.Fatalf("revoke: %v", got)
	}
	_, err := lookupAt(t, c, ctx, gid, s1, now)
	wantErr(t, err, oauth.CodeInvalidToken, 401)
	must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, s2, now))
	must[*msg.GrantRecord](t)(checkGrantAt(t, c, ctx, gid, now))
	must[*msg.RefreshFamilyRecord](t)(inspectAt(t, c, ctx, fid, rt, now))
	if got := mustRev(revokeAccessAt(t, c, ctx, gid, s1, testClientID, now)); got.GetFound() {
		t.Fatalf("second revocation: %v", got)
	}
	// An expired token is not found.
	if got := mustRev(revokeAccessAt(t, c, ctx, gid, s2, testClientID, now.Add(2*oidcflow.DefaultLifetimes().AccessToken))); got.GetFound() {
		t.Fatalf("expired token: %v", got)
	}
	// A revoked grant has nothing to revoke.
	mustOK(t, c.RevokeGrant(ctx, gid))
	if got := mustRev(revokeAccessAt(t, c, ctx, gid, s2, testClientID, now)); got.GetFound() {
		t.Fatalf("revoked grant: %v", got)
	}
	_, err = checkGrantAt(t, c, ctx, gid, now)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
}
