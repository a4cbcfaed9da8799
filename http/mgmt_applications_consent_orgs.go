package httpapi

import (
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's user consent organizations of a third-party application
// (routes/applications/application-user-consent-organization.ts): the organizations a
// user lets the application see, in its organization claims and organization tokens
// (op/consent.go). The consent page sets them; these routes let an admin read and
// change them.
func (s *Server) consentOrganizationRoutes() []mgmtRoute {
	const path = "/api/applications/:id/users/:userId/consent-organizations"
	return []mgmtRoute{
		{"GET", path, s.listConsentOrganizations},
		{"POST", path, s.addConsentOrganizations},
		{"PUT", path, s.replaceConsentOrganizations},
		{"DELETE", path + "/:organizationId", s.removeConsentOrganization},
	}
}

// consentOrganizationsTarget applies Logto's guard of every route, in its order: the
// application exists (entity.not_exists_with_id) and is third-party (422
// application.third_party_application_only), then the user exists (entity.not_found).
func (s *Server) consentOrganizationsTarget(p httprouter.Params) (appID, userID string, err error) {
	appID, userID = p.ByName("id"), p.ByName("userId")
	app, ok := s.dir.Application(appID)
	if !ok {
		return "", "", mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: appID})
	}
	if !app.IsThirdParty {
		return "", "", apiErr(http.StatusUnprocessableEntity, "application.third_party_application_only",
			"The feature is only available for third-party applications.")
	}
	if _, err := s.findUser(userID); err != nil {
		return "", "", err
	}
	return appID, userID, nil
}

// consentOrganizationIDs decodes {organizationIds: [non-empty strings]} (non-empty
// list when nonEmpty, as Logto's POST) and checks that the user is a member of each
// (422 organization.require_membership).
func (s *Server) consentOrganizationIDs(r *http.Request, userID string, nonEmpty bool) ([]string, error) {
	var b struct {
		OrganizationIDs *[]string `json:"organizationIds"`
	}
	if err := decodeBody(r, &b); err != nil {
		return nil, err
	}
	if b.OrganizationIDs == nil || (nonEmpty && len(*b.OrganizationIDs) == 0) {
		return nil, invalidInput("`organizationIds` must be a non-empty array of organization ids")
	}
	if slices.Contains(*b.OrganizationIDs, "") {
		return nil, invalidInput("`organizationIds` must not contain an empty id")
	}
	member := map[string]bool{}
	for _, o := range s.dir.UserOrganizations(userID) {
		member[o.ID] = true
	}
	for _, id := range *b.OrganizationIDs {
		if !member[id] {
			return nil, apiErr(http.StatusUnprocessableEntity, "organization.require_membership",
				"The user must be a member of the organization to proceed.")
		}
	}
	return *b.OrganizationIDs, nil
}

// listConsentOrganizations answers {organizations: [...]}, paged as Logto's
// koaPagination (Total-Number header).
func (s *Server) listConsentOrganizations(r *http.Request, p httprouter.Params) (int, any, error) {
	appID, userID, err := s.consentOrganizationsTarget(p)
	if err != nil {
		return 0, nil, err
	}
	pageNo, size, err := pageParams(r)
	if err != nil {
		return 0, nil, err
	}
	var orgs []*directory.Organization
	if c, ok := s.dir.UserConsent(userID, appID); ok {
		for _, id := range c.OrganizationIDs {
			if o, ok := s.dir.Organization(id); ok {
				orgs = append(orgs, o)
			}
		}
	}
	pg := paginate(orgs, pageNo, size)
	pg.Items = struct {
		Organizations []organizationJSON `json:"organizations"`
	}{mapSlice(pg.Items.([]*directory.Organization), organizationView)}
	return http.StatusOK, pg, nil
}

func (s *Server) addConsentOrganizations(r *http.Request, p httprouter.Params) (int, any, error) {
	return s.editConsentOrganizations(r, p, true, func(cur, ids []string) []string { return append(cur, ids...) })
}

func (s *Server) replaceConsentOrganizations(r *http.Request, p httprouter.Params) (int, any, error) {
	return s.editConsentOrganizations(r, p, false, func(_, ids []string) []string { return ids })
}

func (s *Server) editConsentOrganizations(r *http.Request, p httprouter.Params, add bool, edit func(cur, ids []string) []string) (int, any, error) {
	appID, userID, err := s.consentOrganizationsTarget(p)
	if err != nil {
		return 0, nil, err
	}
	ids, err := s.consentOrganizationIDs(r, userID, add)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.dir.SetUserConsentOrganizations(r.Context(), userID, appID, func(cur []string) []string {
		return edit(cur, ids)
	}); err != nil {
		return 0, nil, userError(err)
	}
	if add {
		return http.StatusCreated, nil, nil
	}
	return http.StatusNoContent, nil, nil
}

// removeConsentOrganization answers 204 whether or not the organization was consented
// (Logto deletes by condition).
func (s *Server) removeConsentOrganization(r *http.Request, p httprouter.Params) (int, any, error) {
	appID, userID, err := s.consentOrganizationsTarget(p)
	if err != nil {
		return 0, nil, err
	}
	orgID := p.ByName("organizationId")
	if c, ok := s.dir.UserConsent(userID, appID); !ok || !slices.Contains(c.OrganizationIDs, orgID) {
		return http.StatusNoContent, nil, nil
	}
	if _, err := s.dir.SetUserConsentOrganizations(r.Context(), userID, appID, func(cur []string) []string {
		return slices.DeleteFunc(cur, func(id string) bool { return id == orgID })
	}); err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusNoContent, nil, nil
}
