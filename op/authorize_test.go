package op

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

const testChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

func authParams(f *fixture, extra ...string) url.Values {
	v := url.Values{
		"client_id": {f.app.ID}, "redirect_uri": {testRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st"}, "code_challenge": {testChallenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

func TestAuthorize(t *testing.T) {
	f := newFixture(t)
	live := func(account string, loginAgo time.Duration) func(id, secret string) (*Session, error) {
		return func(id, secret string) (*Session, error) {
			if id != "sess" || secret != "secret" {
				return nil, loginRequired("no live session")
			}
			return &Session{ID: id, AccountID: account, LoginAt: f.now.Add(-loginAgo),
				Clients: []SessionClient{{ClientID: f.app.ID, GrantID: "g1", SID: "sid1"}}}, nil
		}
	}
	tests := []struct {
		name    string
		params  url.Values
		cookie  string
		session func(id, secret string) (*Session, error)
		create  func(it *Interaction) error
		// wantSignIn: the browser goes to the sign-in UI (register: the sign-up screen).
		wantSignIn, wantRegister bool
		// wantCode: a code goes to the client; wantErr: an error goes to the client.
		wantCode bool
		wantErr  string
		// wantPage: an error shown to the user (not redirected).
		wantPage string
	}{
		{name: "no session: sign in", params: authParams(f), wantSignIn: true},
		{name: "register screen", params: authParams(f, "first_screen", "register"), wantSignIn: true, wantRegister: true},
		{name: "live session: SSO code", params: authParams(f), cookie: "sess.secret", session: live(f.user.ID, time.Minute), wantCode: true},
		{name: "wrong session secret: sign in", params: authParams(f), cookie: "sess.other", session: live(f.user.ID, time.Minute), wantSignIn: true},
		{name: "suspended account's session: sign in", params: authParams(f), cookie: "sess.secret", session: live(f.suspended.ID, time.Minute), wantSignIn: true},
		{name: "prompt=login ignores the session", params: authParams(f, "prompt", "login"), cookie: "sess.secret", session: live(f.user.ID, time.Minute), wantSignIn: true},
		{name: "max_age exceeded: sign in", params: authParams(f, "max_age", "30"), cookie: "sess.secret", session: live(f.user.ID, time.Minute), wantSignIn: true},
		{name: "prompt=none without session", params: authParams(f, "prompt", "none"), wantErr: oauth.CodeLoginRequired},
		{name: "missing PKCE for an SPA goes to the client", params: authParams(f, "code_challenge", ""), wantErr: oauth.CodeInvalidRequest},
		{name: "unknown client is shown, not redirected", params: authParams(f, "client_id", "nope"), wantPage: oauth.CodeInvalidClient},
		{name: "unregistered redirect_uri is shown", params: authParams(f, "redirect_uri", "https://evil.example/cb"), wantPage: oauth.CodeInvalidRequest},
		{name: "session grain unreachable", params: authParams(f), cookie: "sess.secret",
			session: func(string, string) (*Session, error) { return nil, oauth.TemporarilyUnavailable("down") }, wantErr: oauth.CodeTemporarilyUnavailable},
		{name: "interaction grain failure is server_error", params: authParams(f),
			create: func(*Interaction) error { return errors.New("boom") }, wantErr: oauth.CodeServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var created *Interaction
			var issued *AuthCode
			sessions := fakeSessions{session: tt.session}
			grants := fakeUserGrants{
				ensure: func(id string, g GrantEnsure) error {
					if id != "g1" || g.AccountID != f.user.ID || g.ClientID != f.app.ID || g.SID != "sid1" {
						t.Errorf("Ensure(%q, %+v): want the session's grant of the client", id, g)
					}
					return nil
				},
				issueCode: func(id string, c AuthCode) error { issued = &c; return nil },
			}
			its := fakeInteractions{create: func(it *Interaction) error {
				created = it
				if tt.create != nil {
					return tt.create(it)
				}
				return nil
			}}
			b := f.browser(sessions, grants, its, nil)
			res, err := b.Authorize(t.Context(), AuthorizeRequest{Params: tt.params, SessionCookie: tt.cookie})
			if tt.wantPage != "" {
				if e, ok := oauth.From(err); err == nil || !ok || e.Code != tt.wantPage {
					t.Fatalf("err = %v, want page %s", err, tt.wantPage)
				}
				return
			}
			if err != nil {
				t.Fatalf("Authorize: %v", err)
			}
			switch {
			case tt.wantSignIn:
				if res.SignIn == nil || created == nil {
					t.Fatalf("result %+v, created %v: want a sign-in", res, created)
				}
				if res.SignIn.Interaction.Value != created.UID || res.SignIn.Interaction.MaxAge != b.Lifetimes.Interaction {
					t.Errorf("interaction cookie %+v, want uid %q for Lifetimes.Interaction", res.SignIn.Interaction, created.UID)
				}
				if created.Request.ClientID != f.app.ID || created.Request.State != "st" {
					t.Errorf("stored request %+v", created.Request)
				}
				if res.SignIn.Register != tt.wantRegister {
					t.Errorf("Register = %v, want %v", res.SignIn.Register, tt.wantRegister)
				}
			case tt.wantCode:
				if res.Response == nil || issued == nil {
					t.Fatalf("result %+v: want a code", res)
				}
				code := res.Response.Params.Get("code")
				if !strings.HasPrefix(code, "g1.") || strings.TrimPrefix(code, "g1.") != issued.Secret {
					t.Errorf("code %q, issued secret %q", code, issued.Secret)
				}
				if issued.SID != "sid1" || issued.CodeChallenge != testChallenge || issued.RedirectURI != testRedirect {
					t.Errorf("issued code %+v", issued)
				}
				if res.Response.Params.Get("iss") != testIssuer || res.Response.Params.Get("state") != "st" {
					t.Errorf("response params %v", res.Response.Params)
				}
			default:
				if res.Response == nil || res.Response.Params.Get("error") != tt.wantErr {
					t.Fatalf("result %+v, want error %s to the client", res, tt.wantErr)
				}
				if res.Response.RedirectURI == "" {
					t.Error("error response without a redirect URI")
				}
			}
		})
	}
}

func TestFreshFor(t *testing.T) {
	now := time.Now()
	s := &Session{LoginAt: now.Add(-time.Minute)}
	for _, tt := range []struct {
		maxAge int64
		want   bool
	}{{-1, true}, {0, false}, {30, false}, {60, true}, {3600, true}} {
		if got := freshFor(s, tt.maxAge, now); got != tt.want {
			t.Errorf("freshFor(max_age=%d) = %v, want %v", tt.maxAge, got, tt.want)
		}
	}
}
