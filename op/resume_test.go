package op

import (
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestResume(t *testing.T) {
	f := newFixture(t)
	submitted := func(account string) func(uid string) (*Interaction, error) {
		return func(uid string) (*Interaction, error) {
			return &Interaction{UID: uid, AccountID: account, Submitted: true, LoginAt: f.now.Add(-time.Second), AMR: []string{"pwd"},
				Request: &oidcflow.AuthRequest{ClientID: f.app.ID, RedirectURI: testRedirect, Scopes: []string{"openid"}, State: "st",
					CodeChallenge: testChallenge, CodeChallengeMethod: "S256", MaxAge: -1}}, nil
		}
	}
	other, err := f.dir.CreateUser(t.Context(), directoryNewUser("bob"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		uid, cookie     string
		sessionCookie   string
		consume         func(uid string) (*Interaction, error)
		session         func(id, secret string) (*Session, error)
		ensureOld       error // the answer for an existing grant id
		wantPage        string
		wantClear       bool
		wantNewSession  bool
		wantEnded       bool
		wantNewGrant    bool
		wantCode        bool
		wantClientError string
	}{
		{name: "cookie of another sign-in", uid: "u1", cookie: "u2", wantPage: oauth.CodeInvalidRequest},
		{name: "no cookie", uid: "u1", wantPage: oauth.CodeInvalidRequest},
		{name: "not submitted", uid: "u1", cookie: "u1",
			consume: func(string) (*Interaction, error) {
				return nil, &oauth.Error{Code: "session.interaction_not_submitted", Description: "not yet", Status: 400}
			}, wantPage: oauth.CodeInvalidRequest},
		{name: "interaction grain unreachable", uid: "u1", cookie: "u1",
			consume:  func(string) (*Interaction, error) { return nil, oauth.TemporarilyUnavailable("down") },
			wantPage: oauth.CodeTemporarilyUnavailable},
		{name: "first sign-in: session, grant, code", uid: "u1", cookie: "u1", consume: submitted(f.user.ID),
			wantClear: true, wantNewSession: true, wantNewGrant: true, wantCode: true},
		{name: "suspended meanwhile", uid: "u1", cookie: "u1", consume: submitted(f.suspended.ID),
			wantClear: true, wantClientError: oauth.CodeAccessDenied},
		{name: "same account's session is kept, its grant reused", uid: "u1", cookie: "u1", sessionCookie: "s0.sec",
			consume: submitted(f.user.ID),
			session: func(id, _ string) (*Session, error) {
				return &Session{ID: id, AccountID: f.user.ID, Clients: []SessionClient{{ClientID: f.app.ID, GrantID: "g0", SID: "sid0"}}}, nil
			},
			wantClear: true, wantCode: true},
		{name: "revoked grant is replaced", uid: "u1", cookie: "u1", sessionCookie: "s0.sec",
			consume: submitted(f.user.ID),
			session: func(id, _ string) (*Session, error) {
				return &Session{ID: id, AccountID: f.user.ID, Clients: []SessionClient{{ClientID: f.app.ID, GrantID: "g0", SID: "sid0"}}}, nil
			},
			ensureOld: oauth.InvalidGrant("grant revoked"),
			wantClear: true, wantNewGrant: true, wantCode: true},
		{name: "another account's session is ended", uid: "u1", cookie: "u1", sessionCookie: "s0.sec",
			consume:   submitted(f.user.ID),
			session:   func(id, _ string) (*Session, error) { return &Session{ID: id, AccountID: other.ID}, nil },
			wantClear: true, wantNewSession: true, wantEnded: true, wantNewGrant: true, wantCode: true},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ended, created bool
			var added *SessionClient
			var issued *AuthCode
			sessions := fakeSessions{
				session: tt.session,
				create: func(s NewSession) (*Session, error) {
					created = true
					if s.AccountID != f.user.ID || s.Secret == "" || strings.Join(s.AMR, ",") != "pwd" {
						t.Errorf("Create(%+v)", s)
					}
					return &Session{ID: s.ID, AccountID: s.AccountID, LoginAt: s.LoginAt}, nil
				},
				addClient: func(id, _ string, cl SessionClient) (*Session, error) {
					added = &cl
					return &Session{ID: id, AccountID: f.user.ID, Clients: []SessionClient{cl}}, nil
				},
				end: func(id, secret string, revoke GrantRevocation, _ []string) (*Session, error) {
					ended = true
					if id != "s0" || secret != "sec" || revoke != RevokeNone {
						t.Errorf("End(%q, %q, %v): want the replaced session, grants kept", id, secret, revoke)
					}
					return &Session{ID: id}, nil
				},
			}
			grants := fakeUserGrants{
				ensure: func(id string, g GrantEnsure) error {
					if id == "g0" {
						return tt.ensureOld
					}
					return nil
				},
				issueCode: func(_ string, c AuthCode) error { issued = &c; return nil },
			}
			b := f.browser(sessions, grants, fakeInteractions{consume: tt.consume}, nil)
			res, err := b.Resume(t.Context(), ResumeRequest{UID: tt.uid, InteractionCookie: tt.cookie, SessionCookie: tt.sessionCookie})
			if res == nil {
				t.Fatal("nil result")
			}
			if res.ClearInteraction != tt.wantClear {
				t.Errorf("ClearInteraction = %v, want %v", res.ClearInteraction, tt.wantClear)
			}
			if tt.wantPage != "" {
				if e, ok := oauth.From(err); err == nil || !ok || e.Code != tt.wantPage {
					t.Fatalf("err = %v, want page %s", err, tt.wantPage)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resume: %v", err)
			}
			if created != tt.wantNewSession || (res.Session != nil) != tt.wantNewSession {
				t.Errorf("session created %v, cookie %+v; want %v", created, res.Session, tt.wantNewSession)
			}
			if res.Session != nil && (!strings.Contains(res.Session.Value, ".") || res.Session.MaxAge != b.Lifetimes.Session) {
				t.Errorf("session cookie %+v", res.Session)
			}
			if ended != tt.wantEnded {
				t.Errorf("replaced session ended = %v, want %v", ended, tt.wantEnded)
			}
			if (added != nil) != tt.wantNewGrant {
				t.Errorf("client added %+v, want new grant %v", added, tt.wantNewGrant)
			}
			if tt.wantClientError != "" {
				if res.Response == nil || res.Response.Params.Get("error") != tt.wantClientError {
					t.Fatalf("response %+v, want %s", res.Response, tt.wantClientError)
				}
				return
			}
			if res.Response == nil || issued == nil {
				t.Fatalf("response %+v: want a code", res.Response)
			}
			grant, secret, _ := strings.Cut(res.Response.Params.Get("code"), ".")
			if secret != issued.Secret || (tt.wantNewGrant && (grant == "g0" || grant != added.GrantID)) || (!tt.wantNewGrant && grant != "g0") {
				t.Errorf("code %q (issued %+v, added %+v)", res.Response.Params.Get("code"), issued, added)
			}
			if issued.AuthTime.IsZero() || issued.Nonce != "" || issued.RedirectURI != testRedirect {
				t.Errorf("issued %+v", issued)
			}
		})
	}
}
