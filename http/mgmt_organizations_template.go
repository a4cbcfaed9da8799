package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// The organization template: Logto's /api/organization-scopes and
// /api/organization-roles (with their organization scopes and API resource scopes).

// organizationScopeJSON is Logto's OrganizationScope.
type organizationScopeJSON struct {
	TenantID    string  `json:"tenantId"`
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

func organizationScopeView(sc *directory.OrganizationScope) organizationScopeJSON {
	return organizationScopeJSON{TenantID: tenantID, ID: sc.ID, Name: sc.Name, Description: sc.Description}
}

// ---- organization scopes ----

// listOrganizationScopes answers the scopes by name (optional paging); q searches
// the name.
func (s *Server) listOrganizationScopes(r *http.Request, _ httprouter.Params) (int, any, error) {
	return listOf(r, s.dir.OrganizationScopes(r.URL.Query().Get("q")), true, organizationScopeView)
}

type organizationScopeBody struct {
	Name        opt[string] `json:"name"`
	Description opt[string] `json:"description"`
}

func (s *Server) createOrganizationScope(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b organizationScopeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if !b.Name.Set || b.Name.Null {
		return 0, nil, invalidInput("`name` is required")
	}
	sc, err := s.dir.CreateOrganizationScope(r.Context(), b.Name.V, nullable(b.Description))
	if err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, organizationScopeView(sc), nil
}

func (s *Server) getOrganizationScope(_ *http.Request, p httprouter.Params) (int, any, error) {
	sc, ok := s.dir.OrganizationScope(p.ByName("id"))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityOrganizationScope, ID: p.ByName("id")})
	}
	return http.StatusOK, organizationScopeView(sc), nil
}

func (s *Server) patchOrganizationScope(r *http.Request, p httprouter.Params) (int, any, error) {
	var b organizationScopeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Name.Null {
		return 0, nil, invalidInput("`name` must not be null")
	}
	var name *string
	if b.Name.Set {
		name = &b.Name.V
	}
	sc, err := s.dir.UpdateOrganizationScope(r.Context(), p.ByName("id"), name, nullable(b.Description), b.Description.Null)
	if err != nil {
		return 0, nil, patchError(err, directory.EntityOrganizationScope)
	}
	return http.StatusOK, organizationScopeView(sc), nil
}

func (s *Server) deleteOrganizationScope(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteOrganizationScope(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- organization roles ----

type scopeRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type resourceScopeRefJSON struct {
	ID       string       `json:"id"`
	Name     string       `json:"name"`
	Resource scopeRefJSON `json:"resource"`
}

// organizationRoleWithScopesJSON is Logto's OrganizationRoleWithScopes.
type organizationRoleWithScopesJSON struct {
	organizationRoleJSON
	Scopes         []scopeRefJSON         `json:"scopes"`
	ResourceScopes []resourceScopeRefJSON `json:"resourceScopes"`
}

func (s *Server) organizationRoleWithScopesView(role *directory.OrganizationRole) organizationRoleWithScopesJSON {
	v := organizationRoleWithScopesJSON{organizationRoleJSON: organizationRoleView(role),
		Scopes: []scopeRefJSON{}, ResourceScopes: []resourceScopeRefJSON{}}
	scopes, _ := s.dir.OrganizationRoleScopes(role.ID) // deleted meanwhile: none
	for _, sc := range scopes {
		v.Scopes = append(v.Scopes, scopeRefJSON{ID: sc.ID, Name: sc.Name})
	}
	rscopes, _ := s.dir.OrganizationRoleResourceScopes(role.ID)
	for _, sc := range rscopes {
		ref := resourceScopeRefJSON{ID: sc.ID, Name: sc.Name, Resource: scopeRefJSON{ID: sc.ResourceID}}
		if res, ok := s.dir.Resource(sc.ResourceID); ok {
			ref.Resource.Name = res.Name
		}
		v.ResourceScopes = append(v.ResourceScopes, ref)
	}
	return v
}

// listOrganizationRoles pages the roles by name, each with its scopes; q searches
// id, name and description.
func (s *Server) listOrganizationRoles(r *http.Request, _ httprouter.Params) (int, any, error) {
	return listOf(r, s.dir.OrganizationRoles(r.URL.Query().Get("q")), false, s.organizationRoleWithScopesView)
}

type organizationRoleBody struct {
	Name             opt[string]             `json:"name"`
	Description      opt[string]             `json:"description"`
	Type             opt[directory.RoleType] `json:"type"`
	ScopeIDs         []string                `json:"organizationScopeIds"`
	ResourceScopeIDs []string                `json:"resourceScopeIds"`
}

// createOrganizationRole answers 201 with the role (without scopes, as Logto).
func (s *Server) createOrganizationRole(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b organizationRoleBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if !b.Name.Set || b.Name.Null {
		return 0, nil, invalidInput("`name` is required")
	}
	if b.Type.Null {
		return 0, nil, invalidInput("`type` must be User or MachineToMachine")
	}
	role, err := s.dir.CreateOrganizationRole(r.Context(), directory.NewOrganizationRole{
		Name: b.Name.V, Description: nullable(b.Description), Type: b.Type.V,
		ScopeIDs: b.ScopeIDs, ResourceScopeIDs: b.ResourceScopeIDs,
	})
	if err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, organizationRoleView(role), nil
}

// getOrganizationRole answers the role without its scopes (Logto queries them, then
// its response guard strips them); a missing one is 404 entity.not_found (Logto's
// query for it differs from the other entities').
func (s *Server) getOrganizationRole(_ *http.Request, p httprouter.Params) (int, any, error) {
	role, ok := s.dir.OrganizationRole(p.ByName("id"))
	if !ok {
		return 0, nil, notFoundResource()
	}
	return http.StatusOK, organizationRoleView(role), nil
}

func (s *Server) patchOrganizationRole(r *http.Request, p httprouter.Params) (int, any, error) {
	var b organizationRoleBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Name.Null || b.Type.Null {
		return 0, nil, invalidInput("`name` and `type` must not be null")
	}
	role, err := s.dir.UpdateOrganizationRole(r.Context(), p.ByName("id"), func(role *directory.OrganizationRole) error {
		if b.Name.Set {
			role.Name = b.Name.V
		}
		if b.Description.Set {
			role.Description = nullable(b.Description)
		}
		if b.Type.Set {
			role.Type = b.Type.V
		}
		return nil
	})
	if err != nil {
		return 0, nil, patchError(err, directory.EntityOrganizationRole)
	}
	return http.StatusOK, organizationRoleView(role), nil
}

func (s *Server) deleteOrganizationRole(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteOrganizationRole(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- a role's scopes (Logto's relation routes, optional paging) ----

// roleScopeRoutes serves the four relation routes of one scope set: field is the
// body's id list, param the path parameter of DELETE.
type roleScopeRoutes struct {
	s     *Server
	set   directory.RoleScopeSet
	field string
	param string
}

func (rs roleScopeRoutes) list(r *http.Request, p httprouter.Params) (int, any, error) {
	if rs.set == directory.ResourceScopes {
		scopes, err := rs.s.dir.OrganizationRoleResourceScopes(p.ByName("id"))
		if err != nil {
			return 0, nil, notFoundResource()
		}
		return listOf(r, scopes, true, scopeView)
	}
	scopes, err := rs.s.dir.OrganizationRoleScopes(p.ByName("id"))
	if err != nil {
		return 0, nil, notFoundResource()
	}
	return listOf(r, scopes, true, organizationScopeView)
}

func (rs roleScopeRoutes) body(r *http.Request, nonEmpty bool) ([]string, error) {
	var b map[string]json.RawMessage
	if err := decodeBody(r, &b); err != nil {
		return nil, err
	}
	var ids *[]string
	if raw, ok := b[rs.field]; ok && string(raw) != "null" {
		var v []string
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, invalidInput("`" + rs.field + "` must be an array of strings")
		}
		ids = &v
	}
	return idList(rs.field, ids, nonEmpty)
}

func (rs roleScopeRoutes) add(r *http.Request, p httprouter.Params) (int, any, error) {
	ids, err := rs.body(r, true)
	if err != nil {
		return 0, nil, err
	}
	if err := rs.s.dir.AddOrganizationRoleScopes(r.Context(), p.ByName("id"), rs.set, ids); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, nil, nil
}

func (rs roleScopeRoutes) replace(r *http.Request, p httprouter.Params) (int, any, error) {
	ids, err := rs.body(r, false)
	if err != nil {
		return 0, nil, err
	}
	if _, ok := rs.s.dir.OrganizationRole(p.ByName("id")); !ok && len(ids) == 0 {
		return http.StatusNoContent, nil, nil // Logto deletes nothing and inserts nothing
	}
	if err := rs.s.dir.ReplaceOrganizationRoleScopes(r.Context(), p.ByName("id"), rs.set, ids); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusNoContent, nil, nil
}

func (rs roleScopeRoutes) remove(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := rs.s.dir.RemoveOrganizationRoleScope(r.Context(), p.ByName("id"), rs.set, p.ByName(rs.param)); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}
