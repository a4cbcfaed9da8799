package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/persistence"
)

// unreachableLogs is an audit log reader whose shards are out of reach (a larger
// cluster's shard without a reachable leader).
type unreachableLogs struct{}

func (unreachableLogs) List(context.Context, audit.Query) ([]audit.Log, error) {
	return nil, fmt.Errorf("%w: shard 7 through its store proxy", persistence.ErrUnavailable)
}

func (unreachableLogs) Get(context.Context, string) (audit.Log, error) {
	return audit.Log{}, fmt.Errorf("%w: shard 7 through its store proxy", persistence.ErrUnavailable)
}

// TestLogsUnavailableShard: a log read that cannot reach a shard is 503
// entity.unavailable with Retry-After, not a 500.
func TestLogsUnavailableShard(t *testing.T) {
	e := newMgmtEnv(t)
	e.s.auditLogs = unreachableLogs{}
	r := httprouter.New()
	for _, rt := range e.s.logRoutes() {
		r.Handle(rt.method, rt.path, func(w http.ResponseWriter, req *http.Request, p httprouter.Params) {
			e.s.serveAPI(w, req, p, rt.h)
		})
	}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, path := range []string{"/api/logs", "/api/logs/abc-1"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		var ae APIError
		_ = json.NewDecoder(resp.Body).Decode(&ae)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || ae.Code != "entity.unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s = %d %+v (Retry-After %q), want 503 entity.unavailable", path, resp.StatusCode, ae, resp.Header.Get("Retry-After"))
		}
	}
}
