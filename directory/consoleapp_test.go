package directory

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// The first administrator is created once: the role holds the Management API scope
// "all", the user holds the role, and a second attempt (even after the role lost its
// users) is refused, so the welcome page never reopens.
func TestCreateFirstConsoleAdmin(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	ctx := t.Context()
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	app, err := d.EnsureConsoleApp(ctx, "http://localhost:3001")
	if err != nil || app.ID != ConsoleAppID || app.Type != AppSPA ||
		!slices.Equal(app.OIDCClientMetadata.RedirectURIs, []string{"http://localhost:3001/console/callback"}) {
		t.Fatalf("%+v %v", app, err)
	}
	if open, err := d.ConsoleFirstAdminOpen(ctx); err != nil || !open {
		t.Fatalf("fresh directory: open %v %v", open, err)
	}
	u, err := d.CreateFirstConsoleAdmin(ctx, "root_admin", "a-long-password")
	if err != nil {
		t.Fatal(err)
	}
	role, ok := d.ConsoleAdminRole()
	if !ok || !slices.Contains(role.ScopeIDs, d.managementScopeAllID()) {
		t.Fatalf("admin role %+v", role)
	}
	if scopes := d.UserResourceScopes(u.ID, d.ManagementAPIID()); !slices.Contains(scopes, ManagementAPIScopeAll) {
		t.Fatalf("the admin's Management API scopes: %v", scopes)
	}
	if _, err := d.VerifyUserPassword(u.ID, "a-long-password"); err != nil {
		t.Fatal(err)
	}
	if open, _ := d.ConsoleFirstAdminOpen(ctx); open {
		t.Fatal("still open after the first administrator")
	}
	if _, err := d.CreateFirstConsoleAdmin(ctx, "intruder", "another-password"); !errors.Is(err, ErrConsoleAdminExists) {
		t.Fatalf("second first admin: %v", err)
	}
	if err := d.UnassignUserRole(ctx, u.ID, role.ID); err != nil {
		t.Fatal(err)
	}
	if open, _ := d.ConsoleFirstAdminOpen(ctx); open {
		t.Fatal("reopened after the role lost its users")
	}
	if _, err := d.CreateFirstConsoleAdmin(ctx, "intruder", "another-password"); !errors.Is(err, ErrConsoleAdminExists) {
		t.Fatalf("first admin after unassigning: %v", err)
	}
	if _, ok := d.UserByUsername("intruder"); ok {
		t.Fatal("the refused administrator was created")
	}
}

// Racing first administrators: exactly one is created.
func TestCreateFirstConsoleAdminRace(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	ctx := t.Context()
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for i := range 4 {
		go func() {
			_, err := d.CreateFirstConsoleAdmin(ctx, fmt.Sprintf("admin_%d", i), "a-long-password")
			errs <- err
		}()
	}
	won := 0
	for range 4 {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, ErrConsoleAdminExists):
			t.Fatalf("unexpected error: %v", err)
		}
	}
	role, _ := d.ConsoleAdminRole()
	users, err := d.RoleUsers(role.ID)
	if won != 1 || err != nil || len(users) != 1 {
		t.Fatalf("%d administrators created, %d hold the role (%v)", won, len(users), err)
	}
}
