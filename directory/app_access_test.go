package directory

import "testing"

// TestUserHasAppAccess: an application without access control lets everyone in; with
// it, only the users its rules allow; the built-in demo app is never restricted; the
// rules survive a reopen of the store.
func TestUserHasAppAccess(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	ctx := t.Context()
	app, _ := mustApp(t, d, NewApplication{Name: "spa", Type: AppSPA})
	alice, err := d.CreateUser(ctx, NewUser{Username: ptr("alice")})
	if err != nil {
		t.Fatal(err)
	}
	if !d.UserHasAppAccess(app.ID, alice.ID) {
		t.Fatal("no access control: everyone")
	}
	if d.UserHasAppAccess("nope", alice.ID) {
		t.Fatal("an unknown application allows nobody")
	}
	if _, err := d.UpdateApplication(ctx, app.ID, func(a *Application) error {
		a.AccessControl = &AppAccessControl{UserIDs: []string{"someone-else"}}
		a.AppLevelAccessControlEnabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d.UserHasAppAccess(app.ID, alice.ID) {
		t.Fatal("alice is not in the rules")
	}
	if _, err := d.EnsureDemoApp(ctx, "http://localhost:3001"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateApplication(ctx, DemoAppID, func(a *Application) error {
		a.AccessControl = &AppAccessControl{UserIDs: []string{"someone-else"}}
		a.AppLevelAccessControlEnabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !d.UserHasAppAccess(DemoAppID, alice.ID) {
		t.Fatal("the demo app is built in: never restricted")
	}
	d2, _ := openTest(t, store)
	got, ok := d2.Application(app.ID)
	if !ok || !got.AppLevelAccessControlEnabled || got.AccessControl == nil || len(got.AccessControl.UserIDs) != 1 {
		t.Fatalf("after reopening: %+v", got)
	}
	if d2.UserHasAppAccess(app.ID, alice.ID) {
		t.Fatal("after reopening: alice is still not in the rules")
	}
}
