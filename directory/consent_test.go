package directory

import (
	"errors"
	"slices"
	"testing"
)

// Consent scopes and user consents are directory records: they survive a reopen, a
// consent merges what is accepted later, and the rules Logto has for consent scopes
// hold (third-party only, known ids, no Management API scope).
func TestConsentRecords(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	ctx := t.Context()
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	third, _, err := d.CreateApplication(ctx, NewApplication{Name: "t", Type: AppTraditional, IsThirdParty: true,
		OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"https://t.example/cb"}}})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := d.CreateApplication(ctx, NewApplication{Name: "f", Type: AppTraditional})
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.CreateResource(ctx, NewResource{Name: "r", Indicator: "https://r.example"})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := d.CreateScope(ctx, res.ID, "read", "")
	if err != nil {
		t.Fatal(err)
	}
	name := "u"
	u, err := d.CreateUser(ctx, NewUser{Username: &name})
	if err != nil {
		t.Fatal(err)
	}

	if err := d.AddAppConsentScopes(ctx, first.ID, ConsentScopesInput{UserScopes: []string{"email"}}); !errors.Is(err, ErrNotThirdParty) {
		t.Fatalf("first-party app: %v", err)
	}
	var nf *ConsentScopesNotFoundError
	if err := d.AddAppConsentScopes(ctx, third.ID, ConsentScopesInput{ResourceScopes: []string{"nope"}}); !errors.As(err, &nf) ||
		!slices.Equal(nf.InvalidResourceScopes, []string{"nope"}) {
		t.Fatalf("unknown scope: %v", err)
	}
	if err := d.AddAppConsentScopes(ctx, third.ID, ConsentScopesInput{ResourceScopes: []string{ManagementAPIScopeAllID}}); !errors.Is(err, ErrManagementAPIConsent) {
		t.Fatalf("management scope: %v", err)
	}
	if err := d.AddAppConsentScopes(ctx, third.ID, ConsentScopesInput{UserScopes: []string{"openid"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("openid is not a user consent scope: %v", err)
	}
	for range 2 { // twice: ids are kept once
		if err := d.AddAppConsentScopes(ctx, third.ID, ConsentScopesInput{UserScopes: []string{"email", "profile"}, ResourceScopes: []string{sc.ID}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.RemoveAppConsentScope(ctx, third.ID, ConsentUserScopes, "email"); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveAppConsentScope(ctx, third.ID, "bogus", "x"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bogus type: %v", err)
	}

	if _, err := d.GrantUserConsent(ctx, u.ID, third.ID, ConsentGrant{Scopes: []string{"profile"}}); err != nil {
		t.Fatal(err)
	}
	c, err := d.GrantUserConsent(ctx, u.ID, third.ID, ConsentGrant{ResourceScopes: map[string][]string{"https://r.example": {"read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, []string{"profile"}) || !slices.Equal(c.ResourceScopes["https://r.example"], []string{"read"}) {
		t.Fatalf("merged consent %+v", c)
	}
	if _, err := d.GrantUserConsent(ctx, "no-such-user", third.ID, ConsentGrant{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}

	d2 := reopen(t, store)
	got := d2.AppConsentScopes(third.ID)
	if !slices.Equal(got.UserScopes, []string{"profile"}) || !slices.Equal(got.ResourceScopes, []string{sc.ID}) {
		t.Fatalf("after reopen: %+v", got)
	}
	c2, ok := d2.UserConsent(u.ID, third.ID)
	if !ok || c2.UserID != u.ID || c2.ApplicationID != third.ID || c2.UpdatedAt != c.UpdatedAt || !slices.Equal(c2.Scopes, c.Scopes) {
		t.Fatalf("consent after reopen: %+v", c2)
	}
	if err := d2.RevokeUserConsent(ctx, u.ID, third.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := d2.UserConsent(u.ID, third.ID); ok {
		t.Fatal("revoked consent still there")
	}
}

// EnsureDemoApp creates Logto's demo-app once, and adds a new endpoint's URIs.
func TestEnsureDemoApp(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	ctx := t.Context()
	a, err := d.EnsureDemoApp(ctx, "http://localhost:3001")
	if err != nil || a.ID != DemoAppID || a.Type != AppSPA || !slices.Equal(a.OIDCClientMetadata.RedirectURIs, []string{"http://localhost:3001/demo-app"}) {
		t.Fatalf("%+v %v", a, err)
	}
	again, err := d.EnsureDemoApp(ctx, "http://localhost:3001")
	if err != nil || again.Version != a.Version {
		t.Fatalf("second call wrote: %v %d != %d", err, again.Version, a.Version)
	}
	moved, err := d.EnsureDemoApp(ctx, "https://id.example")
	if err != nil || !slices.Equal(moved.OIDCClientMetadata.PostLogoutRedirectURIs, []string{"http://localhost:3001/demo-app", "https://id.example/demo-app"}) {
		t.Fatalf("%+v %v", moved, err)
	}
}
