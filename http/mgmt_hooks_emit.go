package httpapi

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/hooks"
)

// The webhook emit points (Config.Webhooks; nil emits nothing). Like the audit log's
// (mgmt_logs_emit.go), they wrap handlers rather than live in them: a Management API
// write emits the data hook event Logto registers for its route
// (managementApiHooksRegistration), and the Experience API's submit emits the
// interaction event. An event is queued durably (the outbox) before the request is
// answered; only a successful request emits one.

// dataHook is one Management API route that emits a data hook event.
type dataHook struct {
	event string
	// route is Logto's matched route (under /api, with Logto's parameter names): the
	// payload's matchedRoute, and its params' names.
	route string
	kind  dataHookKind
}

type dataHookKind uint8

const (
	// dataFromBody: data is the route's response body (Logto: ctx.response.body).
	dataFromBody dataHookKind = iota
	// dataDeletedUser: data is the user as it was before the delete.
	dataDeletedUser
	// membershipUsers / membershipApps: organizationId and the members added and
	// removed, computed from the members before and after the write.
	membershipUsers
	membershipApps
)

// dataHooks maps "METHOD Latch-pattern" to Logto's registration
// (@logto/schemas managementApiHooksRegistration, plus User.Deleted and
// Organization.Membership.Updated, which Logto's routes append themselves).
var dataHooks = map[string]dataHook{
	"POST /api/users":                       {"User.Created", "/users", dataFromBody},
	"DELETE /api/users/:userId":             {"User.Deleted", "/users/:userId", dataDeletedUser},
	"PATCH /api/users/:userId":              {"User.Data.Updated", "/users/:userId", dataFromBody},
	"PATCH /api/users/:userId/custom-data":  {"User.Data.Updated", "/users/:userId/custom-data", dataFromBody},
	"PATCH /api/users/:userId/profile":      {"User.Data.Updated", "/users/:userId/profile", dataFromBody},
	"PATCH /api/users/:userId/password":     {"User.Data.Updated", "/users/:userId/password", dataFromBody},
	"PATCH /api/users/:userId/is-suspended": {"User.SuspensionStatus.Updated", "/users/:userId/is-suspended", dataFromBody},

	"POST /api/roles":                           {"Role.Created", "/roles", dataFromBody},
	"DELETE /api/roles/:id":                     {"Role.Deleted", "/roles/:id", dataFromBody},
	"PATCH /api/roles/:id":                      {"Role.Data.Updated", "/roles/:id", dataFromBody},
	"POST /api/roles/:id/scopes":                {"Role.Scopes.Updated", "/roles/:id/scopes", dataFromBody},
	"DELETE /api/roles/:id/scopes/:scopeId":     {"Role.Scopes.Updated", "/roles/:id/scopes/:scopeId", dataFromBody},
	"POST /api/resources/:id/scopes":            {"Scope.Created", "/resources/:resourceId/scopes", dataFromBody},
	"DELETE /api/resources/:id/scopes/:scopeId": {"Scope.Deleted", "/resources/:resourceId/scopes/:scopeId", dataFromBody},
	"PATCH /api/resources/:id/scopes/:scopeId":  {"Scope.Data.Updated", "/resources/:resourceId/scopes/:scopeId", dataFromBody},

	"POST /api/organizations":                                   {"Organization.Created", "/organizations", dataFromBody},
	"DELETE /api/organizations/:id":                             {"Organization.Deleted", "/organizations/:id", dataFromBody},
	"PATCH /api/organizations/:id":                              {"Organization.Data.Updated", "/organizations/:id", dataFromBody},
	"POST /api/organizations/:id/users":                         {hooks.OrganizationMembershipUpdated, "/organizations/:id/users", membershipUsers},
	"PUT /api/organizations/:id/users":                          {hooks.OrganizationMembershipUpdated, "/organizations/:id/users", membershipUsers},
	"DELETE /api/organizations/:id/users/:userId":               {hooks.OrganizationMembershipUpdated, "/organizations/:id/users/:userId", membershipUsers},
	"POST /api/organizations/:id/applications":                  {hooks.OrganizationMembershipUpdated, "/organizations/:id/applications", membershipApps},
	"PUT /api/organizations/:id/applications":                   {hooks.OrganizationMembershipUpdated, "/organizations/:id/applications", membershipApps},
	"DELETE /api/organizations/:id/applications/:applicationId": {hooks.OrganizationMembershipUpdated, "/organizations/:id/applications/:applicationId", membershipApps},

	"POST /api/organization-roles":                                   {"OrganizationRole.Created", "/organization-roles", dataFromBody},
	"DELETE /api/organization-roles/:id":                             {"OrganizationRole.Deleted", "/organization-roles/:id", dataFromBody},
	"PATCH /api/organization-roles/:id":                              {"OrganizationRole.Data.Updated", "/organization-roles/:id", dataFromBody},
	"PUT /api/organization-roles/:id/scopes":                         {"OrganizationRole.Scopes.Updated", "/organization-roles/:id/scopes", dataFromBody},
	"POST /api/organization-roles/:id/scopes":                        {"OrganizationRole.Scopes.Updated", "/organization-roles/:id/scopes", dataFromBody},
	"DELETE /api/organization-roles/:id/scopes/:organizationScopeId": {"OrganizationRole.Scopes.Updated", "/organization-roles/:id/scopes/:organizationScopeId", dataFromBody},
	"POST /api/organization-scopes":                                  {"OrganizationScope.Created", "/organization-scopes", dataFromBody},
	"DELETE /api/organization-scopes/:id":                            {"OrganizationScope.Deleted", "/organization-scopes/:id", dataFromBody},
	"PATCH /api/organization-scopes/:id":                             {"OrganizationScope.Data.Updated", "/organization-scopes/:id", dataFromBody},
}

// hookWrite wraps a Management API route so that a successful request emits the data
// hook event registered for it; any other route, and every route when webhooks are
// off, is returned as it is.
func (s *Server) hookWrite(method, path string, h apiHandler) apiHandler {
	reg, ok := dataHooks[method+" "+path]
	if s.webhooks == nil || !ok {
		return h
	}
	return func(r *http.Request, p httprouter.Params) (int, any, error) {
		if !s.webhooks.Wants(reg.event) {
			return h(r, p)
		}
		var (
			deleted      json.RawMessage
			orgID        = p.ByName("id")
			beforeMember []string
		)
		switch reg.kind {
		case dataDeletedUser:
			if u, ok := s.dir.User(p.ByName("userId")); ok {
				deleted, _ = json.Marshal(userView(u))
			}
		case membershipUsers, membershipApps:
			beforeMember = s.orgMembers(orgID, reg.kind)
		}
		status, body, err := h(r, p)
		if err != nil || status >= 400 {
			return status, body, err
		}
		pl := hooks.Payload{
			Event: reg.event, UserAgent: r.UserAgent(), IP: clientIP(r),
			Path: strings.TrimPrefix(r.URL.Path, "/api"), Method: method, Status: status,
			Params: routeParams(reg.route, r.URL.Path), MatchedRoute: reg.route,
		}
		switch reg.kind {
		case dataFromBody:
			if body != nil && status != http.StatusNoContent {
				pl.Data, _ = json.Marshal(body)
			}
		case dataDeletedUser:
			pl.Data = deleted
		case membershipUsers, membershipApps:
			after := s.orgMembers(orgID, reg.kind)
			added, removed := diffIDs(beforeMember, after)
			pl.OrganizationID = orgID
			if reg.kind == membershipUsers {
				pl.AddedUserIDs, pl.RemovedUserIDs = hooks.CapDelta(added), hooks.CapDelta(removed)
			} else {
				pl.AddedApplicationIDs, pl.RemovedApplicationIDs = hooks.CapDelta(added), hooks.CapDelta(removed)
			}
		}
		s.webhooks.Emit(r.Context(), pl)
		return status, body, err
	}
}

// orgMembers lists an organization's user or application ids.
func (s *Server) orgMembers(orgID string, kind dataHookKind) []string {
	var ids []string
	if kind == membershipUsers {
		for _, m := range s.dir.OrganizationUsers(orgID, "", "") {
			ids = append(ids, m.User.ID)
		}
		return ids
	}
	for _, m := range s.dir.OrganizationApps(orgID, "") {
		ids = append(ids, m.App.ID)
	}
	return ids
}

// diffIDs returns what after has that before has not, and the reverse.
func diffIDs(before, after []string) (added, removed []string) {
	for _, id := range after {
		if !slices.Contains(before, id) {
			added = append(added, id)
		}
	}
	for _, id := range before {
		if !slices.Contains(after, id) {
			removed = append(removed, id)
		}
	}
	return added, removed
}

// routeParams names path's segments after Logto's route (both without and with /api).
func routeParams(route, path string) map[string]string {
	rs := strings.Split(strings.Trim(route, "/"), "/")
	ps := strings.Split(strings.Trim(strings.TrimPrefix(path, "/api"), "/"), "/")
	out := map[string]string{}
	for i, seg := range rs {
		if name, ok := strings.CutPrefix(seg, ":"); ok && i < len(ps) {
			out[name] = ps[i]
		}
	}
	return out
}

// clientIP is the connection's address (X-Forwarded-For is not trusted, as for the
// audit log).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// hooked wraps the Experience API's submit so that a finished interaction emits
// PostSignIn, PostRegister or PostResetPassword (Logto's interaction hooks), and a
// finished registration User.Created too. It reads what the step learned through the
// audit log's stepLog (installing one when audit logs are off).
func (x *experience) hooked(h apiHandler) apiHandler {
	s := x.s
	if s.webhooks == nil {
		return h
	}
	return func(r *http.Request, p httprouter.Params) (int, any, error) {
		st := noteStep(r.Context())
		if st == nil {
			st = &stepLog{}
			r = r.WithContext(context.WithValue(r.Context(), stepLogKey{}, st))
		}
		status, body, err := h(r, p)
		event := hooks.InteractionEvent(st.event)
		if err != nil || status >= 400 || event == "" || st.userID == "" {
			return status, body, err
		}
		wantInteraction := s.webhooks.Wants(event)
		wantCreated := event == hooks.PostRegister && s.webhooks.Wants(hooks.UserCreated)
		if !wantInteraction && !wantCreated {
			return status, body, err
		}
		var (
			user json.RawMessage
			app  *hooks.Application
		)
		if u, ok := s.dir.User(st.userID); ok {
			user, _ = json.Marshal(userView(u))
		}
		if a, ok := s.dir.Application(st.applicationID); ok {
			app = hookApplication(a)
		}
		ip := clientIP(r)
		if wantInteraction {
			s.webhooks.Emit(r.Context(), hooks.Payload{
				Event: event, InteractionEvent: st.event, SessionID: st.sessionID,
				UserAgent: r.UserAgent(), UserID: st.userID, UserIP: ip, User: user, Application: app,
			})
		}
		if wantCreated {
			s.webhooks.Emit(r.Context(), hooks.Payload{
				Event: hooks.UserCreated, InteractionEvent: st.event, SessionID: st.sessionID,
				UserAgent: r.UserAgent(), IP: ip, Application: app, Data: user,
			})
		}
		return status, body, err
	}
}

func hookApplication(a *directory.Application) *hooks.Application {
	out := &hooks.Application{ID: a.ID, Type: string(a.Type), Name: a.Name}
	if a.Description != "" {
		d := a.Description
		out.Description = &d
	}
	return out
}
