package actors

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// exchangeGrant creates a live grant of account for testClientID with one PKCE code
// granting scopes and resources; it returns the grant id and the code ("<grant>.<secret>").
func exchangeGrant(t *testing.T, c *Client, account string, scopes, resources []string) (grantID, code, verifier string) {
	t.Helper()
	grantID = newID(t)
	must[*msg.GrantRecord](t)(c.EnsureGrant(ctxT(t), grantID, &msg.GrantEnsure{
		AccountId: account, ClientId: testClientID, Scopes: scopes, Resources: resources,
	}))
	secret := newSecretT(t)
	verifier, challenge := pkcePair(t)
	mustOK(t, c.IssueCode(ctxT(t), grantID, &msg.CodeRecord{
		Hash: HashSecret(secret), RedirectUri: testRedirectURI, Nonce: "n-1", Scopes: scopes, Resources: resources,
		CodeChallenge: challenge, CodeChallengeMethod: "S256", Sid: "sid-1", AuthTime: 1700000000,
	}))
	return grantID, grantID + "." + secret, verifier
}

func exchange(code, verifier string, refresh *op.RefreshPolicy) op.CodeExchange {
	return op.CodeExchange{Code: code, ClientID: testClientID, RedirectURI: testRedirectURI, CodeVerifier: verifier,
		Refresh: refresh}
}

var testRefreshPolicy = &op.RefreshPolicy{AppType: "Traditional", TTL: 14 * 24 * time.Hour, Rotate: true}

// One call redeems the code, creates the refresh family, stores the opaque access token
// and tells the account index: the edge makes no other call and compensates nothing.
func TestExchangeCode(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	tok := NewTokens(c)
	ctx := ctxT(t)
	account := newID(t)
	gid, code, verifier := exchangeGrant(t, c, account, []string{"openid", "offline_access", "profile"}, []string{"https://api.test"})

	at0 := time.Now().Truncate(time.Millisecond)
	setClock(t, GrantKindName, gid, at0) // the grant decides the token's expiry by its clock
	x := exchange(code, verifier, testRefreshPolicy)
	got, err := tok.ExchangeCode(ctx, x)
	if err != nil {
		t.Fatal(err)
	}
	if got.GrantID != gid || got.AccountID != account || got.Nonce != "n-1" || got.Sid != "sid-1" || got.AuthTime != 1700000000 ||
		!slices.Equal(got.Scopes, []string{"openid", "offline_access", "profile"}) || got.RefreshToken == "" || got.AccessToken.Token == "" {
		t.Fatalf("exchanged %+v", got)
	}
	// The opaque access token is stored on the grant.
	at, err := tok.LookupAccessToken(ctx, got.AccessToken.Token)
	if err != nil || at.Grant.ID != gid || !slices.Equal(at.Scopes, []string{"openid", "offline_access", "profile"}) {
		t.Fatalf("stored access token %+v: %v", at, err)
	}
	if want := at0.Add(oidcflow.DefaultLifetimes().AccessToken).UnixMilli(); got.AccessToken.ExpiresAt.UnixMilli() != want {
		t.Errorf("access token expires at %v, want the request's now + the access token lifetime", got.AccessToken.ExpiresAt)
	}
	// The family exists, belongs to the grant, and rotates.
	fam, err := tok.InspectRefreshToken(ctx, got.RefreshToken)
	if err != nil || fam.GrantID != gid || fam.AccountID != account || fam.Sid != "sid-1" || !slices.Equal(fam.Resources, []string{"https://api.test"}) {
		t.Fatalf("family %+v: %v", fam, err)
	}
	if g := loadRecord[*msg.GrantRecord](t, GrantKindName, gid); !slices.Contains(g.GetRefreshFamilies(), got.FamilyID) {
		t.Errorf("grant families %v lack %s", g.GetRefreshFamilies(), got.FamilyID)
	}
	// The account index learns of the family (fire-and-forget).
	waitFor(t, 5*time.Second, "the account index to list the family", func() bool {
		idx, err := c.AccountIndex(ctx, account)
		return err == nil && slices.ContainsFunc(idx.GetFamilies(), func(e *msg.AccountEntry) bool {
			return e.GetId() == got.FamilyID && e.GetParentId() == gid
		})
	})
	// A replay revokes the grant and reaches the family.
	_, err = tok.ExchangeCode(ctx, exchange(code, verifier, testRefreshPolicy))
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "authorization code already used")
	if _, err := tok.LookupAccessToken(ctx, got.AccessToken.Token); err == nil {
		t.Error("the access token outlived the replay")
	}
	waitFor(t, 5*time.Second, "the family to be revoked", func() bool {
		_, err := tok.InspectRefreshToken(ctx, got.RefreshToken)
		return err != nil
	})
}

func TestExchangeCodeRules(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	tok := NewTokens(c)
	tests := []struct {
		name    string
		scopes  []string
		edit    func(x *op.CodeExchange)
		advance time.Duration
		suspend bool
		code    string
		check   func(t *testing.T, gid string, got op.CodeExchanged)
	}{
		{name: "no offline_access: no family", scopes: []string{"openid"},
			check: func(t *testing.T, _ string, got op.CodeExchanged) {
				if got.RefreshToken != "" || got.FamilyID != "" || got.AccessToken.Token == "" {
					t.Errorf("exchanged %+v", got)
				}
			}},
		{name: "alwaysIssueRefreshToken", scopes: []string{"openid"},
			edit: func(x *op.CodeExchange) { p := *testRefreshPolicy; p.Always = true; x.Refresh = &p },
			check: func(t *testing.T, _ string, got op.CodeExchanged) {
				if got.RefreshToken == "" {
					t.Errorf("exchanged %+v", got)
				}
			}},
		{name: "client may not refresh: no family", scopes: []string{"openid", "offline_access"},
			edit: func(x *op.CodeExchange) { x.Refresh = nil },
			check: func(t *testing.T, _ string, got op.CodeExchanged) {
				if got.RefreshToken != "" {
					t.Errorf("exchanged %+v", got)
				}
			}},
		{name: "a resource: no opaque token", scopes: []string{"openid"},
			edit: func(x *op.CodeExchange) { x.Resource = "https://api.test" },
			check: func(t *testing.T, _ string, got op.CodeExchanged) {
				if got.AccessToken.Token != "" {
					t.Errorf("exchanged %+v", got)
				}
			}},
		{name: "a resource the code does not hold", scopes: []string{"openid"},
			edit: func(x *op.CodeExchange) { x.Resource = "https://other.test" }, code: oauth.CodeInvalidTarget},
		{name: "wrong client", scopes: []string{"openid"}, edit: func(x *op.CodeExchange) { x.ClientID = "app-2" }, code: oauth.CodeInvalidGrant},
		{name: "wrong redirect_uri", scopes: []string{"openid"}, edit: func(x *op.CodeExchange) { x.RedirectURI += "x" }, code: oauth.CodeInvalidGrant},
		{name: "wrong verifier", scopes: []string{"openid"}, edit: func(x *op.CodeExchange) { x.CodeVerifier += "x" }, code: oauth.CodeInvalidGrant},
		{name: "expired", scopes: []string{"openid"}, advance: oidcflow.DefaultLifetimes().Code, code: oauth.CodeInvalidGrant},
		{name: "malformed code", scopes: []string{"openid"}, edit: func(x *op.CodeExchange) { x.Code = "nodot" }, code: oauth.CodeInvalidGrant},
		// Suspension is decided inside the grant before anything is issued; the grant is
		// revoked (as the edge did before).
		{name: "suspended account", scopes: []string{"openid", "offline_access"}, suspend: true, code: oauth.CodeInvalidGrant,
			check: func(t *testing.T, gid string, _ op.CodeExchanged) {
				if !loadRecord[*msg.GrantRecord](t, GrantKindName, gid).GetRevoked() {
					t.Error("the grant of a suspended account is not revoked")
				}
			}},
		// Security (issue 12): an opaque access token carries only the scopes that exist
		// for it; an API scope granted with the code stays out of it.
		{name: "opaque token without API scopes", scopes: []string{"openid", "admin:everything", "roles", "urn:logto:scope:organizations"},
			check: func(t *testing.T, _ string, got op.CodeExchanged) {
				want := []string{"openid", "roles", "urn:logto:scope:organizations"}
				if !slices.Equal(got.AccessToken.Scopes, want) {
					t.Errorf("token scopes %v, want %v", got.AccessToken.Scopes, want)
				}
				at, err := tok.LookupAccessToken(context.Background(), got.AccessToken.Token)
				if err != nil || !slices.Equal(at.Scopes, want) {
					t.Errorf("stored scopes %v (%v), want %v", at.Scopes, err, want)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			account := newID(t)
			if tt.suspend {
				shared.suspended.Store(account, true)
			}
			gid, code, verifier := exchangeGrant(t, c, account, tt.scopes, []string{"https://api.test"})
			x := exchange(code, verifier, testRefreshPolicy)
			if tt.edit != nil {
				tt.edit(&x)
			}
			if tt.advance != 0 { // the grant decides expiry by its own clock
				setClock(t, GrantKindName, gid, time.Now().Add(tt.advance))
			}
			got, err := tok.ExchangeCode(ctxT(t), x)
			if tt.code != "" {
				wantErr(t, err, tt.code, 0)
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, gid, got)
			}
		})
	}
}
