package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// roleJSON is Logto's Role.
type roleJSON struct {
	TenantID    string             `json:"tenantId"`
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Type        directory.RoleType `json:"type"`
	IsDefault   bool               `json:"isDefault"`
}

func roleView(r *directory.Role) roleJSON {
	return roleJSON{TenantID: tenantID, ID: r.ID, Name: r.Name, Description: r.Description, Type: r.Type, IsDefault: r.IsDefault}
}

// roleListJSON is an item of GET /api/roles: the role with up to three "featured"
// users and applications, as the console shows them.
type roleListJSON struct {
	roleJSON
	UsersCount           int                `json:"usersCount"`
	FeaturedUsers        []featuredUserJSON `json:"featuredUsers"`
	ApplicationsCount    int                `json:"applicationsCount"`
	FeaturedApplications []featuredAppJSON  `json:"featuredApplications"`
}

type featuredUserJSON struct {
	ID     string  `json:"id"`
	Avatar *string `json:"avatar"`
	Name   *string `json:"name"`
}

type featuredAppJSON struct {
	ID   string            `json:"id"`
	Name string            `json:"name"`
	Type directory.AppType `json:"type"`
}

const featuredCount = 3

func (s *Server) roleListView(r *directory.Role) roleListJSON {
	v := roleListJSON{roleJSON: roleView(r), FeaturedUsers: []featuredUserJSON{}, FeaturedApplications: []featuredAppJSON{}}
	users, _ := s.dir.RoleUsers(r.ID)
	v.UsersCount = len(users)
	for _, u := range users[:min(featuredCount, len(users))] {
		v.FeaturedUsers = append(v.FeaturedUsers, featuredUserJSON{ID: u.ID, Avatar: u.Avatar, Name: u.Name})
	}
	apps, _ := s.dir.RoleApplications(r.ID)
	v.ApplicationsCount = len(apps)
	for _, a := range apps[:min(featuredCount, len(apps))] {
		v.FeaturedApplications = append(v.FeaturedApplications, featuredAppJSON{ID: a.ID, Name: a.Name, Type: a.Type})
	}
	return v
}

// listRoles pages roles; type filters by role type, excludeUserId /
// excludeApplicationId leave out the roles that subject already has.
func (s *Server) listRoles(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	t := directory.RoleType(q.Get("type"))
	if t != "" && !t.Valid() {
		return 0, nil, invalidInput("invalid `type`: expected User or MachineToMachine")
	}
	search, err := parseSearch(q, roleSearchFields)
	if err != nil {
		return 0, nil, err
	}
	roles, err := filterSearch(search, s.dir.Roles(t), roleField)
	if err != nil {
		return 0, nil, err
	}
	exclude := map[string]bool{}
	if id := q.Get("excludeUserId"); id != "" {
		held, err := s.dir.UserRoles(id)
		if err != nil {
			return 0, nil, mgmtError(err)
		}
		for _, r := range held {
			exclude[r.ID] = true
		}
	}
	if id := q.Get("excludeApplicationId"); id != "" {
		held, err := s.dir.AppRoles(id)
		if err != nil {
			return 0, nil, mgmtError(err)
		}
		for _, r := range held {
			exclude[r.ID] = true
		}
	}
	if len(exclude) > 0 {
		roles = slices.DeleteFunc(roles, func(r *directory.Role) bool { return exclude[r.ID] })
	}
	return listOf(r, roles, false, s.roleListView)
}

type roleCreateBody struct {
	Name        string             `json:"name"`
	Description string             `json:"description"`
	Type        directory.RoleType `json:"type"`
	IsDefault   bool               `json:"isDefault"`
	ScopeIDs    []string           `json:"scopeIds"`
}

// createRole answers 200 with the role, as Logto does.
func (s *Server) createRole(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b roleCreateBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := idsInput("scopeIds", b.ScopeIDs, false); err != nil {
		return 0, nil, err
	}
	role, err := s.dir.CreateRole(r.Context(), directory.NewRole{
		Name: b.Name, Description: b.Description, Type: b.Type, IsDefault: b.IsDefault, ScopeIDs: b.ScopeIDs,
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, roleView(role), nil
}

func (s *Server) getRole(_ *http.Request, p httprouter.Params) (int, any, error) {
	role, ok := s.dir.Role(p.ByName("id"))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityRole, ID: p.ByName("id")})
	}
	return http.StatusOK, roleView(role), nil
}

type rolePatchBody struct {
	Name        opt[string] `json:"name"`
	Description opt[string] `json:"description"`
	IsDefault   opt[bool]   `json:"isDefault"`
}

func (s *Server) patchRole(r *http.Request, p httprouter.Params) (int, any, error) {
	var b rolePatchBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	role, err := s.dir.UpdateRole(r.Context(), p.ByName("id"), func(role *directory.Role) error {
		if b.Name.Set {
			role.Name = b.Name.V
		}
		if b.Description.Set {
			role.Description = b.Description.V
		}
		if b.IsDefault.Set {
			role.IsDefault = b.IsDefault.V
		}
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, roleView(role), nil
}

func (s *Server) deleteRole(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteRole(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- scopes ----

// roleScopeView is a scope with its resource attached (Logto's ScopeResponse).
func (s *Server) roleScopeView(sc *directory.Scope) scopeJSON {
	v := scopeView(sc)
	if res, ok := s.dir.Resource(sc.ResourceID); ok {
		rv := resourceView(res)
		v.Resource = &rv
	}
	return v
}

func (s *Server) listRoleScopes(r *http.Request, p httprouter.Params) (int, any, error) {
	scopes, err := s.dir.RoleScopes(p.ByName("id"))
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	search, err := parseSearch(r.URL.Query(), scopeSearchFields)
	if err != nil {
		return 0, nil, err
	}
	found, err := filterSearch(search, scopes, scopeField)
	if err != nil {
		return 0, nil, err
	}
	return listOf(r, found, true, s.roleScopeView)
}

// addRoleScopes answers 200 with every scope of the role, as Logto does.
func (s *Server) addRoleScopes(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		ScopeIDs []string `json:"scopeIds"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := idsInput("scopeIds", b.ScopeIDs, true); err != nil {
		return 0, nil, err
	}
	if _, err := s.dir.AddRoleScopes(r.Context(), p.ByName("id"), b.ScopeIDs); err != nil {
		return 0, nil, mgmtError(err)
	}
	scopes, err := s.dir.RoleScopes(p.ByName("id"))
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, mapSlice(scopes, scopeView), nil
}

func (s *Server) removeRoleScope(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.RemoveRoleScope(r.Context(), p.ByName("id"), p.ByName("scopeId")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- users ----

func (s *Server) listRoleUsers(r *http.Request, p httprouter.Params) (int, any, error) {
	users, err := s.dir.RoleUsers(p.ByName("id"))
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	search, err := parseSearch(r.URL.Query(), userSearchFields)
	if err != nil {
		return 0, nil, err
	}
	found, err := filterSearch(search, users, userField)
	if err != nil {
		return 0, nil, err
	}
	return listOf(r, found, false, userView)
}

// addRoleUsers answers 201 with no body; a user that already has the role is a 422
// role.user_exists (Logto).
func (s *Server) addRoleUsers(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		UserIDs []string `json:"userIds"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := idsInput("userIds", b.UserIDs, true); err != nil {
		return 0, nil, err
	}
	if err := s.dir.AddRoleUsers(r.Context(), p.ByName("id"), b.UserIDs); err != nil {
		if errors.Is(err, directory.ErrRoleType) {
			// Logto's users_roles table refuses a machine-to-machine role by a check
			// constraint here (POST /users/:id/roles checks first: user.invalid_role_type).
			return 0, nil, apiErr(http.StatusUnprocessableEntity, "entity.db_constraint_violated",
				"Machine-to-machine roles cannot be assigned to users.")
		}
		return 0, nil, mgmtError(err)
	}
	return http.StatusCreated, nil, nil
}

func (s *Server) removeRoleUser(r *http.Request, p httprouter.Params) (int, any, error) {
	if _, ok := s.dir.Role(p.ByName("id")); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityRole, ID: p.ByName("id")})
	}
	if err := s.dir.UnassignUserRole(r.Context(), p.ByName("userId"), p.ByName("id")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- applications ----

func (s *Server) listRoleApplications(r *http.Request, p httprouter.Params) (int, any, error) {
	apps, err := s.dir.RoleApplications(p.ByName("id"))
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	search, err := parseSearch(r.URL.Query(), appSearchFields)
	if err != nil {
		return 0, nil, err
	}
	found, err := filterSearch(search, apps, appField)
	if err != nil {
		return 0, nil, err
	}
	return listOf(r, found, false, applicationView)
}

// addRoleApplications answers 201 with no body; an application that already has the
// role is a 422 role.application_exists (Logto).
func (s *Server) addRoleApplications(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		ApplicationIDs []string `json:"applicationIds"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := idsInput("applicationIds", b.ApplicationIDs, true); err != nil {
		return 0, nil, err
	}
	if err := s.dir.AddRoleApplications(r.Context(), p.ByName("id"), b.ApplicationIDs); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusCreated, nil, nil
}

func (s *Server) removeRoleApplication(r *http.Request, p httprouter.Params) (int, any, error) {
	if _, ok := s.dir.Role(p.ByName("id")); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityRole, ID: p.ByName("id")})
	}
	if err := s.dir.UnassignAppRole(r.Context(), p.ByName("applicationId"), p.ByName("id")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// idsInput is Logto's guard on an array of ids in a body (string().min(1).array(),
// .nonempty() when nonEmpty): an empty id or array is a 400, before any lookup.
func idsInput(field string, ids []string, nonEmpty bool) error {
	if nonEmpty && len(ids) == 0 {
		return invalidInput(fmt.Sprintf("`%s` must be a non-empty array", field))
	}
	if slices.Contains(ids, "") {
		return invalidInput(fmt.Sprintf("`%s` must not contain empty ids", field))
	}
	return nil
}
