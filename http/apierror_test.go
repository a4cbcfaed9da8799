package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/persistence"
)

// noQuorumLog is the directory's log on a node cut off from a quorum: every proposal
// fails as the cmd adapter reports raftgroup.ErrUnavailable.
type noQuorumLog struct{}

func (noQuorumLog) Propose(context.Context, []byte) (any, error) {
	return nil, fmt.Errorf("%w: raftgroup: no leader or no quorum", directory.ErrUnavailable)
}

func wantUnavailable(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("%s: status %d, want 503: %s", what, w.Code, w.Body)
	}
	if got := w.Header().Get("Retry-After"); got != RetryAfterSeconds {
		t.Fatalf("%s: Retry-After %q, want %q", what, got, RetryAfterSeconds)
	}
	if got := w.Header().Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Fatalf("%s: Content-Type %q", what, got)
	}
}

// A Management API write that cannot be replicated is 503 entity.unavailable with
// Retry-After; reads keep answering from memory.
func TestMgmtDirectoryUnavailable(t *testing.T) {
	e := newMgmtEnv(t)
	e.dir.Replicate(noQuorumLog{})
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/users", map[string]string{"username": "ann"}},
		{"POST", "/api/applications", map[string]string{"name": "app", "type": "MachineToMachine"}},
		{"POST", "/api/resources", map[string]string{"name": "api", "indicator": "https://api.example"}},
		{"PATCH", "/api/applications/" + mgmtAdminID, map[string]string{"description": "x"}},
	} {
		e.wantError(req.method, req.path, req.body, http.StatusServiceUnavailable, "entity.unavailable")
		wantUnavailable(t, e.do(req.method, req.path, req.body), req.method+" "+req.path)
	}
	if users, _ := e.list("/api/users"); len(users) != 0 {
		t.Fatalf("users = %v: an unreplicated write was applied", users)
	}
	e.call("GET", "/api/applications/"+mgmtAdminID, nil, http.StatusOK)
}

// A handler that returns the directory's error without mapping it still answers 503.
func TestServeAPIDirectoryUnavailableUnmapped(t *testing.T) {
	e := newMgmtEnv(t)
	w := httptest.NewRecorder()
	e.s.serveAPI(w, httptest.NewRequest("POST", "/api/x", nil), nil, func(*http.Request, httprouter.Params) (int, any, error) {
		return 0, nil, fmt.Errorf("creating: %w", fmt.Errorf("%w: no quorum", directory.ErrUnavailable))
	})
	wantUnavailable(t, w, "unmapped")
}

// Without a quorum, sign-in goes on (it writes nothing to the directory) and
// registration, which creates a user, is 503.
func TestExperienceWithoutQuorum(t *testing.T) {
	e := newExpEnv(t)
	e.dir.Replicate(noQuorumLog{})

	e.start("SignIn")
	vid := e.verify("username", tUsername, tPassword)
	e.must("POST", "/api/experience/identification", map[string]string{"verificationId": vid}, http.StatusNoContent, nil)
	var sub struct{ RedirectTo string }
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, &sub)
	if sub.RedirectTo == "" {
		t.Fatal("sign-in without quorum: no redirectTo")
	}

	e.uid = e.newInteraction()
	e.start("Register")
	e.must("POST", "/api/experience/profile", map[string]string{"type": "username", "value": "bob"}, http.StatusNoContent, nil)
	e.must("POST", "/api/experience/profile", map[string]string{"type": "password", "value": "bobs-password"}, http.StatusNoContent, nil)
	e.wantError("POST", "/api/experience/identification", map[string]string{}, http.StatusServiceUnavailable, "entity.unavailable")
	if _, ok := e.dir.UserByUsername("bob"); ok {
		t.Fatal("registration without quorum created a user")
	}
}

// conflictLog applies nothing: every entry's precondition fails, as when another
// request changed the entity first.
type conflictLog struct{}

func (conflictLog) Propose(context.Context, []byte) (any, error) { return persistence.ErrConflict, nil }

// A write that lost to a concurrent change of the same entity is 409, not a 500.
func TestMgmtVersionConflict(t *testing.T) {
	e := newMgmtEnv(t)
	e.dir.Replicate(conflictLog{})
	e.wantError("PATCH", "/api/applications/"+mgmtAdminID, map[string]string{"description": "x"}, http.StatusConflict, "entity.version_conflict")
}
