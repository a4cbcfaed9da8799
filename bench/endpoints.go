package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// Spreading a run over the nodes of a cluster (--endpoints): the nodes share one issuer,
// whose URL names the cluster's public address (the load balancer in front of them), so
// discovery, the sign-in redirects and every endpoint name that address. The load
// generator plays the load balancer: its transport sends each request whose URL is on
// the issuer's origin to one of the nodes instead, the path kept and the Host header
// left as the public host (as a proxy passes it on). The scenarios keep seeing the
// public URLs only: cookies, redirects and the iss check work as they would behind a
// real load balancer.
//
// Which node gets a request:
//   - setup and teardown (discovery, Management API calls): the first endpoint, so a
//     directory write is read back from the node that acknowledged it;
//   - a browser of the sign-in scenarios (refresh, sso-code, ...): its own requests go
//     to the nodes in turn, starting at a node of its own (browser i at node i mod n):
//     each refresh of a family goes to the node after the previous one's, so every
//     rotation crosses nodes, and the two requests of an sso-code round (authorize,
//     token) land on different nodes;
//   - every other request (client-credentials, ...): round-robin over the run.

// endpointRotation is what a report records of the policy above.
const endpointRotation = "setup on the first endpoint; each browser's requests (sign-in scenarios) to the endpoints in turn, starting at browser i mod n, so a refresh family rotates through every node; other requests round-robin"

// parseEndpoints reads --endpoints: comma-separated base URLs of the nodes
// (http://127.0.0.1:3001), each an origin (a path other than / is refused). It returns
// them normalized to scheme://host.
func parseEndpoints(s string) ([]string, error) {
	var out []string
	var errs []error
	seen := map[string]bool{}
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if err := checkHTTPURL(raw); err != nil {
			errs = append(errs, fmt.Errorf("--endpoints: %w", err))
			continue
		}
		u, _ := url.Parse(raw) // parsed by checkHTTPURL
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("--endpoints: %q: want a node's base URL (scheme://host:port), without path, query or credentials", raw))
			continue
		}
		o := u.Scheme + "://" + u.Host
		if seen[o] {
			errs = append(errs, fmt.Errorf("--endpoints: %s given twice", o))
			continue
		}
		seen[o] = true
		out = append(out, o)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("--endpoints: no endpoint given"))
	}
	return out, errors.Join(errs...)
}

// originOf is scheme://host of an absolute URL ("" if it is not one).
func originOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// endpointTransport sends the requests for the public origin to the nodes. It is safe
// for concurrent use; the shared one (the run's client) starts pinned to the first node
// and is switched to round-robin for the load (spread); fork makes a browser's own.
type endpointTransport struct {
	base http.RoundTripper
	// public is the scheme and host the scenarios' URLs name (the issuer's).
	publicScheme, publicHost string
	nodes                    []*url.URL // scheme and host of each node
	next                     atomic.Uint64
	// spreading: false sends everything to nodes[0] (setup and teardown).
	spreading atomic.Bool
}

var _ http.RoundTripper = (*endpointTransport)(nil)

// newEndpointTransport rewrites the requests for issuer's origin onto endpoints (origins,
// as parseEndpoints returns them) and sends them with base. It starts pinned to the
// first endpoint.
func newEndpointTransport(base http.RoundTripper, issuer string, endpoints []string) (*endpointTransport, error) {
	pub, err := url.Parse(issuer)
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	if len(endpoints) == 0 {
		return nil, errors.New("no endpoint")
	}
	t := &endpointTransport{base: base, publicScheme: pub.Scheme, publicHost: pub.Host}
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("endpoint %q is not an absolute URL", e)
		}
		t.nodes = append(t.nodes, &url.URL{Scheme: u.Scheme, Host: u.Host})
	}
	return t, nil
}

// spread switches the shared transport between pinned (false: every request to the
// first node) and round-robin (true).
func (t *endpointTransport) spread(on bool) { t.spreading.Store(on) }

// fork returns a transport of one browser: its requests go to the nodes in turn,
// starting at node start mod n, whether or not t is spreading.
func (t *endpointTransport) fork(start uint64) *endpointTransport {
	f := &endpointTransport{base: t.base, publicScheme: t.publicScheme, publicHost: t.publicHost, nodes: t.nodes}
	f.next.Store(start)
	f.spreading.Store(true)
	return f
}

// pick is the node of the next request for the public origin.
func (t *endpointTransport) pick() *url.URL {
	if !t.spreading.Load() || len(t.nodes) == 1 {
		return t.nodes[0]
	}
	return t.nodes[(t.next.Add(1)-1)%uint64(len(t.nodes))]
}

// RoundTrip implements http.RoundTripper: a request for the public origin goes to the
// next node (a shallow copy with the node's scheme and host; the Host header stays the
// public host), any other as it is.
func (t *endpointTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Host != t.publicHost || req.URL.Scheme != t.publicScheme {
		return t.base.RoundTrip(req)
	}
	node := t.pick()
	out := req.WithContext(req.Context()) // a shallow copy: RoundTrip must not modify req
	u := *req.URL
	u.Scheme, u.Host = node.Scheme, node.Host
	out.URL = &u
	if out.Host == "" {
		out.Host = req.URL.Host
	}
	return t.base.RoundTrip(out)
}

// CloseIdleConnections closes the base transport's idle connections (http.Client's
// CloseIdleConnections calls it).
func (t *endpointTransport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// browserTransport is the transport of a new browser on the run's client: its own
// rotation when the run is spread over endpoints (start: the browser's number), else
// the client's transport itself.
func browserTransport(rt http.RoundTripper, start uint64) http.RoundTripper {
	if et, ok := rt.(*endpointTransport); ok {
		return et.fork(start)
	}
	return rt
}

// latchIssuerPath is where Latch serves its issuer under a node's base URL.
const latchIssuerPath = "/oidc"

// discoverIssuer reads the issuer from the first endpoint's discovery document
// (<endpoint>/oidc, Latch's layout): what --endpoints without --issuer targets.
func discoverIssuer(ctx context.Context, client *http.Client, endpoint string) (string, error) {
	d, err := Discover(ctx, client, endpoint+latchIssuerPath)
	if err != nil {
		return "", fmt.Errorf("--endpoints without --issuer: %w (give --issuer)", err)
	}
	if d.Issuer == "" {
		return "", fmt.Errorf("--endpoints without --issuer: the discovery document of %s names no issuer (give --issuer)", endpoint+latchIssuerPath)
	}
	return d.Issuer, nil
}

// endpointsNote is the setup log's mention of --endpoints.
func endpointsNote(endpoints []string) string {
	if len(endpoints) == 0 {
		return ""
	}
	return fmt.Sprintf(", spread over %d endpoints", len(endpoints))
}
