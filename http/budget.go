package httpapi

import (
	"context"
	"net/http"
	"time"
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
