package bench

import (
	"context"
	"errors"
	"sync/atomic"
)

func init() {
	register("password-login", "full sign-in: /oidc/auth -> Experience API password -> code + PKCE -> token",
		func() Scenario { return &passwordLogin{} })
}

// passwordLogin signs a user in from scratch on every request, as a new browser would:
// the authorization request (fresh PKCE verifier, state and nonce) sends it to the
// sign-in UI, the Experience API verifies the password (Argon2id on the server, the
// dominant cost), submit and resume create a session and a code, and the code is
// exchanged for tokens with client_secret_basic. Eight HTTP requests per sign-in.
//
// Each load goroutine signs in its own account (the password throttle is per
// identifier); the cookie jar is emptied before each request, so no sign-in is
// answered from a session.
type passwordLogin struct {
	fleet *browserFleet
	next  atomic.Uint64 // accounts for Do, round-robin
}

var (
	_ WorkerScenario = (*passwordLogin)(nil)
	_ Teardowner     = (*passwordLogin)(nil)
	_ Describer      = (*passwordLogin)(nil)
)

func (s *passwordLogin) Setup(ctx context.Context, env *Env) error {
	fleet, err := setupFleet(ctx, env, "password-login", fleetSpec{appType: "Traditional", scope: "openid profile"})
	if err != nil {
		return err
	}
	s.fleet = fleet
	// The Argon2id parameters are a server setting that no endpoint reveals; whoever
	// starts the server records them (scripts/bench.sh: --argon2-memory).
	fleet.params["passwordHashing"] = "Argon2id with the server's parameters (latch serve --argon2-memory; not visible over HTTP)"
	// One sign-in before the load: a misconfiguration fails here, with its reason.
	if err := s.signIn(ctx, newUserAgent(fleet.flow, fleet.user(0))); err != nil {
		return errors.Join(errors.New("password-login: the first sign-in failed: "+err.Error()), s.Teardown(ctx))
	}
	return nil
}

func (s *passwordLogin) signIn(ctx context.Context, ua *userAgent) error {
	ua.forget()
	_, err := ua.codeFlow(ctx, viaSignIn)
	return err
}

func (s *passwordLogin) NewWorker(id int) (Worker, error) {
	return &passwordLoginWorker{s: s, ua: newUserAgent(s.fleet.flow, s.fleet.user(id))}, nil
}

type passwordLoginWorker struct {
	s  *passwordLogin
	ua *userAgent
}

func (w *passwordLoginWorker) Do(ctx context.Context) error { return w.s.signIn(ctx, w.ua) }

// Do serves callers that ignore NewWorker: a new browser per call.
func (s *passwordLogin) Do(ctx context.Context) error {
	return s.signIn(ctx, newUserAgent(s.fleet.flow, s.fleet.user(int(s.next.Add(1)%maxBenchUsers))))
}

func (s *passwordLogin) Params() map[string]string {
	if s.fleet == nil {
		return nil
	}
	return s.fleet.params
}

func (s *passwordLogin) Teardown(ctx context.Context) error { return s.fleet.Teardown(ctx) }
