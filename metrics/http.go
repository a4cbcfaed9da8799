package metrics

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTP implements httpapi.Metrics: request counts and latency per route pattern and
// status class, token requests per grant type and outcome, sign-in lockouts.
type HTTP struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	tokens   *prometheus.CounterVec
	tokenDur *prometheus.HistogramVec
	lockouts prometheus.Counter

	// tokenChildren caches the token children per (grant type, result): both sets are
	// small and fixed, so a request after the first of its kind allocates nothing.
	tokenChildren sync.Map // tokenKey -> *tokenChild
}

type tokenKey struct{ grant, result string }

type tokenChild struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// NewHTTP registers the HTTP collectors on reg.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	m := &HTTP{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "http", Name: "requests_total",
			Help: "HTTP requests by route pattern, method and status class (2xx, 4xx, ...).",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "http", Name: "request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status class.",
			Buckets: latencyBuckets,
		}, []string{"route", "method", "code"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "token", Name: "requests_total",
			Help: "Token endpoint requests by grant type and result (success, or the OAuth error code).",
		}, []string{"grant_type", "result"}),
		tokenDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace, Subsystem: "token", Name: "request_duration_seconds",
			Help:    "Token endpoint latency by grant type and result.",
			Buckets: latencyBuckets,
		}, []string{"grant_type", "result"}),
		lockouts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: Namespace, Subsystem: "signin", Name: "lockouts_total",
			Help: "Sign-in identifiers locked out by the password throttle.",
		}),
	}
	reg.MustRegister(m.requests, m.duration, m.tokens, m.tokenDur, m.lockouts)
	return m
}

// statusClasses are the code label values, by status/100.
var statusClasses = [...]string{"other", "1xx", "2xx", "3xx", "4xx", "5xx"}

// Route returns the observer of one registered route. Its children, per status class,
// are resolved on the first request of that class and kept: a later request costs two
// atomic adds and a bucket search, and a route or class never served exports nothing.
// It is called once per route, when the router is built.
func (m *HTTP) Route(method, pattern string) func(status int, elapsed time.Duration) {
	var children [len(statusClasses)]atomic.Pointer[routeChild]
	return func(status int, elapsed time.Duration) {
		i := status / 100
		if i < 1 || i >= len(statusClasses) {
			i = 0
		}
		c := children[i].Load()
		if c == nil {
			c = &routeChild{
				count: m.requests.WithLabelValues(pattern, method, statusClasses[i]),
				dur:   m.duration.WithLabelValues(pattern, method, statusClasses[i]),
			}
			children[i].Store(c) // a racing first request stores the same children
		}
		c.count.Inc()
		c.dur.Observe(elapsed.Seconds())
	}
}

type routeChild struct {
	count prometheus.Counter
	dur   prometheus.Observer
}

// Token records one token request. grantType is what the client sent: one outside the
// grant types Latch knows is counted as "other", so a client cannot grow the label set.
// result is "success" or the registered OAuth error code.
func (m *HTTP) Token(grantType, result string, elapsed time.Duration) {
	k := tokenKey{grant: knownGrant(grantType), result: knownResult(result)}
	c, ok := m.tokenChildren.Load(k)
	if !ok {
		c, _ = m.tokenChildren.LoadOrStore(k, &tokenChild{
			count: m.tokens.WithLabelValues(k.grant, k.result),
			dur:   m.tokenDur.WithLabelValues(k.grant, k.result),
		})
	}
	tc := c.(*tokenChild)
	tc.count.Inc()
	tc.dur.Observe(elapsed.Seconds())
}

// Lockout counts one sign-in lockout.
func (m *HTTP) Lockout() { m.lockouts.Inc() }

func knownGrant(g string) string {
	switch g {
	case "authorization_code", "refresh_token", "client_credentials",
		"urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code":
		return g
	case "":
		return "none"
	}
	return "other"
}

// knownResult keeps result to "success" and OAuth-shaped codes (RFC 6749 5.2 and the
// registered extensions: lower case letters and underscores, short).
func knownResult(r string) string {
	if r == "" || len(r) > 40 || strings.IndexFunc(r, func(c rune) bool { return (c < 'a' || c > 'z') && c != '_' }) >= 0 {
		return "other"
	}
	return r
}
