package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// What the sign-in scenarios (password-login, sso-code, refresh, userinfo, introspect)
// share: the app and the accounts they create through the Management API, and the life cycle of
// a browser that must stay signed in.

// redirectURIBench is the redirect URI of the apps the scenarios create. Nothing serves
// it (port 9 is discard): the code is read from the Location header, never followed.
const redirectURIBench = "http://127.0.0.1:9/cb"

// maxBenchUsers bounds the accounts a run creates (each creation hashes a password with
// Argon2id on the server); beyond it, load goroutines share accounts round-robin. The
// password throttle only counts failures, so sharing is safe, just less spread.
const maxBenchUsers = 256

// fleetSpec is what a sign-in scenario asks for.
type fleetSpec struct {
	appType string // "Traditional" (confidential, client_secret_basic) or "SPA" (public)
	scope   string
	prompt  string
	// jwtAccessToken: ask for an API resource (RFC 8707) at sign-in, so that the access
	// tokens are JWTs (RFC 9068). Against Latch, setup creates the resource; another
	// OP's would come from --resource.
	jwtAccessToken bool
	// organization: setup creates an organization (Logto's organizations) whose
	// members are the users, with a role holding one organization scope; the flow asks
	// for urn:logto:scope:organizations and that scope at sign-in, and every refresh
	// carries organization_id (an organization token, Logto RFC 0001). Latch only.
	organization bool
}

// browserFleet is the setup of a sign-in scenario against Latch: one app, one user per
// load goroutine (up to maxBenchUsers), and the shared signInFlow.
type browserFleet struct {
	admin  *latchAdmin
	flow   *signInFlow
	users  []benchUser
	keep   bool
	params map[string]string
}

// setupFleet creates the app and the users of scenario name. It needs a Latch target
// (the Experience API and the Management API are Logto's, not standard OIDC).
func setupFleet(ctx context.Context, env *Env, name string, spec fleetSpec) (_ *browserFleet, err error) {
	t := env.Target
	if spec.jwtAccessToken && t.Kind != "latch" && t.Resource == "" {
		return nil, fmt.Errorf("%s: --target %s needs --resource: the resource indicator (RFC 8707) of the API whose JWT access tokens it asks for (with --target latch, setup creates one)", name, t.Kind)
	}
	if t.Kind != "latch" {
		return nil, fmt.Errorf("%s: needs --target latch: it creates its app and users through the Management API and signs in through the Experience API", name)
	}
	if t.ClientID != "" || t.Resource != "" || t.Audience != "" || t.Scope != "" {
		env.logf("%s: note: --client-id, --resource, --audience and --scope are for client-credentials; this scenario creates its own app and users", name)
	}
	ep, err := discoverFlow(ctx, env)
	if err != nil {
		return nil, err
	}
	admin, err := newLatchAdmin(ctx, env, ep.Token)
	if err != nil {
		return nil, err
	}
	b := &browserFleet{admin: admin, keep: t.Keep}
	defer func() {
		if err != nil {
			err = errors.Join(err, b.Teardown(ctx))
		}
	}()
	var resource string
	if spec.jwtAccessToken {
		res, err := admin.createResource(ctx, "latch-bench-"+name)
		if err != nil {
			return nil, err
		}
		resource = res.Indicator
		env.logf("setup: created API resource %s (%s)", res.ID, resource)
	}
	app, err := admin.createUserApp(ctx, "latch-bench-"+name, spec.appType, redirectURIBench)
	if err != nil {
		return nil, err
	}
	n := min(env.workers(), maxBenchUsers)
	if env.workers() > n {
		env.logf("%s: %d load goroutines share %d accounts", name, env.workers(), n)
	}
	if b.users, err = admin.createUsers(ctx, "bench", n); err != nil {
		return nil, err
	}
	scope := spec.scope
	var org *benchOrganization
	if spec.organization {
		ids := make([]string, len(b.users))
		for i, u := range b.users {
			ids[i] = u.ID
		}
		if org, err = admin.createOrganization(ctx, "latch-bench-"+name, ids); err != nil {
			return nil, err
		}
		scope += " " + orgScopeOrganizations + " " + org.Scope
	}
	b.flow = newSignInFlow(ep, app, scope, spec.prompt, env.Client)
	b.flow.resource = resource
	if org != nil {
		b.flow.organizationID, b.flow.organizationScope = org.ID, org.Scope
	}
	b.params = map[string]string{
		"authorizationEndpoint": ep.Authorization,
		"tokenEndpoint":         ep.Token,
		"clientId":              app.ID,
		"appType":               app.Type,
		"redirectUri":           app.RedirectURI,
		"scope":                 scope,
		"prompt":                spec.prompt,
		"users":                 strconv.Itoa(len(b.users)),
	}
	if resource != "" {
		b.params["resource"] = resource
	}
	if org != nil {
		b.params["organizationId"] = org.ID
	}
	return b, nil
}

// user returns the account of load goroutine id.
func (b *browserFleet) user(id int) benchUser { return b.users[id%len(b.users)] }

// Teardown deletes the users and the app (unless --keep). Sessions and grants the run
// created expire on their own.
func (b *browserFleet) Teardown(ctx context.Context) error {
	if b == nil || b.admin == nil || b.keep {
		return nil
	}
	return b.admin.teardown(ctx)
}

// sessionTask is what differs between the scenarios that work from a signed-in
// browser: how the browser gets ready (sign in, obtain a token) and what one measured
// request is. A task belongs to one goroutine at a time.
type sessionTask interface {
	bootstrap(ctx context.Context) error
	request(ctx context.Context) error
}

// sessionWorker runs a task and keeps its browser usable. A request that fails is
// counted, then the worker bootstraps again within the same call (so the recovery's
// time is charged to the failed request, not to a later successful one): a refresh
// chain is restarted, a lost session signed in again. If that fails too, the next
// call bootstraps first, and returns the bootstrap's error if it fails again.
type sessionWorker struct {
	task  sessionTask
	ready bool
}

func (w *sessionWorker) Do(ctx context.Context) error {
	if err := w.prepare(ctx); err != nil {
		return err
	}
	return w.recover(ctx, w.task.request(ctx))
}

// prepare bootstraps the browser if it is not ready.
func (w *sessionWorker) prepare(ctx context.Context) error {
	if w.ready {
		return nil
	}
	if err := w.task.bootstrap(ctx); err != nil {
		return err
	}
	w.ready = true
	return nil
}

// recover bootstraps the browser again after a failed request (unless the run is
// over) and returns the request's error.
func (w *sessionWorker) recover(ctx context.Context, err error) error {
	if err != nil && ctx.Err() == nil {
		w.ready = w.task.bootstrap(ctx) == nil
	}
	return err
}

// rawSessionTask is a sessionTask with a raw form, for the epoll engine: its request
// rendered as bytes and its response judged from a raw response, with request's checks
// and error classes.
type rawSessionTask interface {
	sessionTask
	// rawEndpoint is the URL the raw requests go to (they must share a host:port).
	rawEndpoint() string
	rawRequest() ([]byte, error)
	rawResponse(r *rawResponse) error
}

// rawSessionWorker is a sessionWorker whose task has a raw form; it keeps the browser
// usable the same way (prepare, recover), on the event loop. task is the worker's own
// task, typed for its raw form.
type rawSessionWorker struct {
	*sessionWorker
	task rawSessionTask
}

var _ RawWorker = (*rawSessionWorker)(nil)

func (w *rawSessionWorker) RawRequest(ctx context.Context) ([]byte, error) {
	if err := w.prepare(ctx); err != nil {
		return nil, err
	}
	return w.task.rawRequest()
}

func (w *rawSessionWorker) RawResponse(ctx context.Context, r *rawResponse) error {
	return w.recover(ctx, w.task.rawResponse(r))
}

// sessionScenario is a scenario whose load goroutines each own a signed-in browser,
// prepared in Setup (sign-ins are not measured).
type sessionScenario struct {
	name    string
	spec    fleetSpec
	newTask func(ua *userAgent) sessionTask
	// extraParams are recorded in the report next to the fleet's.
	extraParams map[string]string

	fleet   *browserFleet
	workers []*sessionWorker

	mu    sync.Mutex
	idle  []*sessionWorker // lent to Do (callers that ignore NewWorker)
	spare int              // workers made for Do so far, for round-robin accounts
}

var (
	_ WorkerScenario = (*sessionScenario)(nil)
	_ Teardowner     = (*sessionScenario)(nil)
	_ Describer      = (*sessionScenario)(nil)
	_ RawTarget      = (*sessionScenario)(nil)
)

// setupParallelism bounds concurrent sign-ins during setup (each verifies an Argon2id
// hash on the server).
const setupParallelism = 4

func (s *sessionScenario) Setup(ctx context.Context, env *Env) error {
	fleet, err := setupFleet(ctx, env, s.name, s.spec)
	if err != nil {
		return err
	}
	s.fleet = fleet
	s.workers = make([]*sessionWorker, env.workers())
	errs := make([]error, len(s.workers))
	sem := make(chan struct{}, setupParallelism)
	var wg sync.WaitGroup
	for i := range s.workers {
		w := &sessionWorker{task: s.newTask(newUserAgent(fleet.flow, fleet.user(i)))}
		s.workers[i] = w
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if errs[i] = w.task.bootstrap(ctx); errs[i] == nil {
				w.ready = true
			}
		})
	}
	wg.Wait()
	// Report the first failure only: the others are usually the same.
	for i, err := range errs {
		if err != nil {
			return errors.Join(fmt.Errorf("%s: signing in browser %d (%s): %w", s.name, i, fleet.user(i).Username, err), s.Teardown(ctx))
		}
	}
	env.logf("setup: %d browsers signed in", len(s.workers))
	return nil
}

// NewWorker hands load goroutine id the browser prepared for it; beyond those, a new
// browser that signs in on its first request.
// A task with a raw form gets a worker the epoll engine can drive too.
func (s *sessionScenario) NewWorker(id int) (Worker, error) {
	w := &sessionWorker{task: s.newTask(newUserAgent(s.fleet.flow, s.fleet.user(id)))}
	if id >= 0 && id < len(s.workers) {
		w = s.workers[id]
	}
	if rt, ok := w.task.(rawSessionTask); ok {
		return &rawSessionWorker{sessionWorker: w, task: rt}, nil
	}
	return w, nil
}

// RawAddr implements RawTarget: the host:port of the task's endpoint, "" when the task
// has no raw form or the endpoint is not http://.
func (s *sessionScenario) RawAddr() string {
	if len(s.workers) == 0 {
		return ""
	}
	rt, ok := s.workers[0].task.(rawSessionTask)
	if !ok {
		return ""
	}
	return rawAddrOf(rt.rawEndpoint())
}

// Do serves callers that ignore NewWorker: it borrows an idle browser, or makes one
// that signs in on this request.
func (s *sessionScenario) Do(ctx context.Context) error {
	s.mu.Lock()
	var w *sessionWorker
	if n := len(s.idle); n > 0 {
		w, s.idle = s.idle[n-1], s.idle[:n-1]
	} else {
		w = &sessionWorker{task: s.newTask(newUserAgent(s.fleet.flow, s.fleet.user(s.spare)))}
		s.spare++
	}
	s.mu.Unlock()
	err := w.Do(ctx)
	s.mu.Lock()
	s.idle = append(s.idle, w)
	s.mu.Unlock()
	return err
}

func (s *sessionScenario) Params() map[string]string {
	if s.fleet == nil {
		return nil
	}
	p := make(map[string]string, len(s.fleet.params)+len(s.extraParams))
	for k, v := range s.fleet.params {
		p[k] = v
	}
	for k, v := range s.extraParams {
		p[k] = v
	}
	return p
}

// Teardown deletes what Setup created; calling it again does nothing.
func (s *sessionScenario) Teardown(ctx context.Context) error {
	return s.fleet.Teardown(ctx)
}
