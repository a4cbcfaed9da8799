package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

// DefaultRequestTimeout is the budget of one HTTP request when Config.RequestTimeout is
// zero (`latch serve --request-timeout`).
const DefaultRequestTimeout = 3 * time.Second

// withBudget gives every request one budget, set here at the edge: its context ends
// after d. Everything the request does below (grain calls, through them the grains'
// store writes and their requests to other grains, directory reads) shares that
// deadline instead of taking its own, so a request that cannot be served in time fails
// by then with 503 temporarily_unavailable rather than hanging for the sum of its
// calls' timeouts. d <= 0 means DefaultRequestTimeout.
func withBudget(next http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		d = DefaultRequestTimeout
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// RetryAfterSeconds is the Retry-After of a 503 temporarily_unavailable: a grain whose
// member died is placed on a live one within about a second (DESIGN.md's failover
// target is under 2 s).
const RetryAfterSeconds = "1"

// protocolError is oauth.From at the HTTP boundary, with one more rule: a request whose
// budget ran out anywhere below (context.DeadlineExceeded) is temporarily_unavailable,
// not a server_error. An unreachable grain already is (actors.Call). ok is false for
// errors shown as server_error, whose cause the caller logs.
func protocolError(err error) (e *oauth.Error, ok bool) {
	if e, ok := oauth.From(err); ok {
		return e, true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return oauth.TemporarilyUnavailable("the request could not be served in time; retry later"), true
	}
	return oauth.ServerError(), false
}

// unavailable reports whether e is a 503 temporarily_unavailable; if so it sets
// Retry-After on h and logs cause (the client sees no cause).
func unavailable(h http.Header, log *slog.Logger, r *http.Request, e *oauth.Error, cause error) bool {
	if e.Code != oauth.CodeTemporarilyUnavailable {
		return false
	}
	h.Set("Retry-After", RetryAfterSeconds)
	log.Warn("answering 503 temporarily_unavailable", "method", r.Method, "path", r.URL.Path, "err", cause)
	return true
}
