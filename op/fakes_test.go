package op

import (
	"context"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/outbox"
)

// Fakes of op's small interfaces: each embeds the interface (nil, so an unexpected call
// panics) and overrides what a test sets.

type fakeSessions struct {
	SessionGrains
	session   func(id, secret string) (*Session, error)
	create    func(s NewSession) (*Session, error)
	addClient func(id, secret string, cl SessionClient) (*Session, error)
	end       func(id, secret string, revoke GrantRevocation, keep []string) (*Session, error)
}

func (f fakeSessions) Session(ctx context.Context, id, secret string) (*Session, error) {
	if f.session == nil {
		return f.SessionGrains.Session(ctx, id, secret)
	}
	return f.session(id, secret)
}

func (f fakeSessions) Create(ctx context.Context, s NewSession) (*Session, error) {
	if f.create == nil {
		return f.SessionGrains.Create(ctx, s)
	}
	return f.create(s)
}

func (f fakeSessions) AddClient(ctx context.Context, id, secret string, cl SessionClient) (*Session, error) {
	if f.addClient == nil {
		return f.SessionGrains.AddClient(ctx, id, secret, cl)
	}
	return f.addClient(id, secret, cl)
}

func (f fakeSessions) End(ctx context.Context, id, secret string, revoke GrantRevocation, keep []string) (*Session, error) {
	if f.end == nil {
		return f.SessionGrains.End(ctx, id, secret, revoke, keep)
	}
	return f.end(id, secret, revoke, keep)
}

type fakeUserGrants struct {
	GrantGrains
	ensure    func(id string, g GrantEnsure) error
	issueCode func(id string, c AuthCode) error
}

func (f fakeUserGrants) Ensure(ctx context.Context, id string, g GrantEnsure) error {
	if f.ensure == nil {
		return f.GrantGrains.Ensure(ctx, id, g)
	}
	return f.ensure(id, g)
}

func (f fakeUserGrants) IssueCode(ctx context.Context, id string, c AuthCode) error {
	if f.issueCode == nil {
		return f.GrantGrains.IssueCode(ctx, id, c)
	}
	return f.issueCode(id, c)
}

type fakeInteractions struct {
	Interactions
	create  func(it *Interaction) error
	consume func(uid string) (*Interaction, error)
	get     func(uid string) (*Interaction, error) // nil: not found
}

func (f fakeInteractions) Interaction(_ context.Context, uid string) (*Interaction, error) {
	if f.get == nil {
		return nil, &oauth.Error{Code: "session.not_found", Status: 404}
	}
	return f.get(uid)
}

func (f fakeInteractions) Create(ctx context.Context, it *Interaction) error {
	if f.create == nil {
		return f.Interactions.Create(ctx, it)
	}
	return f.create(it)
}

func (f fakeInteractions) Consume(ctx context.Context, uid string) (*Interaction, error) {
	if f.consume == nil {
		return f.Interactions.Consume(ctx, uid)
	}
	return f.consume(uid)
}

// recordingQueue is a LogoutQueue that keeps what it was given.
type recordingQueue struct {
	mu      sync.Mutex
	logouts []outbox.Logout
}

func (q *recordingQueue) Enqueue(_ context.Context, l ...outbox.Logout) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.logouts = append(q.logouts, l...)
	return nil
}

// fixture is a directory with a first-party SPA (redirect, post-logout and back-channel
// logout URIs), a third-party app, an active and a suspended user, and a key ring.
type fixture struct {
	dir        *directory.Directory
	keys       *oidcflow.KeyRing
	app        *directory.Application
	thirdParty *directory.Application
	user       *directory.User
	suspended  *directory.User
	now        time.Time
}

const (
	testRedirect   = "https://app.example/cb"
	testPostLogout = "https://app.example/bye"
	testBackchan   = "https://app.example/backchannel"
	testIssuer     = "https://id.example/oidc"
)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	now := time.Now()
	clock := func() time.Time { return now }
	dir, keys := newTestDirectory(t, clock)
	app, _, err := dir.CreateApplication(t.Context(), directory.NewApplication{
		Name: "SPA", Type: directory.AppSPA,
		OIDCClientMetadata: directory.OIDCClientMetadata{
			RedirectURIs:           []string{testRedirect},
			PostLogoutRedirectURIs: []string{testPostLogout},
			BackchannelLogoutURI:   testBackchan,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	third, _, err := dir.CreateApplication(t.Context(), directory.NewApplication{
		Name: "Third", Type: directory.AppTraditional, IsThirdParty: true,
		OIDCClientMetadata: directory.OIDCClientMetadata{RedirectURIs: []string{"https://third.example/cb"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mkUser := func(name string) *directory.User {
		u, err := dir.CreateUser(t.Context(), directory.NewUser{Username: &name, Password: "a long password"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	user, sus := mkUser("alice"), mkUser("mallory")
	if sus, err = dir.UpdateUser(t.Context(), sus.ID, func(u *directory.User) error { u.IsSuspended = true; return nil }); err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, keys: keys, app: app, thirdParty: third, user: user, suspended: sus, now: now}
}

func (f *fixture) browser(s SessionGrains, g GrantGrains, i Interactions, q LogoutQueue) *Browser {
	b := &Browser{
		Issuer: testIssuer, Directory: f.dir, Keys: f.keys, Lifetimes: oidcflow.DefaultLifetimes(),
		Sessions: s, Grants: g, Interactions: i, Steps: nil,
		Now: func() time.Time { return f.now }, Rand: rand.Reader,
	}
	if q != nil {
		b.Logouts = q
	}
	return b
}

func directoryNewUser(name string) directory.NewUser {
	return directory.NewUser{Username: &name, Password: "a long password"}
}
