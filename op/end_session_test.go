package op

import (
	"net/url"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func TestEndSession(t *testing.T) {
	f := newFixture(t)
	hint := func(aud string) string {
		tok, err := oidcflow.MintIDToken(oidcflow.IDToken{Issuer: testIssuer, Subject: f.user.ID, Audience: aud,
			Now: f.now.Add(-2 * time.Hour), TTL: time.Hour, Alg: oidcflow.AlgES256}, f.keys)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ended := &Session{ID: "s1", AccountID: f.user.ID, Clients: []SessionClient{
		{ClientID: f.app.ID, GrantID: "g1", SID: "sid-app"},
		{ClientID: f.thirdParty.ID, GrantID: "g2", SID: "sid-third"}, // no back-channel URI
	}}
	tests := []struct {
		name         string
		params       url.Values
		cookie       string
		endErr       error
		wantPage     string
		wantRedirect string
		wantEnded    bool
	}{
		{name: "no client: signed-out page", params: url.Values{}},
		{name: "registered post_logout_redirect_uri with state",
			params:       url.Values{"client_id": {f.app.ID}, "post_logout_redirect_uri": {testPostLogout}, "state": {"xyz"}},
			wantRedirect: testPostLogout + "?state=xyz"},
		{name: "unregistered post_logout_redirect_uri is not followed",
			params: url.Values{"client_id": {f.app.ID}, "post_logout_redirect_uri": {"https://evil.example/"}}},
		{name: "post_logout_redirect_uri without a client is not followed",
			params: url.Values{"post_logout_redirect_uri": {testPostLogout}}},
		{name: "client from an expired id_token_hint",
			params:       url.Values{"id_token_hint": {hint(f.app.ID)}, "post_logout_redirect_uri": {testPostLogout}},
			wantRedirect: testPostLogout},
		{name: "client_id must match id_token_hint",
			params: url.Values{"id_token_hint": {hint(f.app.ID)}, "client_id": {f.thirdParty.ID}}, wantPage: oauth.CodeInvalidRequest},
		{name: "forged id_token_hint", params: url.Values{"id_token_hint": {"a.b.c"}}, wantPage: oauth.CodeInvalidRequest},
		{name: "repeated parameter", params: url.Values{"state": {"a", "b"}}, wantPage: oauth.CodeInvalidRequest},
		{name: "unknown client", params: url.Values{"client_id": {"nope"}}, wantPage: oauth.CodeInvalidClient},
		{name: "session ends with the online grants, back-channel logout queued",
			params: url.Values{}, cookie: "s1.sec", wantEnded: true},
		{name: "session already ended", params: url.Values{}, cookie: "s1.sec", endErr: loginRequired("no live session")},
		{name: "session grain unreachable", params: url.Values{}, cookie: "s1.sec",
			endErr: oauth.TemporarilyUnavailable("down"), wantPage: oauth.CodeTemporarilyUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &recordingQueue{}
			called := false
			sessions := fakeSessions{end: func(id, secret string, revoke GrantRevocation, keep []string) (*Session, error) {
				called = true
				if id != "s1" || secret != "sec" || revoke != RevokeOnline || keep != nil {
					t.Errorf("End(%q, %q, %v, %v): want the cookie's session, grants without offline_access revoked", id, secret, revoke, keep)
				}
				if tt.endErr != nil {
					return nil, tt.endErr
				}
				return ended, nil
			}}
			b := f.browser(sessions, nil, nil, q)
			res, err := b.EndSession(t.Context(), EndSessionRequest{Params: tt.params, SessionCookie: tt.cookie})
			if tt.wantPage != "" {
				if e, ok := oauth.From(err); err == nil || !ok || e.Code != tt.wantPage {
					t.Fatalf("err = %v, want page %s", err, tt.wantPage)
				}
				return
			}
			if err != nil {
				t.Fatalf("EndSession: %v", err)
			}
			if res.RedirectTo != tt.wantRedirect {
				t.Errorf("RedirectTo = %q, want %q", res.RedirectTo, tt.wantRedirect)
			}
			if called != (tt.cookie != "") {
				t.Errorf("session ended = %v with cookie %q", called, tt.cookie)
			}
			if !tt.wantEnded {
				if len(q.logouts) != 0 {
					t.Errorf("logouts queued: %+v", q.logouts)
				}
				return
			}
			if len(q.logouts) != 1 {
				t.Fatalf("logouts %+v, want one for the client with a back-channel URI", q.logouts)
			}
			l := q.logouts[0]
			if l.ClientID != f.app.ID || l.URI != testBackchan || l.SID != "sid-app" || l.Subject != f.user.ID || l.Issuer != testIssuer {
				t.Errorf("logout %+v", l)
			}
		})
	}
}
