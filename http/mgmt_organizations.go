package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's /api/organizations (packages/core/src/routes/organization): the
// organizations, their users and user roles, their (MachineToMachine) applications and
// application roles, and just-in-time provisioning. Status codes and error codes are
// Logto's, which come from its SchemaRouter and Postgres constraints: a relation that
// names a missing entity is 422 entity.relation_foreign_key_not_found, a role of the
// wrong type (or an application that is not MachineToMachine) 422
// entity.db_constraint_violated, a duplicate 422 entity.unique_integrity_violation.

// organizationJSON is Logto's Organization (isTrustedDeviceAllowed is a hidden field
// outside Logto's dev features, so it is not shown).
type organizationJSON struct {
	TenantID      string          `json:"tenantId"`
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Description   *string         `json:"description"`
	CustomData    json.RawMessage `json:"customData"`
	IsMfaRequired bool            `json:"isMfaRequired"`
	Color         json.RawMessage `json:"color"`
	Branding      json.RawMessage `json:"branding"`
	CustomCSS     *string         `json:"customCss"`
	CreatedAt     int64           `json:"createdAt"`
}

func organizationView(o *directory.Organization) organizationJSON {
	return organizationJSON{
		TenantID: tenantID, ID: o.ID, Name: o.Name, Description: o.Description,
		CustomData: objectOrEmpty(o.CustomData), IsMfaRequired: o.IsMfaRequired,
		Color: objectOrEmpty(o.Color), Branding: objectOrEmpty(o.Branding), CustomCSS: o.CustomCSS,
		CreatedAt: o.CreatedAt,
	}
}

// roleRefJSON is an organization role as Logto aggregates it into members and
// organizations: {id, name}.
type roleRefJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func roleRefs(roles []*directory.OrganizationRole) []roleRefJSON {
	out := make([]roleRefJSON, len(roles))
	for i, r := range roles {
		out[i] = roleRefJSON{ID: r.ID, Name: r.Name}
	}
	return out
}

// organizationWithRolesJSON is Logto's OrganizationWithRoles.
type organizationWithRolesJSON struct {
	organizationJSON
	OrganizationRoles []roleRefJSON `json:"organizationRoles"`
}

func organizationWithRolesView(m directory.OrganizationWithRoles) organizationWithRolesJSON {
	return organizationWithRolesJSON{organizationView(m.Organization), roleRefs(m.Roles)}
}

// orgError maps the organization errors of the directory to Logto's codes, then
// falls back to mgmtError.
func orgError(err error) error {
	var (
		nf  *directory.NotFoundError
		ie  *directory.InvitationError
		ocv *directory.OrganizationConstraintError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, directory.ErrRelationTarget):
		return apiErr(http.StatusUnprocessableEntity, "entity.relation_foreign_key_not_found",
			"Cannot find one or more foreign keys. Please check the input and ensure that all referenced entities exist.")
	case errors.As(err, &ocv):
		return apiErr(http.StatusUnprocessableEntity, "entity.db_constraint_violated",
			fmt.Sprintf("Database constraint violated: %s `%s`: %s.", ocv.Entity, ocv.ID, ocv.Reason))
	case errors.Is(err, directory.ErrMembershipRequired):
		return apiErr(http.StatusUnprocessableEntity, "organization.require_membership",
			"The user must be a member of the organization to proceed.")
	case errors.As(err, &ie):
		return apiErr(http.StatusUnprocessableEntity, "request.invalid_input", "Input is invalid. "+ie.Reason)
	case errors.As(err, &nf):
		switch nf.Entity {
		case directory.EntityOrganization, directory.EntityOrganizationScope, directory.EntityUser, directory.EntityApplication:
			return mgmtError(err)
		}
		return notFoundResource()
	}
	return mgmtError(err)
}

// notFoundResource is Logto's DeletionError / NotFoundError answer.
func notFoundResource() *APIError {
	return apiErr(http.StatusNotFound, "entity.not_found", "The resource does not exist.")
}

// deleteError is orgError for deletes: Logto answers a missing row with
// entity.not_found whatever the entity.
func deleteError(err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		return notFoundResource()
	}
	return orgError(err)
}

// patchError is orgError for SchemaRouter's PATCH: a missing row is entity.not_exists.
func patchError(err error, entity string) error {
	if errors.Is(err, directory.ErrNotFound) {
		return apiErr(http.StatusNotFound, "entity.not_exists", fmt.Sprintf("The %s does not exist.", entity))
	}
	return orgError(err)
}

// idList validates a list of ids as Logto's guards do (z.string().min(1).array(),
// .nonempty() when required): a missing or empty required list, or an empty id, is a
// 400 guard.invalid_input.
func idList(field string, ids *[]string, nonEmpty bool) ([]string, error) {
	if ids == nil {
		return nil, invalidInput(fmt.Sprintf("`%s` is required", field))
	}
	if nonEmpty && len(*ids) == 0 {
		return nil, invalidInput(fmt.Sprintf("`%s` must contain at least 1 element", field))
	}
	for _, id := range *ids {
		if id == "" {
			return nil, invalidInput(fmt.Sprintf("`%s` must not contain an empty string", field))
		}
	}
	return *ids, nil
}

// ---- organizations ----

// listOrganizations pages organizations; q searches id and name; showFeatured adds
// usersCount and up to three featuredUsers.
func (s *Server) listOrganizations(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	orgs := s.dir.Organizations(q.Get("q"))
	if !truthy(q.Get("showFeatured")) {
		return listOf(r, orgs, false, organizationView)
	}
	type featuredJSON struct {
		organizationJSON
		UsersCount    int                `json:"usersCount"`
		FeaturedUsers []featuredUserJSON `json:"featuredUsers"`
	}
	return listOf(r, orgs, false, func(o *directory.Organization) featuredJSON {
		n, users := s.dir.OrganizationUserCount(o.ID, featuredCount)
		v := featuredJSON{organizationJSON: organizationView(o), UsersCount: n, FeaturedUsers: []featuredUserJSON{}}
		for _, u := range users {
			v.FeaturedUsers = append(v.FeaturedUsers, featuredUserJSON{ID: u.ID, Avatar: u.Avatar, Name: u.Name})
		}
		return v
	})
}

// organizationBody is POST and PATCH /api/organizations(/:id).
type organizationBody struct {
	Name          opt[string]        `json:"name"`
	Description   opt[string]        `json:"description"`
	CustomData    opt[jsonObjectRaw] `json:"customData"`
	IsMfaRequired opt[bool]          `json:"isMfaRequired"`
	Color         opt[jsonObjectRaw] `json:"color"`
	Branding      opt[jsonObjectRaw] `json:"branding"`
	CustomCSS     opt[string]        `json:"customCss"`
}

// check rejects null where Logto's columns are not nullable.
func (b *organizationBody) check() error {
	for field, null := range map[string]bool{"name": b.Name.Null, "customData": b.CustomData.Null,
		"isMfaRequired": b.IsMfaRequired.Null, "color": b.Color.Null, "branding": b.Branding.Null} {
		if null {
			return invalidInput(fmt.Sprintf("`%s` must not be null", field))
		}
	}
	return nil
}

func nullable(o opt[string]) *string {
	if !o.Set || o.Null {
		return nil
	}
	v := o.V
	return &v
}

// apply sets the fields present in the body (PATCH replaces JSON objects whole, as
// Logto's updateById does).
func (b *organizationBody) apply(o *directory.Organization) {
	if b.Name.Set {
		o.Name = b.Name.V
	}
	if b.Description.Set {
		o.Description = nullable(b.Description)
	}
	if b.CustomData.Set {
		o.CustomData = json.RawMessage(b.CustomData.V)
	}
	if b.IsMfaRequired.Set {
		o.IsMfaRequired = b.IsMfaRequired.V
	}
	if b.Color.Set {
		o.Color = json.RawMessage(b.Color.V)
	}
	if b.Branding.Set {
		o.Branding = json.RawMessage(b.Branding.V)
	}
	if b.CustomCSS.Set {
		o.CustomCSS = nullable(b.CustomCSS)
	}
}

// createOrganization answers 201 with the organization.
func (s *Server) createOrganization(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b organizationBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.check(); err != nil {
		return 0, nil, err
	}
	if !b.Name.Set {
		return 0, nil, invalidInput("`name` is required")
	}
	var o directory.Organization
	b.apply(&o)
	org, err := s.dir.CreateOrganization(r.Context(), directory.NewOrganization{
		Name: o.Name, Description: o.Description, CustomData: o.CustomData, IsMfaRequired: o.IsMfaRequired,
		Color: o.Color, Branding: o.Branding, CustomCSS: o.CustomCSS,
	})
	if err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, organizationView(org), nil
}

func (s *Server) getOrganization(_ *http.Request, p httprouter.Params) (int, any, error) {
	org, ok := s.dir.Organization(p.ByName("id"))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityOrganization, ID: p.ByName("id")})
	}
	return http.StatusOK, organizationView(org), nil
}

func (s *Server) patchOrganization(r *http.Request, p httprouter.Params) (int, any, error) {
	var b organizationBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.check(); err != nil {
		return 0, nil, err
	}
	org, err := s.dir.UpdateOrganization(r.Context(), p.ByName("id"), func(o *directory.Organization) error {
		b.apply(o)
		return nil
	})
	if err != nil {
		return 0, nil, patchError(err, directory.EntityOrganization)
	}
	return http.StatusOK, organizationView(org), nil
}

func (s *Server) deleteOrganization(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteOrganization(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- users ----

// userWithOrganizationRolesJSON is Logto's UserWithOrganizationRoles.
type userWithOrganizationRolesJSON struct {
	userJSON
	OrganizationRoles []roleRefJSON `json:"organizationRoles"`
}

// listOrganizationUsers pages the organization's users by id; q searches id,
// username, email, phone and name; organizationRoleId keeps those holding it.
func (s *Server) listOrganizationUsers(r *http.Request, p httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	members := s.dir.OrganizationUsers(p.ByName("id"), q.Get("q"), q.Get("organizationRoleId"))
	return listOf(r, members, false, func(m directory.OrganizationUser) userWithOrganizationRolesJSON {
		return userWithOrganizationRolesJSON{userView(m.User), roleRefs(m.Roles)}
	})
}

// organizationRoleJSON is Logto's OrganizationRole.
type organizationRoleJSON struct {
	TenantID    string             `json:"tenantId"`
	ID          string             `json:"id"`
	Name        string             `json:"name"`
	Description *string            `json:"description"`
	Type        directory.RoleType `json:"type"`
}

func organizationRoleView(r *directory.OrganizationRole) organizationRoleJSON {
	return organizationRoleJSON{TenantID: tenantID, ID: r.ID, Name: r.Name, Description: r.Description, Type: r.Type}
}

// listOrganizationUserScopes answers the organization scopes the user's roles in
// the organization hold, by id (Logto's distinct on id). Logto's membership guard
// covers only .../roles, so a user who is not a member simply has none.
func (s *Server) listOrganizationUserScopes(_ *http.Request, p httprouter.Params) (int, any, error) {
	roles, _ := s.dir.MemberOrganizationRoles(p.ByName("id"), directory.MemberUser, p.ByName("userId"))
	seen := map[string]bool{}
	out := []organizationScopeJSON{}
	for _, role := range roles {
		scopes, _ := s.dir.OrganizationRoleScopes(role.ID) // deleted meanwhile: none
		for _, sc := range scopes {
			if !seen[sc.ID] {
				seen[sc.ID] = true
				out = append(out, organizationScopeView(sc))
			}
		}
	}
	slices.SortFunc(out, func(a, b organizationScopeJSON) int { return strings.Compare(a.ID, b.ID) })
	return http.StatusOK, out, nil
}

// ---- applications ----

// applicationWithOrganizationRolesJSON is Logto's ApplicationWithOrganizationRoles
// (without the secret).
type applicationWithOrganizationRolesJSON struct {
	applicationJSON
	OrganizationRoles []roleRefJSON `json:"organizationRoles"`
}

func (s *Server) listOrganizationApplications(r *http.Request, p httprouter.Params) (int, any, error) {
	members := s.dir.OrganizationApps(p.ByName("id"), r.URL.Query().Get("q"))
	return listOf(r, members, false, func(m directory.OrganizationApp) applicationWithOrganizationRolesJSON {
		return applicationWithOrganizationRolesJSON{applicationView(m.App), roleRefs(m.Roles)}
	})
}

// ---- a member's organizations ----

// listUserOrganizations is GET /api/users/:userId/organizations: every organization
// of the user with its roles, unpaged (as Logto: it matches the ID token claim).
func (s *Server) listUserOrganizations(_ *http.Request, p httprouter.Params) (int, any, error) {
	// A missing user is 404 entity.not_found, as Logto's user lookup answers (an
	// application's list below is entity.not_exists_with_id, as Logto's is).
	if _, err := s.findUser(p.ByName("userId")); err != nil {
		return 0, nil, err
	}
	orgs := s.dir.MemberOrganizations(directory.MemberUser, p.ByName("userId"))
	return http.StatusOK, mapSlice(orgs, organizationWithRolesView), nil
}

// listApplicationOrganizations is GET /api/applications/:id/organizations (optional
// paging).
func (s *Server) listApplicationOrganizations(r *http.Request, p httprouter.Params) (int, any, error) {
	if _, ok := s.dir.Application(p.ByName("id")); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: p.ByName("id")})
	}
	orgs := s.dir.MemberOrganizations(directory.MemberApp, p.ByName("id"))
	return listOf(r, orgs, true, organizationWithRolesView)
}

// ---- just-in-time provisioning ----

type jitEmailDomainJSON struct {
	TenantID       string `json:"tenantId"`
	OrganizationID string `json:"organizationId"`
	EmailDomain    string `json:"emailDomain"`
}

// listOrganizationJITEmailDomains answers the domains (optional paging). A missing
// organization has none, as in Logto.
func (s *Server) listOrganizationJITEmailDomains(r *http.Request, p httprouter.Params) (int, any, error) {
	orgID := p.ByName("id")
	domains, _, err := s.dir.OrganizationJITSettings(orgID)
	if err != nil {
		domains = []string{}
	}
	return listOf(r, domains, true, func(d string) jitEmailDomainJSON {
		return jitEmailDomainJSON{TenantID: tenantID, OrganizationID: orgID, EmailDomain: d}
	})
}

func (s *Server) addOrganizationJITEmailDomain(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		EmailDomain *string `json:"emailDomain"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.EmailDomain == nil || *b.EmailDomain == "" {
		return 0, nil, invalidInput("`emailDomain` must be a non-empty string")
	}
	if err := s.dir.AddOrganizationJITEmailDomain(r.Context(), p.ByName("id"), *b.EmailDomain); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, jitEmailDomainJSON{TenantID: tenantID, OrganizationID: p.ByName("id"), EmailDomain: *b.EmailDomain}, nil
}

func (s *Server) replaceOrganizationJITEmailDomains(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		EmailDomains *[]string `json:"emailDomains"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.EmailDomains == nil {
		return 0, nil, invalidInput("`emailDomains` is required")
	}
	if err := s.dir.ReplaceOrganizationJITEmailDomains(r.Context(), p.ByName("id"), *b.EmailDomains); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) removeOrganizationJITEmailDomain(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.RemoveOrganizationJITEmailDomain(r.Context(), p.ByName("id"), p.ByName("emailDomain")); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// listOrganizationJITRoles answers the roles (optional paging); 404 for a missing
// organization (Logto's relation routes check it).
func (s *Server) listOrganizationJITRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	_, roles, err := s.dir.OrganizationJITSettings(p.ByName("id"))
	if err != nil {
		return 0, nil, orgError(err)
	}
	return listOf(r, roles, true, organizationRoleView)
}

func (s *Server) addOrganizationJITRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	ids, err := decodeIDList(r, orgRoleIDsField, true)
	if err != nil {
		return 0, nil, err
	}
	if err := s.dir.AddOrganizationJITRoles(r.Context(), p.ByName("id"), ids); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusCreated, nil, nil
}

func (s *Server) replaceOrganizationJITRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	ids, err := decodeIDList(r, orgRoleIDsField, false)
	if err != nil {
		return 0, nil, err
	}
	if err := s.dir.ReplaceOrganizationJITRoles(r.Context(), p.ByName("id"), ids); err != nil {
		return 0, nil, orgError(err)
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) removeOrganizationJITRole(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.RemoveOrganizationJITRole(r.Context(), p.ByName("id"), p.ByName("organizationRoleId")); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// The jit/sso-connectors routes answer as Logto does in a tenant without enterprise
// SSO connectors (Latch has none yet): the list is empty, adding any connector id
// fails its foreign key, and there is nothing to delete.

func (s *Server) listOrganizationJITSSOConnectors(r *http.Request, p httprouter.Params) (int, any, error) {
	if _, ok := s.dir.Organization(p.ByName("id")); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityOrganization, ID: p.ByName("id")})
	}
	return listOf(r, []struct{}{}, true, func(v struct{}) struct{} { return v })
}

func (s *Server) addOrganizationJITSSOConnectors(r *http.Request, _ httprouter.Params) (int, any, error) {
	if _, err := decodeIDList(r, "ssoConnectorIds", true); err != nil {
		return 0, nil, err
	}
	return 0, nil, orgError(directory.ErrRelationTarget)
}

func (s *Server) replaceOrganizationJITSSOConnectors(r *http.Request, _ httprouter.Params) (int, any, error) {
	ids, err := decodeIDList(r, "ssoConnectorIds", false)
	if err != nil {
		return 0, nil, err
	}
	if len(ids) > 0 {
		return 0, nil, orgError(directory.ErrRelationTarget)
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) removeOrganizationJITSSOConnector(*http.Request, httprouter.Params) (int, any, error) {
	return 0, nil, notFoundResource()
}
