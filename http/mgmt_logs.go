package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/persistence"
)

// AuditLog receives audit log entries (audit.Writer). Record must not block: it is
// called on the request goroutine of the token endpoint, the Experience API and the
// Management API writes.
type AuditLog interface {
	Record(audit.Entry)
}

// AuditLogReader reads audit logs back (audit.Reader) for /api/logs.
type AuditLogReader interface {
	List(ctx context.Context, q audit.Query) ([]audit.Log, error)
	Get(ctx context.Context, id string) (audit.Log, error)
}

var _ AuditLogReader = audit.Reader{}

// logRoutes are Logto's audit log routes (log.openapi.json) and the per-user list
// Logto's Console reads (/api/users/:userId/logs).
func (s *Server) logRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/logs", s.listLogs},
		{"GET", "/api/logs/:id", s.getLog},
		{"GET", "/api/users/:userId/logs", s.listUserLogs},
	}
}

// listLogs is GET /api/logs: filters userId, applicationId, logKey (exact, as Logto),
// and Latch's startTime / endTime (epoch milliseconds, start inclusive, end
// exclusive); Logto's paging (page, page_size, Total-Number, Link); newest first.
// Logto's enableCap is accepted and has nothing to cap.
func (s *Server) listLogs(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	query := audit.Query{UserID: q.Get("userId"), ApplicationID: q.Get("applicationId"), Key: q.Get("logKey")}
	return s.logPage(r, query)
}

// listUserLogs is GET /api/users/:userId/logs: listLogs for one (existing) user.
func (s *Server) listUserLogs(r *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	return s.logPage(r, audit.Query{UserID: u.ID, ApplicationID: q.Get("applicationId"), Key: q.Get("logKey")})
}

func (s *Server) logPage(r *http.Request, query audit.Query) (int, any, error) {
	q := r.URL.Query()
	var err error
	if query.Since, err = epochMillis(q.Get("startTime"), "startTime"); err != nil {
		return 0, nil, err
	}
	if query.Until, err = epochMillis(q.Get("endTime"), "endTime"); err != nil {
		return 0, nil, err
	}
	pageNo, size, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	var logs []audit.Log
	if s.auditLogs != nil {
		if logs, err = s.auditLogs.List(r.Context(), query); err != nil {
			return 0, nil, s.logsError(err)
		}
	}
	return http.StatusOK, paginate(logs, pageNo, size), nil
}

// epochMillis parses an optional epoch-milliseconds time filter.
func epochMillis(v, name string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil || ms < 0 {
		return time.Time{}, invalidInput(fmt.Sprintf("`%s` must be a time in milliseconds since the epoch", name))
	}
	return time.UnixMilli(ms), nil
}

// logDetail is GET /api/logs/:id's body: Logto's whole Logs row, tenantId included.
type logDetail struct {
	TenantID string `json:"tenantId"`
	audit.Log
}

// getLog is GET /api/logs/:id; an unknown id is Logto's 404 entity.not_exists_with_id.
func (s *Server) getLog(r *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	notFound := apiErr(http.StatusNotFound, "entity.not_exists_with_id", fmt.Sprintf("The logs with ID `%s` does not exist.", id))
	if s.auditLogs == nil {
		return 0, nil, notFound
	}
	l, err := s.auditLogs.Get(r.Context(), id)
	if errors.Is(err, audit.ErrNotFound) {
		return 0, nil, notFound
	}
	if err != nil {
		return 0, nil, s.logsError(err)
	}
	return http.StatusOK, logDetail{TenantID: "default", Log: l}, nil
}

// logsError answers a read that could not reach a shard (on a larger cluster, one whose
// leader is unreachable: persistence.ErrUnavailable) with 503 and Retry-After; anything
// else is returned as is. The cause is logged.
func (s *Server) logsError(err error) error {
	if errors.Is(err, persistence.ErrUnavailable) {
		s.log.Warn("audit logs unavailable", "err", err)
		return &APIError{Status: http.StatusServiceUnavailable, Code: "entity.unavailable",
			Message:    "Some audit logs are on cluster nodes that cannot be reached right now; retry later.",
			RetryAfter: RetryAfterSeconds}
	}
	return err
}
