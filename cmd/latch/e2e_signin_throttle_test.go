package main

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// A sign-in lockout is logged and outlives a restart of the node: serve gives the
// throttle the node's store.
func TestSignInLockoutSurvivesRestart(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	b := newBrowser(t, n.endpoint)
	loc := b.redirect(e.webConfig().AuthCodeURL("st-lock", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if loc.Path != "/sign-in" || !b.hasCookie("_interaction") {
		t.Fatalf("authorize -> %s (interaction cookie %v)", loc, b.hasCookie("_interaction"))
	}
	if st, body := b.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		t.Fatalf("PUT /api/experience = %d %v", st, body)
	}
	verify := func(password string) (int, map[string]any) {
		return b.experience("POST", "/api/experience/verification/password", map[string]any{
			"identifier": map[string]any{"type": "username", "value": browserUser}, "password": password,
		})
	}
	for i := range 5 {
		if st, body := verify("wrong-password"); st != http.StatusUnprocessableEntity {
			t.Fatalf("guess %d = %d %v, want 422", i+1, st, body)
		}
	}
	if st, body := verify(browserPassword); st != http.StatusTooManyRequests || body["code"] != "session.verification_blocked_too_many_attempts" {
		t.Fatalf("after 5 failures = %d %v, want 429", st, body)
	}
	if out := n.out.String(); !strings.Contains(out, `msg="sign-in lockout"`) || !strings.Contains(out, "source=127.0.0.1") ||
		strings.Contains(out, browserUser) {
		t.Fatalf("lockout not logged as expected (or the log names the identifier):\n%s", out)
	}

	n.stop()
	startNodeOn(t, n.cfg.Data, strings.TrimPrefix(n.endpoint, "http://"), nil)
	if st, body := verify(browserPassword); st != http.StatusTooManyRequests {
		t.Fatalf("after a restart = %d %v, want the lockout to hold (429)", st, body)
	}
}
