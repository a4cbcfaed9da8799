package directory

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/persistence"
)

// testArgon2 keeps password hashing cheap in tests.
var testArgon2 = Argon2Params{Memory: 64, Time: 1, Threads: 1}

// testClock is a settable clock.
type testClock struct{ ms atomic.Int64 }

func newTestClock() *testClock {
	c := &testClock{}
	c.ms.Store(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli())
	return c
}

func (c *testClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }

func testConfig(store persistence.Store, clock *testClock) Config {
	return Config{Store: store, Now: clock.Now, Rand: rand.Reader, Argon2: testArgon2}
}

func openTest(t *testing.T, store persistence.Store) (*Directory, *testClock) {
	t.Helper()
	clock := newTestClock()
	d, err := Open(t.Context(), testConfig(store, clock))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return d, clock
}

func ptr[T any](v T) *T { return &v }

func mustApp(t *testing.T, d *Directory, in NewApplication) (*Application, string) {
	t.Helper()
	a, secret, err := d.CreateApplication(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateApplication(%+v): %v", in, err)
	}
	return a, secret
}

func mustResource(t *testing.T, d *Directory, indicator string) *Resource {
	t.Helper()
	r, err := d.CreateResource(t.Context(), NewResource{Name: indicator, Indicator: indicator})
	if err != nil {
		t.Fatalf("CreateResource(%q): %v", indicator, err)
	}
	return r
}

func mustScope(t *testing.T, d *Directory, resourceID, name string) *Scope {
	t.Helper()
	s, err := d.CreateScope(t.Context(), resourceID, name, "")
	if err != nil {
		t.Fatalf("CreateScope(%q): %v", name, err)
	}
	return s
}

func mustRole(t *testing.T, d *Directory, in NewRole) *Role {
	t.Helper()
	r, err := d.CreateRole(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateRole(%+v): %v", in, err)
	}
	return r
}

func mustUser(t *testing.T, d *Directory, in NewUser) *User {
	t.Helper()
	u, err := d.CreateUser(t.Context(), in)
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func wantErrIs(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("err = %v, want %v", err, target)
	}
}

func TestConfigValidate(t *testing.T) {
	err := Config{Argon2: Argon2Params{Memory: 4, Threads: 1}}.Validate()
	if err == nil {
		t.Fatal("empty config validated")
	}
	for _, want := range []string{"Store", "Now", "Rand", "Argon2.Memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %q, missing %q", err, want)
		}
	}
	if err := testConfig(newMemStore(), newTestClock()).Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

func TestIDsAndSecrets(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	seen := map[string]bool{}
	for range 200 {
		id, err := d.newID()
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != IDLength || strings.Trim(id, idAlphabet) != "" || seen[id] {
			t.Fatalf("bad or repeated id %q", id)
		}
		seen[id] = true
		s, err := d.newSecret()
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != SecretLength || strings.Trim(s, secretAlphabet) != "" {
			t.Fatalf("bad secret %q", s)
		}
	}
}

func TestApplicationLifecycle(t *testing.T) {
	ctx := t.Context()
	store := newMemStore()
	d, clock := openTest(t, store)

	app, secret := mustApp(t, d, NewApplication{
		Name: "backend", Type: AppTraditional,
		OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"https://app.example/cb"}},
		CustomData:         json.RawMessage(`{"team":"x"}`),
	})
	if len(app.ID) != IDLength || len(secret) != SecretLength {
		t.Fatalf("id %q secret %q", app.ID, secret)
	}
	if got, ok := d.Application(app.ID); !ok || got != app {
		t.Fatalf("Application(%q) = %v, %v", app.ID, got, ok)
	}
	if strings.Contains(string(mustJSON(t, app)), secret) {
		t.Fatal("stored application contains the plain secret")
	}
	if !d.AuthenticateApp(app, secret) || d.AuthenticateApp(app, secret+"x") || d.AuthenticateApp(app, "") || d.AuthenticateApp(nil, secret) {
		t.Fatal("AuthenticateApp with the default secret")
	}

	// A second secret that expires.
	exp := clock.Now().Add(time.Hour).UnixMilli()
	sec, second, err := d.AddAppSecret(ctx, app.ID, "rotating", &exp)
	if err != nil {
		t.Fatal(err)
	}
	if sec.Name != "rotating" || sec.ExpiresAt == nil || *sec.ExpiresAt != exp {
		t.Fatalf("secret record %+v", sec)
	}
	app, _ = d.Application(app.ID)
	if !d.AuthenticateApp(app, second) {
		t.Fatal("second secret refused")
	}
	clock.Advance(2 * time.Hour)
	if d.AuthenticateApp(app, second) || !d.AuthenticateApp(app, secret) {
		t.Fatal("expired secret accepted or default refused")
	}
	_, _, err = d.AddAppSecret(ctx, app.ID, "rotating", nil)
	wantConflict(t, err, EntitySecret, "name")
	past := clock.Now().Add(-time.Second).UnixMilli()
	_, _, err = d.AddAppSecret(ctx, app.ID, "old", &past)
	wantErrIs(t, err, ErrInvalid)
	if err := d.DeleteAppSecret(ctx, app.ID, DefaultSecretName); err != nil {
		t.Fatal(err)
	}
	app, _ = d.Application(app.ID)
	if d.AuthenticateApp(app, secret) {
		t.Fatal("deleted secret accepted")
	}
	wantErrIs(t, d.DeleteAppSecret(ctx, app.ID, DefaultSecretName), ErrNotFound)

	// Update: merge-style mutate, immutable type, validation.
	before := app
	updated, err := d.UpdateApplication(ctx, app.ID, func(a *Application) error {
		a.Name = "renamed"
		a.OIDCClientMetadata.RedirectURIs[0] = "https://app.example/cb2"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated.Name != "renamed" || before.Name != "backend" || before.OIDCClientMetadata.RedirectURIs[0] != "https://app.example/cb" {
		t.Fatalf("update leaked into the published value: before=%+v", before)
	}
	if updated.Version != before.Version+1 || len(updated.Secrets) != len(before.Secrets) {
		t.Fatalf("version %d -> %d, secrets %d -> %d", before.Version, updated.Version, len(before.Secrets), len(updated.Secrets))
	}
	_, err = d.UpdateApplication(ctx, app.ID, func(a *Application) error { a.Type = AppSPA; return nil })
	wantErrIs(t, err, ErrInvalid)
	_, err = d.UpdateApplication(ctx, "missing", func(*Application) error { return nil })
	wantErrIs(t, err, ErrNotFound)

	if err := d.DeleteApplication(ctx, app.ID); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Application(app.ID); ok || store.count(kindApp) != 0 {
		t.Fatal("application still there after delete")
	}
	wantErrIs(t, d.DeleteApplication(ctx, app.ID), ErrNotFound)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantConflict(t *testing.T, err error, entity, field string) {
	t.Helper()
	var ce *ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, ErrConflict) || ce.Entity != entity || ce.Field != field {
		t.Fatalf("err = %v, want ConflictError{%s %s}", err, entity, field)
	}
}

func TestApplicationValidation(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	tests := []struct {
		name  string
		in    NewApplication
		field string
	}{
		{"no name", NewApplication{Type: AppSPA}, "name"},
		{"bad type", NewApplication{Name: "a", Type: "Desktop"}, "type"},
		{"relative redirect", NewApplication{Name: "a", Type: AppSPA, OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"/cb"}}}, "oidcClientMetadata.redirectUris"},
		{"fragment redirect", NewApplication{Name: "a", Type: AppSPA, OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"https://a.example/cb#x"}}}, "oidcClientMetadata.redirectUris"},
		{"hostless http", NewApplication{Name: "a", Type: AppSPA, OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"https:///cb"}}}, "oidcClientMetadata.redirectUris"},
		{"bad post logout", NewApplication{Name: "a", Type: AppSPA, OIDCClientMetadata: OIDCClientMetadata{PostLogoutRedirectURIs: []string{"nope"}}}, "oidcClientMetadata.postLogoutRedirectUris"},
		{"bad backchannel", NewApplication{Name: "a", Type: AppTraditional, OIDCClientMetadata: OIDCClientMetadata{BackchannelLogoutURI: "com.app:/logout"}}, "oidcClientMetadata.backchannelLogoutUri"},
		{"custom data array", NewApplication{Name: "a", Type: AppSPA, CustomData: json.RawMessage(`[1]`)}, "customData"},
		{"third-party M2M", NewApplication{Name: "a", Type: AppMachineToMachine, IsThirdParty: true}, "isThirdParty"},
		{"refresh ttl", NewApplication{Name: "a", Type: AppNative, CustomClientMetadata: CustomClientMetadata{RefreshTokenTTLInDays: ptr(0)}}, "customClientMetadata.refreshTokenTtlInDays"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := d.CreateApplication(t.Context(), tt.in)
			var ie *InvalidError
			if !errors.As(err, &ie) || !errors.Is(err, ErrInvalid) || ie.Field != tt.field {
				t.Fatalf("err = %v, want InvalidError on %s", err, tt.field)
			}
		})
	}
	// Native apps may use custom schemes; public apps get no secret.
	a, secret := mustApp(t, d, NewApplication{Name: "n", Type: AppNative, OIDCClientMetadata: OIDCClientMetadata{RedirectURIs: []string{"io.example.app://callback", "com.example:/cb"}}})
	if secret != "" || len(a.Secrets) != 0 {
		t.Fatalf("public app got a secret: %q %v", secret, a.Secrets)
	}
	_, _, err := d.AddAppSecret(t.Context(), a.ID, "s", nil)
	wantErrIs(t, err, ErrInvalid)
	if len(d.Applications()) != 1 {
		t.Fatalf("invalid applications were stored: %d", len(d.Applications()))
	}
}
