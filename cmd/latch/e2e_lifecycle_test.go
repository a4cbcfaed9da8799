package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/outbox"
	"github.com/latchid/latch/persistence"
)

// End-to-end tests of the session and token lifecycle (issue 4 items 3-6): RP-initiated
// logout, back-channel logout through the durable outbox (also across a restart), the
// Management API's user sessions and grants, suspension and deletion, and expiry.

// bcReceiver is an RP's back-channel logout endpoint on loopback. It can start late
// (its address is reserved first) and stop and start again on the same address.
type bcReceiver struct {
	t    *testing.T
	addr string
	got  chan bcDelivery
	srv  *http.Server
	hold chan struct{} // when set, each request waits for it to close first
}

type bcDelivery struct {
	path, contentType, token string
}

// newBCReceiver reserves a loopback address; start serves on it.
func newBCReceiver(t *testing.T) *bcReceiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := &bcReceiver{t: t, addr: addr, got: make(chan bcDelivery, 32)}
	t.Cleanup(r.stop)
	return r
}

func (r *bcReceiver) uri(path string) string { return "http://" + r.addr + path }

func (r *bcReceiver) start() {
	r.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger briefly after stop
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver cannot listen on %s: %v", r.addr, err)
	}
	hold := r.hold
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if hold != nil {
			<-hold
		}
		r.got <- bcDelivery{path: req.URL.Path, contentType: req.Header.Get("Content-Type"), token: req.PostFormValue("logout_token")}
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = r.srv.Serve(ln) }()
}

func (r *bcReceiver) stop() {
	if r.srv != nil {
		_ = r.srv.Close()
		r.srv = nil
	}
}

// next waits for the next delivery.
func (r *bcReceiver) next() bcDelivery {
	r.t.Helper()
	select {
	case d := <-r.got:
		if d.contentType != "application/x-www-form-urlencoded" {
			r.t.Errorf("back-channel logout posted as %q", d.contentType)
		}
		return d
	case <-time.After(15 * time.Second):
		r.t.Fatal("no back-channel logout arrived")
	}
	return bcDelivery{}
}

// nextFor waits for n deliveries and returns them by path.
func (r *bcReceiver) nextFor(n int) map[string]bcDelivery {
	r.t.Helper()
	out := map[string]bcDelivery{}
	for range n {
		d := r.next()
		if _, dup := out[d.path]; dup {
			r.t.Fatalf("two back-channel logouts for %s", d.path)
		}
		out[d.path] = d
	}
	return out
}

type appCreds struct{ ID, Secret string }

// lifecycleEnv is browserEnv plus two RPs with back-channel logout URIs and a view of
// the node's runtime.
type lifecycleEnv struct {
	*browserEnv
	rt           *nodeRuntime
	bc           *bcReceiver
	rp, offline  appCreds
	rpCB, rpHome string
	offCB        string
	started      chan *nodeRuntime
}

// lifecycleHooks makes a node report its runtime on started, with short back-channel
// backoffs so retries happen within a test.
func lifecycleHooks(started chan *nodeRuntime, extra func(*serveConfig)) func(*serveConfig) {
	return func(c *serveConfig) {
		c.BackchannelBackoff = 50 * time.Millisecond
		c.BackchannelMaxBackoff = 200 * time.Millisecond
		c.BackchannelMaxAttempts = 10_000
		c.hooks = &serveHooks{started: func(rt *nodeRuntime) { started <- rt }}
		if extra != nil {
			extra(c)
		}
	}
}

func newLifecycleEnv(t *testing.T, bc *bcReceiver, extra func(*serveConfig)) *lifecycleEnv {
	t.Helper()
	started := make(chan *nodeRuntime, 4)
	e := &lifecycleEnv{
		browserEnv: newBrowserEnvWith(t, lifecycleHooks(started, extra)),
		bc:         bc, started: started,
		rpCB: "http://127.0.0.1:9/rp/callback", rpHome: "http://127.0.0.1:9/rp/",
		offCB: "http://127.0.0.1:9/offline/callback",
	}
	e.rt = e.runtime()
	admin := e.n.adminToken(t.Context())
	e.n.createApp(admin, map[string]any{"name": "rp", "type": "Traditional",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{e.rpCB}, "postLogoutRedirectUris": []string{e.rpHome},
			"backchannelLogoutUri": bc.uri("/bc/rp"), "backchannelLogoutSessionRequired": true}}, &e.rp)
	e.n.createApp(admin, map[string]any{"name": "offline", "type": "Traditional",
		"oidcClientMetadata": map[string]any{"redirectUris": []string{e.offCB}, "postLogoutRedirectUris": []string{},
			"backchannelLogoutUri": bc.uri("/bc/offline")}}, &e.offline)
	return e
}

// runtime waits for the node to report its runtime.
func (e *lifecycleEnv) runtime() *nodeRuntime {
	e.n.t.Helper()
	select {
	case rt := <-e.started:
		return rt
	case <-time.After(30 * time.Second):
		e.n.t.Fatal("node did not report its runtime")
	}
	return nil
}

func (e *lifecycleEnv) config(id, secret, cb string) *oauth2.Config {
	return &oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: e.provider.Endpoint(), RedirectURL: cb,
		Scopes: []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "profile"}}
}

func (e *lifecycleEnv) rpConfig() *oauth2.Config { return e.config(e.rp.ID, e.rp.Secret, e.rpCB) }
func (e *lifecycleEnv) offlineConfig() *oauth2.Config {
	return e.config(e.offline.ID, e.offline.Secret, e.offCB)
}

// login runs the authorization code flow for c in b, signing in when the browser has
// no session; with consent (prompt=consent) offline_access is granted. It returns the
// tokens and the ID token's sid.
func (e *lifecycleEnv) login(t *testing.T, b *browser, c *oauth2.Config, consent bool) (*oauth2.Token, string) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
	if consent {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	loc := b.redirect(c.AuthCodeURL("st", opts...))
	if loc.Path == "/sign-in" {
		loc = b.redirect(b.signIn(browserUser, browserPassword))
	}
	code := codeFrom(t, loc, c.RedirectURL, "st", e.n.issuer())
	tok, err := c.Exchange(t.Context(), code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if consent != (tok.RefreshToken != "") {
		t.Fatalf("consent %v but refresh token %q", consent, tok.RefreshToken)
	}
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: c.ClientID}).Verify(t.Context(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var cl struct {
		SID string `json:"sid"`
	}
	if err := idt.Claims(&cl); err != nil || cl.SID == "" {
		t.Fatalf("ID token sid: %v %q", err, cl.SID)
	}
	return tok, cl.SID
}

// verifyLogoutToken checks a logout token as an RP would (OIDC Back-Channel Logout 1.0,
// 2.6): signed by a key of /oidc/jwks (go-oidc), iss and aud, typ logout+jwt, the
// back-channel logout event, sub, the sid of the RP's ID token, a jti, exp 120 s after
// iat, and no nonce.
func (e *lifecycleEnv) verifyLogoutToken(t *testing.T, raw, clientID, wantSID string) {
	t.Helper()
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: clientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("logout token does not verify against the JWKS: %v", err)
	}
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders[jose.HeaderType]; typ != oidcflow.TypLogoutToken {
		t.Errorf("typ = %v, want %s", typ, oidcflow.TypLogoutToken)
	}
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	ev, _ := c["events"].(map[string]any)
	if m, ok := ev[oidcflow.BackchannelLogoutEvent].(map[string]any); !ok || len(m) != 0 {
		t.Errorf("events = %v", c["events"])
	}
	if idt.Subject != e.userID || c["sid"] != wantSID || c["jti"] == "" || c["iss"] != e.n.issuer() {
		t.Errorf("logout token sub %q sid %v jti %v iss %v; want sub %s sid %s", idt.Subject, c["sid"], c["jti"], c["iss"], e.userID, wantSID)
	}
	if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != 120 {
		t.Errorf("exp - iat = %v, want 120", exp-iat)
	}
	if _, ok := c["nonce"]; ok {
		t.Error("a logout token carries a nonce")
	}
}

// waitFor polls cond every 10 ms for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func meStatus(t *testing.T, n *testNode, tok string) int {
	t.Helper()
	st, _ := bearerGet(t, n.issuer()+"/me", tok)
	return st
}

func refreshStatus(n *testNode, app appCreds, rt string) (int, map[string]any) {
	st, _, body := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, app.ID, app.Secret)
	return st, body
}

// RP-initiated logout: global for the browser session; the grant without
// offline_access is revoked with its opaque token, the offline_access grant survives;
// every client with a backchannelLogoutUri gets a logout token that verifies against
// the JWKS with its own sid; the redirect does not wait for the deliveries.
func TestBackchannelLogoutEndToEnd(t *testing.T) {
	bc := newBCReceiver(t)
	hold := make(chan struct{})
	bc.hold = hold // the RP answers only once the test lets it
	bc.start()
	e := newLifecycleEnv(t, bc, nil)
	n, ctx := e.n, t.Context()
	b := newBrowser(t, n.endpoint)

	rpTok, rpSID := e.login(t, b, e.rpConfig(), false)       // no offline_access
	offTok, offSID := e.login(t, b, e.offlineConfig(), true) // SSO, offline_access
	if meStatus(t, n, rpTok.AccessToken) != 200 || meStatus(t, n, offTok.AccessToken) != 200 {
		t.Fatal("userinfo before logout")
	}

	q := url.Values{"client_id": {e.rp.ID}, "post_logout_redirect_uri": {e.rpHome}, "state": {"bye"},
		"ui_locales": {"fr-CA en"}, "logout_hint": {browserUser}}
	done := make(chan *url.URL, 1)
	go func() { done <- b.redirect(n.issuer() + "/session/end?" + q.Encode()) }()
	var loc *url.URL
	select {
	case loc = <-done: // answered while the RP still holds its first delivery
	case <-time.After(10 * time.Second):
		t.Fatal("the logout redirect waited for the back-channel deliveries")
	}
	close(hold)
	if !strings.HasPrefix(loc.String(), e.rpHome) || loc.Query().Get("state") != "bye" || b.hasCookie("_session") {
		t.Fatalf("logout -> %s (session cookie %v)", loc, b.hasCookie("_session"))
	}

	got := bc.nextFor(2)
	e.verifyLogoutToken(t, got["/bc/rp"].token, e.rp.ID, rpSID)
	e.verifyLogoutToken(t, got["/bc/offline"].token, e.offline.ID, offSID)
	waitFor(t, "delivered count", func() bool { return e.rt.Backchannel.Stats().Delivered == 2 })

	// The grant without offline_access is gone with its opaque token ...
	if st := meStatus(t, n, rpTok.AccessToken); st != 401 {
		t.Fatalf("userinfo with the logged-out grant's token: %d, want 401", st)
	}
	// ... the offline_access grant survives: its refresh token still works.
	fresh, err := e.offlineConfig().TokenSource(ctx, &oauth2.Token{RefreshToken: offTok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	if err != nil {
		t.Fatalf("offline_access refresh after logout: %v", err)
	}
	if meStatus(t, n, fresh.AccessToken) != 200 {
		t.Fatal("userinfo with the refreshed offline_access token")
	}
	// The browser session is over.
	if loc := b.redirect(e.rpConfig().AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none after logout -> %s", loc)
	}
	if s := e.rt.Backchannel.Stats(); s.Retried != 0 || s.GivenUp != 0 {
		t.Fatalf("outbox stats %+v", s)
	}
}

// A receiver that is down at first still gets its logout token once it is back, also
// when Latch restarts (on the same data) before the delivery succeeds.
func TestBackchannelLogoutRetriesAcrossRestart(t *testing.T) {
	bc := newBCReceiver(t) // not listening yet
	e := newLifecycleEnv(t, bc, nil)
	n := e.n
	logout := func(b *browser) {
		t.Helper()
		loc := b.redirect(n.issuer() + "/session/end?" + url.Values{"client_id": {e.rp.ID}, "post_logout_redirect_uri": {e.rpHome}}.Encode())
		if !strings.HasPrefix(loc.String(), e.rpHome) {
			t.Fatalf("logout -> %s", loc)
		}
	}

	// 1. Down, then back: retried with backoff, then delivered.
	b := newBrowser(t, n.endpoint)
	_, sid1 := e.login(t, b, e.rpConfig(), false)
	logout(b)
	// Queued durably before the logout was answered.
	if p, err := e.rt.Backchannel.Pending(t.Context()); err != nil || p != 1 {
		t.Fatalf("pending right after the logout = %d, %v; want 1", p, err)
	}
	waitFor(t, "two failed attempts", func() bool { return e.rt.Backchannel.Stats().Retried >= 2 })
	bc.start()
	e.verifyLogoutToken(t, bc.next().token, e.rp.ID, sid1)
	waitFor(t, "delivered", func() bool { return e.rt.Backchannel.Stats().Delivered == 1 })
	bc.stop()

	// 2. Down, Latch stops with the logout undelivered, restarts on the same data dir
	// and address, and delivers once the receiver is back.
	b = newBrowser(t, n.endpoint)
	_, sid2 := e.login(t, b, e.rpConfig(), false)
	before := e.rt.Backchannel.Stats().Retried
	logout(b)
	waitFor(t, "a failed attempt", func() bool { return e.rt.Backchannel.Stats().Retried > before })
	n.stop()
	select {
	case d := <-bc.got:
		t.Fatalf("unexpected delivery while down: %+v", d)
	default:
	}

	n2 := startNodeOn(t, n.cfg.Data, strings.TrimPrefix(n.endpoint, "http://"), lifecycleHooks(e.started, nil))
	rt2 := e.runtime()
	if n2.issuer() != n.issuer() {
		t.Fatalf("issuer changed across the restart: %s", n2.issuer())
	}
	if p, err := rt2.Backchannel.Pending(t.Context()); err != nil || p != 1 {
		t.Fatalf("pending after restart = %d, %v; want the undelivered logout", p, err)
	}
	waitFor(t, "a failed attempt after the restart", func() bool { return rt2.Backchannel.Stats().Retried >= 1 })
	bc.start()
	e.verifyLogoutToken(t, bc.next().token, e.rp.ID, sid2)
	waitFor(t, "delivered after the restart", func() bool { return rt2.Backchannel.Stats().Delivered == 1 })
	if p, _ := rt2.Backchannel.Pending(t.Context()); p != 0 {
		t.Fatalf("pending after delivery = %d", p)
	}
}

// Suspending a user revokes every session, grant and refresh family at once, and they
// stay revoked when the user is restored; deleting a user does the same.
func TestSuspendAndDeleteRevokeEverything(t *testing.T) {
	bc := newBCReceiver(t)
	bc.start()
	e := newLifecycleEnv(t, bc, nil)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	b := newBrowser(t, n.endpoint)
	tok, sid := e.login(t, b, e.rpConfig(), true)
	if st, body := refreshStatus(n, e.rp, tok.RefreshToken); st != 200 {
		t.Fatalf("refresh before suspension: %d %v", st, body)
	}

	n.mustAPI(admin, "PATCH", "/api/users/"+e.userID+"/is-suspended", map[string]any{"isSuspended": true}, 200, nil)
	// The suspended user's session ended: its client is told over the back channel.
	e.verifyLogoutToken(t, bc.next().token, e.rp.ID, sid)
	// Restored at once: what was revoked stays revoked (not merely refused while
	// suspended).
	n.mustAPI(admin, "PATCH", "/api/users/"+e.userID+"/is-suspended", map[string]any{"isSuspended": false}, 200, nil)
	if st, body := refreshStatus(n, e.rp, tok.RefreshToken); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after suspension: %d %v", st, body)
	}
	if st := meStatus(t, n, tok.AccessToken); st != 401 {
		t.Fatalf("userinfo after suspension: %d", st)
	}
	if loc := b.redirect(e.rpConfig().AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none after suspension -> %s", loc)
	}
	var sessions userSessionsResp
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/sessions", nil, 200, &sessions)
	var grants userGrantsResp
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/grants", nil, 200, &grants)
	if len(sessions.Sessions) != 0 || len(grants.Grants) != 0 {
		t.Fatalf("after suspension: %d sessions, %d grants", len(sessions.Sessions), len(grants.Grants))
	}

	// Deletion: sign in again, then delete the user.
	b = newBrowser(t, n.endpoint)
	tok, sid = e.login(t, b, e.rpConfig(), true)
	idx, err := e.rt.Actors.AccountIndex(ctx, e.userID)
	if err != nil || len(idx.GetSessions()) != 1 || len(idx.GetGrants()) != 1 || len(idx.GetFamilies()) != 1 {
		t.Fatalf("account index before deletion: %v, %v", idx, err)
	}
	n.mustAPI(admin, "DELETE", "/api/users/"+e.userID, nil, 204, nil)
	e.verifyLogoutToken(t, bc.next().token, e.rp.ID, sid)
	if _, err := e.rt.Actors.PeekSession(ctx, idx.GetSessions()[0].GetId()); err == nil {
		t.Fatal("the deleted user's session is alive")
	}
	if _, err := e.rt.Actors.CheckGrant(ctx, idx.GetGrants()[0].GetId()); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the deleted user's grant: %v, want revoked", err)
	}
	if _, err := e.rt.Actors.UseRefreshToken(ctx, idx.GetFamilies()[0].GetId(), strings.SplitN(tok.RefreshToken, ".", 2)[1], e.rp.ID, "", nil, nil); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("the deleted user's refresh family: %v, want revoked", err)
	}
}

type userSessionsResp struct {
	Sessions []struct {
		Payload struct {
			Exp            int64  `json:"exp"`
			Iat            int64  `json:"iat"`
			JTI            string `json:"jti"`
			UID            string `json:"uid"`
			Kind           string `json:"kind"`
			LoginTs        int64  `json:"loginTs"`
			AccountID      string `json:"accountId"`
			Authorizations map[string]struct {
				SID            string `json:"sid"`
				GrantID        string `json:"grantId"`
				PersistsLogout *bool  `json:"persistsLogout"`
			} `json:"authorizations"`
		} `json:"payload"`
		LastSubmission json.RawMessage `json:"lastSubmission"`
		ClientID       *string         `json:"clientId"`
		AccountID      *string         `json:"accountId"`
		ExpiresAt      int64           `json:"expiresAt"`
	} `json:"sessions"`
}

type userGrantsResp struct {
	Grants []struct {
		ID      string `json:"id"`
		Payload struct {
			Exp       int64  `json:"exp"`
			Iat       int64  `json:"iat"`
			JTI       string `json:"jti"`
			Kind      string `json:"kind"`
			ClientID  string `json:"clientId"`
			AccountID string `json:"accountId"`
			OpenID    *struct {
				Scope string `json:"scope"`
			} `json:"openid"`
			Resources map[string]string `json:"resources"`
		} `json:"payload"`
		ExpiresAt int64 `json:"expiresAt"`
	} `json:"grants"`
}

// The Management API lists and revokes a user's sessions and grants in Logto's shapes.
func TestManagementUserSessionsAndGrants(t *testing.T) {
	bc := newBCReceiver(t)
	bc.start()
	e := newLifecycleEnv(t, bc, nil)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	b := newBrowser(t, n.endpoint)
	rpTok, rpSID := e.login(t, b, e.rpConfig(), false)
	offTok, offSID := e.login(t, b, e.offlineConfig(), true)
	base := "/api/users/" + e.userID

	var list userSessionsResp
	n.mustAPI(admin, "GET", base+"/sessions", nil, 200, &list)
	if len(list.Sessions) != 1 {
		t.Fatalf("%d sessions, want 1", len(list.Sessions))
	}
	s := list.Sessions[0]
	sessionID := s.Payload.UID
	rpAuth, offAuth := s.Payload.Authorizations[e.rp.ID], s.Payload.Authorizations[e.offline.ID]
	now := time.Now()
	if s.Payload.Kind != "Session" || s.Payload.JTI != sessionID || sessionID == "" || s.Payload.AccountID != e.userID ||
		s.AccountID == nil || *s.AccountID != e.userID || s.ClientID == nil || *s.ClientID != e.rp.ID ||
		string(s.LastSubmission) != "null" || s.ExpiresAt < now.Add(13*24*time.Hour).UnixMilli() ||
		s.Payload.Exp != s.ExpiresAt/1000 || s.Payload.LoginTs < now.Add(-time.Minute).Unix() || s.Payload.Iat > now.Unix()+1 {
		t.Fatalf("session %+v", s)
	}
	if rpAuth.SID != rpSID || rpAuth.GrantID == "" || rpAuth.PersistsLogout != nil ||
		offAuth.SID != offSID || offAuth.PersistsLogout == nil || !*offAuth.PersistsLogout {
		t.Fatalf("authorizations %+v", s.Payload.Authorizations)
	}
	var one json.RawMessage
	n.mustAPI(admin, "GET", base+"/sessions/"+sessionID, nil, 200, &one)
	var unknown struct{ Code string }
	n.mustAPI(admin, "GET", base+"/sessions/nope", nil, 404, &unknown)
	if unknown.Code != "oidc.session_not_found" {
		t.Fatalf("unknown session: %s", unknown.Code)
	}
	n.mustAPI(admin, "DELETE", "/api/users/someone-else/sessions/"+sessionID, nil, 404, &unknown)
	if unknown.Code != "oidc.invalid_session_account_id" {
		t.Fatalf("another user's session: %s", unknown.Code)
	}

	var grants userGrantsResp
	n.mustAPI(admin, "GET", base+"/grants", nil, 200, &grants)
	if len(grants.Grants) != 2 {
		t.Fatalf("%d grants, want 2", len(grants.Grants))
	}
	for _, g := range grants.Grants {
		if g.Payload.Kind != "Grant" || g.Payload.JTI != g.ID || g.Payload.AccountID != e.userID || g.Payload.OpenID == nil ||
			!strings.Contains(g.Payload.OpenID.Scope, "openid") || g.ExpiresAt < now.Add(179*24*time.Hour).UnixMilli() {
			t.Fatalf("grant %+v", g)
		}
		wantOffline := g.Payload.ClientID == e.offline.ID
		if strings.Contains(g.Payload.OpenID.Scope, "offline_access") != wantOffline {
			t.Fatalf("grant of %s scope %q", g.Payload.ClientID, g.Payload.OpenID.Scope)
		}
	}
	grants = userGrantsResp{}
	n.mustAPI(admin, "GET", base+"/grants?appType=thirdParty", nil, 200, &grants)
	if len(grants.Grants) != 0 {
		t.Fatalf("third-party grants: %d", len(grants.Grants))
	}
	n.mustAPI(admin, "GET", base+"/grants?appType=bogus", nil, 400, nil)

	// Revoking a grant revokes its tokens and removes it from the session.
	n.mustAPI(admin, "DELETE", base+"/grants/"+rpAuth.GrantID, nil, 204, nil)
	if st := meStatus(t, n, rpTok.AccessToken); st != 401 {
		t.Fatalf("userinfo with a revoked grant's token: %d", st)
	}
	n.mustAPI(admin, "DELETE", base+"/grants/"+rpAuth.GrantID, nil, 404, &unknown)
	if unknown.Code != "oidc.invalid_grant" {
		t.Fatalf("revoking again: %s", unknown.Code)
	}
	list = userSessionsResp{} // decoding into a used value would merge the maps
	n.mustAPI(admin, "GET", base+"/sessions", nil, 200, &list)
	if _, still := list.Sessions[0].Payload.Authorizations[e.rp.ID]; still || len(list.Sessions[0].Payload.Authorizations) != 1 {
		t.Fatalf("authorizations after revoking the grant: %+v", list.Sessions[0].Payload.Authorizations)
	}
	// The revoked client's next authorization in this session makes a new grant.
	rpTok2, _ := e.login(t, b, e.rpConfig(), false)
	if meStatus(t, n, rpTok2.AccessToken) != 200 {
		t.Fatal("a new grant after revocation does not work")
	}

	// Ending the session with revokeGrantsTarget=all: the session is gone, every grant
	// is revoked (offline_access too), each client hears of it over the back channel.
	n.mustAPI(admin, "DELETE", base+"/sessions/"+sessionID+"?revokeGrantsTarget=bogus", nil, 400, nil)
	n.mustAPI(admin, "DELETE", base+"/sessions/"+sessionID+"?revokeGrantsTarget=all", nil, 204, nil)
	got := bc.nextFor(2)
	e.verifyLogoutToken(t, got["/bc/offline"].token, e.offline.ID, offSID)
	if loc := b.redirect(e.rpConfig().AuthCodeURL("s", oauth2.SetAuthURLParam("prompt", "none"))); loc.Query().Get("error") != "login_required" {
		t.Fatalf("prompt=none after the session was deleted -> %s", loc)
	}
	if st, body := refreshStatus(n, e.offline, offTok.RefreshToken); st != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("offline refresh after revokeGrantsTarget=all: %d %v", st, body)
	}
	if meStatus(t, n, rpTok2.AccessToken) != 401 {
		t.Fatal("a token of the deleted session's grant still works")
	}
	n.mustAPI(admin, "DELETE", base+"/sessions/"+sessionID, nil, 404, nil)
	list, grants = userSessionsResp{}, userGrantsResp{}
	n.mustAPI(admin, "GET", base+"/sessions", nil, 200, &list)
	n.mustAPI(admin, "GET", base+"/grants", nil, 200, &grants)
	if len(list.Sessions) != 0 || len(grants.Grants) != 0 {
		t.Fatalf("after deleting the session: %d sessions, %d grants", len(list.Sessions), len(grants.Grants))
	}

	// Without revokeGrantsTarget, ending a session keeps its grants (Logto).
	b = newBrowser(t, n.endpoint)
	tok3, _ := e.login(t, b, e.rpConfig(), false)
	list = userSessionsResp{}
	n.mustAPI(admin, "GET", base+"/sessions", nil, 200, &list)
	n.mustAPI(admin, "DELETE", base+"/sessions/"+list.Sessions[0].Payload.UID, nil, 204, nil)
	bc.next()
	if meStatus(t, n, tok3.AccessToken) != 200 {
		t.Fatal("deleting a session without revokeGrantsTarget revoked its grant")
	}
}

// Storage stays bounded: expired interactions, codes, sessions, grants, families and
// account indexes are swept once the clock passes their TTLs; the gauges follow.
func TestExpiredStateIsSwept(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	advance := func(d time.Duration) { clock.Add(int64(d)) }
	bc := newBCReceiver(t)
	e := newLifecycleEnv(t, bc, func(c *serveConfig) {
		c.SweepInterval = 20 * time.Millisecond
		c.hooks.now = now
	})
	n, ctx := e.n, t.Context()
	gauges := func() map[string]int {
		t.Helper()
		g, err := e.rt.Gauges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	stored := func(kind string) int {
		t.Helper()
		c, err := persistence.Count(ctx, e.rt.Store, kind)
		if err != nil {
			t.Fatal(err)
		}
		return c.Stored
	}

	// One full sign-in (session, grant, refresh family, account index, opaque token),
	// one code left unredeemed, and many abandoned authorization requests.
	b := newBrowser(t, n.endpoint)
	e.login(t, b, e.rpConfig(), true)
	codeFrom(t, b.redirect(e.rpConfig().AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))), e.rpCB, "st", n.issuer())
	const abandoned = 60
	for range abandoned {
		if loc := newBrowser(t, n.endpoint).redirect(e.rpConfig().AuthCodeURL("x", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))); loc.Path != "/sign-in" {
			t.Fatalf("authorize -> %s", loc)
		}
	}
	g := gauges()
	// The signed-in interaction stays, consumed, for a while (actors: consumedKeep).
	want := map[string]int{"interaction": abandoned + 1, "session": 1, "grant": 1, "refresh": 1, "account": 1, "code": 1, "access_token": 1, outbox.Kind: 0}
	for k, v := range want {
		if g[k] != v {
			t.Fatalf("gauges %v, want %s = %d", g, k, v)
		}
	}

	// Past the interaction and code TTLs: interactions are swept, the code is no longer
	// live; sessions and grants remain.
	advance(time.Hour + time.Minute)
	// (The sweeper counts a sweep once it returns, just after its deletes.)
	waitFor(t, "interactions swept", func() bool { return stored("interaction") == 0 && e.rt.Swept.Load() >= abandoned })
	if g := gauges(); g["interaction"] != 0 || g["code"] != 0 || g["session"] != 1 || g["grant"] != 1 {
		t.Fatalf("gauges after an hour: %v", g)
	}

	// Past the grant TTL (180 days, which bounds sessions, families and the index too):
	// nothing of the hot state is left in the store.
	advance(181 * 24 * time.Hour)
	kinds := []string{"interaction", "session", "grant", "refresh", "account", outbox.Kind}
	waitFor(t, "everything swept", func() bool {
		for _, k := range kinds {
			if stored(k) != 0 {
				return false
			}
		}
		return true
	})
	for k, v := range gauges() {
		if v != 0 {
			t.Fatalf("gauge %s = %d after every TTL passed", k, v)
		}
	}
}
