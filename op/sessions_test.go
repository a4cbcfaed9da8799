package op

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/latchid/latch/oidcflow/oauth"
)

type fakeAccounts struct {
	AccountGrains
	sessions      []Session
	grants        []UserGrant
	revokeSession func(id string, revoke GrantRevocation, keep []string) (*Session, error)
}

func (f fakeAccounts) AccountSessions(context.Context, string) ([]Session, error) {
	return slices.Clone(f.sessions), nil
}

func (f fakeAccounts) AccountGrants(context.Context, string) ([]UserGrant, error) {
	return slices.Clone(f.grants), nil
}

func (f fakeAccounts) PeekSession(_ context.Context, id string) (*Session, error) {
	for _, s := range f.sessions {
		if s.ID == id {
			return &s, nil
		}
	}
	return nil, loginRequired("no live session")
}

func (f fakeAccounts) RevokeSession(_ context.Context, id string, revoke GrantRevocation, keep []string) (*Session, error) {
	return f.revokeSession(id, revoke, keep)
}

type fakeGrantAdmin struct {
	GrantAdmin
	grants  map[string]UserGrant
	revoked []string
	forgot  []string
}

func (f *fakeGrantAdmin) CheckGrant(_ context.Context, id string) (*UserGrant, error) {
	g, ok := f.grants[id]
	if !ok {
		return nil, oauth.InvalidGrant("grant not found or expired")
	}
	return &g, nil
}

func (f *fakeGrantAdmin) RevokeGrant(_ context.Context, id string) error {
	f.revoked = append(f.revoked, id)
	return nil
}

func (f *fakeGrantAdmin) ForgetSessionGrant(_ context.Context, sessionID, grantID string) error {
	f.forgot = append(f.forgot, sessionID+"/"+grantID)
	return nil
}

func TestSessions(t *testing.T) {
	f := newFixture(t)
	sess := Session{ID: "s1", AccountID: f.user.ID, Clients: []SessionClient{
		{ClientID: f.app.ID, GrantID: "g1", SID: "sid1"},
		{ClientID: f.thirdParty.ID, GrantID: "g2", SID: "sid2"},
	}}
	grants := []UserGrant{
		{ID: "g1", AccountID: f.user.ID, ClientID: f.app.ID, SessionID: "s1", Scopes: []string{"openid", "offline_access"}},
		{ID: "g2", AccountID: f.user.ID, ClientID: f.thirdParty.ID, SessionID: "s1", Scopes: []string{"openid"}},
	}
	newSessions := func(revoke func(id string, r GrantRevocation, keep []string) (*Session, error)) (*Sessions, *fakeGrantAdmin, *recordingQueue) {
		ga := &fakeGrantAdmin{grants: map[string]UserGrant{"g1": grants[0], "g2": grants[1]}}
		q := &recordingQueue{}
		return &Sessions{Issuer: testIssuer, Directory: f.dir, Logouts: q, Grants: ga,
			Accounts: fakeAccounts{sessions: []Session{sess}, grants: grants, revokeSession: revoke}}, ga, q
	}

	t.Run("list marks grants that persist logout", func(t *testing.T) {
		s, _, _ := newSessions(nil)
		got, err := s.ListSessions(t.Context(), f.user.ID)
		if err != nil || len(got) != 1 {
			t.Fatalf("ListSessions = %+v, %v", got, err)
		}
		if !got[0].Clients[0].PersistsLogout || got[0].Clients[1].PersistsLogout {
			t.Errorf("clients %+v: only g1 holds offline_access", got[0].Clients)
		}
	})
	t.Run("another user's session reads as not found", func(t *testing.T) {
		s, _, _ := newSessions(nil)
		if _, err := s.GetSession(t.Context(), f.suspended.ID, "s1"); !errors.Is(err, ErrSessionNotFound) {
			t.Fatalf("err = %v, want ErrSessionNotFound", err)
		}
		if err := s.DeleteSession(t.Context(), f.suspended.ID, "s1", TargetAll); !errors.Is(err, ErrSessionOfAnotherAccount) {
			t.Fatalf("delete err = %v, want ErrSessionOfAnotherAccount", err)
		}
	})
	for _, tt := range []struct {
		target     SessionGrantTarget
		wantRevoke GrantRevocation
		wantKeep   []string
	}{
		{TargetNone, RevokeNone, nil},
		{TargetAll, RevokeAll, nil},
		{TargetFirstParty, RevokeAll, []string{f.thirdParty.ID}},
	} {
		t.Run("delete session, target "+[]string{"none", "firstParty", "all"}[tt.target], func(t *testing.T) {
			s, _, q := newSessions(func(id string, r GrantRevocation, keep []string) (*Session, error) {
				if id != "s1" || r != tt.wantRevoke || !slices.Equal(keep, tt.wantKeep) {
					t.Errorf("RevokeSession(%q, %v, %v), want %v keeping %v", id, r, keep, tt.wantRevoke, tt.wantKeep)
				}
				return &sess, nil
			})
			if err := s.DeleteSession(t.Context(), f.user.ID, "s1", tt.target); err != nil {
				t.Fatal(err)
			}
			if len(q.logouts) != 1 || q.logouts[0].SID != "sid1" {
				t.Errorf("back-channel logouts %+v, want one for the app", q.logouts)
			}
		})
	}
	t.Run("session ended meanwhile", func(t *testing.T) {
		s, _, q := newSessions(func(string, GrantRevocation, []string) (*Session, error) { return nil, loginRequired("gone") })
		if err := s.DeleteSession(t.Context(), f.user.ID, "s1", TargetAll); err != nil || len(q.logouts) != 0 {
			t.Fatalf("err = %v, logouts %v", err, q.logouts)
		}
	})
	t.Run("grants filtered by party", func(t *testing.T) {
		s, _, _ := newSessions(nil)
		for filter, want := range map[AppFilter][]string{AnyApp: {"g1", "g2"}, FirstPartyApps: {"g1"}, ThirdPartyApps: {"g2"}} {
			got, err := s.ListGrants(t.Context(), f.user.ID, filter)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, g := range got {
				ids = append(ids, g.ID)
			}
			if !slices.Equal(ids, want) {
				t.Errorf("filter %d: %v, want %v", filter, ids, want)
			}
		}
	})
	t.Run("delete grant", func(t *testing.T) {
		s, ga, _ := newSessions(nil)
		if err := s.DeleteGrant(t.Context(), f.suspended.ID, "g1"); !errors.Is(err, ErrGrantNotFound) {
			t.Fatalf("another user's grant: %v", err)
		}
		if err := s.DeleteGrant(t.Context(), f.user.ID, "nope"); !errors.Is(err, ErrGrantNotFound) {
			t.Fatalf("absent grant: %v", err)
		}
		if len(ga.revoked) != 0 {
			t.Fatalf("revoked %v before a valid request", ga.revoked)
		}
		if err := s.DeleteGrant(t.Context(), f.user.ID, "g1"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ga.revoked, []string{"g1"}) || !slices.Equal(ga.forgot, []string{"s1/g1"}) {
			t.Errorf("revoked %v, forgot %v", ga.revoked, ga.forgot)
		}
	})
}
