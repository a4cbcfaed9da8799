package op

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// fakeExchangeGrants is Grants with the ExchangeGrants capability.
type fakeExchangeGrants struct {
	fakeGrants
	issued []ExchangeAccessToken
}

func (f *fakeExchangeGrants) IssueExchangeAccessToken(_ context.Context, x ExchangeAccessToken) (AccessTokenIssued, error) {
	f.issued = append(f.issued, x)
	return AccessTokenIssued{Token: x.GrantID + "." + x.Secret, Scopes: x.Scopes, ExpiresAt: x.ExpiresAt}, nil
}

// exchangeEnv is newEnv's world with a clock that moves, a Traditional app allowed to
// exchange tokens, one that is not, and a third-party one that claims it may.
type exchangeEnv struct {
	*env
	clock                     *atomic.Int64
	allowed, denied, thirdPty *directory.Application
	grants                    *fakeExchangeGrants
	tokens                    *fakeTokens
}

func newExchangeEnv(t *testing.T) *exchangeEnv {
	t.Helper()
	x := &exchangeEnv{clock: &atomic.Int64{}, grants: &fakeExchangeGrants{}, tokens: &fakeTokens{}}
	x.env = newEnv(t, fakes{})
	x.clock.Store(x.env.now.UnixMilli())
	clock := func() time.Time { return time.UnixMilli(x.clock.Load()) }
	dir, ring := newTestDirectory(t, clock)
	p, err := New(Config{Issuer: "http://op.test/oidc", Directory: dir, Keys: ring,
		Grants: x.grants, AccessTokens: x.tokens, Families: &fakeFamilies{}, Now: clock, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	x.env = &env{p: p, dir: dir, now: clock(), secrets: map[string]string{}}
	yes := true
	app := func(name string, allow, third bool) *directory.Application {
		in := directory.NewApplication{Name: name, Type: directory.AppTraditional, IsThirdParty: third}
		if allow {
			in.CustomClientMetadata.AllowTokenExchange = &yes
		}
		a, secret, err := dir.CreateApplication(t.Context(), in)
		if err != nil {
			t.Fatal(err)
		}
		x.secrets[a.ID] = secret
		return a
	}
	x.allowed, x.denied, x.thirdPty = app("allowed", true, false), app("denied", false, false), app("third", true, true)
	x.web = x.allowed
	m2m, secret, err := dir.CreateApplication(t.Context(), directory.NewApplication{Name: "m2m", Type: directory.AppMachineToMachine})
	if err != nil {
		t.Fatal(err)
	}
	x.m2m, x.secrets[m2m.ID] = m2m, secret
	name := "te_user"
	if x.user, err = dir.CreateUser(t.Context(), directory.NewUser{Username: &name}); err != nil {
		t.Fatal(err)
	}
	if x.res, err = dir.CreateResource(t.Context(), directory.NewResource{Name: "API", Indicator: tResource, AccessTokenTTL: 900}); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *exchangeEnv) subjectToken(t *testing.T) string {
	t.Helper()
	_, v, err := x.dir.CreateSubjectToken(t.Context(), x.user.ID, json.RawMessage(`{}`), "admin")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (x *exchangeEnv) pat(t *testing.T, name string, expiresAt *int64) string {
	t.Helper()
	_, v, err := x.dir.CreatePersonalAccessToken(t.Context(), x.user.ID, name, expiresAt)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (x *exchangeEnv) exchange(t *testing.T, app *directory.Application, req TokenRequest) (oidcflow.TokenResponse, error) {
	t.Helper()
	req.GrantType = oauth.GrantTokenExchange
	req.Client = x.basic(app)
	resp, _, err := x.p.Token(t.Context(), req)
	return resp, err
}

func TestTokenExchangeClients(t *testing.T) {
	x := newExchangeEnv(t)
	sub := x.subjectToken(t)
	req := TokenRequest{SubjectToken: sub, SubjectTokenType: TokenTypeAccessToken, Resources: []string{tResource}}
	_, err := x.exchange(t, x.denied, req)
	wantCode(t, err, oauth.CodeUnauthorizedClient)
	_, err = x.exchange(t, x.thirdPty, req)
	wantCode(t, err, oauth.CodeInvalidClient)
	// Neither refusal cost the subject token.
	if _, err := x.exchange(t, x.allowed, req); err != nil {
		t.Fatalf("allowed app after refusals: %v", err)
	}
}

func TestTokenExchangeSubjectToken(t *testing.T) {
	x := newExchangeEnv(t)
	role, err := x.dir.CreateScope(t.Context(), x.res.ID, "read", "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := x.dir.CreateRole(t.Context(), directory.NewRole{Name: "reader", Description: "r", Type: directory.RoleUser, ScopeIDs: []string{role.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.dir.AssignUserRoles(t.Context(), x.user.ID, []string{r.ID}); err != nil {
		t.Fatal(err)
	}
	sub := x.subjectToken(t)
	resp, err := x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub, SubjectTokenType: TokenTypeAccessToken,
		Resources: []string{tResource}, Scope: "read write"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.IssuedTokenType != TokenTypeAccessToken || resp.RefreshToken != "" || resp.IDToken != "" || resp.Scope != "read" || resp.ExpiresIn != 900 {
		t.Fatalf("response %+v", resp)
	}
	c, err := oidcflow.VerifyAccessToken(x.p.keys, resp.AccessToken, x.p.issuer, x.p.now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Sub != x.user.ID || c.Aud != tResource || c.ClientID != x.allowed.ID || c.Scope != "read" {
		t.Fatalf("claims %+v", c)
	}
	// One use.
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub, SubjectTokenType: TokenTypeAccessToken, Resources: []string{tResource}})
	wantDesc(t, err, oauth.CodeInvalidGrant, "already consumed")
	// A refused request (unknown resource) leaves the token usable.
	sub2 := x.subjectToken(t)
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub2, SubjectTokenType: TokenTypeAccessToken, Resources: []string{"https://nope.example"}})
	wantCode(t, err, oauth.CodeInvalidTarget)
	if _, err := x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub2, SubjectTokenType: TokenTypeAccessToken, Resources: []string{tResource}}); err != nil {
		t.Fatalf("after a refused request: %v", err)
	}
	// Expired.
	sub3 := x.subjectToken(t)
	x.clock.Add((directory.SubjectTokenTTL + time.Second).Milliseconds())
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub3, SubjectTokenType: TokenTypeAccessToken, Resources: []string{tResource}})
	wantDesc(t, err, oauth.CodeInvalidGrant, "expired")
	// Unknown, and unsupported types.
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: "sub_nothing", SubjectTokenType: TokenTypeAccessToken})
	wantDesc(t, err, oauth.CodeInvalidGrant, "not found")
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub, SubjectTokenType: "urn:ietf:params:oauth:token-type:jwt"})
	wantDesc(t, err, oauth.CodeInvalidGrant, "unsupported subject token type")
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectTokenType: TokenTypeAccessToken})
	wantCode(t, err, oauth.CodeInvalidRequest)
}

func TestTokenExchangePAT(t *testing.T) {
	x := newExchangeEnv(t)
	pat := x.pat(t, "ci", nil)
	// No resource: an opaque token of the OIDC scopes, stored in a grant of its own.
	resp, err := x.exchange(t, x.allowed, TokenRequest{SubjectToken: pat, SubjectTokenType: TokenTypePersonalAccessToken, Scope: "openid profile read"})
	if err != nil {
		t.Fatal(err)
	}
	if len(x.grants.issued) != 1 {
		t.Fatalf("issued %d opaque tokens", len(x.grants.issued))
	}
	got := x.grants.issued[0]
	if got.AccountID != x.user.ID || got.ClientID != x.allowed.ID || strings.Join(got.Scopes, " ") != "openid profile" ||
		resp.Scope != "openid profile" || resp.AccessToken != got.GrantID+"."+got.Secret || resp.ExpiresIn != 3600 {
		t.Fatalf("opaque %+v, response %+v", got, resp)
	}
	// Reusable.
	if _, err := x.exchange(t, x.allowed, TokenRequest{SubjectToken: pat, SubjectTokenType: TokenTypePersonalAccessToken, Resources: []string{tResource}}); err != nil {
		t.Fatalf("second use: %v", err)
	}
	// Revoked.
	if err := x.dir.DeletePersonalAccessToken(t.Context(), x.user.ID, "ci"); err != nil {
		t.Fatal(err)
	}
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: pat, SubjectTokenType: TokenTypePersonalAccessToken, Resources: []string{tResource}})
	wantDesc(t, err, oauth.CodeInvalidGrant, "not found")
	// Expired.
	exp := x.p.now().Add(time.Minute).UnixMilli()
	short := x.pat(t, "short", &exp)
	x.clock.Add(2 * time.Minute.Milliseconds())
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: short, SubjectTokenType: TokenTypePersonalAccessToken, Resources: []string{tResource}})
	wantDesc(t, err, oauth.CodeInvalidGrant, "expired")
	// A suspended user's token is refused.
	again := x.pat(t, "again", nil)
	x.suspend(t)
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: again, SubjectTokenType: TokenTypePersonalAccessToken, Resources: []string{tResource}})
	wantCode(t, err, oauth.CodeInvalidGrant)
}

func TestTokenExchangeOrganization(t *testing.T) {
	x := newExchangeEnv(t)
	f := newOrgFixture(t, x.env)
	pat := x.pat(t, "ci", nil)
	resp, err := x.exchange(t, x.allowed, TokenRequest{SubjectToken: pat, SubjectTokenType: TokenTypePersonalAccessToken,
		OrganizationID: f.org.ID, Scope: "read:docs write:docs"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := oidcflow.VerifyAccessToken(x.p.keys, resp.AccessToken, x.p.issuer, x.p.now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Aud != oidcflow.OrganizationURN(f.org.ID) || c.Scope != "read:docs" || resp.ExpiresIn != 3600 {
		t.Fatalf("organization token %+v (response %+v)", c, resp)
	}
	// With a resource: an organization-level resource token.
	resp, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: pat, SubjectTokenType: TokenTypePersonalAccessToken,
		OrganizationID: f.org.ID, Resources: []string{tResource}, Scope: "read write global"})
	if err != nil {
		t.Fatal(err)
	}
	c, err = oidcflow.VerifyAccessToken(x.p.keys, resp.AccessToken, x.p.issuer, x.p.now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Aud != tResource || c.OrganizationID != f.org.ID || !strings.Contains(c.Scope, "read") || strings.Contains(c.Scope, "write") {
		t.Fatalf("organization resource token %+v", c)
	}
	// Not a member: access_denied, and the subject token survives.
	sub := x.subjectToken(t)
	_, err = x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub, SubjectTokenType: TokenTypeAccessToken, OrganizationID: f.other.ID})
	wantCode(t, err, oauth.CodeAccessDenied)
	if _, err := x.exchange(t, x.allowed, TokenRequest{SubjectToken: sub, SubjectTokenType: TokenTypeAccessToken, OrganizationID: f.org.ID}); err != nil {
		t.Fatalf("after a refused organization: %v", err)
	}
}

func TestTokenExchangeActor(t *testing.T) {
	x := newExchangeEnv(t)
	x.tokens.lookup = func(tok string) (AccessToken, error) {
		switch tok {
		case "g.openid":
			return AccessToken{Grant: Grant{AccountID: "actor-1"}, Scopes: []string{"openid", "profile"}}, nil
		case "g.noopenid":
			return AccessToken{Grant: Grant{AccountID: "actor-1"}, Scopes: []string{"profile"}}, nil
		}
		return AccessToken{}, oauth.InvalidToken("unknown")
	}
	pat := x.pat(t, "ci", nil)
	base := TokenRequest{SubjectToken: pat, SubjectTokenType: TokenTypePersonalAccessToken, Resources: []string{tResource}}
	req := base
	req.ActorToken, req.ActorTokenType = "g.openid", TokenTypeAccessToken
	resp, err := x.exchange(t, x.allowed, req)
	if err != nil {
		t.Fatal(err)
	}
	c, err := oidcflow.VerifyAccessToken(x.p.keys, resp.AccessToken, x.p.issuer, x.p.now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Act == nil || c.Act.Sub != "actor-1" || c.Sub != x.user.ID {
		t.Fatalf("act claim %+v", c)
	}
	for _, tt := range []struct{ tok, typ, desc string }{
		{"g.openid", "urn:x", "unsupported actor token type"},
		{"g.unknown", TokenTypeAccessToken, "invalid actor token"},
		{"g.noopenid", TokenTypeAccessToken, "openid"},
	} {
		req := base
		req.ActorToken, req.ActorTokenType = tt.tok, tt.typ
		_, err := x.exchange(t, x.allowed, req)
		wantDesc(t, err, oauth.CodeInvalidGrant, tt.desc)
	}
}

// wantDesc checks err is the OAuth error code with a description containing desc.
func wantDesc(t *testing.T, err error, code, desc string) {
	t.Helper()
	wantCode(t, err, code)
	if e, ok := oauth.From(err); ok && !strings.Contains(e.Description, desc) {
		t.Errorf("description %q, want it to contain %q", e.Description, desc)
	}
}
