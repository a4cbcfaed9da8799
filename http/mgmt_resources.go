package httpapi

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// resourceJSON is Logto's Resource; scopes only with includeScopes or on creation.
type resourceJSON struct {
	TenantID       string       `json:"tenantId"`
	ID             string       `json:"id"`
	Name           string       `json:"name"`
	Indicator      string       `json:"indicator"`
	IsDefault      bool         `json:"isDefault"`
	AccessTokenTTL int          `json:"accessTokenTtl"`
	Scopes         *[]scopeJSON `json:"scopes,omitempty"`
}

func resourceView(r *directory.Resource) resourceJSON {
	return resourceJSON{
		TenantID:       tenantID,
		ID:             r.ID,
		Name:           r.Name,
		Indicator:      r.Indicator,
		IsDefault:      r.IsDefault,
		AccessTokenTTL: r.AccessTokenTTL,
	}
}

// scopeJSON is Logto's Scope; resource only in role scope listings.
type scopeJSON struct {
	TenantID    string        `json:"tenantId"`
	ID          string        `json:"id"`
	ResourceID  string        `json:"resourceId"`
	Name        string        `json:"name"`
	Description *string       `json:"description"`
	CreatedAt   int64         `json:"createdAt"`
	Resource    *resourceJSON `json:"resource,omitempty"`
}

func scopeView(s *directory.Scope) scopeJSON {
	var desc *string
	if s.Description != "" {
		desc = &s.Description
	}
	return scopeJSON{TenantID: tenantID, ID: s.ID, ResourceID: s.ResourceID, Name: s.Name, Description: desc, CreatedAt: s.CreatedAt}
}

// truthy is Logto's isTrue: "true", "1", "yes".
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	}
	return false
}

func (s *Server) listResources(r *http.Request, _ httprouter.Params) (int, any, error) {
	view := resourceView
	if truthy(r.URL.Query().Get("includeScopes")) {
		view = func(res *directory.Resource) resourceJSON {
			v := resourceView(res)
			scopes, _ := s.dir.ResourceScopes(res.ID) // deleted meanwhile: no scopes
			list := mapSlice(scopes, scopeView)
			v.Scopes = &list
			return v
		}
	}
	return listOf(r, s.dir.Resources(), true, view)
}

type resourceCreateBody struct {
	Name           string `json:"name"`
	Indicator      string `json:"indicator"`
	AccessTokenTTL *int   `json:"accessTokenTtl"`
	IsDefault      bool   `json:"isDefault"`
}

// createResource answers 201 with the resource and an empty scope list.
func (s *Server) createResource(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b resourceCreateBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	in := directory.NewResource{Name: b.Name, Indicator: b.Indicator, IsDefault: b.IsDefault}
	if b.AccessTokenTTL != nil {
		if *b.AccessTokenTTL <= 0 {
			return 0, nil, invalidInput("`accessTokenTtl` must be a positive number of seconds")
		}
		in.AccessTokenTTL = *b.AccessTokenTTL
	}
	res, err := s.dir.CreateResource(r.Context(), in)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	v := resourceView(res)
	v.Scopes = &[]scopeJSON{}
	return http.StatusCreated, v, nil
}

func (s *Server) getResource(_ *http.Request, p httprouter.Params) (int, any, error) {
	res, ok := s.dir.Resource(s.resourceID(p))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityResource, ID: s.resourceID(p)})
	}
	return http.StatusOK, resourceView(res), nil
}

// resourcePatchBody is PATCH /api/resources/:id. The indicator is immutable and,
// as in Logto, ignored when sent (so is isDefault: see .../is-default).
type resourcePatchBody struct {
	Name           opt[string] `json:"name"`
	AccessTokenTTL opt[int]    `json:"accessTokenTtl"`
}

func (s *Server) patchResource(r *http.Request, p httprouter.Params) (int, any, error) {
	var b resourcePatchBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	res, err := s.dir.UpdateResource(r.Context(), s.resourceID(p), func(res *directory.Resource) error {
		if res.Indicator == directory.ManagementAPIIndicator {
			return errCannotModifyManagementAPI()
		}
		if b.Name.Set {
			res.Name = b.Name.V
		}
		if b.AccessTokenTTL.Set {
			res.AccessTokenTTL = b.AccessTokenTTL.V
		}
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, resourceView(res), nil
}

// setResourceDefault is PATCH /api/resources/:id/is-default {isDefault}.
func (s *Server) setResourceDefault(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		IsDefault *bool `json:"isDefault"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.IsDefault == nil {
		return 0, nil, invalidInput("`isDefault` is required")
	}
	res, err := s.dir.UpdateResource(r.Context(), s.resourceID(p), func(res *directory.Resource) error {
		res.IsDefault = *b.IsDefault
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, resourceView(res), nil
}

func (s *Server) deleteResource(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteResource(r.Context(), s.resourceID(p)); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- scopes ----

func (s *Server) listResourceScopes(r *http.Request, p httprouter.Params) (int, any, error) {
	scopes, err := s.dir.ResourceScopes(s.resourceID(p))
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
	return listOf(r, found, true, scopeView)
}

type scopeBody struct {
	Name        opt[string] `json:"name"`
	Description opt[string] `json:"description"`
}

// createResourceScope answers 201 with the scope.
func (s *Server) createResourceScope(r *http.Request, p httprouter.Params) (int, any, error) {
	var b scopeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := s.guardManagementAPI(s.resourceID(p)); err != nil {
		return 0, nil, err
	}
	sc, err := s.dir.CreateScope(r.Context(), s.resourceID(p), b.Name.V, b.Description.V)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusCreated, scopeView(sc), nil
}

func (s *Server) patchResourceScope(r *http.Request, p httprouter.Params) (int, any, error) {
	var b scopeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := s.guardManagementAPI(s.resourceID(p)); err != nil {
		return 0, nil, err
	}
	sc, err := s.dir.UpdateScope(r.Context(), s.resourceID(p), p.ByName("scopeId"), func(sc *directory.Scope) error {
		if b.Name.Set {
			sc.Name = b.Name.V
		}
		if b.Description.Set {
			sc.Description = b.Description.V
		}
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, scopeView(sc), nil
}

func (s *Server) deleteResourceScope(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.guardManagementAPI(s.resourceID(p)); err != nil {
		return 0, nil, err
	}
	if err := s.dir.DeleteScope(r.Context(), s.resourceID(p), p.ByName("scopeId")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// resourceID is the :id of a resource route. Logto's Management API resource has the
// fixed id "management-api"; a directory bootstrapped before Latch used that id keeps
// a random one, which "management-api" names too.
func (s *Server) resourceID(p httprouter.Params) string {
	id := p.ByName("id")
	if id == directory.ManagementAPIResourceID {
		if _, ok := s.dir.Resource(id); !ok {
			if mapi := s.dir.ManagementAPIID(); mapi != "" {
				return mapi
			}
		}
	}
	return id
}

// guardManagementAPI refuses changes to the Management API resource's scopes (Logto's
// resource.cannot_modify_management_api, 400). An unknown resource passes: the
// directory answers its 404.
func (s *Server) guardManagementAPI(resourceID string) error {
	if res, ok := s.dir.Resource(resourceID); ok && res.Indicator == directory.ManagementAPIIndicator {
		return errCannotModifyManagementAPI()
	}
	return nil
}

func errCannotModifyManagementAPI() *APIError {
	return apiErr(http.StatusBadRequest, "resource.cannot_modify_management_api", "Cannot modify Logto Management API.")
}
