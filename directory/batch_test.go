package directory

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/latchid/latch/persistence"
)

// Two Directory instances over one store stand for two nodes whose memories lag
// behind each other: each validates against its own state, and only the store's
// atomic batch decides.
func twoNodes(t *testing.T) (store *memStore, a, b *Directory) {
	t.Helper()
	store = newMemStore()
	a, _ = openTest(t, store)
	b, _ = openTest(t, store)
	return store, a, b
}

// race runs fn on both nodes at once and returns their errors.
func race(a, b *Directory, fn func(d *Directory) error) [2]error {
	var errs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, d := range []*Directory{a, b} {
		wg.Go(func() {
			<-start
			errs[i] = fn(d)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner checks that exactly one of errs is nil and the other a *ConflictError on
// entity/field.
func oneWinner(t *testing.T, errs [2]error, entity, field string) {
	t.Helper()
	switch {
	case errs[0] == nil && errs[1] != nil:
		wantConflict(t, errs[1], entity, field)
	case errs[1] == nil && errs[0] != nil:
		wantConflict(t, errs[0], entity, field)
	default:
		t.Fatalf("errors %v, want exactly one success and one conflict", errs)
	}
}

func TestTwoNodesResourceIndicatorUnique(t *testing.T) {
	for range 20 {
		store, a, b := twoNodes(t)
		errs := race(a, b, func(d *Directory) error {
			_, err := d.CreateResource(t.Context(), NewResource{Name: "api", Indicator: "https://api.example"})
			return err
		})
		oneWinner(t, errs, EntityResource, "indicator")
		if n := store.count(kindResource); n != 1 {
			t.Fatalf("%d resources stored, want 1", n)
		}
		// The loser's memory now holds the winner's resource.
		for _, d := range []*Directory{a, b} {
			if _, ok := d.ResourceByIndicator("https://api.example"); !ok {
				t.Fatal("a node does not see the winning resource")
			}
		}
	}
}

// A stale node without the value in memory still cannot take it: the claim fails at
// apply, the node reloads the owner and answers with the usual conflict.
func TestStaleNodeScopeNameUnique(t *testing.T) {
	_, a, b := twoNodes(t)
	r := mustResource(t, a, "https://api.example")
	if _, err := b.CreateScope(t.Context(), r.ID, "read", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b does not know the resource yet: err = %v", err)
	}
	b2 := reopen(t, b.store) // a node that caught up with the resource only
	mustScope(t, a, r.ID, "read")
	_, err := b2.CreateScope(t.Context(), r.ID, "read", "")
	wantConflict(t, err, EntityScope, "name")
	if _, err := b2.CreateScope(t.Context(), r.ID, "write", ""); err != nil {
		t.Fatal(err)
	}
}

// Deleting a resource touches its roles, its scopes and itself in one batch: when a
// precondition fails (another node changed the resource), nothing at all is written.
func TestDeleteResourceAllOrNothing(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	r := mustResource(t, a, "https://api.example")
	s := mustScope(t, a, r.ID, "read")
	role := mustRole(t, a, NewRole{Name: "reader", ScopeIDs: []string{s.ID}})
	b := reopen(t, store)
	if _, err := a.UpdateResource(ctx, r.ID, func(r *Resource) error { r.Name = "renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	before := storeCounts(store)
	err := b.DeleteResource(ctx, r.ID)
	if !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if after := storeCounts(store); after != before {
		t.Fatalf("store changed by a failed delete: %s -> %s", before, after)
	}
	rec, err := store.Get(ctx, kindRole, role.ID)
	if err != nil || rec.Version != role.Version {
		t.Fatalf("role rewritten by a failed delete: %+v, %v", rec, err)
	}
	if _, ok := b.Scope(s.ID); !ok {
		t.Fatal("scope unpublished by a failed delete")
	}
	// The retry on the reloaded state deletes everything and frees the values.
	if err := b.DeleteResource(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if n := store.count(kindScope) + store.count(kindResource) + store.count(kindIdxIndicator) + store.count(kindIdxScopeName); n != 0 {
		t.Fatalf("%d records left after the delete", n)
	}
	if got, _ := b.Role(role.ID); len(got.ScopeIDs) != 0 {
		t.Fatalf("role still holds the deleted scope: %v", got.ScopeIDs)
	}
	mustResource(t, b, "https://api.example") // the indicator is free again
}

// Data written before index records existed gets them at Open.
func TestOpenCreatesMissingIndexRecords(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	r := mustResource(t, a, "https://api.example")
	mustScope(t, a, r.ID, "read")
	role := mustRole(t, a, NewRole{Name: "reader"})
	u := mustUser(t, a, NewUser{Username: ptr("gina"), PrimaryEmail: ptr("Gina@Example.com"), PrimaryPhone: ptr("5551234")})
	for kind := range indexOwnerKind {
		store.mu.Lock()
		delete(store.recs, kind)
		store.mu.Unlock()
	}
	reopen(t, store)
	rec, err := store.Get(ctx, kindIdxIndicator, "https://api.example")
	if err != nil || string(rec.Value) != r.ID {
		t.Fatalf("indicator index = %q, %v; want owner %s", rec.Value, err, r.ID)
	}
	for kind, want := range map[string]string{
		kindIdxScopeName: scopeNameKey(r.ID, "read"),
		kindIdxRoleName:  "reader",
		kindIdxUsername:  "gina",
		kindIdxEmail:     "gina@example.com",
		kindIdxPhone:     "5551234",
	} {
		rec, err := store.Get(ctx, kind, want)
		if err != nil {
			t.Fatalf("%s/%s: %v", kind, want, err)
		}
		if owner := string(rec.Value); owner != role.ID && owner != u.ID && kind != kindIdxScopeName {
			t.Fatalf("%s/%s owned by %q", kind, want, owner)
		}
	}
}

func TestTwoNodesRoleNameUnique(t *testing.T) {
	for range 20 {
		store, a, b := twoNodes(t)
		errs := race(a, b, func(d *Directory) error {
			_, err := d.CreateRole(t.Context(), NewRole{Name: "reader"})
			return err
		})
		oneWinner(t, errs, EntityRole, "name")
		if n := store.count(kindRole); n != 1 {
			t.Fatalf("%d roles stored, want 1", n)
		}
	}
	// A rename on one node and a create on the other race for one name too.
	_, a, _ := twoNodes(t)
	r := mustRole(t, a, NewRole{Name: "old"})
	b := reopen(t, a.store)
	errs := race(a, b, func(d *Directory) error {
		if d == a {
			_, err := d.UpdateRole(t.Context(), r.ID, func(r *Role) error { r.Name = "new"; return nil })
			return err
		}
		_, err := d.CreateRole(t.Context(), NewRole{Name: "new"})
		return err
	})
	oneWinner(t, errs, EntityRole, "name")
}

// A node that has not seen a scope's deletion cannot put it into a role.
func TestStaleNodeCannotAddDeletedScope(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	r := mustResource(t, a, "https://api.example")
	s := mustScope(t, a, r.ID, "read")
	role := mustRole(t, a, NewRole{Name: "reader"})
	b := reopen(t, store)
	if err := a.DeleteScope(ctx, r.ID, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AddRoleScopes(ctx, role.ID, []string{s.ID}); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if rec, _ := store.Get(ctx, kindRole, role.ID); rec.Version != role.Version {
		t.Fatal("role written although its scope is gone")
	}
	if _, err := b.AddRoleScopes(ctx, role.ID, []string{s.ID}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after reload: err = %v, want not found", err)
	}
}

func TestTwoNodesApplicationIDUnique(t *testing.T) {
	for range 20 {
		store, a, b := twoNodes(t)
		errs := race(a, b, func(d *Directory) error {
			_, _, err := d.CreateApplication(t.Context(), NewApplication{ID: "my-app", Name: "x", Type: AppMachineToMachine})
			return err
		})
		oneWinner(t, errs, EntityApplication, "id")
		if n := store.count(kindApp); n != 1 {
			t.Fatalf("%d applications stored, want 1", n)
		}
	}
}

// Deleting an application and its assignments is one batch: a stale node whose
// application record moved on writes nothing, not even the assignment deletes.
func TestDeleteApplicationAllOrNothing(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	app, _ := mustApp(t, a, NewApplication{Name: "svc", Type: AppMachineToMachine})
	role := mustRole(t, a, NewRole{Name: "svc", Type: RoleMachineToMachine})
	if _, err := a.AssignAppRoles(ctx, app.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	b := reopen(t, store)
	if _, err := a.UpdateApplication(ctx, app.ID, func(x *Application) error { x.Name = "renamed"; return nil }); err != nil {
		t.Fatal(err)
	}
	before := storeCounts(store)
	if err := b.DeleteApplication(ctx, app.ID); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if after := storeCounts(store); after != before {
		t.Fatalf("store changed by a failed delete: %s -> %s", before, after)
	}
	if err := b.DeleteApplication(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	if n := store.count(kindApp) + store.count(kindAppRole); n != 0 {
		t.Fatalf("%d records left", n)
	}
}

func TestTwoNodesUsernameUnique(t *testing.T) {
	for range 20 {
		store, a, b := twoNodes(t)
		errs := race(a, b, func(d *Directory) error {
			_, err := d.CreateUser(t.Context(), NewUser{Username: ptr("alice")})
			return err
		})
		oneWinner(t, errs, EntityUser, "username")
		if n := store.count(kindUser); n != 1 {
			t.Fatalf("%d users stored, want 1", n)
		}
		for _, d := range []*Directory{a, b} {
			if _, ok := d.UserByUsername("alice"); !ok {
				t.Fatal("a node does not see the winning user")
			}
		}
	}
}

// Emails are unique case-insensitively across nodes too, and a rename on one node
// races a create on the other.
func TestTwoNodesEmailUnique(t *testing.T) {
	for range 10 {
		store, a, b := twoNodes(t)
		errs := race(a, b, func(d *Directory) error {
			email := "Bob@Example.com"
			if d == b {
				email = "bob@example.com"
			}
			_, err := d.CreateUser(t.Context(), NewUser{PrimaryEmail: ptr(email)})
			return err
		})
		oneWinner(t, errs, EntityUser, "primaryEmail")
		if n := store.count(kindUser); n != 1 {
			t.Fatalf("%d users stored, want 1", n)
		}
	}
	_, a, _ := twoNodes(t)
	u := mustUser(t, a, NewUser{Username: ptr("carol")})
	b := reopen(t, a.store)
	errs := race(a, b, func(d *Directory) error {
		if d == a {
			_, err := d.UpdateUser(t.Context(), u.ID, func(u *User) error { u.PrimaryPhone = ptr("123456"); return nil })
			return err
		}
		_, err := d.CreateUser(t.Context(), NewUser{PrimaryPhone: ptr("123456")})
		return err
	})
	oneWinner(t, errs, EntityUser, "primaryPhone")
}

// A released value is free for everyone: a rename and a delete give theirs up in the
// same batch.
func TestUserValuesReleased(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	u := mustUser(t, a, NewUser{Username: ptr("dave"), PrimaryEmail: ptr("d@example.com")})
	if _, err := a.UpdateUser(ctx, u.ID, func(u *User) error { u.Username = ptr("david"); return nil }); err != nil {
		t.Fatal(err)
	}
	b := reopen(t, store)
	mustUser(t, b, NewUser{Username: ptr("dave")})
	if err := a.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	mustUser(t, a, NewUser{Username: ptr("david"), PrimaryEmail: ptr("D@example.com")})
	for _, kind := range []string{kindIdxUsername, kindIdxEmail} {
		if n, want := store.count(kind), map[string]int{kindIdxUsername: 2, kindIdxEmail: 1}[kind]; n != want {
			t.Fatalf("%d %s records, want %d", n, kind, want)
		}
	}
}

// Deleting a user and its assignments is one batch.
func TestDeleteUserAllOrNothing(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	u := mustUser(t, a, NewUser{Username: ptr("erin")})
	role := mustRole(t, a, NewRole{Name: "r"})
	if _, err := a.AssignUserRoles(ctx, u.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	b := reopen(t, store)
	if _, err := a.UpdateUser(ctx, u.ID, func(u *User) error { u.Name = ptr("Erin"); return nil }); err != nil {
		t.Fatal(err)
	}
	before := storeCounts(store)
	if err := b.DeleteUser(ctx, u.ID); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if after := storeCounts(store); after != before {
		t.Fatalf("store changed by a failed delete: %s -> %s", before, after)
	}
	if err := b.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if n := store.count(kindUser) + store.count(kindUserRole) + store.count(kindIdxUsername); n != 0 {
		t.Fatalf("%d records left", n)
	}
}

// A node that has not seen a user's deletion cannot give it a role.
func TestStaleNodeCannotAssignDeletedUser(t *testing.T) {
	ctx := t.Context()
	store, a, _ := twoNodes(t)
	u := mustUser(t, a, NewUser{Username: ptr("frank")})
	role := mustRole(t, a, NewRole{Name: "r"})
	b := reopen(t, store)
	if err := a.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.AssignUserRoles(ctx, u.ID, []string{role.ID}); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if n := store.count(kindUserRole); n != 0 {
		t.Fatalf("%d assignments of a deleted user stored", n)
	}
}

// PutSigningKey creates or replaces: a node that has not seen the key yet replaces it
// after reloading, and both nodes end with the last write.
func TestTwoNodesSigningKeyReplace(t *testing.T) {
	ctx := t.Context()
	store, a, b := twoNodes(t)
	if err := a.PutSigningKey(ctx, &SigningKey{ID: "k1", Alg: "RS256", JWK: []byte(`{"n":"a"}`), Status: KeyCurrent}); err != nil {
		t.Fatal(err)
	}
	if err := b.PutSigningKey(ctx, &SigningKey{ID: "k1", Alg: "RS256", JWK: []byte(`{"n":"b"}`), Status: KeyCurrent}); err != nil {
		t.Fatal(err)
	}
	rec, err := store.Get(ctx, kindSigningKey, "k1")
	if err != nil || rec.Version != 2 {
		t.Fatalf("k1 = %+v, %v; want version 2", rec, err)
	}
	if ks := b.SigningKeys(); len(ks) != 1 || string(ks[0].JWK) != `{"n":"b"}` || ks[0].Version != 2 {
		t.Fatalf("b's keys = %+v", ks)
	}
	if err := a.DeleteSigningKey(ctx, "k1"); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("stale delete: err = %v, want persistence.ErrConflict", err)
	}
	if _, err := store.Get(ctx, kindSigningKey, "k1"); err != nil {
		t.Fatal("a stale delete removed the key")
	}
}

// Two nodes bootstrapping one empty store at once create one set of bootstrap
// entities: the loser's batch conflicts, it reloads the winner's and succeeds
// without creating anything.
func TestTwoNodesBootstrapOnce(t *testing.T) {
	for _, clientID := range []string{"", "latch-admin"} {
		for range 10 {
			store, a, b := twoNodes(t)
			var results [2]BootstrapResult
			errs := race(a, b, func(d *Directory) error {
				res, err := d.Bootstrap(t.Context(), clientID, "s3cret-s3cret-s3cret")
				if d == a {
					results[0] = res
				} else {
					results[1] = res
				}
				return err
			})
			if errs[0] != nil || errs[1] != nil {
				t.Fatalf("Bootstrap errors: %v", errs)
			}
			if results[0].Created == results[1].Created || results[0].ClientID != results[1].ClientID {
				t.Fatalf("results %+v, want one creation of one client", results)
			}
			if got, want := storeCounts(store), "app=1 user=0 resource=1 scope=1 role=1 user-role=0 app-role=1 signing-key=0 meta=1 "; got != want {
				t.Fatalf("store holds %s, want %s", got, want)
			}
			for _, d := range []*Directory{a, b} {
				if d.AdminApplicationID() != results[0].ClientID {
					t.Fatal("a node does not know the admin application")
				}
			}
		}
	}
}

// A Bootstrap whose batch fails writes none of the bootstrap entities.
func TestBootstrapAllOrNothing(t *testing.T) {
	fs := &failingStore{Store: newMemStore()}
	d, _ := openTest(t, fs)
	fs.setFail(true)
	if _, err := d.Bootstrap(t.Context(), "", ""); !errors.Is(err, errInjected) {
		t.Fatalf("err = %v", err)
	}
	fs.setFail(false)
	if got := storeCounts(fs.Store.(*memStore)); got != "app=0 user=0 resource=0 scope=0 role=0 user-role=0 app-role=0 signing-key=0 meta=0 " {
		t.Fatalf("store holds %s after a failed Bootstrap", got)
	}
	if _, ok := d.ResourceByIndicator(ManagementAPIIndicator); ok {
		t.Fatal("memory changed by a failed Bootstrap")
	}
	if _, err := d.Bootstrap(t.Context(), "", ""); err != nil {
		t.Fatal(err)
	}
}

// recordingStore keeps every batch its store applied, in order: the directory's
// replicated log, as a Raft leader would propose it.
type recordingStore struct {
	*memStore
	mu  sync.Mutex
	log [][]persistence.Mutation
}

func (r *recordingStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.memStore.Apply(ctx, muts)
	if err == nil {
		c := make([]persistence.Mutation, len(muts))
		for i, m := range muts {
			c[i] = m
			c[i].Value = slices.Clone(m.Value)
		}
		r.log = append(r.log, c)
	}
	return v, err
}

// A replica that applies the batches of another node's writes, in order, ends with
// the same store and the same memory: the apply is deterministic and memory follows
// only the applied mutations.
func TestReplicaFollowsBatches(t *testing.T) {
	ctx := t.Context()
	leader := &recordingStore{memStore: newMemStore()}
	a, _ := openTest(t, leader)
	want := populate(t, a)
	if _, err := a.UpdateUser(ctx, splitLast(want, 6)[4], func(u *User) error { u.Username = ptr("franz"); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteResource(ctx, splitLast(want, 6)[5]); err != nil {
		t.Fatal(err)
	}

	replicaStore := newMemStore()
	b, _ := openTest(t, replicaStore)
	for i, muts := range leader.log {
		if _, err := b.ApplyReplicated(ctx, muts); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	if got, want := snapshot(t, b), snapshot(t, a); got != want {
		t.Fatalf("replica memory:\n got %s\nwant %s", got, want)
	}
	leader.mu.Lock()
	same := reflect.DeepEqual(leader.memStore.recs, replicaStore.recs)
	leader.mu.Unlock()
	if !same {
		t.Fatal("replica store differs from the leader's")
	}
	// A batch whose preconditions no longer hold is refused whole, on every replica.
	if _, err := b.ApplyReplicated(ctx, leader.log[len(leader.log)-1]); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("replaying a batch: err = %v, want persistence.ErrConflict", err)
	}
	if got, want := snapshot(t, b), snapshot(t, a); got != want {
		t.Fatal("a refused batch changed the replica's memory")
	}
	if _, ok := b.UserByUsername("franz"); !ok {
		t.Fatal("replica misses the renamed user")
	}
}
