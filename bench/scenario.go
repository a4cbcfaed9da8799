package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
)

// Scenario is one kind of request the harness can drive. Each scenario lives in its own
// file (scenario_<name>.go) and registers itself from init with register.
//
// Life cycle: Setup once (discovery, creating apps and users through the Management API,
// signing in to get the tokens it will refresh...), then Do once per request from many
// goroutines at the same time, then Teardown if the scenario implements Teardowner.
type Scenario interface {
	// Setup prepares everything the requests need. It runs once, before any load,
	// and its time is not measured.
	Setup(ctx context.Context, env *Env) error
	// Do performs one request and returns nil on success, or an error that Classify
	// understands (return *RequestError built by StatusError, ResponseError,
	// TransportError). Safe for concurrent use; should not allocate large objects.
	Do(ctx context.Context) error
}

// Worker is the per-goroutine state a scenario may want (reused buffers, a cookie jar,
// the refresh token this goroutine rotates). Used only from one goroutine.
type Worker interface {
	Do(ctx context.Context) error
}

// WorkerScenario is an optional capability: the harness calls NewWorker once per load
// goroutine and then calls the worker's Do instead of the scenario's.
type WorkerScenario interface {
	Scenario
	NewWorker(id int) (Worker, error)
}

// OpWorker is an optional capability of a Worker whose requests are of several kinds
// (the mixed scenario): DoOp returns the index, into Ops(), of the operation it ran,
// so the report can break latency and errors down per operation.
type OpWorker interface {
	DoOp(ctx context.Context) (op int, err error)
}

// OpScenario names the operations an OpWorker reports.
type OpScenario interface {
	Ops() []string
}

// Teardowner is an optional capability: remove what Setup created.
type Teardowner interface {
	Teardown(ctx context.Context) error
}

// Describer is an optional capability: the parameters recorded in the JSON report
// (never secrets).
type Describer interface {
	Params() map[string]string
}

// Env is what a scenario's Setup gets: the target description, the HTTP client all
// requests must use (tuned transport, per-request timeout) and a log for setup steps.
type Env struct {
	Target Target
	Client *http.Client
	Log    io.Writer
	// Mix is the --mix specification, used by the mixed scenario.
	Mix string
	// Workers is how many load goroutines the run will ask NewWorker for (ids
	// 0..Workers-1): scenarios with per-worker accounts or sessions prepare that many
	// in Setup, so that none of it is measured. 0 means 1.
	Workers int
}

// workers is Workers, at least 1.
func (e *Env) workers() int { return max(1, e.Workers) }

func (e *Env) logf(format string, args ...any) {
	if e.Log != nil {
		fmt.Fprintf(e.Log, format+"\n", args...)
	}
}

// Target describes the OpenID Provider under test.
type Target struct {
	// Kind is "latch" (setup through the Management API) or "generic" (any OP; the
	// client credentials and parameters come from flags).
	Kind string `json:"kind"`
	// Issuer; discovery is <Issuer>/.well-known/openid-configuration.
	Issuer string `json:"issuer"`
	// Endpoints (--endpoints) are the base URLs of the cluster nodes the requests for
	// the issuer's host are sent to instead (endpoints.go); EndpointRotation says how.
	Endpoints        []string `json:"endpoints,omitempty"`
	EndpointRotation string   `json:"endpointRotation,omitempty"`
	// TokenEndpoint overrides the discovered token_endpoint.
	TokenEndpoint string `json:"tokenEndpoint,omitempty"`
	// IntrospectionEndpoint overrides the discovered introspection_endpoint (Ory Hydra
	// serves introspection on its admin port and does not advertise it).
	IntrospectionEndpoint string `json:"introspectionEndpoint,omitempty"`
	ClientID              string `json:"clientId,omitempty"`
	ClientSecret          string `json:"-"`
	// Resource is sent as `resource` (RFC 8707) when set.
	Resource string `json:"resource,omitempty"`
	// Audience is sent as `audience` (Auth0-style providers) when set.
	Audience string `json:"audience,omitempty"`
	Scope    string `json:"scope,omitempty"`
	// AuthMethod is "basic" (client_secret_basic) or "post" (client_secret_post).
	AuthMethod string `json:"authMethod"`
	// Latch only: the admin M2M app used for setup.
	AdminClientID     string `json:"adminClientId,omitempty"`
	AdminClientSecret string `json:"-"`
	// Keep leaves what setup created in place (no teardown).
	Keep bool `json:"keep,omitempty"`
}

// Factory builds a fresh, not yet set up, scenario.
type Factory func() Scenario

type registration struct {
	factory Factory
	summary string
}

// registry is filled by init functions (one per scenario file) and read-only afterwards.
var registry = map[string]registration{}

// register adds a scenario (from an init function).
func register(name, summary string, f Factory) {
	if _, ok := registry[name]; ok {
		panic("bench: scenario registered twice: " + name)
	}
	registry[name] = registration{factory: f, summary: summary}
}

// NewScenario builds the scenario registered under name.
func NewScenario(name string) (Scenario, error) {
	r, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown scenario %q (known: %v)", name, ScenarioNames())
	}
	return r.factory(), nil
}

// ScenarioNames lists the registered scenarios, sorted.
func ScenarioNames() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ScenarioInfo describes a registered scenario for `latch bench list`.
type ScenarioInfo struct {
	Name    string
	Summary string
}

// Scenarios describes every registered scenario, sorted by name.
func Scenarios() []ScenarioInfo {
	var out []ScenarioInfo
	for _, n := range ScenarioNames() {
		r := registry[n]
		out = append(out, ScenarioInfo{Name: n, Summary: r.summary})
	}
	return out
}

// newWorker returns the per-goroutine worker of s.
func newWorker(s Scenario, id int) (Worker, error) {
	if ws, ok := s.(WorkerScenario); ok {
		return ws.NewWorker(id)
	}
	return s, nil
}

// opsOf returns the operation names of s, or nil when it has a single operation.
func opsOf(s Scenario) []string {
	if os, ok := s.(OpScenario); ok {
		if ops := os.Ops(); len(ops) > 1 {
			return slices.Clone(ops)
		}
	}
	return nil
}

// byTarget is a scenario that runs one way against Latch and another against any other
// OP: Setup picks by Target.Kind, and every capability of the chosen one shows through.
// The two share a name, so a report of Latch and one of a peer line up in compare.
type byTarget struct {
	latch, generic Scenario
	chosen         Scenario
}

var (
	_ WorkerScenario = (*byTarget)(nil)
	_ Teardowner     = (*byTarget)(nil)
	_ Describer      = (*byTarget)(nil)
)

func (s *byTarget) Setup(ctx context.Context, env *Env) error {
	s.chosen = s.generic
	if env.Target.Kind == "latch" {
		s.chosen = s.latch
	}
	return s.chosen.Setup(ctx, env)
}

func (s *byTarget) Do(ctx context.Context) error { return s.chosen.Do(ctx) }

func (s *byTarget) NewWorker(id int) (Worker, error) { return newWorker(s.chosen, id) }

// RawAddr forwards the chosen scenario's RawTarget ("" if it has none).
func (s *byTarget) RawAddr() string {
	if rt, ok := s.chosen.(RawTarget); ok {
		return rt.RawAddr()
	}
	return ""
}

func (s *byTarget) Teardown(ctx context.Context) error {
	if t, ok := s.chosen.(Teardowner); ok {
		return t.Teardown(ctx)
	}
	return nil
}

func (s *byTarget) Params() map[string]string {
	if d, ok := s.chosen.(Describer); ok {
		return d.Params()
	}
	return nil
}
