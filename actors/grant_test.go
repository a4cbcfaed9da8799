package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

const (
	testClientID    = "app-1"
	testAccountID   = "user-1"
	testRedirectURI = "https://app.example/callback"
)

// newGrant creates a live grant of testAccountID for testClientID.
func newGrant(t *testing.T, c *Client) string {
	t.Helper()
	id := newID(t)
	must[*msg.GrantRecord](t)(c.EnsureGrant(ctxT(t), id, &msg.GrantEnsure{
		AccountId: testAccountID, ClientId: testClientID, Scopes: []string{"openid", "offline_access"},
	}))
	return id
}

// testCode is an authorization code issued for a test.
type testCode struct {
	secret, verifier string
}

// issueTestCode issues a code bound to testRedirectURI and, with pkce, a challenge.
func issueTestCode(t *testing.T, c *Client, grantID string, pkce bool) testCode {
	t.Helper()
	tc := testCode{secret: newSecretT(t)}
	code := &msg.CodeRecord{Hash: HashSecret(tc.secret), RedirectUri: testRedirectURI, Nonce: "n-1", Scopes: []string{"openid"}}
	if pkce {
		var challenge string
		tc.verifier, challenge = pkcePair(t)
		code.CodeChallenge, code.CodeChallengeMethod = challenge, "S256"
	}
	mustOK(t, c.IssueCode(ctxT(t), grantID, code))
	return tc
}

// exchange is the code exchange of tc on grant grantID (no refresh token unless
// refresh), with edit applied.
func (tc testCode) exchange(grantID string, refresh *op.RefreshPolicy, edit func(*op.CodeExchange)) op.CodeExchange {
	x := op.CodeExchange{Code: grantID + "." + tc.secret, ClientID: testClientID, RedirectURI: testRedirectURI,
		CodeVerifier: tc.verifier, Refresh: refresh}
	if edit != nil {
		edit(&x)
	}
	return x
}

func TestGrantEnsure(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	mustGrant := must[*msg.GrantRecord](t)
	id := newID(t)

	_, err := c.EnsureGrant(ctx, id, &msg.GrantEnsure{ClientId: testClientID})
	wantErr(t, err, oauth.CodeInvalidRequest, 400)
	_, err = c.CheckGrant(ctx, id)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)

	before := time.Now()
	g := mustGrant(c.EnsureGrant(ctx, id, &msg.GrantEnsure{
		AccountId: testAccountID, ClientId: testClientID, Scopes: []string{"openid", "profile"},
		Resources: []string{"https://api-a"}, SessionId: "sess-1", Sid: "sid-1",
	}))
	if g.GetExpiresAtMs() < before.Add(oidcflow.DefaultLifetimes().Grant).UnixMilli() || g.GetCreatedAtMs() < before.UnixMilli() || g.GetSid() != "sid-1" {
		t.Fatalf("created %v", g)
	}
	// Merge: union of scopes and resources; the expiry only grows.
	later := time.UnixMilli(g.GetExpiresAtMs()).Add(time.Hour)
	g = mustGrant(c.EnsureGrant(ctx, id, &msg.GrantEnsure{
		AccountId: testAccountID, ClientId: testClientID, Scopes: []string{"profile", "email"},
		Resources: []string{"https://api-b", "https://api-a"}, ExpiresAtMs: later.UnixMilli(),
	}))
	g = mustGrant(c.EnsureGrant(ctx, id, &msg.GrantEnsure{Scopes: []string{"openid"}, ExpiresAtMs: time.Now().Add(time.Minute).UnixMilli()}))
	if !slices.Equal(g.GetScopes(), []string{"openid", "profile", "email"}) ||
		!slices.Equal(g.GetResources(), []string{"https://api-a", "https://api-b"}) ||
		g.GetExpiresAtMs() != later.UnixMilli() || g.GetSessionId() != "sess-1" {
		t.Fatalf("merged %v", g)
	}
	_, err = c.EnsureGrant(ctx, id, &msg.GrantEnsure{AccountId: "someone-else", ClientId: testClientID})
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	_, err = c.EnsureGrant(ctx, id, &msg.GrantEnsure{AccountId: testAccountID, ClientId: "other-app"})
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	if g := mustGrant(c.CheckGrant(ctx, id)); g.GetAccountId() != testAccountID {
		t.Fatalf("CheckGrant = %v", g)
	}
}

// TestGrantCodeRedemption: the code checks of the exchange (checkCode), each on the
// live path (Tokens.ExchangeCode, one GrantExchangeCode message).
func TestGrantCodeRedemption(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	tok := NewTokens(c)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	always := &op.RefreshPolicy{AppType: "Traditional", TTL: time.Hour, Rotate: true, Always: true}

	// Success: PKCE verified, the access token stored, the family recorded; the reply
	// carries neither codes nor token hashes (the message as Tokens.ExchangeCode sends it).
	tc := issueTestCode(t, c, gid, true)
	got := must[*msg.CodeExchanged](t)(Call[*msg.CodeExchanged](ctx, c.node, GrantKindName, gid, &msg.GrantExchangeCode{
		CodeSecret: tc.secret, ClientId: testClientID, RedirectUri: testRedirectURI, CodeVerifier: tc.verifier,
		RefreshAllowed: true, RefreshAlways: true, AppType: "Traditional", RefreshRotate: true,
	}))
	if !got.GetCode().GetRedeemed() || got.GetCode().GetNonce() != "n-1" || got.GetGrant().GetAccountId() != testAccountID ||
		got.GetFamilyId() == "" || !slices.Equal(got.GetGrant().GetRefreshFamilies(), []string{got.GetFamilyId()}) ||
		len(got.GetGrant().GetCodes()) != 0 || len(got.GetGrant().GetAccessTokens()) != 0 {
		t.Fatalf("redeemed %v", got)
	}
	info := must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, got.GetAccessTokenSecret(), time.Time{}))
	if !slices.Equal(info.GetAccessToken().GetScopes(), []string{"openid"}) || info.GetGrant().GetClientId() != testClientID {
		t.Fatalf("lookup %v", info)
	}
	if info.GetAccessToken().GetExpiresAtMs()-info.GetAccessToken().GetIssuedAtMs() != oidcflow.DefaultLifetimes().AccessToken.Milliseconds() {
		t.Errorf("access token lifetime %d ms, want the 1 h default", info.GetAccessToken().GetExpiresAtMs()-info.GetAccessToken().GetIssuedAtMs())
	}

	// A code without a challenge needs no verifier.
	plain := issueTestCode(t, c, gid, false)
	if _, err := tok.ExchangeCode(ctx, plain.exchange(gid, nil, nil)); err != nil {
		t.Fatal(err)
	}

	// Every rule, each on a fresh code. None of these failures redeems or revokes.
	tests := []struct {
		name string
		pkce bool
		edit func(tc testCode, x *op.CodeExchange)
		desc string
	}{
		{"unknown code", true, func(_ testCode, x *op.CodeExchange) { x.Code = gid + ".nope" }, "authorization code not found"},
		{"expired (60 s)", true, func(_ testCode, _ *op.CodeExchange) {
			setClock(t, GrantKindName, gid, time.Now().Add(oidcflow.DefaultLifetimes().Code))
		}, "expired"},
		{"another client", true, func(_ testCode, x *op.CodeExchange) { x.ClientID = "other-app" }, "client mismatch"},
		{"another redirect_uri", true, func(_ testCode, x *op.CodeExchange) { x.RedirectURI = testRedirectURI + "/x" }, "redirect_uri mismatch"},
		{"missing redirect_uri", true, func(_ testCode, x *op.CodeExchange) { x.RedirectURI = "" }, "redirect_uri mismatch"},
		{"missing code_verifier", true, func(_ testCode, x *op.CodeExchange) { x.CodeVerifier = "" }, "PKCE verification failed"},
		{"wrong code_verifier", true, func(_ testCode, x *op.CodeExchange) { x.CodeVerifier = newSecretT(t) }, "PKCE verification failed"},
		{"malformed code_verifier", true, func(tc testCode, x *op.CodeExchange) { x.CodeVerifier = tc.verifier[:20] }, "PKCE verification failed"},
		{"code_verifier without challenge", false, func(_ testCode, x *op.CodeExchange) { x.CodeVerifier = newSecretT(t) }, "PKCE verification failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := issueTestCode(t, c, gid, tt.pkce)
			_, err := tok.ExchangeCode(ctx, tc.exchange(gid, always, func(x *op.CodeExchange) { tt.edit(tc, x) }))
			wantErrDesc(t, err, oauth.CodeInvalidGrant, tt.desc)
			setClock(t, GrantKindName, gid, time.Time{}) // the grant's real clock again
			// The code is still good, and the grant alive.
			if _, err := tok.ExchangeCode(ctx, tc.exchange(gid, always, nil)); err != nil {
				t.Fatal(err)
			}
		})
	}
	must[*msg.GrantRecord](t)(c.CheckGrant(ctx, gid))

	// A stored code records the plain method as refused.
	bad := newSecretT(t)
	mustOK(t, c.IssueCode(ctx, gid, &msg.CodeRecord{Hash: HashSecret(bad), RedirectUri: testRedirectURI, CodeChallenge: "x", CodeChallengeMethod: "plain"}))
	_, err := tok.ExchangeCode(ctx, testCode{secret: bad, verifier: "x"}.exchange(gid, nil, nil))
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "PKCE verification failed")

	// Issuing: a hash is required, and a hash only once.
	wantErr(t, c.IssueCode(ctx, gid, &msg.CodeRecord{}), oauth.CodeInvalidRequest, 400)
	wantErr(t, c.IssueCode(ctx, gid, &msg.CodeRecord{Hash: HashSecret(bad)}), oauth.CodeInvalidRequest, 400)
	wantErr(t, c.IssueCode(ctx, newID(t), &msg.CodeRecord{Hash: "h"}), oauth.CodeInvalidGrant, 400)
}

// TestCodeReplayRevokesGrant: RFC 6749 4.1.2 / 10.5 — a second redemption fails and
// revokes the grant, its opaque access tokens and its refresh families.
func TestCodeReplayRevokesGrant(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	tok := NewTokens(c)
	ctx := ctxT(t)
	gid := newGrant(t, c)

	tc := issueTestCode(t, c, gid, true)
	x := tc.exchange(gid, &op.RefreshPolicy{AppType: "Traditional", TTL: time.Hour, Rotate: true, Always: true}, nil)
	got, err := tok.ExchangeCode(ctx, x)
	if err != nil || got.FamilyID == "" || got.AccessToken.Token == "" {
		t.Fatalf("exchanged %+v: %v", got, err)
	}
	_, atSecret, _ := SplitToken(got.AccessToken.Token)
	famID, famSecret, _ := SplitToken(got.RefreshToken)
	// A second token from a refresh, recorded with the family.
	at2 := newSecretT(t)
	used := must[*msg.RefreshUsed](t)(useAt(t, c, ctx, famID, famSecret, testClientID, time.Time{}, "", nil,
		&msg.AccessTokenRecord{Hash: HashSecret(at2)}))
	must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, at2, time.Time{}))

	// The replay.
	_, err = tok.ExchangeCode(ctx, x)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "authorization code already used")

	_, err = c.CheckGrant(ctx, gid)
	wantErrDesc(t, err, oauth.CodeInvalidGrant, "grant revoked")
	for _, s := range []string{atSecret, at2} {
		_, err = lookupAt(t, c, ctx, gid, s, time.Time{})
		wantErr(t, err, oauth.CodeInvalidToken, 401)
	}
	_, err = useAt(t, c, ctx, famID, used.GetNextSecret(), testClientID, time.Time{}, "", nil, nil)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	// The family learns it is revoked by message (fire-and-forget).
	waitFor(t, 5*time.Second, "the family to be revoked", func() bool {
		return loadRecord[*msg.RefreshFamilyRecord](t, RefreshKindName, famID).GetRevoked()
	})
	if g := loadRecord[*msg.GrantRecord](t, GrantKindName, gid); len(g.GetAccessTokens()) != 0 || len(g.GetCodes()) != 0 {
		t.Errorf("revoked grant still holds %d tokens and %d codes", len(g.GetAccessTokens()), len(g.GetCodes()))
	}

	// A revoked grant refuses everything but a revocation.
	wantErr(t, c.IssueCode(ctx, gid, &msg.CodeRecord{Hash: "h2"}), oauth.CodeInvalidGrant, 400)
	wantErr(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: "h3"}, ""), oauth.CodeInvalidGrant, 400)
	_, err = c.EnsureGrant(ctx, gid, &msg.GrantEnsure{AccountId: testAccountID, ClientId: testClientID})
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	_, err = tok.ExchangeCode(ctx, x)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)
	mustOK(t, c.RevokeGrant(ctx, gid))
}

func TestGrantAccessTokensAndRevocation(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	now := time.Now()

	s1 := newSecretT(t)
	mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{
		Hash: HashSecret(s1), Scopes: []string{"openid"}, IssuedAtMs: now.UnixMilli(), ExpiresAtMs: now.Add(time.Minute).UnixMilli(),
	}, ""))
	wantErr(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{}, ""), oauth.CodeInvalidRequest, 400)
	must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, s1, now))
	_, err := lookupAt(t, c, ctx, gid, "wrong", now)
	wantErr(t, err, oauth.CodeInvalidToken, 401)
	_, err = lookupAt(t, c, ctx, gid, s1, now.Add(time.Minute)) // expired at now+1m
	wantErr(t, err, oauth.CodeInvalidToken, 401)
	_, err = lookupAt(t, c, ctx, newID(t), s1, now)
	wantErr(t, err, oauth.CodeInvalidToken, 401)

	// An expired token is pruned by the next mutation.
	s2 := newSecretT(t)
	mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(s2), ExpiresAtMs: time.Now().Add(50 * time.Millisecond).UnixMilli()}, ""))
	waitFor(t, 5*time.Second, "the short token to expire", func() bool {
		_, err := lookupAt(t, c, ctx, gid, s2, time.Time{})
		return err != nil
	})
	// Each token is a record of its own whose TTL is the token's: the expired one is no
	// longer live in the store (the sweeper deletes it), and the grant record holds none.
	_, store := testClient(t)
	if _, err := store.Get(ctx, GrantAccessTokenKind, accessTokenKey(gid, HashSecret(s2))); err == nil {
		t.Error("an expired access token is still a live record")
	}
	if _, err := store.Get(ctx, GrantAccessTokenKind, accessTokenKey(gid, HashSecret(s1))); err != nil {
		t.Errorf("a live access token has no record: %v", err)
	}
	if n := len(loadRecord[*msg.GrantRecord](t, GrantKindName, gid).GetAccessTokens()); n != 0 {
		t.Errorf("the grant record holds %d access tokens, want 0", n)
	}

	// Revocation: idempotent, kills the tokens; unknown grants revoke fine too.
	mustOK(t, c.RevokeGrant(ctx, gid))
	mustOK(t, c.RevokeGrant(ctx, gid))
	mustOK(t, c.RevokeGrant(ctx, newID(t)))
	_, err = lookupAt(t, c, ctx, gid, s1, now)
	wantErr(t, err, oauth.CodeInvalidToken, 401)
	_, err = c.CheckGrant(ctx, gid)
	wantErr(t, err, oauth.CodeInvalidGrant, 400)

	// An expired grant is gone: invalid_grant.
	short := newID(t)
	must[*msg.GrantRecord](t)(c.EnsureGrant(ctx, short, &msg.GrantEnsure{
		AccountId: testAccountID, ClientId: testClientID, ExpiresAtMs: time.Now().Add(300 * time.Millisecond).UnixMilli(),
	}))
	// Codes and tokens never outlive their grant.
	long := newSecretT(t)
	mustOK(t, storeAccessToken(ctx, c, short, &msg.AccessTokenRecord{Hash: HashSecret(long), ExpiresAtMs: time.Now().Add(time.Hour).UnixMilli()}, ""))
	info := must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, short, long, time.Time{}))
	if info.GetAccessToken().GetExpiresAtMs() != info.GetGrant().GetExpiresAtMs() {
		t.Errorf("token expiry %d outlives its grant %d", info.GetAccessToken().GetExpiresAtMs(), info.GetGrant().GetExpiresAtMs())
	}
	waitFor(t, 5*time.Second, "the grant to expire", func() bool {
		_, err := c.CheckGrant(ctx, short)
		return err != nil
	})
	_, err = lookupAt(t, c, ctx, short, long, time.Time{})
	wantErr(t, err, oauth.CodeInvalidToken, 401)
}

// TestGrantKeepsEveryLiveAccessToken: a grant that issued many tokens still honours the
// first one (tokens used to be evicted from a bounded list in the grant record).
func TestGrantKeepsEveryLiveAccessToken(t *testing.T) {
	t.Parallel()
	c, _ := testClient(t)
	ctx := ctxT(t)
	gid := newGrant(t, c)
	first := newSecretT(t)
	mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(first)}, ""))
	for range 600 {
		mustOK(t, storeAccessToken(ctx, c, gid, &msg.AccessTokenRecord{Hash: HashSecret(newSecretT(t))}, ""))
	}
	must[*msg.AccessTokenInfo](t)(lookupAt(t, c, ctx, gid, first, time.Time{}))
}
