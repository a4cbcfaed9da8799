package directory

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

func TestAppResourceScopesCache(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	api := mustResource(t, d, "https://api.example")
	other := mustResource(t, d, "https://other.example")
	read := mustScope(t, d, api.ID, "read")
	write := mustScope(t, d, api.ID, "write")
	otherScope := mustScope(t, d, other.ID, "read")
	role := mustRole(t, d, NewRole{Name: "svc", Type: RoleMachineToMachine, ScopeIDs: []string{read.ID, otherScope.ID}})
	role2 := mustRole(t, d, NewRole{Name: "svc2", Type: RoleMachineToMachine, ScopeIDs: []string{read.ID}})
	app, _ := mustApp(t, d, NewApplication{Name: "m2m", Type: AppMachineToMachine})

	want := func(step string, ws ...string) {
		t.Helper()
		// Twice: computed, then cached.
		for range 2 {
			if got := d.AppResourceScopes(app.ID, api.ID); !slices.Equal(got, ws) {
				t.Fatalf("%s: AppResourceScopes = %q, want %q", step, got, ws)
			}
		}
	}
	want("no roles")
	if _, err := d.AssignAppRoles(ctx, app.ID, []string{role.ID, role2.ID}); err != nil {
		t.Fatal(err)
	}
	want("assigned", "read") // de-duplicated across roles, other resource excluded
	if got := d.AppResourceScopes(app.ID, other.ID); !slices.Equal(got, []string{"read"}) {
		t.Fatalf("other resource: %q", got)
	}
	if _, err := d.AddRoleScopes(ctx, role.ID, []string{write.ID}); err != nil {
		t.Fatal(err)
	}
	want("scope added to role", "read", "write")
	if _, err := d.UpdateScope(ctx, api.ID, write.ID, func(s *Scope) error { s.Name = "admin"; return nil }); err != nil {
		t.Fatal(err)
	}
	want("scope renamed", "admin", "read")
	if err := d.RemoveRoleScope(ctx, role.ID, write.ID); err != nil {
		t.Fatal(err)
	}
	want("scope removed from role", "read")
	if err := d.UnassignAppRole(ctx, app.ID, role.ID); err != nil {
		t.Fatal(err)
	}
	want("one role unassigned", "read")
	if err := d.UnassignAppRole(ctx, app.ID, role2.ID); err != nil {
		t.Fatal(err)
	}
	want("all unassigned")
	if _, err := d.AssignAppRoles(ctx, app.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	want("reassigned", "read")
	if err := d.DeleteScope(ctx, api.ID, read.ID); err != nil {
		t.Fatal(err)
	}
	want("scope deleted")
	if r, _ := d.Role(role.ID); slices.Contains(r.ScopeIDs, read.ID) {
		t.Fatal("deleted scope still in role")
	}
	if err := d.DeleteRole(ctx, role.ID); err != nil {
		t.Fatal(err)
	}
	if got := d.AppResourceScopes(app.ID, other.ID); got != nil {
		t.Fatalf("after role delete: %q", got)
	}
	if roles, _ := d.AppRoles(app.ID); len(roles) != 0 {
		t.Fatalf("AppRoles after role delete: %v", roles)
	}
}

func TestUserResourceScopes(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	api := mustResource(t, d, "https://api.example")
	s1 := mustScope(t, d, api.ID, "b:read")
	s2 := mustScope(t, d, api.ID, "a:write")
	role := mustRole(t, d, NewRole{Name: "editor", ScopeIDs: []string{s1.ID, s2.ID}})
	u := mustUser(t, d, NewUser{Username: ptr("eve")})

	if got := d.UserResourceScopes(u.ID, api.ID); got != nil {
		t.Fatalf("before: %q", got)
	}
	added, err := d.AssignUserRoles(ctx, u.ID, []string{role.ID, role.ID})
	if err != nil || !slices.Equal(added, []string{role.ID}) {
		t.Fatalf("AssignUserRoles = %v, %v", added, err)
	}
	if added, err := d.AssignUserRoles(ctx, u.ID, []string{role.ID}); err != nil || len(added) != 0 {
		t.Fatalf("re-assign = %v, %v (Logto skips existing)", added, err)
	}
	if got := d.UserResourceScopes(u.ID, api.ID); !slices.Equal(got, []string{"a:write", "b:read"}) {
		t.Fatalf("assigned: %q", got)
	}
	// Deleting the resource deletes its scopes and drops them from roles.
	if err := d.DeleteResource(ctx, api.ID); err != nil {
		t.Fatal(err)
	}
	if got := d.UserResourceScopes(u.ID, api.ID); got != nil {
		t.Fatalf("after resource delete: %q", got)
	}
	if _, ok := d.Scope(s1.ID); ok {
		t.Fatal("scope survived its resource")
	}
	if r, _ := d.Role(role.ID); len(r.ScopeIDs) != 0 {
		t.Fatalf("role still has %v", r.ScopeIDs)
	}
	// Deleting the user deletes its assignments.
	if err := d.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if users, _ := d.RoleUsers(role.ID); len(users) != 0 {
		t.Fatalf("RoleUsers after user delete: %v", users)
	}
}

func TestRoleTypes(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	userRole := mustRole(t, d, NewRole{Name: "u"})
	m2mRole := mustRole(t, d, NewRole{Name: "m", Type: RoleMachineToMachine})
	u := mustUser(t, d, NewUser{})
	m2m, _ := mustApp(t, d, NewApplication{Name: "m2m", Type: AppMachineToMachine})
	spa, _ := mustApp(t, d, NewApplication{Name: "spa", Type: AppSPA})

	if userRole.Type != RoleUser {
		t.Fatalf("default role type %q", userRole.Type)
	}
	tests := []struct {
		name    string
		call    func() error
		subject string
		roleID  string
	}{
		{"m2m role to user", func() error { _, err := d.AssignUserRoles(ctx, u.ID, []string{m2mRole.ID}); return err }, EntityUser, m2mRole.ID},
		{"m2m role to user via role", func() error { return d.AddRoleUsers(ctx, m2mRole.ID, []string{u.ID}) }, EntityUser, m2mRole.ID},
		{"user role to app", func() error { _, err := d.AssignAppRoles(ctx, m2m.ID, []string{userRole.ID}); return err }, EntityApplication, userRole.ID},
		{"role to SPA", func() error { _, err := d.AssignAppRoles(ctx, spa.ID, []string{m2mRole.ID}); return err }, EntityApplication, ""},
		{"role to SPA via role", func() error { return d.AddRoleApplications(ctx, m2mRole.ID, []string{spa.ID}) }, EntityApplication, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var rte *RoleTypeError
			if !errors.As(err, &rte) || !errors.Is(err, ErrRoleType) || rte.Subject != tt.subject || rte.RoleID != tt.roleID {
				t.Fatalf("err = %v, want RoleTypeError{%s, role %q}", err, tt.subject, tt.roleID)
			}
		})
	}
	// Nothing was written by the refused calls, even with a valid role first.
	_, err := d.AssignUserRoles(ctx, u.ID, []string{userRole.ID, m2mRole.ID})
	wantErrIs(t, err, ErrRoleType)
	if roles, _ := d.UserRoles(u.ID); len(roles) != 0 {
		t.Fatalf("partial assignment written: %v", roles)
	}
	_, err = d.AssignUserRoles(ctx, u.ID, []string{"missing"})
	wantErrIs(t, err, ErrNotFound)

	// Role-side adds refuse duplicates (Logto's role.user_exists / application_exists).
	if err := d.AddRoleUsers(ctx, userRole.ID, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	wantConflict(t, d.AddRoleUsers(ctx, userRole.ID, []string{u.ID}), EntityUserRole, "userId")
	if err := d.AddRoleApplications(ctx, m2mRole.ID, []string{m2m.ID}); err != nil {
		t.Fatal(err)
	}
	wantConflict(t, d.AddRoleApplications(ctx, m2mRole.ID, []string{m2m.ID}), EntityAppRole, "applicationId")
	if apps, _ := d.RoleApplications(m2mRole.ID); len(apps) != 1 || apps[0].ID != m2m.ID {
		t.Fatalf("RoleApplications = %v", apps)
	}
	wantErrIs(t, d.UnassignUserRole(ctx, u.ID, m2mRole.ID), ErrNotFound)

	// Role rules: unique name, immutable type, duplicate scope.
	_, err = d.CreateRole(ctx, NewRole{Name: "u"})
	wantConflict(t, err, EntityRole, "name")
	_, err = d.UpdateRole(ctx, m2mRole.ID, func(r *Role) error { r.Name = "u"; return nil })
	wantConflict(t, err, EntityRole, "name")
	_, err = d.UpdateRole(ctx, m2mRole.ID, func(r *Role) error { r.Type = RoleUser; return nil })
	wantErrIs(t, err, ErrInvalid)
	_, err = d.CreateRole(ctx, NewRole{Name: "bad", Type: "Admin"})
	wantErrIs(t, err, ErrInvalid)
	res := mustResource(t, d, "urn:example:api")
	sc := mustScope(t, d, res.ID, "x")
	if _, err := d.AddRoleScopes(ctx, userRole.ID, []string{sc.ID}); err != nil {
		t.Fatal(err)
	}
	_, err = d.AddRoleScopes(ctx, userRole.ID, []string{sc.ID})
	wantConflict(t, err, EntityRoleScope, "scopeId")
	_, err = d.AddRoleScopes(ctx, userRole.ID, []string{"nope"})
	wantErrIs(t, err, ErrNotFound)
}

func TestResourceRules(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	r := mustResource(t, d, "https://api.example")
	if r.AccessTokenTTL != DefaultAccessTokenTTL {
		t.Fatalf("default TTL %d", r.AccessTokenTTL)
	}
	_, err := d.CreateResource(ctx, NewResource{Name: "dup", Indicator: "https://api.example"})
	wantConflict(t, err, EntityResource, "indicator")
	for _, bad := range []string{"", "api", "/relative", "https://api.example/#frag", "https://"} {
		_, err := d.CreateResource(ctx, NewResource{Name: "x", Indicator: bad})
		wantErrIs(t, err, ErrInvalid)
	}
	_, err = d.UpdateResource(ctx, r.ID, func(r *Resource) error { r.Indicator = "https://moved.example"; return nil })
	wantErrIs(t, err, ErrInvalid)
	r2, err := d.UpdateResource(ctx, r.ID, func(r *Resource) error { r.Name = "API"; r.AccessTokenTTL = 60; return nil })
	if err != nil || r2.Name != "API" || r2.AccessTokenTTL != 60 {
		t.Fatalf("UpdateResource = %+v, %v", r2, err)
	}
	if got, _ := d.ResourceByIndicator("https://api.example"); got != r2 {
		t.Fatal("indicator index not updated")
	}

	// Scope names: unique within a resource, free across resources, no spaces.
	mustScope(t, d, r.ID, "read")
	_, err = d.CreateScope(ctx, r.ID, "read", "")
	wantConflict(t, err, EntityScope, "name")
	other := mustResource(t, d, "https://other.example")
	mustScope(t, d, other.ID, "read")
	_, err = d.CreateScope(ctx, r.ID, "read all", "")
	wantErrIs(t, err, ErrInvalid)
	_, err = d.CreateScope(ctx, "missing", "x", "")
	wantErrIs(t, err, ErrNotFound)
	_, err = d.UpdateScope(ctx, other.ID, "missing", func(*Scope) error { return nil })
	wantErrIs(t, err, ErrNotFound)

	// One default resource.
	if _, err := d.UpdateResource(ctx, r.ID, func(r *Resource) error { r.IsDefault = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateResource(ctx, other.ID, func(r *Resource) error { r.IsDefault = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Resource(r.ID); got.IsDefault {
		t.Fatal("two default resources")
	}
}

func TestManagementAPIProtected(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	res, _ := d.ResourceByIndicator(ManagementAPIIndicator)
	wantErrIs(t, d.DeleteResource(ctx, res.ID), ErrProtected)
	scopes, _ := d.ResourceScopes(res.ID)
	wantErrIs(t, d.DeleteScope(ctx, res.ID, scopes[0].ID), ErrProtected)
	_, err := d.CreateRole(ctx, NewRole{Name: "admins", ScopeIDs: []string{scopes[0].ID}})
	wantErrIs(t, err, ErrManagementScopeForUser)
}

// TestConcurrentReadsAndWrites is for the race detector: hot-path readers run while
// assignments and scopes change; each read must be one of the states written.
func TestConcurrentReadsAndWrites(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	api := mustResource(t, d, "https://api.example")
	s := mustScope(t, d, api.ID, "read")
	role := mustRole(t, d, NewRole{Name: "r", Type: RoleMachineToMachine, ScopeIDs: []string{s.ID}})
	app, secret := mustApp(t, d, NewApplication{Name: "a", Type: AppMachineToMachine})

	var wg sync.WaitGroup
	stop := make(chan struct{})
	var once sync.Once
	halt := func() { once.Do(func() { close(stop); wg.Wait() }) }
	defer halt()
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				a, ok := d.Application(app.ID)
				if !ok || !d.AuthenticateApp(a, secret) {
					t.Error("application lost")
					return
				}
				got := d.AppResourceScopes(app.ID, api.ID)
				if got != nil && !slices.Equal(got, []string{"read"}) {
					t.Errorf("scopes %q", got)
					return
				}
				_ = d.SigningKeys()
			}
		})
	}
	for i := range 50 {
		if _, err := d.AssignAppRoles(ctx, app.ID, []string{role.ID}); err != nil {
			t.Fatal(err)
		}
		if err := d.UnassignAppRole(ctx, app.ID, role.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.UpdateApplication(ctx, app.ID, func(a *Application) error { a.Name = fmt.Sprint(i); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	halt()
	// After the writes stop, the cache reflects the final state.
	if got := d.AppResourceScopes(app.ID, api.ID); got != nil {
		t.Fatalf("final %q", got)
	}
}

func TestHotPathAllocations(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	api := mustResource(t, d, "https://api.example")
	s := mustScope(t, d, api.ID, "read")
	role := mustRole(t, d, NewRole{Name: "r", Type: RoleMachineToMachine, ScopeIDs: []string{s.ID}})
	app, secret := mustApp(t, d, NewApplication{Name: "a", Type: AppMachineToMachine})
	if _, err := d.AssignAppRoles(t.Context(), app.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	d.AppResourceScopes(app.ID, api.ID) // warm the cache
	allocs := testing.AllocsPerRun(100, func() {
		a, _ := d.Application(app.ID)
		if !d.AuthenticateApp(a, secret) {
			panic("auth")
		}
		r, _ := d.ResourceByIndicator("https://api.example")
		if len(d.AppResourceScopes(a.ID, r.ID)) != 1 {
			panic("scopes")
		}
	})
	if allocs != 0 {
		t.Fatalf("hot path allocates %.1f times per call", allocs)
	}
}

// BenchmarkHotPath is what the token endpoint does per client_credentials request.
func BenchmarkHotPath(b *testing.B) {
	clock := newTestClock()
	d, err := Open(b.Context(), testConfig(newMemStore(), clock))
	if err != nil {
		b.Fatal(err)
	}
	res, _ := d.CreateResource(b.Context(), NewResource{Name: "api", Indicator: "https://api.example"})
	s, _ := d.CreateScope(b.Context(), res.ID, "read", "")
	role, _ := d.CreateRole(b.Context(), NewRole{Name: "r", Type: RoleMachineToMachine, ScopeIDs: []string{s.ID}})
	app, secret, _ := d.CreateApplication(b.Context(), NewApplication{Name: "a", Type: AppMachineToMachine})
	if _, err := d.AssignAppRoles(b.Context(), app.ID, []string{role.ID}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, _ := d.Application(app.ID)
			if !d.AuthenticateApp(a, secret) {
				panic("auth")
			}
			r, _ := d.ResourceByIndicator("https://api.example")
			_ = d.AppResourceScopes(a.ID, r.ID)
		}
	})
}
