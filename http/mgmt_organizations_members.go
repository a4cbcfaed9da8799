package httpapi

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// The members of an organization: Logto's /api/organizations/:id/users and
// /api/organizations/:id/applications route sets, which are one shape for two kinds of
// member. Their lists differ (the user list filters by role and shows users, the
// application list shows applications) and are plain Server handlers; the rest is
// memberRoutes, built once per kind in organizationRoutes.

// memberRoutes serves one kind of member's routes under /api/organizations/:id.
// Logto's user routes and application routes differ only in the names below and in
// two habits of the user routes (echoIDs, roleNames).
type memberRoutes struct {
	s     *Server
	kind  directory.MemberKind
	param string // the member's path parameter: "userId", "applicationId"
	field string // the body's member id list: "userIds", "applicationIds"
	// echoIDs: a 201 answers the ids added or assigned ({userIds}, {organizationRoleIds});
	// otherwise it has no body.
	echoIDs bool
	// roleNames: a role body takes organizationRoleIds and organizationRoleNames, both
	// optional; otherwise organizationRoleIds is required and non-empty.
	roleNames bool
}

// orgRoleIDsField is the body field of organization role ids.
const orgRoleIDsField = "organizationRoleIds"

// decodeIDLists decodes the body as a struct with one *[]string field per name would
// be decoded (decodeBody): a missing or null field is nil, and a wrong type is the
// 400 of the first wrong field in the body, named as in a typed body.
func decodeIDLists(r *http.Request, fields ...string) ([]*[]string, error) {
	sf := make([]reflect.StructField, len(fields))
	for i, f := range fields {
		sf[i] = reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: reflect.TypeFor[*[]string](), Tag: reflect.StructTag(`json:"` + f + `"`)}
	}
	v := reflect.New(reflect.StructOf(sf))
	if err := decodeBody(r, v.Interface()); err != nil {
		return nil, err
	}
	out := make([]*[]string, len(fields))
	for i := range fields {
		out[i] = v.Elem().Field(i).Interface().(*[]string)
	}
	return out, nil
}

// decodeIDList decodes the body's id list field and checks it with idList.
func decodeIDList(r *http.Request, field string, nonEmpty bool) ([]string, error) {
	lists, err := decodeIDLists(r, field)
	if err != nil {
		return nil, err
	}
	return idList(field, lists[0], nonEmpty)
}

// created is the 201 answer of an add or assign of ids, the body's field.
func (m memberRoutes) created(field string, ids []string) (int, any, error) {
	if !m.echoIDs {
		return http.StatusCreated, nil, nil
	}
	return http.StatusCreated, map[string][]string{field: ids}, nil
}

// add adds members, skipping those already in.
func (m memberRoutes) add(r *http.Request, p httprouter.Params) (int, any, error) {
	ids, err := decodeIDList(r, m.field, true)
	if err != nil {
		return 0, nil, err
	}
	if err := m.s.dir.AddOrganizationMembers(r.Context(), p.ByName("id"), m.kind, ids); err != nil {
		return 0, nil, orgError(err)
	}
	return m.created(m.field, ids)
}

// replace sets the members to the body's list.
func (m memberRoutes) replace(r *http.Request, p httprouter.Params) (int, any, error) {
	ids, err := decodeIDList(r, m.field, false)
	if err != nil {
		return 0, nil, err
	}
	if err := m.s.dir.ReplaceOrganizationMembers(r.Context(), p.ByName("id"), m.kind, ids); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusNoContent, nil, nil
}

// postSub is POST .../users/:userId (.../applications/:applicationId): httprouter
// cannot hold Logto's static POST .../users/roles beside the .../users/:userId routes,
// so the one path segment is told apart here. .../roles assigns every listed role to
// every listed member.
func (m memberRoutes) postSub(r *http.Request, p httprouter.Params) (int, any, error) {
	if p.ByName(m.param) != "roles" {
		return 0, nil, apiErr(http.StatusNotFound, "guard.not_found", "not found") // as the router answers an unknown path
	}
	lists, err := decodeIDLists(r, m.field, orgRoleIDsField)
	if err != nil {
		return 0, nil, err
	}
	members, err := idList(m.field, lists[0], true)
	if err != nil {
		return 0, nil, err
	}
	roles, err := idList(orgRoleIDsField, lists[1], true)
	if err != nil {
		return 0, nil, err
	}
	if err := m.s.dir.AssignOrganizationRoles(r.Context(), p.ByName("id"), m.kind, members, roles); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, nil, nil
}

// remove removes one member with its role assignments.
func (m memberRoutes) remove(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := m.s.dir.RemoveOrganizationMember(r.Context(), p.ByName("id"), m.kind, p.ByName(m.param)); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// listRoles lists the member's roles in the organization (optional paging).
func (m memberRoutes) listRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	roles, err := m.s.dir.MemberOrganizationRoles(p.ByName("id"), m.kind, p.ByName(m.param))
	if err != nil {
		return 0, nil, orgError(err)
	}
	return listOf(r, roles, true, organizationRoleView)
}

// requireMember is Logto's membership guard of the .../:memberId/roles routes.
func (m memberRoutes) requireMember(p httprouter.Params) error {
	if !m.s.dir.IsOrganizationMember(p.ByName("id"), m.kind, p.ByName(m.param)) {
		return orgError(directory.ErrMembershipRequired)
	}
	return nil
}

// roleBody decodes the role ids of an assign or replace (see roleNames).
func (m memberRoutes) roleBody(r *http.Request) ([]string, error) {
	if !m.roleNames {
		return decodeIDList(r, orgRoleIDsField, true)
	}
	lists, err := decodeIDLists(r, orgRoleIDsField, "organizationRoleNames")
	if err != nil {
		return nil, err
	}
	return m.s.roleIDs(lists[0], lists[1])
}

// assignRoles assigns roles to the member (Logto skips those it holds).
func (m memberRoutes) assignRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := m.requireMember(p); err != nil {
		return 0, nil, err
	}
	ids, err := m.roleBody(r)
	if err != nil {
		return 0, nil, err
	}
	err = m.s.dir.AssignOrganizationRoles(r.Context(), p.ByName("id"), m.kind, []string{p.ByName(m.param)}, ids)
	if err != nil {
		return 0, nil, orgError(err)
	}
	return m.created(orgRoleIDsField, ids)
}

// replaceRoles sets the member's roles to the body's.
func (m memberRoutes) replaceRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := m.requireMember(p); err != nil {
		return 0, nil, err
	}
	ids, err := m.roleBody(r)
	if err != nil {
		return 0, nil, err
	}
	if err := m.s.dir.ReplaceOrganizationRoles(r.Context(), p.ByName("id"), m.kind, p.ByName(m.param), ids); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusNoContent, nil, nil
}

// unassignRole removes one role from the member.
func (m memberRoutes) unassignRole(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := m.requireMember(p); err != nil {
		return 0, nil, err
	}
	err := m.s.dir.UnassignOrganizationRole(r.Context(), p.ByName("id"), m.kind, p.ByName(m.param), p.ByName("organizationRoleId"))
	if err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// roleIDs resolves role ids and role names (each optional) to role ids, without
// repeats; an unknown name is 422 organization.role_names_not_found.
func (s *Server) roleIDs(idsIn, namesIn *[]string) ([]string, error) {
	var ids, names []string
	var err error
	if idsIn != nil {
		if ids, err = idList(orgRoleIDsField, idsIn, false); err != nil {
			return nil, err
		}
	}
	if namesIn != nil {
		if names, err = idList("organizationRoleNames", namesIn, false); err != nil {
			return nil, err
		}
	}
	found := map[string]string{}
	for _, role := range s.dir.OrganizationRolesByName(names) {
		found[role.Name] = role.ID
	}
	var missing []string
	for _, n := range names {
		if id, ok := found[n]; ok {
			ids = append(ids, id)
		} else {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		e := apiErr(http.StatusUnprocessableEntity, "organization.role_names_not_found",
			"Organization roles not found for names: "+strings.Join(missing, ", ")+".")
		e.Data = map[string][]string{"names": missing}
		return nil, e
	}
	return dedupeStrings(ids), nil
}

func dedupeStrings(ids []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}
