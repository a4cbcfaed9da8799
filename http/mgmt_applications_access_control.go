package httpapi

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's application-level access control (routes/applications/
// application-access-control.ts): GET/PUT /api/applications/:id/access-control keep
// the rules (directory.AppAccessControl); PATCH /api/applications/:id
// {appLevelAccessControlEnabled} turns them on; op/ enforces them when a user signs in
// to the application, refreshes a token or exchanges a subject token
// (Directory.UserHasAppAccess).

// appAccessRuleLimit is Logto's limit of ids per list once de-duplicated; a list may
// carry twice as many before de-duplication.
const appAccessRuleLimit = 1000

func (s *Server) appAccessControlRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/applications/:id/access-control", s.getAppAccessControl},
		{"PUT", "/api/applications/:id/access-control", s.putAppAccessControl},
	}
}

// appAccessControlJSON is Logto's ApplicationAccessControl; every list is present.
type appAccessControlJSON struct {
	UserIDs               []string               `json:"userIds"`
	UserRoleIDs           []string               `json:"userRoleIds"`
	OrganizationIDs       []string               `json:"organizationIds"`
	OrganizationRoleRules []appAccessOrgRuleJSON `json:"organizationRoleRules"`
}

type appAccessOrgRuleJSON struct {
	OrganizationID      string   `json:"organizationId"`
	OrganizationRoleIDs []string `json:"organizationRoleIds"`
}

func appAccessControlView(c *directory.AppAccessControl) appAccessControlJSON {
	out := appAccessControlJSON{UserIDs: []string{}, UserRoleIDs: []string{}, OrganizationIDs: []string{}, OrganizationRoleRules: []appAccessOrgRuleJSON{}}
	if c == nil {
		return out
	}
	out.UserIDs = append(out.UserIDs, c.UserIDs...)
	out.UserRoleIDs = append(out.UserRoleIDs, c.UserRoleIDs...)
	out.OrganizationIDs = append(out.OrganizationIDs, c.OrganizationIDs...)
	for _, r := range c.OrganizationRoleRules {
		out.OrganizationRoleRules = append(out.OrganizationRoleRules,
			appAccessOrgRuleJSON{OrganizationID: r.OrganizationID, OrganizationRoleIDs: append([]string{}, r.OrganizationRoleIDs...)})
	}
	return out
}

// getAppAccessControl answers the rules as Logto reads them back: each list sorted by
// id, organization-role rules grouped by organization, and without ids whose entity
// was deleted since (Logto's relation rows go with the entity).
func (s *Server) getAppAccessControl(_ *http.Request, p httprouter.Params) (int, any, error) {
	app, ok := s.dir.Application(p.ByName("id"))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: p.ByName("id")})
	}
	c := s.liveAccessControl(app.AccessControl)
	slices.Sort(c.UserIDs)
	slices.Sort(c.UserRoleIDs)
	slices.Sort(c.OrganizationIDs)
	for i := range c.OrganizationRoleRules {
		slices.Sort(c.OrganizationRoleRules[i].OrganizationRoleIDs)
	}
	slices.SortFunc(c.OrganizationRoleRules, func(a, b appAccessOrgRuleJSON) int {
		if a.OrganizationID < b.OrganizationID {
			return -1
		}
		if a.OrganizationID > b.OrganizationID {
			return 1
		}
		return 0
	})
	return http.StatusOK, c, nil
}

// liveAccessControl is c without the ids of deleted entities.
func (s *Server) liveAccessControl(c *directory.AppAccessControl) appAccessControlJSON {
	v := appAccessControlView(c)
	v.UserIDs = slices.DeleteFunc(v.UserIDs, func(id string) bool { _, ok := s.dir.User(id); return !ok })
	v.UserRoleIDs = slices.DeleteFunc(v.UserRoleIDs, func(id string) bool { _, ok := s.dir.Role(id); return !ok })
	v.OrganizationIDs = slices.DeleteFunc(v.OrganizationIDs, func(id string) bool { _, ok := s.dir.Organization(id); return !ok })
	rules := v.OrganizationRoleRules[:0]
	for _, r := range v.OrganizationRoleRules {
		if _, ok := s.dir.Organization(r.OrganizationID); !ok {
			continue
		}
		r.OrganizationRoleIDs = slices.DeleteFunc(r.OrganizationRoleIDs, func(id string) bool { _, ok := s.dir.OrganizationRole(id); return !ok })
		if len(r.OrganizationRoleIDs) > 0 {
			rules = append(rules, r)
		}
	}
	v.OrganizationRoleRules = rules
	return v
}

// appAccessControlBody is PUT's body: every list is required.
type appAccessControlBody struct {
	UserIDs               *[]string `json:"userIds"`
	UserRoleIDs           *[]string `json:"userRoleIds"`
	OrganizationIDs       *[]string `json:"organizationIds"`
	OrganizationRoleRules *[]struct {
		OrganizationID      *string   `json:"organizationId"`
		OrganizationRoleIDs *[]string `json:"organizationRoleIds"`
	} `json:"organizationRoleRules"`
}

// dedupe keeps the first of each id, in order; more than Logto's limits is a 400.
func dedupe(field string, ids []string) ([]string, error) {
	if len(ids) > 2*appAccessRuleLimit {
		return nil, invalidInput(fmt.Sprintf("`%s` has more than %d items", field, 2*appAccessRuleLimit))
	}
	out := []string{}
	for _, id := range ids {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if len(out) > appAccessRuleLimit {
		return nil, invalidInput(fmt.Sprintf("`%s` has more than %d distinct items", field, appAccessRuleLimit))
	}
	return out, nil
}

// parse checks the body's shape (400 guard.invalid_input) and returns the rules
// de-duplicated, rules of one organization merged, in the order given (Logto's
// applicationAccessControlGuard).
func (b appAccessControlBody) parse() (*directory.AppAccessControl, error) {
	if b.UserIDs == nil || b.UserRoleIDs == nil || b.OrganizationIDs == nil || b.OrganizationRoleRules == nil {
		return nil, invalidInput("`userIds`, `userRoleIds`, `organizationIds` and `organizationRoleRules` are required")
	}
	c := &directory.AppAccessControl{}
	var err error
	if c.UserIDs, err = dedupe("userIds", *b.UserIDs); err != nil {
		return nil, err
	}
	if c.UserRoleIDs, err = dedupe("userRoleIds", *b.UserRoleIDs); err != nil {
		return nil, err
	}
	if c.OrganizationIDs, err = dedupe("organizationIds", *b.OrganizationIDs); err != nil {
		return nil, err
	}
	rules := *b.OrganizationRoleRules
	if len(rules) > 2*appAccessRuleLimit {
		return nil, invalidInput(fmt.Sprintf("`organizationRoleRules` has more than %d items", 2*appAccessRuleLimit))
	}
	index := map[string]int{}
	for _, r := range rules {
		if r.OrganizationID == nil || r.OrganizationRoleIDs == nil {
			return nil, invalidInput("each of `organizationRoleRules` needs `organizationId` and `organizationRoleIds`")
		}
		roles, err := dedupe("organizationRoleIds", *r.OrganizationRoleIDs)
		if err != nil {
			return nil, err
		}
		i, seen := index[*r.OrganizationID]
		if !seen {
			i = len(c.OrganizationRoleRules)
			index[*r.OrganizationID] = i
			c.OrganizationRoleRules = append(c.OrganizationRoleRules, directory.AppAccessOrgRoleRule{OrganizationID: *r.OrganizationID})
		}
		merged := &c.OrganizationRoleRules[i]
		for _, id := range roles {
			if !slices.Contains(merged.OrganizationRoleIDs, id) {
				merged.OrganizationRoleIDs = append(merged.OrganizationRoleIDs, id)
			}
		}
		if len(merged.OrganizationRoleIDs) > appAccessRuleLimit {
			return nil, invalidInput(fmt.Sprintf("`organizationRoleIds` has more than %d distinct items", appAccessRuleLimit))
		}
	}
	if len(c.OrganizationRoleRules) > appAccessRuleLimit {
		return nil, invalidInput(fmt.Sprintf("`organizationRoleRules` has more than %d organizations", appAccessRuleLimit))
	}
	return c, nil
}

func errForeignKey() *APIError {
	return apiErr(http.StatusNotFound, "entity.relation_foreign_key_not_found",
		"Cannot find one or more foreign keys. Please check the input and ensure that all referenced entities exist.")
}

func errNotUserRole(id string) *APIError {
	return apiErr(http.StatusUnprocessableEntity, "entity.db_constraint_violated",
		fmt.Sprintf("Database constraint violated: role `%s` is not a user role.", id))
}

// checkReferences: an id naming no entity is 404 entity.relation_foreign_key_not_found,
// a machine-to-machine (organization) role 422 entity.db_constraint_violated, as
// Logto's foreign keys and role-type constraints answer.
func (s *Server) checkAccessReferences(c *directory.AppAccessControl) error {
	for _, id := range c.UserIDs {
		if _, ok := s.dir.User(id); !ok {
			return errForeignKey()
		}
	}
	for _, id := range c.OrganizationIDs {
		if _, ok := s.dir.Organization(id); !ok {
			return errForeignKey()
		}
	}
	for _, id := range c.UserRoleIDs {
		r, ok := s.dir.Role(id)
		if !ok {
			return errForeignKey()
		}
		if r.Type != directory.RoleUser {
			return errNotUserRole(id)
		}
	}
	for _, rule := range c.OrganizationRoleRules {
		if _, ok := s.dir.Organization(rule.OrganizationID); !ok {
			return errForeignKey()
		}
		for _, id := range rule.OrganizationRoleIDs {
			r, ok := s.dir.OrganizationRole(id)
			if !ok {
				return errForeignKey()
			}
			if r.Type != directory.RoleUser {
				return errNotUserRole(id)
			}
		}
	}
	return nil
}

func errNoAccessRules() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "request.invalid_input",
		"Application access control must include at least one rule before it can be enabled.")
}

// putAppAccessControl replaces the application's rules and answers them. Order of the
// checks as Logto's: body shape (400), an organization-role rule without roles (422
// request.invalid_input), the application (404), rules left empty while access
// control is on (422), references (404 / 422).
func (s *Server) putAppAccessControl(r *http.Request, p httprouter.Params) (int, any, error) {
	var b appAccessControlBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	c, err := b.parse()
	if err != nil {
		return 0, nil, err
	}
	for _, rule := range c.OrganizationRoleRules {
		if len(rule.OrganizationRoleIDs) == 0 {
			e := apiErr(http.StatusUnprocessableEntity, "request.invalid_input",
				"Organization-role rule groups must include at least one organization role.")
			e.Data = map[string]string{"organizationId": rule.OrganizationID}
			return 0, nil, e
		}
	}
	id := p.ByName("id")
	app, ok := s.dir.Application(id)
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: id})
	}
	if app.AppLevelAccessControlEnabled && !c.HasRules() {
		return 0, nil, errNoAccessRules()
	}
	if err := s.checkAccessReferences(c); err != nil {
		return 0, nil, err
	}
	_, err = s.dir.UpdateApplication(r.Context(), id, func(a *directory.Application) error {
		if a.AppLevelAccessControlEnabled && !c.HasRules() {
			return errNoAccessRules()
		}
		a.AccessControl = c.Clone()
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, appAccessControlView(c), nil
}
