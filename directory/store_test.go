package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/persistence"
)

func TestBootstrap(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	d, _ := openTest(t, store)

	first, err := d.Bootstrap(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || len(first.ClientID) != IDLength || len(first.ClientSecret) != SecretLength {
		t.Fatalf("first bootstrap %+v", first)
	}
	res, ok := d.ResourceByIndicator(ManagementAPIIndicator)
	if !ok || res.Name != ManagementAPIName || res.IsDefault {
		t.Fatalf("management resource %+v", res)
	}
	app, _ := d.Application(first.ClientID)
	if app.Name != AdminAppName || app.Type != AppMachineToMachine || !d.AuthenticateApp(app, first.ClientSecret) {
		t.Fatalf("admin app %+v", app)
	}
	if got := d.AppResourceScopes(app.ID, res.ID); !slices.Equal(got, []string{ManagementAPIScopeAll}) {
		t.Fatalf("admin scopes %q", got)
	}
	if d.AdminApplicationID() != app.ID {
		t.Fatal("admin app not recorded")
	}
	counts := storeCounts(store)

	// Idempotent, also after a reload from the store.
	for i, dir := range []*Directory{d, reopen(t, store)} {
		again, err := dir.Bootstrap(ctx, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if again != (BootstrapResult{ClientID: first.ClientID}) {
			t.Fatalf("bootstrap #%d = %+v", i+2, again)
		}
		if got := storeCounts(store); got != counts {
			t.Fatalf("bootstrap #%d wrote records: %v -> %v", i+2, counts, got)
		}
	}

	// The configured secret replaces the existing ones; the same again is a no-op.
	set, err := d.Bootstrap(ctx, first.ClientID, "configured-secret-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	if set.Created || set.ClientSecret != "configured-secret-0123456789abcdef" {
		t.Fatalf("set secret %+v", set)
	}
	app, _ = d.Application(first.ClientID)
	if d.AuthenticateApp(app, first.ClientSecret) || !d.AuthenticateApp(app, set.ClientSecret) {
		t.Fatal("secret not replaced")
	}
	if again, _ := d.Bootstrap(ctx, "", set.ClientSecret); again.ClientSecret != "" {
		t.Fatalf("unchanged secret reported as set: %+v", again)
	}
	// Another client id is ignored.
	if other, err := d.Bootstrap(ctx, "someone-else", "x"); err != nil || other.ClientID != first.ClientID || other.Created {
		t.Fatalf("other id: %+v, %v", other, err)
	}
}

func TestBootstrapWithCredentials(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	res, err := d.Bootstrap(t.Context(), "latch-admin", "s3cret-s3cret-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	if res != (BootstrapResult{ClientID: "latch-admin", ClientSecret: "s3cret-s3cret-s3cret", Created: true}) {
		t.Fatalf("%+v", res)
	}
	app, _ := d.Application("latch-admin")
	if !d.AuthenticateApp(app, "s3cret-s3cret-s3cret") {
		t.Fatal("configured secret refused")
	}
	if _, err := d.Bootstrap(t.Context(), "bad/id", ""); err != nil {
		t.Fatalf("existing admin app: id must be ignored, got %v", err)
	}
	d2, _ := openTest(t, newMemStore())
	_, err = d2.Bootstrap(t.Context(), "bad/id", "")
	wantErrIs(t, err, ErrInvalid)
}

func storeCounts(s *memStore) string {
	var out string
	for _, k := range []string{kindApp, kindUser, kindResource, kindScope, kindRole, kindUserRole, kindAppRole, kindSigningKey, kindMeta} {
		out += fmt.Sprintf("%s=%d ", k, s.count(k))
	}
	return out
}

func reopen(t *testing.T, store persistence.Store) *Directory {
	t.Helper()
	d, err := Open(t.Context(), testConfig(store, newTestClock()))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	return d
}

// populate writes one of everything and returns a snapshot to compare after reload.
func populate(t *testing.T, d *Directory) string {
	t.Helper()
	ctx := t.Context()
	boot, err := d.Bootstrap(ctx, "", "")
	if err != nil {
		t.Fatal(err)
	}
	api := mustResource(t, d, "https://api.example")
	s := mustScope(t, d, api.ID, "read")
	ur := mustRole(t, d, NewRole{Name: "reader", ScopeIDs: []string{s.ID}})
	mr := mustRole(t, d, NewRole{Name: "svc", Type: RoleMachineToMachine, ScopeIDs: []string{s.ID}})
	u := mustUser(t, d, NewUser{Username: ptr("frank"), PrimaryEmail: ptr("f@example.com"), Password: "pw", CustomData: json.RawMessage(`{"a":1}`)})
	app, secret := mustApp(t, d, NewApplication{Name: "svc", Type: AppMachineToMachine})
	if _, err := d.AssignUserRoles(ctx, u.ID, []string{ur.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AssignAppRoles(ctx, app.ID, []string{mr.ID}); err != nil {
		t.Fatal(err)
	}
	if err := d.PutSigningKey(ctx, &SigningKey{ID: "k1", Alg: "ES384", JWK: json.RawMessage(`{"kty":"EC"}`), Status: KeyCurrent}); err != nil {
		t.Fatal(err)
	}
	return snapshot(t, d) + "|" + boot.ClientID + "|" + secret + "|" + app.ID + "|" + u.ID + "|" + api.ID
}

// snapshot renders everything readable through the API.
func snapshot(t *testing.T, d *Directory) string {
	t.Helper()
	var out []any
	for _, a := range d.Applications() {
		roles, _ := d.AppRoles(a.ID)
		out = append(out, a, a.Version, roles)
		for _, r := range d.Resources() {
			out = append(out, d.AppResourceScopes(a.ID, r.ID))
		}
	}
	for _, u := range d.Users("") {
		roles, _ := d.UserRoles(u.ID)
		out = append(out, u, u.Version, roles)
		for _, r := range d.Resources() {
			out = append(out, d.UserResourceScopes(u.ID, r.ID))
		}
	}
	for _, r := range d.Resources() {
		scopes, _ := d.ResourceScopes(r.ID)
		out = append(out, r, r.Version, scopes)
	}
	out = append(out, d.Roles(""), d.SigningKeys(), d.AdminApplicationID())
	return string(mustJSON(t, out))
}

// checkReload opens a second directory on store and compares it with want (from
// populate), then checks that writes work on the loaded versions.
func checkReload(t *testing.T, store persistence.Store, want string) {
	t.Helper()
	d2 := reopen(t, store)
	parts := splitLast(want, 6)
	if got := snapshot(t, d2); got != parts[0] {
		t.Fatalf("after reload:\n got %s\nwant %s", got, parts[0])
	}
	clientID, secret, appID, userID := parts[1], parts[2], parts[3], parts[4]
	if a, ok := d2.Application(appID); !ok || !d2.AuthenticateApp(a, secret) {
		t.Fatal("app secret lost in reload")
	}
	if _, err := d2.VerifyUserPassword(userID, "pw"); err != nil {
		t.Fatalf("password lost in reload: %v", err)
	}
	// Writes after reload use the loaded versions.
	if _, err := d2.UpdateApplication(t.Context(), clientID, func(a *Application) error { a.Description = "x"; return nil }); err != nil {
		t.Fatalf("update after reload: %v", err)
	}
	if err := d2.DeleteUser(t.Context(), userID); err != nil {
		t.Fatalf("delete after reload: %v", err)
	}
}

func splitLast(s string, n int) []string {
	out := make([]string, n)
	for i := n - 1; i > 0; i-- {
		j := len(s) - 1
		for j >= 0 && s[j] != '|' {
			j--
		}
		out[i] = s[j+1:]
		s = s[:j]
	}
	out[0] = s
	return out
}

func TestReloadFromMemStore(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	want := populate(t, d)
	checkReload(t, store, want)
}

func TestReloadFromPebble(t *testing.T) {
	fs := vfs.NewMem()
	open := func() *persistence.PebbleStore {
		s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: fs})
		if err != nil {
			t.Fatalf("OpenPebble: %v", err)
		}
		return s
	}
	store := open()
	d, _ := openTest(t, store)
	want := populate(t, d)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store = open()
	defer store.Close()
	checkReload(t, store, want)
}

func TestSigningKeys(t *testing.T) {
	ctx := t.Context()
	d, clock := openTest(t, newMemStore())
	put := func(id, status string) {
		t.Helper()
		clock.Advance(time.Millisecond)
		if err := d.PutSigningKey(ctx, &SigningKey{ID: id, Alg: "ES384", JWK: json.RawMessage(`{}`), Status: status}); err != nil {
			t.Fatal(err)
		}
	}
	put("prev", KeyPrevious)
	put("cur", KeyCurrent)
	put("next", KeyNext)
	held := d.SigningKeys()
	ids := func(ks []*SigningKey) (out []string) {
		for _, k := range ks {
			out = append(out, k.ID)
		}
		return out
	}
	if got := ids(held); !slices.Equal(got, []string{"cur", "next", "prev"}) {
		t.Fatalf("order %v", got)
	}
	// Rotate: next becomes current. The slice a reader holds does not change.
	put("cur", KeyPrevious)
	put("next", KeyCurrent)
	if got := ids(d.SigningKeys()); !slices.Equal(got, []string{"next", "cur", "prev"}) {
		t.Fatalf("after rotation %v", got)
	}
	if held[0].ID != "cur" || held[0].Status != KeyCurrent {
		t.Fatal("published snapshot mutated")
	}
	if err := d.DeleteSigningKey(ctx, "prev"); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, d.DeleteSigningKey(ctx, "prev"), ErrNotFound)
	k := &SigningKey{Alg: "RS256", JWK: json.RawMessage(`{}`), Status: KeyNext}
	if err := d.PutSigningKey(ctx, k); err != nil || len(k.ID) != IDLength {
		t.Fatalf("generated id %q, %v", k.ID, err)
	}
	wantErrIs(t, d.PutSigningKey(ctx, &SigningKey{ID: "x"}), ErrInvalid)
}

// A failed store write leaves memory unchanged.
func TestStoreFailureLeavesMemory(t *testing.T) {
	ctx := t.Context()
	fs := &failingStore{Store: newMemStore()}
	d, _ := openTest(t, fs)
	app, _ := mustApp(t, d, NewApplication{Name: "a", Type: AppMachineToMachine})
	role := mustRole(t, d, NewRole{Name: "r", Type: RoleMachineToMachine})
	fs.setFail(true)
	if _, err := d.UpdateApplication(ctx, app.ID, func(a *Application) error { a.Name = "b"; return nil }); !errors.Is(err, errInjected) {
		t.Fatalf("err = %v", err)
	}
	if _, err := d.AssignAppRoles(ctx, app.ID, []string{role.ID}); !errors.Is(err, errInjected) {
		t.Fatalf("err = %v", err)
	}
	if err := d.DeleteRole(ctx, role.ID); !errors.Is(err, errInjected) {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := d.CreateApplication(ctx, NewApplication{Name: "c", Type: AppSPA}); !errors.Is(err, errInjected) {
		t.Fatalf("err = %v", err)
	}
	if got, _ := d.Application(app.ID); got != app {
		t.Fatal("memory changed by a failed write")
	}
	if roles, _ := d.AppRoles(app.ID); len(roles) != 0 {
		t.Fatal("assignment published without being stored")
	}
	if _, ok := d.Role(role.ID); !ok || len(d.Applications()) != 1 {
		t.Fatal("memory changed by a failed write")
	}
	fs.setFail(false)
	if _, err := d.UpdateApplication(ctx, app.ID, func(a *Application) error { a.Name = "b"; return nil }); err != nil {
		t.Fatal(err)
	}
}

// Another writer bumps a record behind the directory's back: the write fails with
// persistence.ErrConflict, the directory reloads that record, and a retry succeeds on
// top of the winner's state.
func TestVersionConflictReloads(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	d, _ := openTest(t, store)
	app, _ := mustApp(t, d, NewApplication{Name: "mine", Type: AppSPA})

	rec, err := store.Get(ctx, kindApp, app.ID)
	if err != nil {
		t.Fatal(err)
	}
	var theirs Application
	_ = json.Unmarshal(rec.Value, &theirs)
	theirs.Description = "theirs"
	if _, err := store.Put(context.Background(), kindApp, app.ID, rec.Version, mustJSON(t, &theirs), rec.ExpiresAt); err != nil {
		t.Fatal(err)
	}

	rename := func(a *Application) error { a.Name = "renamed"; return nil }
	if _, err := d.UpdateApplication(ctx, app.ID, rename); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v, want persistence.ErrConflict", err)
	}
	if got, _ := d.Application(app.ID); got.Description != "theirs" || got.Version != 2 {
		t.Fatalf("not reloaded: %+v", got)
	}
	got, err := d.UpdateApplication(ctx, app.ID, rename)
	if err != nil || got.Name != "renamed" || got.Description != "theirs" || got.Version != 3 {
		t.Fatalf("retry = %+v, %v", got, err)
	}

	// Deleted behind our back: the write conflicts and the entity disappears.
	if err := store.Delete(ctx, kindApp, app.ID, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.UpdateApplication(ctx, app.ID, rename); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("err = %v", err)
	}
	if _, ok := d.Application(app.ID); ok {
		t.Fatal("deleted record still in memory")
	}
}
