package op

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// The flows are tested without HTTP and without grains: fakes embed the small
// interfaces and override the one method a test needs (calling another panics, which
// shows a flow reached a grain it must not).

const tResource = "https://api.op.test"

// env is a Provider over a real directory (in-memory Pebble) holding one user, one API
// resource and four applications, with fakes for the grains.
type env struct {
	p     *Provider
	dir   *directory.Directory
	now   time.Time
	user  *directory.User
	res   *directory.Resource
	web   *directory.Application // Traditional
	spa   *directory.Application // SPA (public)
	m2m   *directory.Application // MachineToMachine
	other *directory.Application // Traditional
	// secrets by app id ("" for public clients)
	secrets map[string]string
}

type fakes struct {
	grants   Grants
	tokens   AccessTokens
	families RefreshFamilies
}

func newEnv(t *testing.T, f fakes) *env {
	t.Helper()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { return now }
	dir, ring := newTestDirectory(t, clock)
	p, err := New(Config{Issuer: "http://op.test/oidc", Directory: dir, Keys: ring,
		Grants: f.grants, AccessTokens: f.tokens, Families: f.families, Now: clock, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{p: p, dir: dir, now: now, secrets: map[string]string{}}
	app := func(name string, typ directory.AppType) *directory.Application {
		a, secret, err := dir.CreateApplication(t.Context(), directory.NewApplication{Name: name, Type: typ})
		if err != nil {
			t.Fatal(err)
		}
		e.secrets[a.ID] = secret
		return a
	}
	e.web, e.spa, e.m2m, e.other = app("web", directory.AppTraditional), app("spa", directory.AppSPA),
		app("m2m", directory.AppMachineToMachine), app("other", directory.AppTraditional)
	name := "op_user"
	if e.user, err = dir.CreateUser(t.Context(), directory.NewUser{Username: &name}); err != nil {
		t.Fatal(err)
	}
	if e.res, err = dir.CreateResource(t.Context(), directory.NewResource{Name: "API", Indicator: tResource, AccessTokenTTL: 900}); err != nil {
		t.Fatal(err)
	}
	return e
}

// basic is app's client authentication as a confidential client sends it.
func (e *env) basic(app *directory.Application) ClientAuth {
	if app.Type.Public() {
		return ClientAuth{FormID: app.ID}
	}
	return ClientAuth{Basic: true, BasicID: app.ID, BasicSecret: e.secrets[app.ID]}
}

func (e *env) suspend(t *testing.T) {
	t.Helper()
	if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error { u.IsSuspended = true; return nil }); err != nil {
		t.Fatal(err)
	}
}

// wantCode fails unless err is an *oauth.Error with code ("" means no error).
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	var e *oauth.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

// Fakes: each embeds its interface (nil: any method not overridden panics).

type fakeGrants struct {
	Grants
	exchange func(CodeExchange) (CodeExchanged, error)
	check    func(grantID string) (Grant, error)
	revoked  []string
}

func (f *fakeGrants) ExchangeCode(_ context.Context, x CodeExchange) (CodeExchanged, error) {
	return f.exchange(x)
}

func (f *fakeGrants) CheckGrant(_ context.Context, id string) (Grant, error) {
	return f.check(id)
}

func (f *fakeGrants) RevokeGrant(_ context.Context, id string) error {
	f.revoked = append(f.revoked, id)
	return nil
}

type fakeTokens struct {
	AccessTokens
	lookup func(token string) (AccessToken, error)
	revoke func(token, clientID string) (Revocation, error)
	calls  *[]string
}

func (f *fakeTokens) LookupAccessToken(_ context.Context, tok string) (AccessToken, error) {
	if f.calls != nil {
		*f.calls = append(*f.calls, "access")
	}
	return f.lookup(tok)
}

func (f *fakeTokens) RevokeAccessToken(_ context.Context, tok, clientID string) (Revocation, error) {
	if f.calls != nil {
		*f.calls = append(*f.calls, "revoke access")
	}
	return f.revoke(tok, clientID)
}

type fakeFamilies struct {
	RefreshFamilies
	use     func(RefreshUse) (RefreshUsed, error)
	inspect func(token string) (RefreshFamily, error)
	revoke  func(token, clientID string) (Revocation, error)
	calls   *[]string
}

func (f *fakeFamilies) UseRefreshToken(_ context.Context, u RefreshUse) (RefreshUsed, error) {
	return f.use(u)
}

func (f *fakeFamilies) InspectRefreshToken(_ context.Context, tok string) (RefreshFamily, error) {
	if f.calls != nil {
		*f.calls = append(*f.calls, "refresh")
	}
	return f.inspect(tok)
}

func (f *fakeFamilies) RevokeRefreshToken(_ context.Context, tok, clientID string) (Revocation, error) {
	if f.calls != nil {
		*f.calls = append(*f.calls, "revoke refresh")
	}
	return f.revoke(tok, clientID)
}

func TestConfigValidate(t *testing.T) {
	err := Config{}.Validate()
	for _, want := range []string{"Issuer", "Directory", "Keys", "Now", "Rand"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to name %s", err, want)
		}
	}
}
