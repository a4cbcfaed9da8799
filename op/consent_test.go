package op

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// consentFixture: the third-party app may ask for profile and read:orders of an API
// the user holds read:orders and write:orders of.
func consentFixture(t *testing.T) (*fixture, *oidcflow.AuthRequest) {
	t.Helper()
	f := newFixture(t)
	ctx := t.Context()
	res, err := f.dir.CreateResource(ctx, directory.NewResource{Name: "Orders", Indicator: "https://orders.example"})
	if err != nil {
		t.Fatal(err)
	}
	read, err := f.dir.CreateScope(ctx, res.ID, "read:orders", "")
	if err != nil {
		t.Fatal(err)
	}
	write, err := f.dir.CreateScope(ctx, res.ID, "write:orders", "")
	if err != nil {
		t.Fatal(err)
	}
	role, err := f.dir.CreateRole(ctx, directory.NewRole{Name: "orders", Description: "d", ScopeIDs: []string{read.ID, write.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.dir.AssignUserRoles(ctx, f.user.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.AddAppConsentScopes(ctx, f.thirdParty.ID, directory.ConsentScopesInput{
		UserScopes: []string{"profile"}, ResourceScopes: []string{read.ID}}); err != nil {
		t.Fatal(err)
	}
	req := &oidcflow.AuthRequest{ClientID: f.thirdParty.ID, RedirectURI: "https://third.example/cb", MaxAge: -1,
		Scopes:    []string{"openid", "profile", "email", "read:orders", "write:orders"},
		Resources: []string{"https://orders.example"}}
	return f, req
}

// A third-party application gets only what its consent scopes allow and the user
// holds; the page shows exactly that, and a consent covers it until more is asked.
func TestConsentRequestNarrowsToConsentScopes(t *testing.T) {
	f, req := consentFixture(t)
	b := f.browser(nil, nil, nil, nil)
	c := b.consentRequest(f.thirdParty, f.user, req)
	if !slices.Equal(c.Scopes, []string{"profile"}) {
		t.Errorf("shown scopes %v, want [profile] (email is not a consent scope)", c.Scopes)
	}
	if len(c.Resources) != 1 || len(c.Resources[0].Scopes) != 1 || c.Resources[0].Scopes[0].Name != "read:orders" {
		t.Fatalf("shown resources %+v, want Orders with read:orders only", c.Resources)
	}
	if got := c.consentedScopes(req); !slices.Equal(got, []string{"openid", "profile", "read:orders"}) {
		t.Errorf("granted scopes %v", got)
	}

	if !b.needsConsent(f.thirdParty, f.user, req, f.now) {
		t.Fatal("no consent yet: the page must be shown")
	}
	if b.needsConsent(f.app, f.user, req, f.now) {
		t.Fatal("a first-party app needs no consent")
	}
	if _, err := f.dir.GrantUserConsent(t.Context(), f.user.ID, f.thirdParty.ID, directory.ConsentGrant{
		Scopes: []string{"profile"}, ResourceScopes: map[string][]string{"https://orders.example": {"read:orders"}}}); err != nil {
		t.Fatal(err)
	}
	if b.needsConsent(f.thirdParty, f.user, req, f.now.Add(-time.Hour)) {
		t.Fatal("the consent covers the request")
	}
	consentReq := *req
	consentReq.Prompts = []string{oidcflow.PromptConsent}
	if !b.needsConsent(f.thirdParty, f.user, &consentReq, f.now.Add(time.Hour)) {
		t.Fatal("prompt=consent asks again for a consent older than the interaction")
	}
	if err := f.dir.AddAppConsentScopes(t.Context(), f.thirdParty.ID, directory.ConsentScopesInput{UserScopes: []string{"email"}}); err != nil {
		t.Fatal(err)
	}
	if !b.needsConsent(f.thirdParty, f.user, req, f.now.Add(-time.Hour)) {
		t.Fatal("email is now asked for and was never accepted")
	}
}

// With a live session, a third-party app without consent goes to the consent page
// (an interaction signed in already); with prompt=none it gets consent_required.
func TestAuthorizeThirdPartyWithSession(t *testing.T) {
	f, _ := consentFixture(t)
	sessions := fakeSessions{session: func(id, _ string) (*Session, error) {
		return &Session{ID: id, AccountID: f.user.ID, LoginAt: f.now.Add(-time.Minute)}, nil
	}}
	var created *Interaction
	its := fakeInteractions{create: func(it *Interaction) error { created = it; return nil }}
	b := f.browser(sessions, fakeUserGrants{}, its, nil)
	params := url.Values{"client_id": {f.thirdParty.ID}, "redirect_uri": {"https://third.example/cb"},
		"response_type": {"code"}, "scope": {"openid profile"}, "state": {"st"}}
	res, err := b.Authorize(t.Context(), AuthorizeRequest{Params: params, SessionCookie: "sess.secret"})
	if err != nil {
		t.Fatal(err)
	}
	if res.SignIn == nil || !res.SignIn.Consent || created == nil || !created.Submitted || created.AccountID != f.user.ID {
		t.Fatalf("result %+v, created %+v: want the consent page for a submitted interaction", res, created)
	}

	params.Set("prompt", "none")
	res, err = b.Authorize(t.Context(), AuthorizeRequest{Params: params, SessionCookie: "sess.secret"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Response == nil || res.Response.Params.Get("error") != oauth.CodeConsentRequired {
		t.Fatalf("prompt=none: %+v, want consent_required", res)
	}

	// Without a session the user signs in first.
	params.Del("prompt")
	res, err = b.Authorize(t.Context(), AuthorizeRequest{Params: params})
	if err != nil || res.SignIn == nil || res.SignIn.Consent {
		t.Fatalf("no session: %+v %v, want the sign-in page", res, err)
	}
}

// Organizations an admin lets a third-party app see for a user (the Management API's
// consent-organizations) are not the user's consent: a request they would "cover" (no
// consent scope asked) still goes to the consent page.
func TestAdminConsentOrganizationsAreNotConsent(t *testing.T) {
	f, _ := consentFixture(t)
	b := f.browser(nil, nil, nil, nil)
	req := &oidcflow.AuthRequest{ClientID: f.thirdParty.ID, RedirectURI: "https://third.example/cb", MaxAge: -1,
		Scopes: []string{"openid"}}
	if _, err := f.dir.SetUserConsentOrganizations(t.Context(), f.user.ID, f.thirdParty.ID,
		func([]string) []string { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.dir.UserConsent(f.user.ID, f.thirdParty.ID); !ok {
		t.Fatal("no consent record")
	}
	if !b.needsConsent(f.thirdParty, f.user, req, f.now) {
		t.Fatal("an admin-made record skipped the consent page")
	}
	if _, err := f.dir.GrantUserConsent(t.Context(), f.user.ID, f.thirdParty.ID, directory.ConsentGrant{}); err != nil {
		t.Fatal(err)
	}
	if b.needsConsent(f.thirdParty, f.user, req, f.now.Add(-time.Hour)) {
		t.Fatal("the user's acceptance covers the request")
	}
}
