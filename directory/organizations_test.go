package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/persistence"
)

// orgFixture is an organization with a user member and an M2M member, a User role
// holding an organization scope and an API resource scope, and an M2M role.
type orgFixture struct {
	d                            *Directory
	clock                        *testClock
	org                          *Organization
	user, user2                  *User
	app, spa                     *Application
	readOrg, writeOrg            *OrganizationScope
	api                          *Resource
	apiRead, apiWrite            *Scope
	userRole, userRole2, m2mRole *OrganizationRole
}

func newOrgFixture(t *testing.T, store persistence.Store) *orgFixture {
	t.Helper()
	ctx := t.Context()
	d, clock := openTest(t, store)
	f := &orgFixture{d: d, clock: clock}
	var err error
	if f.org, err = d.CreateOrganization(ctx, NewOrganization{Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	f.user = mustUser(t, d, NewUser{Username: ptr("alice"), PrimaryEmail: ptr("alice@acme.test")})
	f.user2 = mustUser(t, d, NewUser{Username: ptr("bob")})
	f.app, _ = mustApp(t, d, NewApplication{Name: "svc", Type: AppMachineToMachine})
	f.spa, _ = mustApp(t, d, NewApplication{Name: "spa", Type: AppSPA, OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"https://spa.test/cb"}}})
	if f.readOrg, err = d.CreateOrganizationScope(ctx, "read:org", nil); err != nil {
		t.Fatal(err)
	}
	if f.writeOrg, err = d.CreateOrganizationScope(ctx, "write:org", ptr("write")); err != nil {
		t.Fatal(err)
	}
	f.api = mustResource(t, d, "https://api.acme.test")
	f.apiRead = mustScope(t, d, f.api.ID, "api:read")
	f.apiWrite = mustScope(t, d, f.api.ID, "api:write")
	if f.userRole, err = d.CreateOrganizationRole(ctx, NewOrganizationRole{Name: "member",
		ScopeIDs: []string{f.readOrg.ID}, ResourceScopeIDs: []string{f.apiRead.ID}}); err != nil {
		t.Fatal(err)
	}
	if f.userRole2, err = d.CreateOrganizationRole(ctx, NewOrganizationRole{Name: "admin",
		ScopeIDs: []string{f.readOrg.ID, f.writeOrg.ID}, ResourceScopeIDs: []string{f.apiWrite.ID}}); err != nil {
		t.Fatal(err)
	}
	if f.m2mRole, err = d.CreateOrganizationRole(ctx, NewOrganizationRole{Name: "robot", Type: RoleMachineToMachine,
		ScopeIDs: []string{f.writeOrg.ID}, ResourceScopeIDs: []string{f.apiRead.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddOrganizationMembers(ctx, f.org.ID, MemberUser, []string{f.user.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddOrganizationMembers(ctx, f.org.ID, MemberApp, []string{f.app.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.AssignOrganizationRoles(ctx, f.org.ID, MemberUser, []string{f.user.ID}, []string{f.userRole.ID, f.userRole2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.AssignOrganizationRoles(ctx, f.org.ID, MemberApp, []string{f.app.ID}, []string{f.m2mRole.ID}); err != nil {
		t.Fatal(err)
	}
	return f
}

func wantStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %q, want %q", what, got, want)
	}
}

func TestOrganizationReadAPI(t *testing.T) {
	f := newOrgFixture(t, newMemStore())
	d, org := f.d, f.org.ID

	wantStrings(t, "UserOrganizationIDs", d.UserOrganizationIDs(f.user.ID), org)
	wantStrings(t, "UserOrganizationIDs(non-member)", d.UserOrganizationIDs(f.user2.ID))
	if orgs := d.UserOrganizations(f.user.ID); len(orgs) != 1 || orgs[0].Name != "Acme" {
		t.Fatalf("UserOrganizations = %v", orgs)
	}
	var pairs []string
	for _, g := range d.UserOrganizationRoles(f.user.ID) {
		pairs = append(pairs, g.String())
	}
	wantStrings(t, "UserOrganizationRoles", pairs, org+":admin", org+":member")
	if !d.IsUserOrganizationMember(org, f.user.ID) || d.IsUserOrganizationMember(org, f.user2.ID) {
		t.Fatal("IsUserOrganizationMember wrong")
	}
	if !d.IsAppOrganizationMember(org, f.app.ID) || d.IsAppOrganizationMember(org, f.spa.ID) || d.IsAppOrganizationMember("nope", f.app.ID) {
		t.Fatal("IsAppOrganizationMember wrong")
	}
	wantStrings(t, "UserOrganizationScopes", d.UserOrganizationScopes(org, f.user.ID), "read:org", "write:org")
	wantStrings(t, "UserOrganizationScopes(non-member)", d.UserOrganizationScopes(org, f.user2.ID))
	wantStrings(t, "AppOrganizationScopes", d.AppOrganizationScopes(org, f.app.ID), "write:org")
	wantStrings(t, "UserOrganizationResourceScopes", d.UserOrganizationResourceScopes(org, f.user.ID, f.api.Indicator), "api:read", "api:write")
	wantStrings(t, "UserOrganizationResourceScopes(unknown resource)", d.UserOrganizationResourceScopes(org, f.user.ID, "https://nope.test"))
	wantStrings(t, "AppOrganizationResourceScopes", d.AppOrganizationResourceScopes(org, f.app.ID, f.api.Indicator), "api:read")

	// A removed role and a removed membership take effect on the next read.
	if err := d.UnassignOrganizationRole(t.Context(), org, MemberUser, f.user.ID, f.userRole2.ID); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "scopes after unassign", d.UserOrganizationScopes(org, f.user.ID), "read:org")
	if err := d.RemoveOrganizationMember(t.Context(), org, MemberUser, f.user.ID); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "scopes after leaving", d.UserOrganizationScopes(org, f.user.ID))
	if d.UserOrganizationRoles(f.user.ID) != nil || d.UserOrganizationIDs(f.user.ID) != nil {
		t.Fatal("roles or organizations survive the membership")
	}
	// Rejoining does not bring the old roles back (they were deleted with the membership).
	if err := d.AddOrganizationMembers(t.Context(), org, MemberUser, []string{f.user.ID}); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "scopes after rejoining", d.UserOrganizationScopes(org, f.user.ID))
}

func TestOrganizationRules(t *testing.T) {
	f := newOrgFixture(t, newMemStore())
	ctx, d, org := t.Context(), f.d, f.org.ID

	var ce *ConflictError
	if _, err := d.CreateOrganizationRole(ctx, NewOrganizationRole{Name: "member"}); !errors.As(err, &ce) {
		t.Fatalf("duplicate role name: %v", err)
	}
	if _, err := d.CreateOrganizationScope(ctx, "read:org", nil); !errors.As(err, &ce) {
		t.Fatalf("duplicate scope name: %v", err)
	}
	if _, err := d.UpdateOrganizationScope(ctx, f.writeOrg.ID, ptr("read:org"), nil, false); !errors.As(err, &ce) {
		t.Fatalf("rename onto a taken scope name: %v", err)
	}
	if _, err := d.UpdateOrganizationRole(ctx, f.userRole.ID, func(r *OrganizationRole) error { r.Name = "admin"; return nil }); !errors.As(err, &ce) {
		t.Fatalf("rename onto a taken role name: %v", err)
	}
	// A freed name can be taken again.
	if _, err := d.UpdateOrganizationScope(ctx, f.writeOrg.ID, ptr("edit:org"), nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateOrganizationScope(ctx, "write:org", nil); err != nil {
		t.Fatalf("freed name: %v", err)
	}

	wantErrIs(t, d.AddOrganizationMembers(ctx, org, MemberApp, []string{f.spa.ID}), ErrOrganizationConstraint)
	wantErrIs(t, d.AddOrganizationMembers(ctx, org, MemberUser, []string{"nope"}), ErrRelationTarget)
	wantErrIs(t, d.AddOrganizationMembers(ctx, "nope", MemberUser, []string{f.user.ID}), ErrRelationTarget)
	wantErrIs(t, d.AssignOrganizationRoles(ctx, org, MemberUser, []string{f.user.ID}, []string{f.m2mRole.ID}), ErrOrganizationConstraint)
	wantErrIs(t, d.AssignOrganizationRoles(ctx, org, MemberApp, []string{f.app.ID}, []string{f.userRole.ID}), ErrOrganizationConstraint)
	wantErrIs(t, d.AssignOrganizationRoles(ctx, org, MemberUser, []string{f.user2.ID}, []string{f.userRole.ID}), ErrRelationTarget)
	wantErrIs(t, d.ReplaceOrganizationRoles(ctx, org, MemberUser, f.user2.ID, nil), ErrMembershipRequired)
	if _, err := d.MemberOrganizationRoles(org, MemberUser, f.user2.ID); !errors.Is(err, ErrMembershipRequired) {
		t.Fatalf("roles of a non-member: %v", err)
	}
	wantErrIs(t, d.RemoveOrganizationMember(ctx, org, MemberUser, f.user2.ID), ErrNotFound)

	// Replacing members keeps the roles of those who stay.
	if err := d.ReplaceOrganizationMembers(ctx, org, MemberUser, []string{f.user.ID, f.user2.ID, f.user2.ID}); err != nil {
		t.Fatal(err)
	}
	if n, _ := d.OrganizationUserCount(org, 3); n != 2 {
		t.Fatalf("members = %d, want 2", n)
	}
	wantStrings(t, "kept scopes", d.UserOrganizationScopes(org, f.user.ID), "edit:org", "read:org")
	if err := d.ReplaceOrganizationMembers(ctx, org, MemberUser, []string{f.user2.ID}); err != nil {
		t.Fatal(err)
	}
	if d.IsUserOrganizationMember(org, f.user.ID) || len(d.st.org.userRoles) != 0 {
		t.Fatal("replace left a membership or its roles behind")
	}
}

func TestOrganizationCascades(t *testing.T) {
	store := newMemStore()
	f := newOrgFixture(t, store)
	ctx, d, org := t.Context(), f.d, f.org.ID
	if err := d.AddOrganizationJITRoles(ctx, org, []string{f.userRole.ID, f.userRole2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.AddOrganizationJITEmailDomain(ctx, org, "acme.test"); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, d.AddOrganizationJITEmailDomain(ctx, org, "acme.test"), ErrConflict)
	inv, err := d.CreateOrganizationInvitation(ctx, NewOrganizationInvitation{InviterID: &f.user.ID, Invitee: "carol@acme.test",
		OrganizationID: org, ExpiresAt: f.clock.Now().Add(time.Hour).UnixMilli(), RoleIDs: []string{f.userRole2.ID}})
	if err != nil {
		t.Fatal(err)
	}

	// Deleting an API resource scope removes it from organization roles.
	if err := d.DeleteScope(ctx, f.api.ID, f.apiWrite.ID); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "resource scopes after scope delete", d.UserOrganizationResourceScopes(org, f.user.ID, f.api.Indicator), "api:read")
	// Deleting an organization scope removes it from roles.
	if err := d.DeleteOrganizationScope(ctx, f.readOrg.ID); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "org scopes after scope delete", d.UserOrganizationScopes(org, f.user.ID), "write:org")
	// Deleting a role removes its assignments, JIT roles and invitation roles.
	if err := d.DeleteOrganizationRole(ctx, f.userRole2.ID); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "org scopes after role delete", d.UserOrganizationScopes(org, f.user.ID))
	_, jitRoles, _ := d.OrganizationJITSettings(org)
	if len(jitRoles) != 1 || jitRoles[0].ID != f.userRole.ID {
		t.Fatalf("jit roles after role delete: %v", jitRoles)
	}
	if got, _ := d.OrganizationInvitation(inv.ID); len(got.RoleIDs) != 0 {
		t.Fatalf("invitation roles after role delete: %q", got.RoleIDs)
	}
	// Deleting the whole API resource removes its scopes from organization roles.
	if err := d.DeleteResource(ctx, f.api.ID); err != nil {
		t.Fatal(err)
	}
	if r, _ := d.OrganizationRole(f.m2mRole.ID); len(r.ResourceScopeIDs) != 0 {
		t.Fatalf("resource scopes after resource delete: %q", r.ResourceScopeIDs)
	}
	// Deleting the application ends its memberships.
	if err := d.DeleteApplication(ctx, f.app.ID); err != nil {
		t.Fatal(err)
	}
	if store.count(kindOrgApp) != 0 || store.count(kindOrgAppRole) != 0 {
		t.Fatal("application memberships survive the application")
	}
	// Deleting the user ends its memberships and deletes the invitations it sent.
	if err := d.DeleteUser(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}
	if store.count(kindOrgUser) != 0 || store.count(kindOrgUserRole) != 0 || store.count(kindOrgInvitation) != 0 ||
		store.count(kindIdxOrgInvitation) != 0 {
		t.Fatal("user memberships or invitations survive the user")
	}

	// Deleting the organization deletes everything of it.
	if err := d.AddOrganizationMembers(ctx, org, MemberUser, []string{f.user2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.AssignOrganizationRoles(ctx, org, MemberUser, []string{f.user2.ID}, []string{f.userRole.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateOrganizationInvitation(ctx, NewOrganizationInvitation{Invitee: "dan@acme.test",
		OrganizationID: org, ExpiresAt: f.clock.Now().Add(time.Hour).UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteOrganization(ctx, org); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{kindOrg, kindOrgUser, kindOrgUserRole, kindOrgJIT, kindOrgInvitation, kindIdxOrgInvitation} {
		if n := store.count(k); n != 0 {
			t.Fatalf("%d %s records survive the organization", n, k)
		}
	}
	if d.UserOrganizationIDs(f.user2.ID) != nil {
		t.Fatal("membership in memory survives the organization")
	}
}

func TestOrganizationInvitations(t *testing.T) {
	f := newOrgFixture(t, newMemStore())
	ctx, d, org := t.Context(), f.d, f.org.ID
	later := f.clock.Now().Add(time.Hour).UnixMilli()
	newInv := func(invitee string) (*OrganizationInvitation, error) {
		return d.CreateOrganizationInvitation(ctx, NewOrganizationInvitation{Invitee: invitee, OrganizationID: org,
			ExpiresAt: later, RoleIDs: []string{f.userRole.ID}})
	}
	if _, err := d.CreateOrganizationInvitation(ctx, NewOrganizationInvitation{Invitee: "x@acme.test", OrganizationID: org,
		ExpiresAt: f.clock.Now().UnixMilli()}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("past expiry: %v", err)
	}
	if _, err := newInv("alice@acme.test"); !errors.Is(err, ErrInvitation) {
		t.Fatalf("member invitee: %v", err)
	}
	inv, err := newInv("bob@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newInv("bob@acme.test"); !errors.Is(err, ErrConflict) {
		t.Fatalf("second pending invitation: %v", err)
	}
	// Once expired, a new invitation may be created; the old one reads Expired.
	f.clock.Advance(2 * time.Hour)
	later = f.clock.Now().Add(time.Hour).UnixMilli()
	if _, err := d.SetOrganizationInvitationStatus(ctx, inv.ID, InvitationRevoked, ""); !errors.Is(err, ErrInvitation) {
		t.Fatalf("revoking an expired invitation: %v", err)
	}
	inv2, err := newInv("bob@acme.test")
	if err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if old, _ := d.OrganizationInvitation(inv.ID); old.Status != InvitationExpired {
		t.Fatalf("old invitation status %s", old.Status)
	}
	// Accepting: the user needs the invitee's email.
	if _, err := d.SetOrganizationInvitationStatus(ctx, inv2.ID, InvitationAccepted, f.user2.ID); !errors.Is(err, ErrInvitation) {
		t.Fatalf("accept by a user without the email: %v", err)
	}
	if _, err := d.UpdateUser(ctx, f.user2.ID, func(u *User) error { u.PrimaryEmail = ptr("Bob@Acme.test"); return nil }); err != nil {
		t.Fatal(err)
	}
	acc, err := d.SetOrganizationInvitationStatus(ctx, inv2.ID, InvitationAccepted, f.user2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if acc.Status != InvitationAccepted || deref(acc.AcceptedUserID) != f.user2.ID {
		t.Fatalf("accepted invitation: %+v", acc)
	}
	wantStrings(t, "scopes after accepting", d.UserOrganizationScopes(org, f.user2.ID), "read:org")
	if _, err := d.SetOrganizationInvitationStatus(ctx, inv2.ID, InvitationRevoked, ""); !errors.Is(err, ErrInvitation) {
		t.Fatalf("changing an accepted invitation: %v", err)
	}
	if got := d.OrganizationInvitations(InvitationFilter{Invitee: "BOB@acme.test"}); len(got) != 2 || got[0].ID != inv2.ID {
		t.Fatalf("invitations by invitee: %v", got)
	}
}

// TestOrganizationsReload checks that everything written is loaded again by Open.
func TestOrganizationsReload(t *testing.T) {
	store := newMemStore()
	f := newOrgFixture(t, store)
	if err := f.d.AddOrganizationJITEmailDomain(t.Context(), f.org.ID, "acme.test"); err != nil {
		t.Fatal(err)
	}
	d, _ := openTest(t, store)
	org := f.org.ID
	wantStrings(t, "scopes", d.UserOrganizationScopes(org, f.user.ID), "read:org", "write:org")
	wantStrings(t, "app resource scopes", d.AppOrganizationResourceScopes(org, f.app.ID, f.api.Indicator), "api:read")
	domains, _, err := d.OrganizationJITSettings(org)
	if err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "jit domains", domains, "acme.test")
	// Uniqueness survives the reload.
	if _, err := d.CreateOrganizationRole(t.Context(), NewOrganizationRole{Name: "member"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate role name after reload: %v", err)
	}
}

func TestTwoNodesOrganizationNamesUnique(t *testing.T) {
	for range 10 {
		store, a, b := twoNodes(t)
		errs := race(a, b, func(d *Directory) error {
			_, err := d.CreateOrganizationRole(t.Context(), NewOrganizationRole{Name: "member"})
			return err
		})
		oneWinner(t, errs, EntityOrganizationRole, "name")
		errs = race(a, b, func(d *Directory) error {
			_, err := d.CreateOrganizationScope(t.Context(), "read", nil)
			return err
		})
		oneWinner(t, errs, EntityOrganizationScope, "name")
		if store.count(kindOrgRole) != 1 || store.count(kindOrgScope) != 1 {
			t.Fatal("two records hold one name")
		}
	}
}

func TestTwoNodesOnePendingInvitation(t *testing.T) {
	for range 10 {
		store, a, b := twoNodes(t)
		org, err := a.CreateOrganization(t.Context(), NewOrganization{Name: "o"})
		if err != nil {
			t.Fatal(err)
		}
		b = reopen(t, store)
		errs := race(a, b, func(d *Directory) error {
			_, err := d.CreateOrganizationInvitation(t.Context(), NewOrganizationInvitation{Invitee: "x@y.test",
				OrganizationID: org.ID, ExpiresAt: d.nowMs() + 3600_000})
			return err
		})
		oneWinner(t, errs, EntityOrganizationInvitation, "invitee")
		if n := store.count(kindOrgInvitation); n != 1 {
			t.Fatalf("%d invitations stored", n)
		}
	}
}

// A node that has not seen a member leave cannot give it a role: the assignment's
// batch is conditional on the membership record.
func TestStaleNodeCannotAssignRoleToFormerMember(t *testing.T) {
	store := newMemStore()
	f := newOrgFixture(t, store)
	ctx := t.Context()
	if err := f.d.UnassignOrganizationRole(ctx, f.org.ID, MemberUser, f.user.ID, f.userRole.ID); err != nil {
		t.Fatal(err)
	}
	b := reopen(t, store)
	if err := f.d.RemoveOrganizationMember(ctx, f.org.ID, MemberUser, f.user.ID); err != nil {
		t.Fatal(err)
	}
	err := b.AssignOrganizationRoles(ctx, f.org.ID, MemberUser, []string{f.user.ID}, []string{f.userRole.ID})
	if !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if store.count(kindOrgUserRole) != 0 {
		t.Fatal("role assigned to a former member")
	}
	if err := b.AssignOrganizationRoles(ctx, f.org.ID, MemberUser, []string{f.user.ID}, []string{f.userRole.ID}); !errors.Is(err, ErrRelationTarget) {
		t.Fatalf("after reload: err = %v, want ErrRelationTarget", err)
	}
}

// A replica applying the leader's batches ends with the same organizations in memory
// and in its store.
func TestReplicaFollowsOrganizationBatches(t *testing.T) {
	ctx := t.Context()
	leader := &recordingStore{memStore: newMemStore()}
	f := newOrgFixture(t, leader)
	a, org := f.d, f.org.ID
	if err := a.AddOrganizationJITEmailDomain(ctx, org, "acme.test"); err != nil {
		t.Fatal(err)
	}
	if err := a.AddOrganizationJITRoles(ctx, org, []string{f.userRole2.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateOrganizationInvitation(ctx, NewOrganizationInvitation{Invitee: "z@acme.test", OrganizationID: org,
		ExpiresAt: a.nowMs() + 3600_000, RoleIDs: []string{f.userRole.ID, f.userRole2.ID}}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteOrganizationRole(ctx, f.userRole2.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteScope(ctx, f.api.ID, f.apiRead.ID); err != nil {
		t.Fatal(err)
	}
	if err := a.AddOrganizationMembers(ctx, org, MemberUser, []string{f.user2.ID}); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteUser(ctx, f.user.ID); err != nil {
		t.Fatal(err)
	}

	replicaStore := newMemStore()
	b, _ := openTest(t, replicaStore)
	for i, muts := range leader.log {
		if _, err := b.ApplyReplicated(ctx, muts); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if got, want := orgSnapshot(t, b), orgSnapshot(t, a); got != want {
		t.Fatalf("replica memory:\n got %s\nwant %s", got, want)
	}
	leader.mu.Lock()
	same := reflect.DeepEqual(leader.memStore.recs, replicaStore.recs)
	leader.mu.Unlock()
	if !same {
		t.Fatal("replica store differs from the leader's")
	}
	// And a node opened on the replica's store loads the same.
	if got, want := orgSnapshot(t, reopen(t, replicaStore)), orgSnapshot(t, a); got != want {
		t.Fatalf("reloaded memory:\n got %s\nwant %s", got, want)
	}
}

// orgSnapshot renders everything the organization reads return.
func orgSnapshot(t *testing.T, d *Directory) string {
	t.Helper()
	var out []any
	for _, o := range d.Organizations("") {
		domains, jitRoles, _ := d.OrganizationJITSettings(o.ID)
		out = append(out, o, o.Version, domains, jitRoles, d.OrganizationUsers(o.ID, "", ""), d.OrganizationApps(o.ID, ""),
			d.OrganizationInvitations(InvitationFilter{OrganizationID: o.ID}))
		for _, u := range d.Users("") {
			out = append(out, d.UserOrganizationScopes(o.ID, u.ID), d.UserOrganizationRoles(u.ID))
			for _, r := range d.Resources() {
				out = append(out, d.UserOrganizationResourceScopes(o.ID, u.ID, r.Indicator))
			}
		}
	}
	for _, r := range d.OrganizationRoles("") {
		out = append(out, r, r.Version)
	}
	out = append(out, d.OrganizationScopes(""), d.st.org.pending, d.st.org.roleNames, d.st.org.scopeNames)
	raw, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func TestProvisionOrganizationsByEmailDomain(t *testing.T) {
	f := newOrgFixture(t, newMemStore())
	ctx, d, org := t.Context(), f.d, f.org.ID
	if err := d.AddOrganizationJITEmailDomain(ctx, org, "bob.test"); err != nil {
		t.Fatal(err)
	}
	if err := d.AddOrganizationJITRoles(ctx, org, []string{f.userRole.ID}); err != nil {
		t.Fatal(err)
	}
	if joined, err := d.ProvisionOrganizationsByEmailDomain(ctx, f.user2.ID, "bob@other.test"); err != nil || joined != nil {
		t.Fatalf("other domain: %v %v", joined, err)
	}
	joined, err := d.ProvisionOrganizationsByEmailDomain(ctx, f.user2.ID, "bob@Bob.test")
	if err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "joined", joined, org)
	wantStrings(t, "scopes", d.UserOrganizationScopes(org, f.user2.ID), "read:org")
	// Again: already a member, nothing new.
	if joined, err := d.ProvisionOrganizationsByEmailDomain(ctx, f.user2.ID, "bob@bob.test"); err != nil || joined != nil {
		t.Fatalf("second time: %v %v", joined, err)
	}
}

// Organizations written through different nodes of a replicated directory are the
// same on every node, in memory and in the store, and a snapshot carries them.
func TestReplicatedOrganizations(t *testing.T) {
	ctx := t.Context()
	_, dirs, nodes := cluster(t, 3, false)
	org, err := dirs[0].CreateOrganization(ctx, NewOrganization{Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	scope, err := dirs[1].CreateOrganizationScope(ctx, "read", nil)
	if err != nil {
		t.Fatal(err)
	}
	role, err := dirs[2].CreateOrganizationRole(ctx, NewOrganizationRole{Name: "member", ScopeIDs: []string{scope.ID}})
	if err != nil {
		t.Fatal(err)
	}
	u := mustUser(t, dirs[0], NewUser{Username: ptr("ann"), PrimaryEmail: ptr("ann@acme.test")})
	if err := dirs[1].AddOrganizationMembers(ctx, org.ID, MemberUser, []string{u.ID}); err != nil {
		t.Fatal(err)
	}
	if err := dirs[2].AssignOrganizationRoles(ctx, org.ID, MemberUser, []string{u.ID}, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	if err := dirs[0].AddOrganizationJITEmailDomain(ctx, org.ID, "acme.test"); err != nil {
		t.Fatal(err)
	}
	if _, err := dirs[1].CreateOrganizationInvitation(ctx, NewOrganizationInvitation{Invitee: "bo@acme.test",
		OrganizationID: org.ID, ExpiresAt: dirs[1].nowMs() + 3600_000}); err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		wantStrings(t, fmt.Sprintf("node %d scopes", i), d.UserOrganizationScopes(org.ID, u.ID), "read")
	}
	want := orgSnapshot(t, dirs[0])
	for i, d := range dirs[1:] {
		if got := orgSnapshot(t, d); got != want {
			t.Fatalf("node %d:\n got %s\nwant %s", i+1, got, want)
		}
	}
	sameEverywhere(t, dirs, nodes)

	snap, err := dirs[2].Replica().Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	fresh := openPebbleNode(t, vfs.NewMem())
	d4, _ := openTest(t, fresh.store)
	if err := d4.Replica().Restore(snap); err != nil {
		t.Fatal(err)
	}
	if got := orgSnapshot(t, d4); got != want {
		t.Fatalf("restored node:\n got %s\nwant %s", got, want)
	}
}

// Two nodes that decided to take one organization role name before either write was
// applied: the log orders them and the second answers with a *ConflictError.
func TestReplicatedOrganizationRoleNameConflict(t *testing.T) {
	l, dirs, nodes := cluster(t, 3, true)
	var errs [2]error
	var wg sync.WaitGroup
	for i, d := range dirs[:2] {
		wg.Go(func() {
			_, errs[i] = d.CreateOrganizationRole(context.Background(), NewOrganizationRole{Name: "member"})
		})
		l.waitArrived(t, 1, fmt.Sprintf("node %d's write", i))
	}
	l.release <- struct{}{}
	l.release <- struct{}{}
	wg.Wait()
	oneWinner(t, errs, EntityOrganizationRole, "name")
	sameEverywhere(t, dirs, nodes)
}
