package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
	"github.com/latchid/latch/persistence"
)

// expClock is a settable clock, safe for concurrent use.
type expClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *expClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *expClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// expEnv is a Server with the test cluster member, a fresh directory holding one app
// and one user, and a fresh interaction for that app.
type expEnv struct {
	t      *testing.T
	s      *Server
	h      http.Handler
	dir    *directory.Directory
	clock  *expClock
	app    *directory.Application
	user   *directory.User
	uid    string
	cookie bool // send the _interaction cookie
}

const (
	tUsername = "alice"
	tEmail    = "Alice@Example.com"
	tPassword = "correct horse battery"
)

func newExpEnv(t *testing.T) *expEnv {
	t.Helper()
	clock := &expClock{t: time.Now()}
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir, err := directory.Open(t.Context(), directory.Config{Store: store, Now: clock.Now, Rand: rand.Reader,
		Argon2: directory.Argon2Params{Memory: 64, Time: 1}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := oidcflow.NewKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: dir, Keys: ring,
		Browser: testBrowser(t, "http://localhost:3001/oidc", dir, ring, clock.Now),
		Now:     clock.Now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	app, _, err := dir.CreateApplication(t.Context(), directory.NewApplication{
		Name: "Photo Album", Type: directory.AppSPA,
		OIDCClientMetadata: directory.OIDCClientMetadata{RedirectURIs: []string{"http://127.0.0.1:9/callback"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	user := createExpUser(t, dir, tUsername, tEmail, tPassword)
	e := &expEnv{t: t, s: s, h: s.Handler(), dir: dir, clock: clock, app: app, user: user, cookie: true}
	e.uid = e.newInteraction()
	return e
}

func createExpUser(t *testing.T, dir *directory.Directory, username, email, password string) *directory.User {
	t.Helper()
	in := directory.NewUser{Username: &username, Password: password}
	if email != "" {
		in.PrimaryEmail = &email
	}
	u, err := dir.CreateUser(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// newInteraction stores an interaction as /oidc/auth does and returns its uid.
func (e *expEnv) newInteraction() string {
	e.t.Helper()
	uid, err := op.RandomID(rand.Reader)
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.s.browser.Interactions.Create(e.t.Context(), &op.Interaction{
		UID: uid,
		Request: &oidcflow.AuthRequest{
			ClientID: e.app.ID, RedirectURI: "http://127.0.0.1:9/callback", Scopes: []string{"openid"},
			State: "st", CodeChallenge: "x", CodeChallengeMethod: "S256", MaxAge: -1,
		},
	})
	if err != nil {
		e.t.Fatalf("create interaction: %v", err)
	}
	return uid
}

// do sends a JSON request (body nil: none) with the interaction cookie.
func (e *expEnv) do(method, path string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, path, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if e.cookie {
		r.AddCookie(&http.Cookie{Name: cookieInteraction, Value: e.uid})
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// must sends the request and fails unless the status is want; it decodes the body
// into out when out is not nil.
func (e *expEnv) must(method, path string, body any, want int, out any) {
	e.t.Helper()
	w := e.do(method, path, body)
	if w.Code != want {
		e.t.Fatalf("%s %s = %d, want %d: %s", method, path, w.Code, want, w.Body)
	}
	if out != nil {
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			e.t.Fatalf("%s %s: decode %q: %v", method, path, w.Body, err)
		}
	}
}

// wantError checks an error answer: status, Logto code, and a message.
func (e *expEnv) wantError(method, path string, body any, status int, code string) APIError {
	e.t.Helper()
	w := e.do(method, path, body)
	var got APIError
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		e.t.Fatalf("%s %s: not a Logto error: %d %q", method, path, w.Code, w.Body)
	}
	if w.Code != status || got.Code != code || got.Message == "" {
		e.t.Fatalf("%s %s = %d %+v, want %d %s", method, path, w.Code, got, status, code)
	}
	return got
}

func pwBody(idType, value, password string) map[string]any {
	return map[string]any{"identifier": map[string]string{"type": idType, "value": value}, "password": password}
}

func (e *expEnv) start(event string) {
	e.t.Helper()
	e.must("PUT", "/api/experience", map[string]string{"interactionEvent": event}, http.StatusNoContent, nil)
}

func (e *expEnv) verify(idType, value, password string) string {
	e.t.Helper()
	var out struct{ VerificationID string }
	e.must("POST", "/api/experience/verification/password", pwBody(idType, value, password), http.StatusOK, &out)
	if out.VerificationID == "" {
		e.t.Fatal("no verificationId")
	}
	return out.VerificationID
}

func TestExperienceSignIn(t *testing.T) {
	for _, tt := range []struct{ name, idType, value string }{
		{"username", "username", tUsername},
		{"email, any case", "email", "alice@EXAMPLE.com"},
		{"phone, with +", "phone", "+15550001"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newExpEnv(t)
			passwordByAnyIdentifier(t, e.dir) // experience_passwordless_test.go
			if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error {
				phone := "15550001"
				u.PrimaryPhone = &phone
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			e.start("SignIn")
			vid := e.verify(tt.idType, tt.value, tPassword)

			var view interactionJSON
			e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
			if view.InteractionEvent != "SignIn" || view.UserID != "" || len(view.VerificationRecords) != 1 {
				t.Fatalf("interaction before identification = %+v", view)
			}
			if vr := view.VerificationRecords[0]; vr.ID != vid || vr.Type != "Password" || !vr.Verified ||
				vr.Identifier == nil || vr.Identifier.Type != tt.idType || vr.Identifier.Value != tt.value {
				t.Fatalf("verification record = %+v", vr)
			}

			e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNoContent, nil)
			var sub struct{ RedirectTo string }
			e.must("POST", "/api/experience/submit", nil, http.StatusOK, &sub)
			if want := "http://localhost:3001/oidc/auth/" + e.uid; sub.RedirectTo != want {
				t.Fatalf("redirectTo = %q, want %q", sub.RedirectTo, want)
			}
			e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
			if view.UserID != e.user.ID {
				t.Fatalf("userId = %q, want %q", view.UserID, e.user.ID)
			}
		})
	}
}

func TestExperienceNoSecretsInInteraction(t *testing.T) {
	e := newExpEnv(t)
	e.start("Register")
	e.must("POST", "/api/experience/profile", map[string]string{"type": "username", "value": "newbie"}, http.StatusNoContent, nil)
	e.must("POST", "/api/experience/profile", map[string]string{"type": "password", "value": "s3cret-enough"}, http.StatusNoContent, nil)
	w := e.do("GET", "/api/experience/interaction", nil)
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "argon2") || strings.Contains(w.Body.String(), "s3cret") {
		t.Fatalf("interaction view leaks a secret: %d %s", w.Code, w.Body)
	}
	if !strings.Contains(w.Body.String(), `"username":"newbie"`) {
		t.Fatalf("interaction view lacks the staged username: %s", w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Fatalf("Cache-Control = %q", got)
	}
}

func TestExperienceWrongPasswordAndUnknownUserAnswerAlike(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	answers := map[string]*httptest.ResponseRecorder{
		"wrong password":   e.do("POST", "/api/experience/verification/password", pwBody("username", tUsername, "wrong password")),
		"unknown username": e.do("POST", "/api/experience/verification/password", pwBody("username", "mallory", "wrong password")),
		"unknown email":    e.do("POST", "/api/experience/verification/password", pwBody("email", "nobody@example.com", "x")),
	}
	// A user without a password answers the same too.
	createExpUser(t, e.dir, "nopass", "", "")
	answers["user without password"] = e.do("POST", "/api/experience/verification/password", pwBody("username", "nopass", "anything"))

	want := answers["wrong password"]
	if want.Code != http.StatusUnprocessableEntity || !strings.Contains(want.Body.String(), `"session.invalid_credentials"`) {
		t.Fatalf("wrong password = %d %s", want.Code, want.Body)
	}
	for name, got := range answers {
		if got.Code != want.Code || got.Body.String() != want.Body.String() ||
			got.Header().Get("Content-Type") != want.Header().Get("Content-Type") {
			t.Errorf("%s = %d %s, want exactly %d %s", name, got.Code, got.Body, want.Code, want.Body)
		}
	}
}

func TestExperienceThrottle(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	path := "/api/experience/verification/password"
	for i := range defaultThrottle.MaxFailures {
		if w := e.do("POST", path, pwBody("username", tUsername, "guess")); w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("failure %d = %d %s, want 422", i+1, w.Code, w.Body)
		}
		e.clock.Advance(time.Second)
	}
	// Locked: even the right password is refused, without a check.
	got := e.wantError("POST", path, pwBody("username", tUsername, tPassword),
		http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")
	if !strings.Contains(got.Message, "10 minutes") {
		t.Errorf("message %q does not say when to retry", got.Message)
	}
	// Other identifiers, including the same account by email, are counted apart.
	e.verify("email", tEmail, tPassword)
	// Unknown identifiers are throttled the same way.
	for range defaultThrottle.MaxFailures {
		e.wantError("POST", path, pwBody("username", "mallory", "guess"), http.StatusUnprocessableEntity, "session.invalid_credentials")
	}
	e.wantError("POST", path, pwBody("username", "mallory", "guess"), http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")

	// Still locked just before the lockout ends, open after.
	// The lock lasts Lockout from the last failure (at +4 s; the clock is at +5 s).
	e.clock.Advance(defaultThrottle.Lockout - 2*time.Second)
	e.wantError("POST", path, pwBody("username", tUsername, tPassword), http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts")
	e.clock.Advance(time.Second)
	e.verify("username", tUsername, tPassword)
}

func TestExperienceSuspendedUser(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	vid := e.verify("username", tUsername, tPassword) // verified before the suspension
	if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error {
		u.IsSuspended = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Suspension shows only to someone who knows the password.
	e.wantError("POST", "/api/experience/verification/password", pwBody("username", tUsername, "wrong"), http.StatusUnprocessableEntity, "session.invalid_credentials")
	e.wantError("POST", "/api/experience/verification/password", pwBody("username", tUsername, tPassword), http.StatusUnauthorized, "user.suspended")
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusUnauthorized, "user.suspended")
}

func TestExperienceRegister(t *testing.T) {
	e := newExpEnv(t)
	e.start("Register")
	profile := "/api/experience/profile"
	e.wantError("POST", "/api/experience/identification", map[string]string{}, http.StatusUnprocessableEntity, "user.missing_profile")
	e.wantError("POST", profile, map[string]string{"type": "username", "value": tUsername}, http.StatusUnprocessableEntity, "user.username_already_in_use")
	e.wantError("POST", profile, map[string]string{"type": "username", "value": "9lives"}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", profile, map[string]string{"type": "email", "value": "x@example.com"}, http.StatusBadRequest, "guard.invalid_input")
	rej := e.wantError("POST", profile, map[string]string{"type": "password", "value": "short"}, http.StatusUnprocessableEntity, "password.rejected")
	if b, _ := json.Marshal(rej.Data); !strings.Contains(string(b), "password_rejected.too_short") {
		t.Errorf("password.rejected data = %s", b)
	}
	e.must("POST", profile, map[string]string{"type": "username", "value": "bob"}, http.StatusNoContent, nil)
	missing := e.wantError("POST", "/api/experience/identification", map[string]string{}, http.StatusUnprocessableEntity, "user.missing_profile")
	if b, _ := json.Marshal(missing.Data); string(b) != `{"missingProfile":["password"]}` {
		t.Errorf("missing profile data = %s", b)
	}
	e.must("POST", profile, map[string]string{"type": "password", "value": "bobs-password"}, http.StatusNoContent, nil)

	w := e.do("POST", "/api/experience/identification", map[string]string{})
	if w.Code != http.StatusCreated {
		t.Fatalf("identification = %d %s, want 201", w.Code, w.Body)
	}
	bob, ok := e.dir.UserByUsername("bob")
	if !ok {
		t.Fatal("user bob was not created")
	}
	if _, err := e.dir.VerifyUserPassword(bob.ID, "bobs-password"); err != nil {
		t.Fatalf("bob's password does not verify: %v", err)
	}
	var sub struct{ RedirectTo string }
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, &sub)
	var view interactionJSON
	e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
	if view.UserID != bob.ID {
		t.Fatalf("identified %q, want bob %q", view.UserID, bob.ID)
	}
}

func TestExperienceSubmitWithoutIdentification(t *testing.T) {
	e := newExpEnv(t)
	e.wantError("POST", "/api/experience/submit", nil, http.StatusNotFound, "session.interaction_not_found")
	e.start("SignIn")
	e.verify("username", tUsername, tPassword) // verified, not identified
	e.wantError("POST", "/api/experience/submit", nil, http.StatusNotFound, "session.identifier_not_found")
}

func TestExperienceIdentificationErrors(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	e.wantError("POST", "/api/experience/identification", map[string]string{}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": "nope"}, http.StatusNotFound, "session.verification_session_not_found")

	other := createExpUser(t, e.dir, "carol", "", "carols password")
	vid := e.verify("username", tUsername, tPassword)
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNoContent, nil)
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNoContent, nil) // idempotent
	vid2 := e.verify("username", *other.Username, "carols password")
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": vid2}, http.StatusConflict, "session.identity_conflict")
}

func TestExperienceNewEventResetsVerifications(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	vid := e.verify("username", tUsername, tPassword)
	e.start("SignIn")
	var view interactionJSON
	e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
	if len(view.VerificationRecords) != 0 {
		t.Fatalf("PUT /api/experience kept verifications: %+v", view.VerificationRecords)
	}
	e.wantError("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNotFound, "session.verification_session_not_found")
}

func TestExperienceInteractionEvent(t *testing.T) {
	e := newExpEnv(t)
	e.wantError("PUT", "/api/experience/interaction-event", map[string]string{"interactionEvent": "Register"}, http.StatusNotFound, "session.interaction_not_found")
	e.start("SignIn")
	var view interactionJSON
	e.must("PUT", "/api/experience/interaction-event", map[string]string{"interactionEvent": "Register"}, http.StatusNoContent, nil)
	e.must("GET", "/api/experience/interaction", nil, http.StatusOK, &view)
	if view.InteractionEvent != "Register" {
		t.Fatalf("event = %q after interaction-event", view.InteractionEvent)
	}
	e.wantError("PUT", "/api/experience", map[string]string{"interactionEvent": "ForgotPassword"}, http.StatusForbidden, "session.forgot_password_not_enabled")
	e.wantError("PUT", "/api/experience", map[string]string{"interactionEvent": "Dance"}, http.StatusBadRequest, "guard.invalid_input")
}

func TestExperienceWithoutInteraction(t *testing.T) {
	e := newExpEnv(t)
	routes := []struct {
		method, path string
		body         any
	}{
		{"PUT", "/api/experience", map[string]string{"interactionEvent": "SignIn"}},
		{"PUT", "/api/experience/interaction-event", map[string]string{"interactionEvent": "SignIn"}},
		{"GET", "/api/experience/interaction", nil},
		{"POST", "/api/experience/verification/password", pwBody("username", tUsername, tPassword)},
		{"POST", "/api/experience/identification", map[string]string{"verificationId": "x"}},
		{"POST", "/api/experience/profile", map[string]string{"type": "username", "value": "x"}},
		{"POST", "/api/experience/submit", nil},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e.t = t
			e.cookie = false
			e.wantError(rt.method, rt.path, rt.body, http.StatusBadRequest, "session.not_found")
			e.cookie, e.uid = true, "unknown-interaction"
			e.wantError(rt.method, rt.path, rt.body, http.StatusNotFound, "session.not_found")
			e.uid = strings.Repeat("u", maxInteractionUID+1)
			e.wantError(rt.method, rt.path, rt.body, http.StatusBadRequest, "session.not_found")
		})
	}
	// Before PUT /api/experience the interaction has no event: Logto's interaction_not_found.
	e.t = t
	e.cookie, e.uid = true, e.newInteraction()
	e.wantError("POST", "/api/experience/verification/password", pwBody("username", tUsername, tPassword), http.StatusNotFound, "session.interaction_not_found")
}

func TestExperienceBadBodies(t *testing.T) {
	e := newExpEnv(t)
	e.start("SignIn")
	path := "/api/experience/verification/password"
	e.wantError("POST", path, "not an object", http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", path, pwBody("", tUsername, tPassword), http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", path, pwBody("nickname", tUsername, tPassword), http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", path, pwBody("username", "", tPassword), http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", path, pwBody("username", tUsername, ""), http.StatusBadRequest, "guard.invalid_input")
}

func TestErrTooManyAttempts(t *testing.T) {
	for _, tt := range []struct {
		wait time.Duration
		want string
		secs int
	}{
		{10 * time.Minute, "in 10 minutes", 600},
		{30 * time.Second, "in 1 minute", 30},
		{0, "in 1 minute", 1},
	} {
		e := errTooManyAttempts(tt.wait)
		if !strings.Contains(e.Message, tt.want) || e.Data.(map[string]int)["retryAfterSeconds"] != tt.secs || e.Status != 429 {
			t.Errorf("wait %v: %+v", tt.wait, e)
		}
	}
}
