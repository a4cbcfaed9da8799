package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/hooks"
)

// Webhooks emits Logto's hook events (hooks.Dispatcher): Wants says whether any enabled
// hook subscribes to an event (so no payload is built for nobody), Emit queues one
// durably before the request is answered.
type Webhooks interface {
	Wants(event string) bool
	Emit(ctx context.Context, p hooks.Payload)
}

var _ Webhooks = (*hooks.Dispatcher)(nil)

// hookRoutes are Logto's /api/hooks (routes/hook.ts, hooks.openapi.json).
func (s *Server) hookRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/hooks", s.listHooks},
		{"POST", "/api/hooks", s.createHook},
		{"GET", "/api/hooks/:id", s.getHook},
		{"PATCH", "/api/hooks/:id", s.patchHook},
		{"DELETE", "/api/hooks/:id", s.deleteHook},
		{"POST", "/api/hooks/:id/test", s.testHook},
		{"GET", "/api/hooks/:id/recent-logs", s.listHookLogs},
		{"PATCH", "/api/hooks/:id/signing-key", s.rotateHookSigningKey},
	}
}

// hookJSON is Logto's Hooks row; ExecutionStats only when asked for.
type hookJSON struct {
	TenantID       string               `json:"tenantId"`
	ID             string               `json:"id"`
	Name           string               `json:"name"`
	Event          *string              `json:"event"`
	Events         []string             `json:"events"`
	Config         directory.HookConfig `json:"config"`
	SigningKey     string               `json:"signingKey"`
	Enabled        bool                 `json:"enabled"`
	CreatedAt      int64                `json:"createdAt"`
	ExecutionStats *hookExecutionStats  `json:"executionStats,omitempty"`
}

// hookExecutionStats is Logto's HookExecutionStats: the hook's delivery attempts over
// the last 24 hours.
type hookExecutionStats struct {
	SuccessCount int `json:"successCount"`
	RequestCount int `json:"requestCount"`
}

func hookView(h *directory.Hook) hookJSON {
	return hookJSON{TenantID: tenantID, ID: h.ID, Name: h.Name, Event: h.Event, Events: h.Events,
		Config: h.Config, SigningKey: h.SigningKey, Enabled: h.Enabled, CreatedAt: h.CreatedAt}
}

func errHookNotFound(id string) *APIError {
	return apiErr(http.StatusNotFound, "entity.not_exists_with_id", fmt.Sprintf("The hooks with ID `%s` does not exist.", id))
}

func (s *Server) hookByID(id string) (*directory.Hook, error) {
	h, ok := s.dir.HookByID(id)
	if !ok {
		return nil, errHookNotFound(id)
	}
	return h, nil
}

// withStats adds executionStats: Logto's getHookExecutionStatsByHookId counts the
// hook's TriggerHook.* logs of the last day, and those whose result is Success.
func (s *Server) withStats(ctx context.Context, v hookJSON) (hookJSON, error) {
	st := &hookExecutionStats{}
	if s.auditLogs != nil {
		logs, err := s.auditLogs.List(ctx, audit.Query{HookID: v.ID, KeyPrefix: audit.KeyTriggerHookPrefix, Since: s.now().Add(-24 * time.Hour)})
		if err != nil {
			return v, err
		}
		for _, l := range logs {
			st.RequestCount++
			if l.Payload.Result == audit.Success {
				st.SuccessCount++
			}
		}
	}
	v.ExecutionStats = st
	return v, nil
}

// yes is @silverhand/essentials' yes(): "true", "1", "yes", "y" (any case).
func yes(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "yes", "y":
		return true
	}
	return false
}

// listHooks is GET /api/hooks: every hook, newest first; paged only when page or
// page_size is given (Logto's koaPagination({isOptional: true})).
func (s *Server) listHooks(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	stats := yes(q.Get("includeExecutionStats"))
	all := s.dir.Hooks()
	out := make([]hookJSON, 0, len(all))
	for _, h := range all {
		v := hookView(h)
		if stats {
			var err error
			if v, err = s.withStats(r.Context(), v); err != nil {
				return 0, nil, err
			}
		}
		out = append(out, v)
	}
	if q.Has("page") || q.Has("page_size") {
		pageNo, size, err := pageParams(r)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, paginate(out, pageNo, size), nil
	}
	return http.StatusOK, out, nil
}

// getHook is GET /api/hooks/:id (executionStats with any includeExecutionStats value,
// as Logto's truthiness check).
func (s *Server) getHook(r *http.Request, p httprouter.Params) (int, any, error) {
	h, err := s.hookByID(p.ByName("id"))
	if err != nil {
		return 0, nil, err
	}
	v := hookView(h)
	if r.URL.Query().Get("includeExecutionStats") != "" {
		if v, err = s.withStats(r.Context(), v); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, v, nil
}

// hookConfigBody is Logto's hookConfigGuard.
type hookConfigBody struct {
	URL     *string           `json:"url"`
	Headers map[string]string `json:"headers"`
	Retries *int              `json:"retries"`
}

// config checks the guard and, beyond Logto's z.string(), that url is an absolute
// http(s) URL: Latch posts to it from the outbox, where a bad URL could only fail.
func (c *hookConfigBody) config() (directory.HookConfig, error) {
	if c == nil || c.URL == nil {
		return directory.HookConfig{}, invalidInput("`config.url` is required")
	}
	u, err := url.Parse(*c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return directory.HookConfig{}, invalidInput("`config.url` must be an absolute http(s) URL")
	}
	if c.Retries != nil && (*c.Retries < 0 || *c.Retries > 3) {
		return directory.HookConfig{}, invalidInput("`config.retries` must be between 0 and 3")
	}
	for k := range c.Headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return directory.HookConfig{}, invalidInput(fmt.Sprintf("`config.headers` has an invalid header name %q", k))
		}
	}
	return directory.HookConfig{URL: *c.URL, Headers: c.Headers, Retries: c.Retries}, nil
}

// hookEvents checks a non-empty list of known events and removes duplicates (Logto's
// nonemptyUniqueHookEventsGuard).
func hookEvents(field string, events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, invalidInput(fmt.Sprintf("`%s` must contain at least one event", field))
	}
	out := make([]string, 0, len(events))
	for _, e := range events {
		if !hooks.IsEvent(e) {
			return nil, invalidInput(fmt.Sprintf("`%s` has an unknown event %q", field, e))
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

func hookEvent(e string) error {
	if !hooks.IsEvent(e) {
		return invalidInput(fmt.Sprintf("`event` is an unknown event %q", e))
	}
	return nil
}

// createHook is POST /api/hooks: {name?, event? (deprecated), events?, config, enabled?}
// -> 201 with the hook and its generated signing key; neither event nor events is 400
// hook.missing_events.
func (s *Server) createHook(r *http.Request, _ httprouter.Params) (int, any, error) {
	var body struct {
		Name    *string         `json:"name"`
		Event   *string         `json:"event"`
		Events  []string        `json:"events"`
		Config  *hookConfigBody `json:"config"`
		Enabled *bool           `json:"enabled"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	in := directory.NewHook{Enabled: true, Events: []string{}}
	if body.Name != nil {
		in.Name = *body.Name
	}
	if body.Enabled != nil {
		in.Enabled = *body.Enabled
	}
	if body.Event != nil {
		if err := hookEvent(*body.Event); err != nil {
			return 0, nil, err
		}
		in.Event = body.Event
	}
	if body.Events != nil {
		evs, err := hookEvents("events", body.Events)
		if err != nil {
			return 0, nil, err
		}
		in.Events = evs
	}
	if body.Event == nil && body.Events == nil {
		return 0, nil, apiErr(http.StatusBadRequest, "hook.missing_events", "You need to provide at least one event.")
	}
	cfg, err := body.Config.config()
	if err != nil {
		return 0, nil, err
	}
	in.Config = cfg
	h, err := s.dir.CreateHook(r.Context(), in)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusCreated, hookView(h), nil
}

// patchHook is PATCH /api/hooks/:id: every field optional; event may be null; events,
// when given, non-empty; config replaces the stored one whole.
func (s *Server) patchHook(r *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	if _, err := s.hookByID(id); err != nil {
		return 0, nil, err
	}
	var body struct {
		Name    opt[string]     `json:"name"`
		Event   opt[string]     `json:"event"`
		Events  opt[[]string]   `json:"events"`
		Config  *hookConfigBody `json:"config"`
		Enabled opt[bool]       `json:"enabled"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	var patch directory.HookPatch
	if body.Name.Set {
		if body.Name.Null {
			return 0, nil, invalidInput("`name` must be a string")
		}
		patch.Name = &body.Name.V
	}
	if body.Event.Set {
		if body.Event.Null {
			patch.ClearEvent = true
		} else {
			if err := hookEvent(body.Event.V); err != nil {
				return 0, nil, err
			}
			patch.Event = &body.Event.V
		}
	}
	if body.Events.Set {
		evs, err := hookEvents("events", body.Events.V)
		if err != nil {
			return 0, nil, err
		}
		patch.Events = evs
	}
	if body.Config != nil {
		cfg, err := body.Config.config()
		if err != nil {
			return 0, nil, err
		}
		patch.Config = &cfg
	}
	if body.Enabled.Set {
		if body.Enabled.Null {
			return 0, nil, invalidInput("`enabled` must be a boolean")
		}
		patch.Enabled = &body.Enabled.V
	}
	h, err := s.dir.UpdateHook(r.Context(), id, patch)
	if err != nil {
		return 0, nil, hookError(id, err)
	}
	return http.StatusOK, hookView(h), nil
}

// rotateHookSigningKey is PATCH /api/hooks/:id/signing-key: a fresh signing key; the
// events still queued are signed with it from their next attempt on.
func (s *Server) rotateHookSigningKey(r *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	h, err := s.dir.UpdateHook(r.Context(), id, directory.HookPatch{RotateSigningKey: true})
	if err != nil {
		return 0, nil, hookError(id, err)
	}
	return http.StatusOK, hookView(h), nil
}

// deleteHook is DELETE /api/hooks/:id; events still queued for it are dropped.
func (s *Server) deleteHook(r *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	if err := s.dir.DeleteHook(r.Context(), id); err != nil {
		return 0, nil, hookError(id, err)
	}
	return http.StatusNoContent, nil, nil
}

func hookError(id string, err error) error {
	var nf *directory.NotFoundError
	if errors.As(err, &nf) && nf.Entity == directory.EntityHook {
		return errHookNotFound(id)
	}
	return mgmtError(err)
}

// testHook is POST /api/hooks/:id/test {events, config}: Logto's test payload of each
// event, posted to config (not the stored one) with the hook's signing key -> 204;
// an endpoint answering non-2xx is 422 hook.endpoint_responded_with_error with
// {responseStatus, responseBody}; one that cannot be reached, 422
// hook.send_test_payload_failed.
func (s *Server) testHook(r *http.Request, p httprouter.Params) (int, any, error) {
	h, err := s.hookByID(p.ByName("id"))
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Events []string        `json:"events"`
		Config *hookConfigBody `json:"config"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	evs, err := hookEvents("events", body.Events)
	if err != nil {
		return 0, nil, err
	}
	cfg, err := body.Config.config()
	if err != nil {
		return 0, nil, err
	}
	err = hooks.SendTest(r.Context(), nil, h, evs, cfg, s.now())
	var te *hooks.TestError
	switch {
	case err == nil:
		return http.StatusNoContent, nil, nil
	case errors.As(err, &te):
		e := apiErr(http.StatusUnprocessableEntity, "hook.endpoint_responded_with_error", "Endpoint responded with error.")
		e.Data = map[string]any{"responseStatus": te.Status, "responseBody": te.Body}
		return 0, nil, e
	}
	return 0, nil, apiErr(http.StatusUnprocessableEntity, "hook.send_test_payload_failed", "Failed to send test payload: "+err.Error())
}

// listHookLogs is GET /api/hooks/:id/recent-logs: the hook's TriggerHook.* delivery
// logs, newest first, paged (Logto's koaPagination), filtered by logKey, start_time and
// end_time (unix ms, both inclusive); without either time, the last 24 hours.
func (s *Server) listHookLogs(r *http.Request, p httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	query := audit.Query{HookID: p.ByName("id"), KeyPrefix: audit.KeyTriggerHookPrefix, Key: q.Get("logKey")}
	start, err := timestampParam(q, "start_time")
	if err != nil {
		return 0, nil, err
	}
	end, err := timestampParam(q, "end_time")
	if err != nil {
		return 0, nil, err
	}
	if start != nil && end != nil && *start > *end {
		return 0, nil, apiErr(http.StatusBadRequest, "log.invalid_time_window", "The start time must not be after the end time.")
	}
	switch {
	case start == nil && end == nil:
		query.Since = s.now().Add(-24 * time.Hour)
	default:
		if start != nil {
			query.Since = time.UnixMilli(*start)
		}
		if end != nil {
			query.Until = time.UnixMilli(*end + 1) // inclusive
		}
	}
	pageNo, size, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	var logs []audit.Log
	if s.auditLogs != nil {
		if logs, err = s.auditLogs.List(r.Context(), query); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, paginate(logs, pageNo, size), nil
}

// timestampParam is Logto's parseTimestampParam: absent, or a finite number (unix ms),
// else 400 guard.invalid_input.
func timestampParam(q url.Values, name string) (*int64, error) {
	if !q.Has(name) {
		return nil, nil
	}
	f, err := strconv.ParseFloat(q.Get(name), 64)
	if err != nil || f != f || f > 1e15 || f < -1e15 {
		return nil, invalidInput(fmt.Sprintf("`%s` must be a time in milliseconds since the epoch", name))
	}
	v := int64(f)
	return &v, nil
}
