package httpapi

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
	"github.com/latchid/latch/persistence"
)

// ltEnv is a Server with the test cluster member and a fresh directory holding one
// user, one API resource and four applications: two confidential (web, other), one
// public (spa) and one machine-to-machine (m2m).
type ltEnv struct {
	tb    testing.TB
	s     *Server
	h     http.Handler
	dir   *directory.Directory
	ac    *actors.Client
	clock *expClock
	user  *directory.User
	res   *directory.Resource

	web, other, spa, m2m *directory.Application
	secrets              map[string]string // by app id; "" for public clients
}

const (
	ltSPAOrigin = "http://localhost:5173"
	ltResource  = "https://api.lifecycle.test"
)

var ltScopes = []string{"openid", "offline_access", "profile"}

func newLifecycleEnv(tb testing.TB) *ltEnv {
	tb.Helper()
	client := testActors(tb)
	clock := &expClock{t: time.Now()}
	useGrainClock(tb, clock.Now)
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: clock.Now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = store.Close() })
	dir, err := directory.Open(tb.Context(), directory.Config{Store: store, Now: clock.Now, Rand: rand.Reader,
		Argon2: directory.Argon2Params{Memory: 64, Time: 1}})
	if err != nil {
		tb.Fatal(err)
	}
	key, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ring, err := oidcflow.NewKeyRing(key)
	if err != nil {
		tb.Fatal(err)
	}
	tokens := actors.NewTokens(client)
	flows, err := op.New(op.Config{Issuer: "http://localhost:3001/oidc", Directory: dir, Keys: ring,
		Grants: tokens, AccessTokens: tokens, Families: tokens, Now: clock.Now, Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: dir, Keys: ring, OP: flows,
		Now: clock.Now, Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	e := &ltEnv{tb: tb, s: s, h: s.Handler(), dir: dir, ac: client, clock: clock, secrets: map[string]string{}}
	newApp := func(name string, t directory.AppType, redirect string) *directory.Application {
		in := directory.NewApplication{Name: name, Type: t}
		if redirect != "" {
			in.OIDCClientMetadata.RedirectURIs = []string{redirect}
		}
		app, secret, err := dir.CreateApplication(tb.Context(), in)
		if err != nil {
			tb.Fatal(err)
		}
		e.secrets[app.ID] = secret
		return app
	}
	e.web = newApp("web", directory.AppTraditional, "http://127.0.0.1:9/web/cb")
	e.other = newApp("other", directory.AppTraditional, "http://127.0.0.1:9/other/cb")
	e.spa = newApp("spa", directory.AppSPA, ltSPAOrigin+"/callback")
	e.m2m = newApp("m2m", directory.AppMachineToMachine, "")
	username := "lifecycle_user"
	if e.user, err = dir.CreateUser(tb.Context(), directory.NewUser{Username: &username}); err != nil {
		tb.Fatal(err)
	}
	if e.res, err = dir.CreateResource(tb.Context(), directory.NewResource{Name: "API", Indicator: ltResource, AccessTokenTTL: 900}); err != nil {
		tb.Fatal(err)
	}
	return e
}

// userTokens are what one code exchange with a resource gives a client: an opaque
// access token, a refresh token and a resource JWT, all from one grant.
type userTokens struct {
	grantID, familyID        string
	opaque, refresh, userJWT string
}

// issue mints userTokens for app as the token endpoint does: a code of a new grant,
// exchanged on the live path (one GrantExchangeCode: the refresh family and the opaque
// access token), and a resource JWT of the same grant.
func (e *ltEnv) issue(app *directory.Application) userTokens {
	e.tb.Helper()
	ctx := e.tb.Context()
	grantID, err := op.RandomID(e.s.rand)
	if err != nil {
		e.tb.Fatal(err)
	}
	if _, err := e.ac.EnsureGrant(ctx, grantID, &msg.GrantEnsure{
		AccountId: e.user.ID, ClientId: app.ID, Scopes: ltScopes, Resources: []string{ltResource}, Sid: "sid-1",
	}); err != nil {
		e.tb.Fatal(err)
	}
	got := e.exchange(app, grantID, &op.RefreshPolicy{AppType: string(app.Type), TTL: 14 * 24 * time.Hour, Rotate: true})
	if got.RefreshToken == "" || got.FamilyID == "" {
		e.tb.Fatalf("the exchange issued no refresh token: %+v", got)
	}
	t := userTokens{grantID: grantID, familyID: got.FamilyID, refresh: got.RefreshToken, opaque: got.AccessToken.Token}
	if t.userJWT, _, err = oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
		Issuer: e.s.issuer, ClientID: app.ID, Subject: e.user.ID, Resource: ltResource, GrantID: grantID,
		JTI: "jti-" + grantID, Now: e.clock.Now(), TTL: time.Duration(e.res.AccessTokenTTL) * time.Second, Requested: ltScopes,
	}, e.s.keys); err != nil {
		e.tb.Fatal(err)
	}
	return t
}

// exchange issues a code of grantID for app and exchanges it (the grants decide time by
// e.clock: useGrainClock); refresh nil: no refresh token.
func (e *ltEnv) exchange(app *directory.Application, grantID string, refresh *op.RefreshPolicy) op.CodeExchanged {
	e.tb.Helper()
	ctx := e.tb.Context()
	_, secret, err := actors.NewToken(rand.Reader)
	if err != nil {
		e.tb.Fatal(err)
	}
	redirect := "http://127.0.0.1:9/cb"
	if err := e.ac.IssueCode(ctx, grantID, &msg.CodeRecord{
		Hash: actors.HashSecret(secret), RedirectUri: redirect, Scopes: ltScopes, Resources: []string{ltResource}, Sid: "sid-1",
	}); err != nil {
		e.tb.Fatal(err)
	}
	got, err := actors.NewTokens(e.ac).ExchangeCode(ctx, op.CodeExchange{
		Code: grantID + "." + secret, ClientID: app.ID, RedirectURI: redirect, Refresh: refresh,
	})
	if err != nil || got.AccessToken.Token == "" {
		e.tb.Fatalf("exchange: %+v, %v", got, err)
	}
	return got
}

// opaqueToken has the grant store another opaque access token (1 h), from another code
// exchange of the same grant (no refresh token).
func (e *ltEnv) opaqueToken(app *directory.Application, grantID string) string {
	e.tb.Helper()
	return e.exchange(app, grantID, nil).AccessToken.Token
}

// clientJWT is a client_credentials access token of the m2m app for the resource.
func (e *ltEnv) clientJWT() string {
	e.tb.Helper()
	resp, err := e.s.op.TokenClientCredentials(e.m2m, op.ClientCredentialsRequest{Resources: []string{ltResource}})
	if err != nil {
		e.tb.Fatal(err)
	}
	return resp.AccessToken
}

// post sends form to path as app: Basic credentials for a confidential client,
// client_id in the body for a public one.
func (e *ltEnv) post(path string, app *directory.Application, form url.Values) *httptest.ResponseRecorder {
	e.tb.Helper()
	if app != nil && app.Type.Public() {
		form.Set("client_id", app.ID)
	}
	r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if app != nil && !app.Type.Public() {
		r.SetBasicAuth(app.ID, e.secrets[app.ID])
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// introspect returns the status and the decoded body of an introspection request.
func (e *ltEnv) introspect(app *directory.Application, token, hint string) (int, map[string]any) {
	e.tb.Helper()
	form := url.Values{"token": {token}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	w := e.post("/oidc/token/introspection", app, form)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		e.tb.Fatalf("introspection body %q: %v", w.Body, err)
	}
	return w.Code, out
}

// active introspects and requires a 200; it returns the response.
func (e *ltEnv) active(app *directory.Application, token, hint string) map[string]any {
	e.tb.Helper()
	code, out := e.introspect(app, token, hint)
	if code != http.StatusOK {
		e.tb.Fatalf("introspection status %d: %v", code, out)
	}
	return out
}

// wantInactive requires exactly {"active": false} (RFC 7662 2.2: nothing more about an
// inactive token).
func (e *ltEnv) wantInactive(app *directory.Application, token, hint string) {
	e.tb.Helper()
	out := e.active(app, token, hint)
	if len(out) != 1 || out["active"] != false {
		e.tb.Fatalf("introspection of %.40q = %v, want {\"active\": false}", token, out)
	}
}

// wantActive requires an active response with the fields in want (absent for nil).
func (e *ltEnv) wantActive(app *directory.Application, token, hint string, want map[string]any) map[string]any {
	e.tb.Helper()
	out := e.active(app, token, hint)
	if out["active"] != true {
		e.tb.Fatalf("introspection of %.40q = %v, want active", token, out)
	}
	for k, v := range want {
		got, present := out[k]
		switch {
		case v == nil && present:
			e.tb.Errorf("%s = %v, want absent", k, got)
		case v != nil && got != v:
			e.tb.Errorf("%s = %v (%T), want %v", k, got, got, v)
		}
	}
	return out
}

// lifetime is exp - iat of a response.
func lifetime(out map[string]any) time.Duration {
	exp, _ := out["exp"].(float64)
	iat, _ := out["iat"].(float64)
	return time.Duration(exp-iat) * time.Second
}

func TestIntrospectionActive(t *testing.T) {
	e := newLifecycleEnv(t)
	web := e.issue(e.web)
	spa := e.issue(e.spa)
	cc := e.clientJWT()
	iss := e.s.issuer
	userAT := map[string]any{"client_id": e.web.ID, "sub": e.user.ID, "iss": iss, "scope": "openid offline_access profile",
		"token_type": "Bearer", "aud": nil, "sid": nil}
	userRT := map[string]any{"client_id": e.web.ID, "sub": e.user.ID, "iss": iss, "scope": "openid offline_access profile",
		"token_type": nil, "aud": nil, "sid": "sid-1"}

	tests := []struct {
		name         string
		app          *directory.Application
		token, hint  string
		want         map[string]any
		wantLifetime time.Duration
	}{
		{"opaque access token", e.web, web.opaque, "", userAT, time.Hour},
		{"opaque access token, hint access_token", e.web, web.opaque, "access_token", userAT, time.Hour},
		{"opaque access token, wrong hint", e.web, web.opaque, "refresh_token", userAT, time.Hour},
		{"opaque access token, unknown hint", e.web, web.opaque, "id_token", userAT, time.Hour},
		{"refresh token", e.web, web.refresh, "", userRT, 14 * 24 * time.Hour},
		{"refresh token, hint refresh_token", e.web, web.refresh, "refresh_token", userRT, 14 * 24 * time.Hour},
		{"refresh token, wrong hint", e.web, web.refresh, "access_token", userRT, 14 * 24 * time.Hour},
		{"user JWT", e.web, web.userJWT, "", map[string]any{"client_id": e.web.ID, "sub": e.user.ID, "iss": iss,
			"aud": ltResource, "token_type": "Bearer", "scope": nil}, 900 * time.Second},
		{"public client, its own opaque token", e.spa, spa.opaque, "", map[string]any{"client_id": e.spa.ID, "token_type": "Bearer"}, time.Hour},
		{"public client, its own refresh token", e.spa, spa.refresh, "", map[string]any{"client_id": e.spa.ID}, 14 * 24 * time.Hour},
		{"client_credentials JWT", e.m2m, cc, "", map[string]any{"client_id": e.m2m.ID, "sub": e.m2m.ID, "aud": ltResource,
			"token_type": "Bearer", "iss": iss}, 900 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.tb = t
			out := e.wantActive(tt.app, tt.token, tt.hint, tt.want)
			if got := lifetime(out); got != tt.wantLifetime {
				t.Errorf("exp - iat = %v, want %v", got, tt.wantLifetime)
			}
			if exp, _ := out["exp"].(float64); int64(exp) <= e.clock.Now().Unix() {
				t.Errorf("exp %v is not in the future", exp)
			}
		})
	}
	// The user JWT carries jti; the response echoes it.
	e.tb = t
	if out := e.wantActive(e.web, web.userJWT, "", nil); out["jti"] == nil || out["jti"] == "" {
		t.Errorf("user JWT introspection without jti: %v", out)
	}
}

// A client sees only tokens issued to itself; every other one is inactive, and an
// unauthenticated request is refused before any token is looked at.
func TestIntrospectionForeignAndGarbage(t *testing.T) {
	e := newLifecycleEnv(t)
	web := e.issue(e.web)
	cc := e.clientJWT()

	otherKey, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherRing, _ := oidcflow.NewKeyRing(otherKey)
	forged, _, err := oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
		Issuer: e.s.issuer, ClientID: e.web.ID, Subject: e.user.ID, Resource: ltResource, GrantID: web.grantID,
		JTI: "j", Now: e.clock.Now(), TTL: time.Hour, Requested: []string{"x"},
	}, otherRing)
	if err != nil {
		t.Fatal(err)
	}
	idToken, err := oidcflow.MintIDToken(oidcflow.IDToken{
		Issuer: e.s.issuer, Subject: e.user.ID, Audience: e.web.ID, Now: e.clock.Now(), TTL: time.Hour, Alg: e.s.keys.Alg(),
	}, e.s.keys)
	if err != nil {
		t.Fatal(err)
	}
	// A JWT for the right client and user but without gid: minted before gid existed.
	noGID, _, err := oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
		Issuer: e.s.issuer, ClientID: e.web.ID, Subject: e.user.ID, Resource: ltResource,
		JTI: "j", Now: e.clock.Now(), TTL: time.Hour,
	}, e.s.keys)
	if err != nil {
		t.Fatal(err)
	}
	// A JWT naming a grant of another client.
	spa := e.issue(e.spa)
	wrongGrant, _, err := oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
		Issuer: e.s.issuer, ClientID: e.web.ID, Subject: e.user.ID, Resource: ltResource, GrantID: spa.grantID,
		JTI: "j", Now: e.clock.Now(), TTL: time.Hour,
	}, e.s.keys)
	if err != nil {
		t.Fatal(err)
	}
	familyID, secret, _ := strings.Cut(web.refresh, ".")
	grantID, atSecret, _ := strings.Cut(web.opaque, ".")

	tests := []struct {
		name  string
		app   *directory.Application
		token string
	}{
		{"another confidential client, opaque", e.other, web.opaque},
		{"another confidential client, refresh", e.other, web.refresh},
		{"another confidential client, user JWT", e.other, web.userJWT},
		{"a public client, another's refresh token", e.spa, web.refresh},
		{"another client, client_credentials JWT", e.web, cc},
		{"unknown opaque", e.web, "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"right grant, wrong secret", e.web, grantID + "." + secret},
		{"right family, wrong secret", e.web, familyID + "." + atSecret},
		{"JWT signed by another key", e.web, forged},
		{"ID token", e.web, idToken},
		{"user JWT without gid", e.web, noGID},
		{"user JWT naming another client's grant", e.web, wrongGrant},
		{"no dot", e.web, "garbage"},
		{"two dots", e.web, "a.b.c"},
		{"alg none", e.web, "eyJhbGciOiJub25lIn0.e30."},
		{"opaque with padding", e.web, web.opaque + "="},
		{"three parts of base64", e.web, "eyJ9.eyJ9.eyJ9"},
		{"very long", e.web, strings.Repeat("A", 5000) + "." + strings.Repeat("B", 5000)},
		{"non-ASCII", e.web, "ключ.секрет"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.tb = t
			e.wantInactive(tt.app, tt.token, "")
			e.wantInactive(tt.app, tt.token, "refresh_token")
		})
	}
	e.tb = t

	// Errors: RFC 7662 2.3 / RFC 6749 5.2.
	if w := e.post("/oidc/token/introspection", e.web, url.Values{}); w.Code != 400 || !strings.Contains(w.Body.String(), `"invalid_request"`) {
		t.Fatalf("no token: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest("POST", "/oidc/token/introspection", strings.NewReader(url.Values{"token": {web.opaque}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(e.web.ID, "wrong-secret")
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Code != 401 || !strings.Contains(w.Body.String(), `"invalid_client"`) || strings.Contains(w.Body.String(), "active") {
		t.Fatalf("bad client secret: %d %s", w.Code, w.Body)
	}
	// Logto (node-oidc-provider): no credentials at all is invalid_request, 400.
	if w := e.post("/oidc/token/introspection", nil, url.Values{"token": {web.opaque}}); w.Code != 400 || !strings.Contains(w.Body.String(), "no client authentication mechanism provided") {
		t.Fatalf("no client: %d %s", w.Code, w.Body)
	}
	if w := e.post("/oidc/token/introspection", e.web, url.Values{"token": {web.opaque}, "token_type_hint": {"a", "b"}}); w.Code != 400 {
		t.Fatalf("repeated parameter: %d %s", w.Code, w.Body)
	}
	if h := e.post("/oidc/token/introspection", e.web, url.Values{"token": {web.opaque}}).Header(); h.Get("Cache-Control") != "no-store" {
		t.Fatalf("introspection response cacheable: %v", h)
	}
}

// Active is decided at the request's time: each token dies at its own expiry, and all
// of them when the grant dies or the user is suspended.
func TestIntrospectionExpiryGrantAndUser(t *testing.T) {
	t.Run("expiry", func(t *testing.T) {
		e := newLifecycleEnv(t)
		web := e.issue(e.web)
		e.clock.Advance(16 * time.Minute) // the resource's JWTs live 900 s
		e.wantInactive(e.web, web.userJWT, "")
		e.wantActive(e.web, web.opaque, "", nil)
		e.clock.Advance(time.Hour) // opaque access tokens live 1 h
		e.wantInactive(e.web, web.opaque, "")
		e.wantActive(e.web, web.refresh, "", nil)
		e.clock.Advance(14 * 24 * time.Hour)
		e.wantInactive(e.web, web.refresh, "")
	})
	t.Run("grant revoked", func(t *testing.T) {
		// E.g. a replayed code, a logout, the Management API: every token of the grant.
		e := newLifecycleEnv(t)
		web := e.issue(e.web)
		if err := e.ac.RevokeGrant(t.Context(), web.grantID); err != nil {
			t.Fatal(err)
		}
		e.wantInactive(e.web, web.opaque, "")
		e.wantInactive(e.web, web.userJWT, "")
		e.wantInactive(e.web, web.refresh, "")
	})
	t.Run("user suspended", func(t *testing.T) {
		e := newLifecycleEnv(t)
		web := e.issue(e.web)
		e.wantActive(e.web, web.userJWT, "", nil)
		if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error { u.IsSuspended = true; return nil }); err != nil {
			t.Fatal(err)
		}
		e.wantInactive(e.web, web.opaque, "")
		e.wantInactive(e.web, web.userJWT, "")
		e.wantInactive(e.web, web.refresh, "")
	})
	t.Run("client deleted", func(t *testing.T) {
		e := newLifecycleEnv(t)
		cc := e.clientJWT()
		e.wantActive(e.m2m, cc, "", nil)
		// A deleted client can no longer authenticate to ask; check the rule itself
		// through introspectJWT with the client as it was.
		m2m := e.m2m
		if err := e.dir.DeleteApplication(t.Context(), m2m.ID); err != nil {
			t.Fatal(err)
		}
		resp, err := e.s.op.IntrospectJWT(t.Context(), m2m, cc)
		if err != nil || resp.Active {
			t.Fatalf("client_credentials JWT of a deleted client: %+v, %v", resp, err)
		}
	})
}

// Only the current refresh token is active: after a rotation the consumed one is not,
// even within the 3 s reuse window.
func TestIntrospectionRotatedRefreshToken(t *testing.T) {
	e := newLifecycleEnv(t)
	spa := e.issue(e.spa)
	familyID, secret, _ := strings.Cut(spa.refresh, ".")
	used, err := e.ac.UseRefreshToken(t.Context(), familyID, secret, e.spa.ID, "", nil, nil)
	if err != nil || !used.GetRotated() {
		t.Fatalf("SPA refresh: rotated %v, %v", used.GetRotated(), err)
	}
	e.wantInactive(e.spa, spa.refresh, "")
	e.wantActive(e.spa, familyID+"."+used.GetNextSecret(), "", map[string]any{"client_id": e.spa.ID})
}

func TestRevocation(t *testing.T) {
	e := newLifecycleEnv(t)
	revoke := func(t *testing.T, app *directory.Application, token, hint string) *httptest.ResponseRecorder {
		t.Helper()
		form := url.Values{"token": {token}}
		if hint != "" {
			form.Set("token_type_hint", hint)
		}
		return e.post("/oidc/token/revocation", app, form)
	}
	ok := func(t *testing.T, app *directory.Application, token, hint string) {
		t.Helper()
		if w := revoke(t, app, token, hint); w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("revocation = %d %q, want 200 and an empty body", w.Code, w.Body)
		}
	}
	userinfo := func(token string) int {
		r := httptest.NewRequest("GET", "/oidc/me", nil)
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		return w.Code
	}

	t.Run("refresh token revokes its family and grant", func(t *testing.T) {
		for _, hint := range []string{"", "refresh_token", "access_token", "urn:ietf:params:oauth:token-type:refresh_token", "bogus"} {
			e.tb = t
			web := e.issue(e.web)
			other := e.issue(e.web) // another grant of the same client and user: untouched
			ok(t, e.web, web.refresh, hint)
			e.wantInactive(e.web, web.refresh, "")
			e.wantInactive(e.web, web.opaque, "")
			e.wantInactive(e.web, web.userJWT, "")
			familyID, secret, _ := strings.Cut(web.refresh, ".")
			if _, err := e.ac.UseRefreshToken(t.Context(), familyID, secret, e.web.ID, "", nil, nil); err == nil {
				t.Fatalf("hint %q: a revoked refresh token still refreshes", hint)
			}
			e.wantActive(e.web, other.refresh, "", nil)
			e.wantActive(e.web, other.opaque, "", nil)
			ok(t, e.web, web.refresh, hint) // again: nothing to do, still 200
		}
	})
	t.Run("opaque access token: that token only", func(t *testing.T) {
		e.tb = t
		web := e.issue(e.web)
		second := e.opaqueToken(e.web, web.grantID)
		if userinfo(web.opaque) != 200 {
			t.Fatal("userinfo refuses a fresh token")
		}
		ok(t, e.web, web.opaque, "refresh_token") // a wrong hint is not trusted
		e.wantInactive(e.web, web.opaque, "")
		if code := userinfo(web.opaque); code != 401 {
			t.Fatalf("userinfo with a revoked token = %d", code)
		}
		e.wantActive(e.web, second, "", nil)
		e.wantActive(e.web, web.refresh, "", nil)
		e.wantActive(e.web, web.userJWT, "", nil)
	})
	t.Run("public client revokes its own refresh token", func(t *testing.T) {
		e.tb = t
		spa := e.issue(e.spa)
		ok(t, e.spa, spa.refresh, "")
		e.wantInactive(e.spa, spa.refresh, "")
	})
	t.Run("JWT: nothing to revoke, 200", func(t *testing.T) {
		e.tb = t
		web := e.issue(e.web)
		ok(t, e.web, web.userJWT, "access_token")
		e.wantActive(e.web, web.userJWT, "", nil)
	})
	t.Run("unknown and garbage tokens: 200", func(t *testing.T) {
		e.tb = t
		for _, tok := range []string{"x", "a.b", "a.b.c", "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", strings.Repeat("z", 4000)} {
			ok(t, e.web, tok, "")
			ok(t, e.web, tok, "refresh_token")
		}
	})
	t.Run("another client's token is not revoked", func(t *testing.T) {
		e.tb = t
		web := e.issue(e.web)
		// A confidential client is refused (RFC 7009 2.1, node-oidc-provider's policy).
		for _, tok := range []string{web.refresh, web.opaque} {
			w := revoke(t, e.other, tok, "")
			if w.Code != 400 || !strings.Contains(w.Body.String(), `"invalid_request"`) {
				t.Fatalf("foreign token by a confidential client: %d %s", w.Code, w.Body)
			}
		}
		// A public client gets 200, and nothing is revoked.
		ok(t, e.spa, web.refresh, "")
		ok(t, e.spa, web.opaque, "")
		e.wantActive(e.web, web.refresh, "", nil)
		e.wantActive(e.web, web.opaque, "", nil)
	})
	t.Run("request errors", func(t *testing.T) {
		e.tb = t
		if w := e.post("/oidc/token/revocation", e.web, url.Values{}); w.Code != 400 || !strings.Contains(w.Body.String(), `"invalid_request"`) {
			t.Fatalf("no token: %d %s", w.Code, w.Body)
		}
		if w := e.post("/oidc/token/revocation", nil, url.Values{"token": {"x"}}); w.Code != 400 || !strings.Contains(w.Body.String(), `"invalid_request"`) {
			t.Fatalf("no client: %d %s", w.Code, w.Body)
		}
		r := httptest.NewRequest("POST", "/oidc/token/revocation", strings.NewReader("token=x"))
		r.Header.Set("Content-Type", "application/json")
		r.SetBasicAuth(e.web.ID, e.secrets[e.web.ID])
		w := httptest.NewRecorder()
		e.h.ServeHTTP(w, r)
		if w.Code != 400 {
			t.Fatalf("JSON body: %d %s", w.Code, w.Body)
		}
	})
}

// Both endpoints answer CORS like the token endpoint: preflights and responses are
// readable by the client's own origins only.
func TestIntrospectionRevocationCORS(t *testing.T) {
	e := newLifecycleEnv(t)
	for _, path := range []string{"/oidc/token/introspection", "/oidc/token/revocation"} {
		for _, tt := range []struct{ origin, want string }{{ltSPAOrigin, ltSPAOrigin}, {"https://evil.example", ""}} {
			r := httptest.NewRequest("OPTIONS", path, nil)
			r.Header.Set("Origin", tt.origin)
			r.Header.Set("Access-Control-Request-Method", "POST")
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != tt.want {
				t.Fatalf("preflight %s from %s: %d %v", path, tt.origin, w.Code, w.Header())
			}
		}
		spa := e.issue(e.spa)
		form := url.Values{"token": {spa.refresh}, "client_id": {e.spa.ID}}
		for _, tt := range []struct{ origin, want string }{{ltSPAOrigin, ltSPAOrigin}, {"https://evil.example", ""}} {
			r := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", tt.origin)
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != tt.want {
				t.Fatalf("POST %s from %s: %d ACAO %q", path, tt.origin, w.Code, w.Header().Get("Access-Control-Allow-Origin"))
			}
		}
	}
}

// FuzzTokenDispatch feeds arbitrary tokens and hints to both endpoints: never a panic
// or a 5xx; introspection is exactly {"active": false}; revocation is 200 and empty.
// The shape check is also held to its contract: an opaque token splits back into
// itself, and only Latch-shaped keys reach a grain.
func FuzzTokenDispatch(f *testing.F) {
	e := newLifecycleEnv(f)
	web := e.issue(e.web)
	for _, s := range []string{"", "a", "a.b", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "..", ".", "\x00.\xff",
		web.opaque + "x", web.refresh[:len(web.refresh)-1], strings.Replace(web.userJWT, ".", "..", 1),
		"AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", web.userJWT[:len(web.userJWT)-2]} {
		f.Add(s, "")
		f.Add(s, "refresh_token")
	}
	f.Fuzz(func(t *testing.T, tok, hint string) {
		if key, secret, ok := actors.SplitIssuedToken(tok); ok && (key+"."+secret != tok || len(key) != 22 || len(secret) != 43) {
			t.Fatalf("SplitIssuedToken(%q) = %q %q", tok, key, secret)
		}
		e.tb = t
		form := url.Values{"token": {tok}, "token_type_hint": {hint}}
		w := e.post("/oidc/token/introspection", e.web, form)
		if tok == "" {
			if w.Code != 400 {
				t.Fatalf("empty token: %d %s", w.Code, w.Body)
			}
			return
		}
		if strings.ContainsRune(tok+hint, 0) {
			// Logto refuses a NUL byte in a request body (400), before anything else.
			if w.Code != 400 || !strings.Contains(w.Body.String(), "null bytes are not allowed") {
				t.Fatalf("NUL byte in %q: %d %s", tok+hint, w.Code, w.Body)
			}
			return
		}
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"active":false}` {
			t.Fatalf("introspection of %q: %d %s", tok, w.Code, w.Body)
		}
		if w := e.post("/oidc/token/revocation", e.web, url.Values{"token": {tok}, "token_type_hint": {hint}}); w.Code != 200 || w.Body.Len() != 0 {
			t.Fatalf("revocation of %q: %d %s", tok, w.Code, w.Body)
		}
	})
}

// BenchmarkIntrospect measures the introspection endpoint in process (handler, client
// authentication, the token's lookup), without the network: an opaque access token
// (one Grant grain hop), a refresh token (RefreshFamily -> Grant: two hops), a user
// JWT (ES256 verify + one Grant hop) and a client_credentials JWT (ES256 verify, no
// grain).
func BenchmarkIntrospect(b *testing.B) {
	e := newLifecycleEnv(b)
	web := e.issue(e.web)
	cc := e.clientJWT()
	for _, bb := range []struct {
		name  string
		app   *directory.Application
		token string
	}{
		{"opaque", e.web, web.opaque},
		{"refresh", e.web, web.refresh},
		{"jwt_user", e.web, web.userJWT},
		{"jwt_client_credentials", e.m2m, cc},
	} {
		b.Run(bb.name, func(b *testing.B) {
			body := url.Values{"token": {bb.token}}.Encode()
			secret := e.secrets[bb.app.ID]
			b.ReportAllocs()
			// Several requests in flight per core, as a server under load has: a grain
			// hop is mostly waiting.
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					r := httptest.NewRequest("POST", "/oidc/token/introspection", strings.NewReader(body))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					r.SetBasicAuth(bb.app.ID, secret)
					w := httptest.NewRecorder()
					e.h.ServeHTTP(w, r)
					if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"active":true`) {
						b.Fatalf("status %d: %s", w.Code, w.Body)
					}
				}
			})
		})
	}
}

// The Account API answers CORS for the applications' own origins only: preflights
// (with the logto-verification-id header allowed) and every answer, errors included, so
// that an application's page can call /api/my-account with the user's token.
func TestAccountAPICORS(t *testing.T) {
	e := newLifecycleEnv(t)
	for path, method := range map[string]string{"/api/my-account": "GET", "/api/my-account/password": "POST", "/api/verifications/password": "POST"} {
		for _, tt := range []struct{ origin, want string }{{ltSPAOrigin, ltSPAOrigin}, {"https://evil.example", ""}} {
			r := httptest.NewRequest("OPTIONS", path, nil)
			r.Header.Set("Origin", tt.origin)
			r.Header.Set("Access-Control-Request-Method", "POST")
			r.Header.Set("Access-Control-Request-Headers", "authorization, logto-verification-id")
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != tt.want {
				t.Fatalf("preflight %s from %s: %d %v", path, tt.origin, w.Code, w.Header())
			}
			if tt.want != "" && !strings.Contains(strings.ToLower(w.Header().Get("Access-Control-Allow-Headers")), "logto-verification-id") {
				t.Fatalf("preflight %s: allowed headers %q", path, w.Header().Get("Access-Control-Allow-Headers"))
			}
		}
		// An answer (here 401: no token) is readable by the application's origin only.
		for _, tt := range []struct{ origin, want string }{{ltSPAOrigin, ltSPAOrigin}, {"https://evil.example", ""}} {
			r := httptest.NewRequest(method, path, strings.NewReader("{}"))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Origin", tt.origin)
			w := httptest.NewRecorder()
			e.h.ServeHTTP(w, r)
			if w.Code != http.StatusUnauthorized || w.Header().Get("Access-Control-Allow-Origin") != tt.want {
				t.Fatalf("%s %s from %s: %d ACAO %q", method, path, tt.origin, w.Code, w.Header().Get("Access-Control-Allow-Origin"))
			}
		}
	}
	// Other routes answer no CORS.
	r := httptest.NewRequest("OPTIONS", "/api/users", nil)
	r.Header.Set("Origin", ltSPAOrigin)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("OPTIONS /api/users answered CORS: %v", w.Header())
	}
}

// OIDC errors carry Logto's code and message beside the OAuth error (its
// koa-oidc-error-handler), and error_uri for invalid_grant; ?parse_error=false gives the
// bare OAuth error, as Logto's does.
func TestOIDCErrorBodyAsLogto(t *testing.T) {
	e := newLifecycleEnv(t)
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope.nope"}}
	w := e.post("/oidc/token", e.spa, form)
	var got map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 400 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got["error"] != "invalid_grant" || got["code"] != "oidc.invalid_grant" || got["message"] != "Grant request is invalid." ||
		got["error_uri"] != "https://openid.sh/debug/invalid_grant" || got["error_description"] == "" {
		t.Fatalf("body %v", got)
	}
	w = e.post("/oidc/token?parse_error=false", e.spa, form)
	got = nil
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["error"] != "invalid_grant" || got["code"] != "" || got["message"] != "" {
		t.Fatalf("parse_error=false: %d %s", w.Code, w.Body)
	}
	w = e.post("/oidc/token", e.spa, url.Values{"grant_type": {"password"}})
	got = nil
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got["code"] != "oidc.unsupported_grant_type" ||
		got["message"] != "Unsupported `grant_type` requested." {
		t.Fatalf("unsupported grant: %d %s", w.Code, w.Body)
	}
}
