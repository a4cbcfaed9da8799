package bench

// FAKE BROWSER FLOWS, FOR TESTING THE HARNESS MECHANICS ONLY (see fakeop_test.go).
//
// Just enough of Latch's browser sign-in for the sign-in scenarios to run their setup
// and requests over real HTTP: /oidc/auth with the _interaction and _session cookies,
// the Experience API's four sign-in calls, resume, the authorization_code grant with
// PKCE S256, the refresh_token grant (rotating for public clients), userinfo and introspection. It
// checks what a client could get wrong (cookies, state, PKCE, client authentication,
// redirect_uri, resource) and nothing else; its tokens are random strings, shaped as a
// JWT when a resource was asked for (RFC 8707), as Latch's are. Failure switches let
// the tests break a refresh chain or forget the sessions.

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
)

type fakeBrowserState struct {
	mu           sync.Mutex
	users        map[string]string // username -> password
	interactions map[string]*fakeInteraction
	sessions     map[string]string // session cookie -> username
	codes        map[string]fakeCode
	refresh      map[string]fakeGrant // live refresh token -> grant
	access       map[string]string    // access token -> username
	accessClient map[string]string    // access token -> client id it was issued to

	signIns, ssoCodes, exchanges, refreshes, rotations, userinfos, introspections atomic.Int64
	// failRefreshEvery, when > 0, revokes every n-th refresh token presented
	// (invalid_grant), as a replay would.
	failRefreshEvery atomic.Int64
	// dropSessions, when set, makes the next authorization forget every session.
	dropSessions atomic.Bool
	// wrongPasswords, when set, refuses every password.
	wrongPasswords atomic.Bool
	// ignoreResource, when set, issues opaque access tokens even for a resource.
	ignoreResource atomic.Bool
	// jwtAccessTokens counts the JWT-shaped access tokens issued.
	jwtAccessTokens atomic.Int64
}

type fakeInteraction struct {
	q          url.Values
	verified   map[string]string // verificationId -> username
	identified string
	submitted  bool
}

type fakeCode struct {
	q    url.Values
	user string
}

type fakeGrant struct {
	clientID, user string
}

func (op *fakeOP) routesBrowser(mux *http.ServeMux) {
	b := &op.browser
	b.users = map[string]string{}
	b.interactions = map[string]*fakeInteraction{}
	b.sessions = map[string]string{}
	b.codes = map[string]fakeCode{}
	b.refresh = map[string]fakeGrant{}
	b.access = map[string]string{}
	b.accessClient = map[string]string{}
	mux.HandleFunc("POST /api/users", op.create("user", http.StatusOK, func(id string, body map[string]any) map[string]any {
		b.mu.Lock()
		b.users[fmt.Sprint(body["username"])] = fmt.Sprint(body["password"])
		b.mu.Unlock()
		return map[string]any{"id": id, "username": body["username"]}
	}))
	mux.HandleFunc("GET /oidc/auth", op.authorize)
	mux.HandleFunc("GET /oidc/auth/{uid}", op.resume)
	mux.HandleFunc("PUT /api/experience", op.experience(http.StatusNoContent, nil))
	mux.HandleFunc("POST /api/experience/verification/password", op.experience(http.StatusOK, op.verifyPassword))
	mux.HandleFunc("POST /api/experience/identification", op.experience(http.StatusNoContent, op.identify))
	mux.HandleFunc("POST /api/experience/submit", op.experience(http.StatusOK, op.submit))
	mux.HandleFunc("GET /oidc/me", op.userinfo)
	mux.HandleFunc("POST /oidc/token/introspection", op.introspect)
}

func fakeRandom() string { return rand.Text() }

func (op *fakeOP) client(id string) (fakeClient, bool) {
	op.mu.Lock()
	defer op.mu.Unlock()
	c, ok := op.clients[id]
	return c, ok
}

func (op *fakeOP) authorize(w http.ResponseWriter, r *http.Request) {
	b := &op.browser
	q := r.URL.Query()
	c, ok := op.client(q.Get("client_id"))
	if !ok || !slices.Contains(c.redirectURIs, q.Get("redirect_uri")) {
		http.Error(w, "<html>unknown client or redirect_uri</html>", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
		redirectWith(w, q.Get("redirect_uri"), url.Values{"error": {"invalid_request"}, "state": {q.Get("state")}})
		return
	}
	for _, res := range q["resource"] {
		if !op.knownResource(res) { // RFC 8707 2
			redirectWith(w, q.Get("redirect_uri"), url.Values{"error": {"invalid_target"}, "state": {q.Get("state")}})
			return
		}
	}
	if b.dropSessions.Swap(false) {
		b.mu.Lock()
		clear(b.sessions)
		b.mu.Unlock()
	}
	if ck, err := r.Cookie("_session"); err == nil && q.Get("prompt") != "login" {
		b.mu.Lock()
		user, live := b.sessions[ck.Value]
		b.mu.Unlock()
		if live {
			b.ssoCodes.Add(1)
			op.redirectCode(w, q, user)
			return
		}
	}
	uid := fakeRandom()
	b.mu.Lock()
	b.interactions[uid] = &fakeInteraction{q: q, verified: map[string]string{}}
	b.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "_interaction", Value: uid, Path: "/", HttpOnly: true})
	http.Redirect(w, r, "/sign-in", http.StatusSeeOther)
}

func redirectWith(w http.ResponseWriter, uri string, v url.Values) {
	w.Header().Set("Location", uri+"?"+v.Encode())
	w.WriteHeader(http.StatusSeeOther)
}

func (op *fakeOP) redirectCode(w http.ResponseWriter, q url.Values, user string) {
	code := fakeRandom()
	op.browser.mu.Lock()
	op.browser.codes[code] = fakeCode{q: q, user: user}
	op.browser.mu.Unlock()
	redirectWith(w, q.Get("redirect_uri"), url.Values{"code": {code}, "state": {q.Get("state")}, "iss": {op.issuer()}})
}

func logtoError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%q,"message":"fake"}`, code)
}

// experience wraps an Experience API step: the _interaction cookie must name a live
// interaction; step (nil: nothing to do) gets the decoded JSON body.
func (op *fakeOP) experience(status int, step func(it *fakeInteraction, uid string, body map[string]any) (any, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ck, err := r.Cookie("_interaction")
		if err != nil {
			logtoError(w, 400, "session.not_found")
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		b := &op.browser
		b.mu.Lock()
		defer b.mu.Unlock()
		it := b.interactions[ck.Value]
		if it == nil {
			logtoError(w, 404, "session.not_found")
			return
		}
		var out any
		if step != nil {
			var code string
			if out, code = step(it, ck.Value, body); code != "" {
				logtoError(w, 422, code)
				return
			}
		}
		if out == nil {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}
}

func (op *fakeOP) verifyPassword(it *fakeInteraction, _ string, body map[string]any) (any, string) {
	ident, _ := body["identifier"].(map[string]any)
	user := fmt.Sprint(ident["value"])
	if pw, ok := op.browser.users[user]; !ok || ident["type"] != "username" || pw != body["password"] || op.browser.wrongPasswords.Load() {
		return nil, "session.invalid_credentials"
	}
	vid := fakeRandom()
	it.verified[vid] = user
	return map[string]string{"verificationId": vid}, ""
}

func (op *fakeOP) identify(it *fakeInteraction, _ string, body map[string]any) (any, string) {
	user, ok := it.verified[fmt.Sprint(body["verificationId"])]
	if !ok {
		return nil, "session.verification_session_not_found"
	}
	it.identified = user
	return nil, ""
}

func (op *fakeOP) submit(it *fakeInteraction, uid string, _ map[string]any) (any, string) {
	if it.identified == "" {
		return nil, "session.identifier_not_found"
	}
	it.submitted = true
	return map[string]string{"redirectTo": op.issuer() + "/auth/" + uid}, ""
}

func (op *fakeOP) resume(w http.ResponseWriter, r *http.Request) {
	b := &op.browser
	uid := r.PathValue("uid")
	ck, err := r.Cookie("_interaction")
	b.mu.Lock()
	it := b.interactions[uid]
	if err != nil || ck.Value != uid || it == nil || !it.submitted {
		b.mu.Unlock()
		http.Error(w, "<html>not started in this browser</html>", http.StatusBadRequest)
		return
	}
	delete(b.interactions, uid)
	sess := fakeRandom()
	b.sessions[sess] = it.identified
	b.mu.Unlock()
	b.signIns.Add(1)
	http.SetCookie(w, &http.Cookie{Name: "_interaction", Path: "/", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: "_session", Value: sess, Path: "/", HttpOnly: true, MaxAge: 3600})
	op.redirectCode(w, it.q, it.identified)
}

// userToken serves the authorization_code and refresh_token grants for client id
// (already authenticated).
func (op *fakeOP) userToken(w http.ResponseWriter, r *http.Request, id string, c fakeClient) {
	b := &op.browser
	f := r.PostForm
	var user, scope string
	b.mu.Lock()
	switch f.Get("grant_type") {
	case "authorization_code":
		code, ok := b.codes[f.Get("code")]
		delete(b.codes, f.Get("code"))
		if !ok || code.q.Get("client_id") != id || code.q.Get("redirect_uri") != f.Get("redirect_uri") ||
			pkceChallenge(f.Get("code_verifier")) != code.q.Get("code_challenge") {
			b.mu.Unlock()
			oauthError(w, 400, "invalid_grant", "bad code")
			return
		}
		// RFC 8707 2.2: a resource of the authorization request, or none.
		if res := f.Get("resource"); res != "" && !slices.Contains(code.q["resource"], res) {
			b.mu.Unlock()
			oauthError(w, 400, "invalid_target", "resource not in the authorization request")
			return
		}
		b.exchanges.Add(1)
		user, scope = code.user, code.q.Get("scope")
	case "refresh_token":
		g, ok := b.refresh[f.Get("refresh_token")]
		n := b.refreshes.Add(1)
		if every := b.failRefreshEvery.Load(); ok && every > 0 && n%every == 0 {
			delete(b.refresh, f.Get("refresh_token"))
			ok = false
		}
		if !ok || g.clientID != id {
			b.mu.Unlock()
			oauthError(w, 400, "invalid_grant", "bad refresh token")
			return
		}
		user, scope = g.user, "openid offline_access"
		if c.appType == "SPA" { // public clients rotate on every use
			delete(b.refresh, f.Get("refresh_token"))
			b.rotations.Add(1)
		} else {
			scope = "openid" // keep the same refresh token: not in the reply
		}
	}
	at := "at-" + fakeRandom()
	if f.Get("resource") != "" && !b.ignoreResource.Load() {
		at = fakeJWT()
		b.jwtAccessTokens.Add(1)
	}
	b.access[at] = user
	b.accessClient[at] = id
	out := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": 3600, "id_token": "x.y.z", "scope": scope}
	if scope == "openid offline_access" {
		rt := "rt-" + fakeRandom()
		b.refresh[rt] = fakeGrant{clientID: id, user: user}
		out["refresh_token"] = rt
	}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (op *fakeOP) userinfo(w http.ResponseWriter, r *http.Request) {
	b := &op.browser
	b.userinfos.Add(1)
	tok, ok := bearerOf(r)
	b.mu.Lock()
	user, live := b.access[tok]
	b.mu.Unlock()
	if !ok || !live {
		w.Header().Set("WWW-Authenticate", `Bearer realm="fake", error="invalid_token"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"sub":%q,"username":%q}`, "id-"+user, user)
}

// introspect is RFC 7662 2 as Latch answers it: client_secret_basic required, and a
// client sees only the access tokens issued to itself.
func (op *fakeOP) introspect(w http.ResponseWriter, r *http.Request) {
	b := &op.browser
	b.introspections.Add(1)
	id, secret, basic := r.BasicAuth()
	op.mu.Lock()
	c, known := op.clients[id]
	op.mu.Unlock()
	if !basic || !known || c.secret != secret {
		oauthError(w, 401, "invalid_client", "client authentication failed")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" {
		oauthError(w, 400, "invalid_request", "token is required")
		return
	}
	tok := r.PostForm.Get("token")
	b.mu.Lock()
	user, live := b.access[tok]
	owner := b.accessClient[tok]
	b.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !live || owner != id {
		fmt.Fprint(w, `{"active":false}`)
		return
	}
	fmt.Fprintf(w, `{"active":true,"client_id":%q,"sub":%q,"token_type":"Bearer"}`, id, "id-"+user)
}

// fakeJWT is shaped like an RFC 9068 access token (header.payload.signature, each
// base64url) and signs nothing.
func fakeJWT() string {
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"ES256","typ":"at+jwt"}`)) + "." +
		enc.EncodeToString([]byte(`{"jti":"`+fakeRandom()+`"}`)) + "." + enc.EncodeToString([]byte(fakeRandom()))
}

func bearerOf(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && h[:7] == "Bearer " {
		return h[7:], true
	}
	return "", false
}

// revokeAccessTokens makes every access token issued so far invalid.
func (op *fakeOP) revokeAccessTokens() {
	op.browser.mu.Lock()
	clear(op.browser.access)
	clear(op.browser.accessClient)
	op.browser.mu.Unlock()
}
