// Package bench is the load harness behind `latch bench`: scenarios, closed- and
// open-loop load, and honest reports, usable against Latch and against any other OpenID
// Provider so that they are measured by the same tool in the same run.
//
// It talks to the OP over HTTP only and imports nothing from the rest of Latch (a test
// keeps it so): Latch is set up through its Management API like any client would.
//
// # Honesty rules
//
//   - Open loop (--rate) schedules requests by intended start time and measures latency
//     from that time (coordinated omission corrected, as wrk2 does); the service time
//     from the actual send is kept next to it, so the correction is visible.
//   - Latencies go into HdrHistograms (1 µs to 1 h, 3 significant digits) and the whole
//     histogram is stored in the JSON report.
//   - Every failed request is counted under a class (transport, HTTP status, OAuth error
//     code, bad 2xx response; see ErrorClass), in warm-up too; scheduled requests that
//     were never sent are counted as errors. A run with errors says so in its first line
//     and exits with status 3.
//
// # Sign-in scenarios
//
// password-login, sso-code, refresh, org-token, userinfo, introspect and introspect-jwt drive the
// browser flows (authcode_flow.go) with one simulated browser per load goroutine: a
// cookie jar on the run's shared transport, redirects read from Location and never
// followed (the redirect URI, http://127.0.0.1:9/cb, need not be served). Setup creates
// an app and one user per load goroutine (up to 256) through the Management API, so the
// per-identifier password throttle never sees one account from many goroutines, and,
// except for password-login, signs every browser in before the load: sign-ins are not
// measured there. A failed request is counted, then its worker recovers within the same
// call (new refresh chain, new sign-in, new access token), so one failure is one error,
// not a cascade (browser_fleet.go). They need --target latch: the sign-in goes through
// the Experience API, which is Logto's, not standard OIDC.
//
// Their access tokens are opaque (no resource asked for), except introspect-jwt's: its
// setup also creates an API resource and its browsers ask for it (RFC 8707 resource, in
// the authorization request and the code exchange), so Latch issues JWT access tokens
// (RFC 9068): introspecting one verifies its signature before checking its grant, where
// an opaque one is looked up by its secret. Both introspect scenarios check at sign-in
// that the token is of their kind, and the report records it (introspectToken: opaque
// or jwt). The kinds are two scenarios, not a flag, so that each has its own name in
// `latch bench list`, in a --mix and in a report.
//
// The Argon2id parameters that dominate password-login are a server setting no
// endpoint reveals: the report cannot record them, so whoever starts the server must
// (scripts/bench.sh passes --argon2-memory explicitly and writes the parameters into
// its results file).
//
// # HTTP client
//
// The load generator usually shares the machine with the server it measures, so its
// own CPU per request is taken from the server. Every request goes through one
// *http.Client (NewClient); for http:// its transport is rawTransport, which does each
// exchange on the calling goroutine over pooled keep-alive connections and parses
// responses with net/http's own parser, for a fraction of http.Transport's CPU per
// request (BenchmarkTransport). It never retries a request. https:// goes through a
// tuned http.Transport.
//
// # Clusters
//
// --endpoints spreads a run over the nodes of a cluster that share one issuer
// (endpoints.go): the transport sends the requests for the issuer's origin to the nodes,
// setup to the first, each browser's requests to the nodes in turn (so a refresh family
// rotates through every node), any other request round-robin. Against Latch, each
// node's /metrics is read before and after the load for the share of grain calls that
// took a remote hop (remote_hops.go).
//
// # Adding a scenario
//
// One file, scenario_<name>.go, with a type implementing Scenario (Setup once, Do per
// request) and an init that calls register. Optional capabilities: WorkerScenario for
// per-goroutine state (buffers, a refresh-token chain, a session cookie), Teardowner to
// remove what Setup created, Describer for the parameters recorded in the report. Setup
// against Latch uses latchAdmin (Management API); against another OP it takes its inputs
// from Target (flags). Return errors from Do as *RequestError (StatusError,
// ResponseError, TransportError) so they are classified.
package bench
