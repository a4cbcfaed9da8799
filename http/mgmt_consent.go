package httpapi

import (
	"errors"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's user consent scopes of a third-party application
// (routes/applications/application-user-consent-scope.ts): what the application may
// ask a user for on the consent page. The consent page and the code issued afterwards
// never carry anything else (op/consent.go).
func (s *Server) consentScopeRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/applications/:id/user-consent-scopes", s.listAppConsentScopes},
		{"POST", "/api/applications/:id/user-consent-scopes", s.addAppConsentScopes},
		{"DELETE", "/api/applications/:id/user-consent-scopes/:scopeType/:scopeId", s.removeAppConsentScope},
	}
}

type consentScopeJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

type consentResourceJSON struct {
	Resource struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Indicator string `json:"indicator"`
	} `json:"resource"`
	Scopes []consentScopeJSON `json:"scopes"`
}

type appConsentScopesJSON struct {
	OrganizationScopes         []consentScopeJSON    `json:"organizationScopes"`
	ResourceScopes             []consentResourceJSON `json:"resourceScopes"`
	OrganizationResourceScopes []consentResourceJSON `json:"organizationResourceScopes"`
	UserScopes                 []string              `json:"userScopes"`
}

// listAppConsentScopes is GET /api/applications/:id/user-consent-scopes: resource
// scopes grouped by resource, ids of deleted scopes left out.
func (s *Server) listAppConsentScopes(_ *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	if _, ok := s.dir.Application(id); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: id})
	}
	c := s.dir.AppConsentScopes(id)
	out := appConsentScopesJSON{
		OrganizationScopes: []consentScopeJSON{}, UserScopes: slices.Clone(c.UserScopes),
		ResourceScopes:             s.consentResources(c.ResourceScopes),
		OrganizationResourceScopes: s.consentResources(c.OrganizationResourceScopes),
	}
	if out.UserScopes == nil {
		out.UserScopes = []string{}
	}
	for _, sid := range c.OrganizationScopes {
		if sc, ok := s.dir.OrganizationScope(sid); ok {
			out.OrganizationScopes = append(out.OrganizationScopes, consentScopeJSON{ID: sc.ID, Name: sc.Name, Description: sc.Description})
		}
	}
	return http.StatusOK, out, nil
}

// consentResources groups scope ids by their resource, in the order first seen.
func (s *Server) consentResources(ids []string) []consentResourceJSON {
	out := []consentResourceJSON{}
	index := map[string]int{}
	for _, sid := range ids {
		sc, ok := s.dir.Scope(sid)
		if !ok {
			continue
		}
		res, ok := s.dir.Resource(sc.ResourceID)
		if !ok {
			continue
		}
		i, seen := index[res.ID]
		if !seen {
			var r consentResourceJSON
			r.Resource.ID, r.Resource.Name, r.Resource.Indicator = res.ID, res.Name, res.Indicator
			r.Scopes = []consentScopeJSON{}
			out = append(out, r)
			i = len(out) - 1
			index[res.ID] = i
		}
		desc := sc.Description
		out[i].Scopes = append(out[i].Scopes, consentScopeJSON{ID: sc.ID, Name: sc.Name, Description: &desc})
	}
	return out
}

// addAppConsentScopes is POST /api/applications/:id/user-consent-scopes: 201, or 422
// when an id names no scope or the application is not third-party.
func (s *Server) addAppConsentScopes(r *http.Request, p httprouter.Params) (int, any, error) {
	var body struct {
		OrganizationScopes         []string `json:"organizationScopes"`
		ResourceScopes             []string `json:"resourceScopes"`
		OrganizationResourceScopes []string `json:"organizationResourceScopes"`
		UserScopes                 []string `json:"userScopes"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	err := s.dir.AddAppConsentScopes(r.Context(), p.ByName("id"), directory.ConsentScopesInput{
		UserScopes: body.UserScopes, ResourceScopes: body.ResourceScopes,
		OrganizationScopes: body.OrganizationScopes, OrganizationResourceScopes: body.OrganizationResourceScopes,
	})
	if err != nil {
		return 0, nil, consentScopesError(err)
	}
	return http.StatusCreated, nil, nil
}

// removeAppConsentScope is DELETE /api/applications/:id/user-consent-scopes/:scopeType/:scopeId.
func (s *Server) removeAppConsentScope(r *http.Request, p httprouter.Params) (int, any, error) {
	// Logto: an id that is not assigned (of a known type, to an existing application)
	// is 404 entity.not_found.
	if _, ok := s.dir.Application(p.ByName("id")); ok {
		c := s.dir.AppConsentScopes(p.ByName("id"))
		assigned, known := map[string][]string{
			directory.ConsentUserScopes:                 c.UserScopes,
			directory.ConsentResourceScopes:             c.ResourceScopes,
			directory.ConsentOrganizationScopes:         c.OrganizationScopes,
			directory.ConsentOrganizationResourceScopes: c.OrganizationResourceScopes,
		}[p.ByName("scopeType")]
		if known && !slices.Contains(assigned, p.ByName("scopeId")) {
			return 0, nil, apiErr(http.StatusNotFound, "entity.not_found",
				"The user consent scope `"+p.ByName("scopeId")+"` is not assigned to the application.")
		}
	}
	if err := s.dir.RemoveAppConsentScope(r.Context(), p.ByName("id"), p.ByName("scopeType"), p.ByName("scopeId")); err != nil {
		return 0, nil, consentScopesError(err)
	}
	return http.StatusNoContent, nil, nil
}

// consentScopesError maps the directory's consent-scope errors to Logto's.
func consentScopesError(err error) error {
	var nf *directory.ConsentScopesNotFoundError
	switch {
	case errors.As(err, &nf):
		e := apiErr(http.StatusUnprocessableEntity, "application.user_consent_scopes_not_found", "Invalid user consent scopes.")
		e.Data = map[string][]string{
			"invalidOrganizationScopes":         orEmpty(nf.InvalidOrganizationScopes),
			"invalidResourceScopes":             orEmpty(nf.InvalidResourceScopes),
			"invalidOrganizationResourceScopes": orEmpty(nf.InvalidOrganizationResourceScopes),
		}
		return e
	case errors.Is(err, directory.ErrNotThirdParty):
		return apiErr(http.StatusUnprocessableEntity, "application.third_party_application_only", "The feature is only available for third-party applications.")
	case errors.Is(err, directory.ErrManagementAPIConsent):
		return apiErr(http.StatusUnprocessableEntity, "application.consent_management_api_scopes_not_allowed", "Management API scopes are not allowed.")
	}
	return mgmtError(err)
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
