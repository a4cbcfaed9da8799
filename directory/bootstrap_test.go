package directory

import (
	"errors"
	"slices"
	"testing"
)

func wantAdminAppError(t *testing.T, err error, op string) {
	t.Helper()
	var ae *AdminAppError
	if !errors.As(err, &ae) || !errors.Is(err, ErrAdminAppProtected) || ae.Op != op {
		t.Fatalf("err = %v, want AdminAppError %s", err, op)
	}
}

// TestAdminAppProtected is the regression test of issue 12: the bootstrap admin app
// could delete itself or drop its Management API role, locking every operator out of
// the Management API.
func TestAdminAppProtected(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	boot, err := d.Bootstrap(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	admin := boot.ClientID
	role, _ := d.RoleByName(ManagementAPIRoleName)
	res, _ := d.ResourceByIndicator(ManagementAPIIndicator)
	all := d.managementScopeAllID()
	hasAccess := func() bool {
		t.Helper()
		return slices.Contains(d.AppResourceScopes(admin, res.ID), ManagementAPIScopeAll)
	}

	wantAdminAppError(t, d.DeleteApplication(ctx, admin), AdminAppDelete)
	wantAdminAppError(t, d.UnassignAppRole(ctx, admin, role.ID), AdminAppDropAccess)
	wantAdminAppError(t, d.DeleteRole(ctx, role.ID), AdminAppDropAccess)
	wantAdminAppError(t, d.RemoveRoleScope(ctx, role.ID, all), AdminAppDropAccess)
	wantAdminAppError(t, d.CheckAdminAppRoles(admin, []string{}), AdminAppDropAccess)
	adminApp, _ := d.Application(admin)
	wantAdminAppError(t, d.DeleteAppSecret(ctx, admin, adminApp.Secrets[0].Name), AdminAppLastSecret)
	if _, ok := d.Application(admin); !ok || !hasAccess() {
		t.Fatal("the admin application or its access is gone")
	}

	// Other applications and roles are not protected.
	other, _ := mustApp(t, d, NewApplication{Name: "m2m", Type: AppMachineToMachine})
	if _, err := d.AssignAppRoles(ctx, other.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.UnassignAppRole(ctx, other.ID, role.ID); err != nil {
		t.Fatalf("unassign from another app: %v", err)
	}
	if err := d.CheckAdminAppRoles(other.ID, nil); err != nil {
		t.Fatalf("CheckAdminAppRoles(other) = %v", err)
	}
	if err := d.DeleteApplication(ctx, other.ID); err != nil {
		t.Fatalf("delete another app: %v", err)
	}

	// With a second role carrying "all", the first one may go: access is kept.
	second, err := d.CreateRole(ctx, NewRole{Name: "ops", Type: RoleMachineToMachine, ScopeIDs: []string{all}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.AssignAppRoles(ctx, admin, []string{second.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.CheckAdminAppRoles(admin, []string{second.ID}); err != nil {
		t.Fatalf("CheckAdminAppRoles keeping a second role = %v", err)
	}
	if err := d.RemoveRoleScope(ctx, role.ID, all); err != nil {
		t.Fatalf("remove all from one of two roles: %v", err)
	}
	if err := d.UnassignAppRole(ctx, admin, role.ID); err != nil {
		t.Fatalf("unassign one of two roles: %v", err)
	}
	// Now the second role is the last one.
	wantAdminAppError(t, d.DeleteRole(ctx, second.ID), AdminAppDropAccess)
	wantAdminAppError(t, d.UnassignAppRole(ctx, admin, second.ID), AdminAppDropAccess)
	wantAdminAppError(t, d.RemoveRoleScope(ctx, second.ID, all), AdminAppDropAccess)
	if !hasAccess() {
		t.Fatal("the admin application lost its access")
	}
	// Bootstrap gives the original role back; then the second may go.
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteRole(ctx, second.ID); err != nil {
		t.Fatalf("delete the second role once the first is back: %v", err)
	}
	if !hasAccess() {
		t.Fatal("the admin application lost its access")
	}
}

// TestBootstrapRenamesLegacyRole: a directory bootstrapped before Latch used Logto's
// role name keeps its role, renamed "Logto Management API access", with its id and
// assignments.
func TestBootstrapRenamesLegacyRole(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	legacy, err := d.CreateRole(ctx, NewRole{Name: legacyManagementAPIRoleName, Description: legacyManagementAPIRoleDesc, Type: RoleMachineToMachine})
	if err != nil {
		t.Fatal(err)
	}
	boot, err := d.Bootstrap(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	role, ok := d.RoleByName(ManagementAPIRoleName)
	if !ok || role.ID != legacy.ID || role.Description != ManagementAPIRoleDesc || !slices.Contains(role.ScopeIDs, d.managementScopeAllID()) {
		t.Fatalf("renamed role %+v, %v (legacy id %s)", role, ok, legacy.ID)
	}
	if _, ok := d.RoleByName(legacyManagementAPIRoleName); ok {
		t.Fatal("the legacy name is still taken")
	}
	roles, _ := d.AppRoles(boot.ClientID)
	if len(roles) != 1 || roles[0].ID != legacy.ID {
		t.Fatalf("admin app roles %v", roles)
	}
	// Idempotent.
	if _, err := d.Bootstrap(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	if again, _ := d.RoleByName(ManagementAPIRoleName); again.ID != legacy.ID {
		t.Fatalf("second bootstrap: %+v", again)
	}
}
