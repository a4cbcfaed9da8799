package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
)

// requestIDHeader is the header Logto's core answers every request with, so that a
// client can quote a request to an operator and the operator find it in the logs.
const requestIDHeader = "Logto-Core-Request-Id"

// requestIDs mints request ids: a random per-process prefix (so ids from two nodes or
// two runs never collide) and a counter, so the hot path pays one atomic add and no
// read of the random source.
type requestIDs struct {
	prefix string
	n      atomic.Uint64
}

func newRequestIDs(rand io.Reader) (*requestIDs, error) {
	var b [6]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("httpapi: request id prefix: %w", err)
	}
	return &requestIDs{prefix: fmt.Sprintf("%x", b[:])}, nil
}

func (g *requestIDs) next() string {
	return g.prefix + "-" + strconv.FormatUint(g.n.Add(1), 36)
}

// withRequestID sets Logto-Core-Request-Id on every response before next runs.
func withRequestID(next http.Handler, ids *requestIDs) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()[requestIDHeader] = []string{ids.next()}
		next.ServeHTTP(w, r)
	})
}
