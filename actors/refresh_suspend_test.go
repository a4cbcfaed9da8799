package actors

import (
	"slices"
	"testing"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// The family asks whether its account is still active before it rotates: a suspended
// account's refresh is refused with the family revoked and nothing rotated, instead of
// a rotation the edge had to compensate.
func TestRefreshRefusesSuspendedAccount(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	account := newID(t)
	gid := newID(t)
	must[*msg.GrantRecord](t)(c.EnsureGrant(ctx, gid, &msg.GrantEnsure{AccountId: account, ClientId: testClientID, Scopes: []string{"openid"}}))
	fid, secret := newID(t), newSecretT(t)
	mustOK(t, createRefreshFamily(ctx, c, fid, &msg.RefreshFamilyRecord{
		GrantId: gid, ClientId: testClientID, AccountId: account, AppType: "SPA", Rotate: true, Scopes: []string{"openid"},
	}, secret))
	before := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)

	shared.suspended.Store(account, true)
	_, err := c.UseRefreshToken(ctx, fid, secret, testClientID, "", nil, nil)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "the account is suspended or deleted")
	after := loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, fid)
	if !after.GetRevoked() || after.GetGeneration() != before.GetGeneration() || after.GetCurrentHash() != before.GetCurrentHash() {
		t.Fatalf("family after a suspended use: revoked %v, generation %d -> %d", after.GetRevoked(), before.GetGeneration(), after.GetGeneration())
	}
	// Lifting the suspension does not bring the family back (as before: it was revoked).
	shared.suspended.Delete(account)
	_, err = c.UseRefreshToken(ctx, fid, secret, testClientID, "", nil, nil)
	wantErr(t, err, oauth.CodeInvalidGrant, 0)
}

// issue_access_token: the family draws the opaque access token, its grant stores it with
// the refresh's scopes (only those an opaque token may carry), and the reply carries it.
func TestRefreshIssuesOpaqueAccessToken(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	tok := NewTokens(c)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	fid, secret := newFamily(t, c, gid, &msg.RefreshFamilyRecord{AppType: "SPA", Rotate: true,
		Scopes: []string{"openid", "offline_access", "read:orders"}, Resources: []string{"https://api.test"}})
	token := fid + "." + secret
	tests := []struct {
		name       string
		scopes     []string
		wantScopes []string // of the refresh
		want       []string // of the opaque token
	}{
		// Security (issue 12): the API scope stays in the family (for JWTs of its
		// resource) but never reaches an opaque token.
		{"the family's scopes", nil, []string{"openid", "offline_access", "read:orders"}, []string{"openid", "offline_access"}},
		{"narrowed", []string{"openid"}, []string{"openid"}, []string{"openid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			used, err := tok.UseRefreshToken(ctx, op.RefreshUse{Token: token, ClientID: testClientID, Scopes: tt.scopes, OpaqueAccessToken: true})
			if err != nil {
				t.Fatal(err)
			}
			token = used.RefreshToken
			if !slices.Equal(used.Scopes, tt.wantScopes) || !slices.Equal(used.AccessToken.Scopes, tt.want) || used.Family.GrantID != gid {
				t.Fatalf("used %+v", used)
			}
			at, err := tok.LookupAccessToken(ctx, used.AccessToken.Token)
			if err != nil || at.Grant.ID != gid || !slices.Equal(at.Scopes, tt.want) {
				t.Fatalf("stored token %+v: %v", at, err)
			}
		})
	}
	// Without issue_access_token no opaque token is drawn.
	used, err := tok.UseRefreshToken(ctx, op.RefreshUse{Token: token, ClientID: testClientID, Resource: "https://api.test"})
	if err != nil || used.AccessToken.Token != "" {
		t.Fatalf("used %+v: %v", used, err)
	}
}
