package httpapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// Logto's application-access-control.management test through a real server: the
// default rules, de-duplication and merging, the checks' codes, and
// appLevelAccessControlEnabled (enforcement: cmd/latch TestApplicationAccessControl).
func TestAppAccessControlManagement(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var app, user, role, m2mRole, org, orgRole, m2mOrgRole obj
	c.call("POST", "/api/applications", obj{"name": "spa", "type": "SPA"}, http.StatusOK, &app)
	c.call("POST", "/api/users", obj{"username": "acl1"}, http.StatusOK, &user)
	c.call("POST", "/api/roles", obj{"name": "r-user", "description": "d", "type": "User"}, http.StatusOK, &role)
	c.call("POST", "/api/roles", obj{"name": "r-m2m", "description": "d", "type": "MachineToMachine"}, http.StatusOK, &m2mRole)
	c.call("POST", "/api/organizations", obj{"name": "A"}, http.StatusCreated, &org)
	c.call("POST", "/api/organization-roles", obj{"name": "member"}, http.StatusCreated, &orgRole)
	c.call("POST", "/api/organization-roles", obj{"name": "bot", "type": "MachineToMachine"}, http.StatusCreated, &m2mOrgRole)
	path := "/api/applications/" + str(app, "id") + "/access-control"
	empty := func() obj {
		return obj{"userIds": []string{}, "userRoleIds": []string{}, "organizationIds": []string{}, "organizationRoleRules": []any{}}
	}
	with := func(k string, v any) obj { b := empty(); b[k] = v; return b }

	var got appAccessControlJSON
	c.call("GET", path, nil, http.StatusOK, &got)
	if got.UserIDs == nil || len(got.UserIDs)+len(got.UserRoleIDs)+len(got.OrganizationIDs)+len(got.OrganizationRoleRules) != 0 || got.OrganizationRoleRules == nil {
		t.Fatalf("default %+v", got)
	}
	var a obj
	c.call("GET", "/api/applications/"+str(app, "id"), nil, http.StatusOK, &a)
	if a["appLevelAccessControlEnabled"] != false {
		t.Fatalf("appLevelAccessControlEnabled %v", a["appLevelAccessControlEnabled"])
	}

	// De-duplicated, one rule per organization; GET reads the same back.
	uid, rid, oid, orid := str(user, "id"), str(role, "id"), str(org, "id"), str(orgRole, "id")
	body := obj{"userIds": []string{uid, uid}, "userRoleIds": []string{rid, rid}, "organizationIds": []string{oid, oid},
		"organizationRoleRules": []any{obj{"organizationId": oid, "organizationRoleIds": []string{orid, orid}}, obj{"organizationId": oid, "organizationRoleIds": []string{orid}}}}
	want := appAccessControlJSON{UserIDs: []string{uid}, UserRoleIDs: []string{rid}, OrganizationIDs: []string{oid},
		OrganizationRoleRules: []appAccessOrgRuleJSON{{OrganizationID: oid, OrganizationRoleIDs: []string{orid}}}}
	same := func(a, b appAccessControlJSON) bool {
		return slices.Equal(a.UserIDs, b.UserIDs) && slices.Equal(a.UserRoleIDs, b.UserRoleIDs) && slices.Equal(a.OrganizationIDs, b.OrganizationIDs) &&
			slices.EqualFunc(a.OrganizationRoleRules, b.OrganizationRoleRules, func(x, y appAccessOrgRuleJSON) bool {
				return x.OrganizationID == y.OrganizationID && slices.Equal(x.OrganizationRoleIDs, y.OrganizationRoleIDs)
			})
	}
	c.call("PUT", path, body, http.StatusOK, &got)
	if !same(got, want) {
		t.Fatalf("PUT answered %+v", got)
	}
	c.call("GET", path, nil, http.StatusOK, &got)
	if !same(got, want) {
		t.Fatalf("GET answered %+v", got)
	}
	c.call("PATCH", "/api/applications/"+str(app, "id"), obj{"appLevelAccessControlEnabled": true}, http.StatusOK, &a)
	if a["appLevelAccessControlEnabled"] != true {
		t.Fatalf("after PATCH %v", a)
	}
	// On: the rules cannot be emptied.
	c.fail("PUT", path, empty(), 422, "request.invalid_input")

	// A deleted user leaves the rules (Logto's cascade).
	c.call("DELETE", "/api/users/"+uid, nil, http.StatusNoContent, nil)
	c.call("GET", path, nil, http.StatusOK, &got)
	if len(got.UserIDs) != 0 || len(got.UserRoleIDs) != 1 {
		t.Fatalf("after deleting the user %+v", got)
	}

	// Enabling without rules.
	var bare obj
	c.call("POST", "/api/applications", obj{"name": "bare", "type": "SPA"}, http.StatusOK, &bare)
	c.fail("PATCH", "/api/applications/"+str(bare, "id"), obj{"appLevelAccessControlEnabled": true}, 422, "request.invalid_input")

	// References and shapes.
	c.fail("PUT", path, with("userIds", []string{"missing"}), 404, "entity.relation_foreign_key_not_found")
	c.fail("PUT", path, with("organizationIds", []string{"missing"}), 404, "entity.relation_foreign_key_not_found")
	c.fail("PUT", path, with("userRoleIds", []string{"missing"}), 404, "entity.relation_foreign_key_not_found")
	c.fail("PUT", path, with("userRoleIds", []string{str(m2mRole, "id")}), 422, "entity.db_constraint_violated")
	c.fail("PUT", path, with("organizationRoleRules", []any{obj{"organizationId": oid, "organizationRoleIds": []string{"missing"}}}), 404, "entity.relation_foreign_key_not_found")
	c.fail("PUT", path, with("organizationRoleRules", []any{obj{"organizationId": oid, "organizationRoleIds": []string{str(m2mOrgRole, "id")}}}), 422, "entity.db_constraint_violated")
	c.fail("PUT", path, with("organizationRoleRules", []any{obj{"organizationId": oid, "organizationRoleIds": []string{}}}), 422, "request.invalid_input")
	c.fail("PUT", path, obj{"userIds": []string{}}, 400, "guard.invalid_input")
	c.fail("PUT", path, with("userIds", "x"), 400, "guard.invalid_input")
	tooMany := make([]string, 2001)
	for i := range tooMany {
		tooMany[i] = strings.Repeat("u", 1+i%3)
	}
	c.fail("PUT", path, with("userIds", tooMany), 400, "guard.invalid_input")
	c.fail("GET", "/api/applications/nope/access-control", nil, 404, "entity.not_exists_with_id")
	c.fail("PUT", "/api/applications/nope/access-control", empty(), 404, "entity.not_exists_with_id")
	// Nothing was written by the refused PUTs.
	c.call("GET", path, nil, http.StatusOK, &got)
	if len(got.UserRoleIDs) != 1 || len(got.OrganizationRoleRules) != 1 {
		t.Fatalf("after refused PUTs %+v", got)
	}
}
