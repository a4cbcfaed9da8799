package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latchid/latch/directory"
)

// orgGetRoutes are the organization GET routes: TestMgmtOrganizationPaging checks
// the paged ones with real organizations, members and roles (TestMgmtPagingOverflow
// fills :id with ids of other entities, which these routes answer with 404 or 422).
var orgGetRoutes = map[string]bool{
	"/api/organizations":                                       true,
	"/api/organizations/:id":                                   true,
	"/api/organizations/:id/users":                             true,
	"/api/organizations/:id/users/:userId/roles":               true,
	"/api/organizations/:id/users/:userId/scopes":              true,
	"/api/organizations/:id/applications":                      true,
	"/api/organizations/:id/applications/:applicationId/roles": true,
	"/api/organizations/:id/jit/email-domains":                 true,
	"/api/organizations/:id/jit/roles":                         true,
	"/api/organizations/:id/jit/sso-connectors":                true,
	"/api/organization-roles":                                  true,
	"/api/organization-roles/:id":                              true,
	"/api/organization-roles/:id/scopes":                       true,
	"/api/organization-roles/:id/resource-scopes":              true,
	"/api/organization-scopes":                                 true,
	"/api/organization-scopes/:id":                             true,
	"/api/organization-invitations":                            true,
	"/api/organization-invitations/:id":                        true,
	"/api/users/:userId/organizations":                         true,
	"/api/applications/:id/organizations":                      true,
}

// apiClient talks to a real Latch HTTP server with a Management API token.
type apiClient struct {
	t     *testing.T
	base  string
	token string
}

func newAPIClient(t *testing.T, e *mgmtEnv) *apiClient {
	t.Helper()
	srv := httptest.NewServer(e.s.Handler())
	t.Cleanup(srv.Close)
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"all"}}
	req, _ := http.NewRequest("POST", srv.URL+"/oidc/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(mgmtAdminID, mgmtAdminSecret)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return &apiClient{t: t, base: srv.URL, token: tok.AccessToken}
}

// do sends a request and returns the status, the headers and the raw body.
func (c *apiClient) do(method, path string, body any) (int, http.Header, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = strings.NewReader(string(j))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, raw
}

// call checks the status and decodes the answer into out (when not nil).
func (c *apiClient) call(method, path string, body any, want int, out any) http.Header {
	c.t.Helper()
	status, h, raw := c.do(method, path, body)
	if status != want {
		c.t.Fatalf("%s %s: %d %s, want %d", method, path, status, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return h
}

// fail checks a Logto error answer.
func (c *apiClient) fail(method, path string, body any, status int, code string) {
	c.t.Helper()
	got, _, raw := c.do(method, path, body)
	var ae APIError
	if err := json.Unmarshal(raw, &ae); err != nil || got != status || ae.Code != code {
		c.t.Fatalf("%s %s: %d %s, want %d %s", method, path, got, raw, status, code)
	}
}

type obj = map[string]any

func ids(items []obj) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i], _ = it["id"].(string)
	}
	return out
}

func roleNames(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, r := range list {
		m, _ := r.(map[string]any)
		out = append(out, m["name"].(string))
	}
	return out
}

// TestMgmtOrganizationLifecycle drives the whole organization lifecycle through a
// real HTTP server with a Management API token.
func TestMgmtOrganizationLifecycle(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var res, apiRead, apiWrite obj
	c.call("POST", "/api/resources", obj{"name": "API", "indicator": "https://api.acme.test"}, http.StatusCreated, &res)
	c.call("POST", "/api/resources/"+str(res, "id")+"/scopes", obj{"name": "api:read"}, http.StatusCreated, &apiRead)
	c.call("POST", "/api/resources/"+str(res, "id")+"/scopes", obj{"name": "api:write"}, http.StatusCreated, &apiWrite)

	// The template: scopes, then roles holding them.
	var readScope, writeScope obj
	c.call("POST", "/api/organization-scopes", obj{"name": "read:data", "description": "Read"}, http.StatusCreated, &readScope)
	c.call("POST", "/api/organization-scopes", obj{"name": "write:data"}, http.StatusCreated, &writeScope)
	if readScope["tenantId"] != "default" || readScope["description"] != "Read" || writeScope["description"] != nil {
		t.Fatalf("scope shapes: %v %v", readScope, writeScope)
	}
	var member, admin, robot obj
	c.call("POST", "/api/organization-roles", obj{"name": "member", "organizationScopeIds": []string{str(readScope, "id")},
		"resourceScopeIds": []string{str(apiRead, "id")}}, http.StatusCreated, &member)
	if member["type"] != "User" || member["description"] != nil || member["scopes"] != nil {
		t.Fatalf("created role: %v", member)
	}
	c.call("POST", "/api/organization-roles", obj{"name": "admin", "description": "Admins"}, http.StatusCreated, &admin)
	c.call("POST", "/api/organization-roles/"+str(admin, "id")+"/scopes",
		obj{"organizationScopeIds": []string{str(readScope, "id"), str(writeScope, "id")}}, http.StatusCreated, nil)
	c.call("POST", "/api/organization-roles/"+str(admin, "id")+"/resource-scopes",
		obj{"scopeIds": []string{str(apiWrite, "id")}}, http.StatusCreated, nil)
	c.call("POST", "/api/organization-roles", obj{"name": "robot", "type": "MachineToMachine",
		"organizationScopeIds": []string{str(writeScope, "id")}}, http.StatusCreated, &robot)

	var adminGot obj
	c.call("GET", "/api/organization-roles/"+str(admin, "id"), nil, http.StatusOK, &adminGot)
	if fmt.Sprint(adminGot) != fmt.Sprint(admin) {
		t.Fatalf("GET role = %v, POST = %v", adminGot, admin)
	}
	var found []obj
	c.call("GET", "/api/organization-roles?q=adm", nil, http.StatusOK, &found)
	if len(found) != 1 {
		t.Fatalf("roles searched: %v", found)
	}
	adminFull := found[0]
	if got := roleNames(adminFull["scopes"]); !slices.Equal(got, []string{"read:data", "write:data"}) {
		t.Fatalf("admin scopes %v", adminFull["scopes"])
	}
	rs, _ := adminFull["resourceScopes"].([]any)
	if len(rs) != 1 || rs[0].(map[string]any)["resource"].(map[string]any)["name"] != "API" {
		t.Fatalf("admin resource scopes %v", adminFull["resourceScopes"])
	}

	// An organization, two users, an M2M app.
	var org obj
	c.call("POST", "/api/organizations", obj{"name": "Acme", "description": "Acme Inc.", "customData": obj{"tier": "gold"},
		"branding": obj{"logoUrl": "https://acme.test/logo.png"}}, http.StatusCreated, &org)
	orgID := str(org, "id")
	if len(orgID) != directory.OrganizationIDLength || org["isMfaRequired"] != false || org["customCss"] != nil ||
		org["color"] == nil || org["customData"].(map[string]any)["tier"] != "gold" {
		t.Fatalf("created organization: %v", org)
	}
	var got obj
	c.call("GET", "/api/organizations/"+orgID, nil, http.StatusOK, &got)
	if fmt.Sprint(got) != fmt.Sprint(org) {
		t.Fatalf("GET = %v, POST = %v", got, org)
	}
	c.call("PATCH", "/api/organizations/"+orgID, obj{"isMfaRequired": true, "description": nil, "customData": obj{"b": 1}}, http.StatusOK, &got)
	if got["isMfaRequired"] != true || got["description"] != nil || got["customData"].(map[string]any)["tier"] != nil || got["name"] != "Acme" {
		t.Fatalf("patched organization: %v", got)
	}
	var alice, bob, app obj
	c.call("POST", "/api/users", obj{"username": "alice", "primaryEmail": "alice@acme.test"}, http.StatusOK, &alice)
	c.call("POST", "/api/users", obj{"username": "bob"}, http.StatusOK, &bob)
	c.call("POST", "/api/applications", obj{"name": "svc", "type": "MachineToMachine"}, http.StatusOK, &app)
	aliceID, bobID, appID := str(alice, "id"), str(bob, "id"), str(app, "id")

	// Members and their roles.
	var added obj
	c.call("POST", "/api/organizations/"+orgID+"/users", obj{"userIds": []string{aliceID, bobID, aliceID}}, http.StatusCreated, &added)
	if fmt.Sprint(added["userIds"]) != fmt.Sprint([]string{aliceID, bobID, aliceID}) {
		t.Fatalf("POST users answer %v", added)
	}
	c.call("POST", "/api/organizations/"+orgID+"/users/roles",
		obj{"userIds": []string{aliceID, bobID}, "organizationRoleIds": []string{str(member, "id")}}, http.StatusCreated, nil)
	var assigned obj
	c.call("POST", "/api/organizations/"+orgID+"/users/"+aliceID+"/roles", obj{"organizationRoleNames": []string{"admin"}}, http.StatusCreated, &assigned)
	if fmt.Sprint(assigned["organizationRoleIds"]) != fmt.Sprint([]string{str(admin, "id")}) {
		t.Fatalf("assigned %v", assigned)
	}
	var roles, scopes []obj
	c.call("GET", "/api/organizations/"+orgID+"/users/"+aliceID+"/roles", nil, http.StatusOK, &roles)
	if got := roleNames(toAny(roles)); !slices.Equal(got, []string{"admin", "member"}) {
		t.Fatalf("alice roles %v", roles)
	}
	c.call("GET", "/api/organizations/"+orgID+"/users/"+aliceID+"/scopes", nil, http.StatusOK, &scopes)
	if names := roleNames(toAny(scopes)); len(names) != 2 || !slices.Contains(names, "read:data") || !slices.Contains(names, "write:data") {
		t.Fatalf("alice scopes %v", scopes)
	}
	var users []obj
	h := c.call("GET", "/api/organizations/"+orgID+"/users?q=ALI", nil, http.StatusOK, &users)
	if len(users) != 1 || users[0]["id"] != aliceID || h.Get("Total-Number") != "1" ||
		!slices.Equal(roleNames(users[0]["organizationRoles"]), []string{"admin", "member"}) || users[0]["passwordHash"] != nil {
		t.Fatalf("organization users %v (%v)", users, h)
	}
	c.call("GET", "/api/organizations/"+orgID+"/users?organizationRoleId="+str(admin, "id"), nil, http.StatusOK, &users)
	if !slices.Equal(ids(users), []string{aliceID}) {
		t.Fatalf("users with admin %v", ids(users))
	}
	var orgs []obj
	c.call("GET", "/api/users/"+aliceID+"/organizations", nil, http.StatusOK, &orgs)
	if len(orgs) != 1 || orgs[0]["id"] != orgID || !slices.Equal(roleNames(orgs[0]["organizationRoles"]), []string{"admin", "member"}) {
		t.Fatalf("alice organizations %v", orgs)
	}
	c.call("PUT", "/api/organizations/"+orgID+"/users/"+aliceID+"/roles", obj{"organizationRoleIds": []string{str(member, "id")}}, http.StatusNoContent, nil)
	if got := e.dir.UserOrganizationScopes(orgID, aliceID); !slices.Equal(got, []string{"read:data"}) {
		t.Fatalf("scopes after PUT roles %q", got)
	}
	c.call("DELETE", "/api/organizations/"+orgID+"/users/"+aliceID+"/roles/"+str(member, "id"), nil, http.StatusNoContent, nil)
	c.fail("DELETE", "/api/organizations/"+orgID+"/users/"+aliceID+"/roles/"+str(member, "id"), nil, http.StatusNotFound, "entity.not_found")

	// The application and its roles.
	c.call("POST", "/api/organizations/"+orgID+"/applications", obj{"applicationIds": []string{appID}}, http.StatusCreated, nil)
	c.call("POST", "/api/organizations/"+orgID+"/applications/roles",
		obj{"applicationIds": []string{appID}, "organizationRoleIds": []string{str(robot, "id")}}, http.StatusCreated, nil)
	var apps []obj
	c.call("GET", "/api/organizations/"+orgID+"/applications", nil, http.StatusOK, &apps)
	if len(apps) != 1 || apps[0]["id"] != appID || apps[0]["secret"] != nil || !slices.Equal(roleNames(apps[0]["organizationRoles"]), []string{"robot"}) {
		t.Fatalf("organization applications %v", apps)
	}
	c.call("GET", "/api/applications/"+appID+"/organizations", nil, http.StatusOK, &orgs)
	if len(orgs) != 1 || !slices.Equal(roleNames(orgs[0]["organizationRoles"]), []string{"robot"}) {
		t.Fatalf("application organizations %v", orgs)
	}
	if got := e.dir.AppOrganizationScopes(orgID, appID); !slices.Equal(got, []string{"write:data"}) {
		t.Fatalf("app scopes %q", got)
	}
	c.call("PUT", "/api/organizations/"+orgID+"/applications/"+appID+"/roles", obj{"organizationRoleIds": []string{str(robot, "id")}}, http.StatusNoContent, nil)
	c.call("DELETE", "/api/organizations/"+orgID+"/applications/"+appID+"/roles/"+str(robot, "id"), nil, http.StatusNoContent, nil)
	c.call("GET", "/api/organizations/"+orgID+"/applications/"+appID+"/roles", nil, http.StatusOK, &roles)
	if len(roles) != 0 {
		t.Fatalf("app roles after delete %v", roles)
	}

	// JIT.
	var dom obj
	c.call("POST", "/api/organizations/"+orgID+"/jit/email-domains", obj{"emailDomain": "acme.test"}, http.StatusCreated, &dom)
	if dom["organizationId"] != orgID || dom["emailDomain"] != "acme.test" {
		t.Fatalf("email domain %v", dom)
	}
	c.call("PUT", "/api/organizations/"+orgID+"/jit/email-domains", obj{"emailDomains": []string{"acme.test", "acme.example"}}, http.StatusNoContent, nil)
	var doms []obj
	c.call("GET", "/api/organizations/"+orgID+"/jit/email-domains", nil, http.StatusOK, &doms)
	if len(doms) != 2 {
		t.Fatalf("email domains %v", doms)
	}
	c.call("DELETE", "/api/organizations/"+orgID+"/jit/email-domains/acme.example", nil, http.StatusNoContent, nil)
	c.call("POST", "/api/organizations/"+orgID+"/jit/roles", obj{"organizationRoleIds": []string{str(member, "id")}}, http.StatusCreated, nil)
	c.call("GET", "/api/organizations/"+orgID+"/jit/roles", nil, http.StatusOK, &roles)
	if !slices.Equal(ids(roles), []string{str(member, "id")}) {
		t.Fatalf("jit roles %v", roles)
	}
	var sso []obj
	c.call("GET", "/api/organizations/"+orgID+"/jit/sso-connectors", nil, http.StatusOK, &sso)
	if len(sso) != 0 {
		t.Fatalf("sso connectors %v", sso)
	}
	c.fail("POST", "/api/organizations/"+orgID+"/jit/sso-connectors", obj{"ssoConnectorIds": []string{"x"}}, http.StatusUnprocessableEntity, "entity.relation_foreign_key_not_found")

	// Leaving, and the cascades of deletes through the API.
	c.call("DELETE", "/api/organizations/"+orgID+"/users/"+bobID, nil, http.StatusNoContent, nil)
	if e.dir.IsUserOrganizationMember(orgID, bobID) || e.dir.UserOrganizationRoles(bobID) != nil {
		t.Fatal("bob still a member")
	}
	c.call("DELETE", "/api/organization-roles/"+str(member, "id"), nil, http.StatusNoContent, nil)
	c.call("GET", "/api/organizations/"+orgID+"/jit/roles", nil, http.StatusOK, &roles)
	if len(roles) != 0 {
		t.Fatalf("jit roles after role delete %v", roles)
	}
	c.call("DELETE", "/api/resources/"+str(res, "id")+"/scopes/"+str(apiWrite, "id"), nil, http.StatusNoContent, nil)
	c.call("GET", "/api/organization-roles/"+str(admin, "id")+"/resource-scopes", nil, http.StatusOK, &scopes)
	if len(scopes) != 0 {
		t.Fatalf("resource scopes after scope delete %v", scopes)
	}
	c.call("DELETE", "/api/organization-scopes/"+str(writeScope, "id"), nil, http.StatusNoContent, nil)
	c.call("GET", "/api/organization-roles/"+str(admin, "id")+"/scopes", nil, http.StatusOK, &scopes)
	if !slices.Equal(roleNames(toAny(scopes)), []string{"read:data"}) {
		t.Fatalf("admin scopes after scope delete %v", scopes)
	}
	c.call("DELETE", "/api/applications/"+appID, nil, http.StatusNoContent, nil)
	c.call("GET", "/api/organizations/"+orgID+"/applications", nil, http.StatusOK, &apps)
	if len(apps) != 0 {
		t.Fatalf("applications after app delete %v", apps)
	}
	c.call("DELETE", "/api/users/"+aliceID, nil, http.StatusNoContent, nil)
	// A deleted user has no organizations to list: Logto's entity.not_found.
	c.fail("GET", "/api/users/"+aliceID+"/organizations", nil, http.StatusNotFound, "entity.not_found")
	c.call("GET", "/api/organizations/"+orgID+"/users", nil, http.StatusOK, &users)
	if len(users) != 0 {
		t.Fatalf("users after user delete %v", users)
	}
	c.call("POST", "/api/organizations/"+orgID+"/users", obj{"userIds": []string{bobID}}, http.StatusCreated, nil)
	c.call("DELETE", "/api/organizations/"+orgID, nil, http.StatusNoContent, nil)
	c.fail("GET", "/api/organizations/"+orgID, nil, http.StatusNotFound, "entity.not_exists_with_id")
	c.call("GET", "/api/users/"+bobID+"/organizations", nil, http.StatusOK, &orgs)
	if len(orgs) != 0 {
		t.Fatalf("bob organizations after organization delete %v", orgs)
	}
}

func toAny(items []obj) any {
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = map[string]any(it)
	}
	return out
}

// orgFixtureIDs creates an organization with a member user holding a role and a
// member application holding a role, through the API.
func orgFixtureIDs(t *testing.T, e *mgmtEnv) (orgID, userID, appID, userRoleID, appRoleID string) {
	t.Helper()
	org := e.call("POST", "/api/organizations", obj{"name": "Org"}, http.StatusCreated)
	user := e.call("POST", "/api/users", obj{"username": "member"}, http.StatusOK)
	app := e.call("POST", "/api/applications", obj{"name": "m2m", "type": "MachineToMachine"}, http.StatusOK)
	ur := e.call("POST", "/api/organization-roles", obj{"name": "user-role"}, http.StatusCreated)
	ar := e.call("POST", "/api/organization-roles", obj{"name": "app-role", "type": "MachineToMachine"}, http.StatusCreated)
	orgID, userID, appID, userRoleID, appRoleID = str(org, "id"), str(user, "id"), str(app, "id"), str(ur, "id"), str(ar, "id")
	e.call("POST", "/api/organizations/"+orgID+"/users", obj{"userIds": []string{userID}}, http.StatusCreated)
	e.call("POST", "/api/organizations/"+orgID+"/applications", obj{"applicationIds": []string{appID}}, http.StatusCreated)
	return
}

func TestMgmtOrganizationErrors(t *testing.T) {
	e := newMgmtEnv(t)
	orgID, userID, appID, userRoleID, appRoleID := orgFixtureIDs(t, e)
	spa := e.call("POST", "/api/applications", obj{"name": "spa", "type": "SPA", "oidcClientMetadata": obj{"redirectUris": []string{"https://s.test/cb"}}}, http.StatusOK)
	other := e.call("POST", "/api/users", obj{"username": "outsider"}, http.StatusOK)
	otherID := str(other, "id")
	const (
		unique = "entity.unique_integrity_violation"
		fk     = "entity.relation_foreign_key_not_found"
		cv     = "entity.db_constraint_violated"
		member = "organization.require_membership"
	)
	u := func(p string) string { return "/api/organizations/" + orgID + p }
	for _, tc := range []struct {
		method, path string
		body         any
		status       int
		code         string
	}{
		// Uniqueness.
		{"POST", "/api/organization-roles", obj{"name": "user-role"}, 422, unique},
		{"PATCH", "/api/organization-roles/" + appRoleID, obj{"name": "user-role"}, 422, unique},
		{"POST", "/api/organization-scopes", obj{"name": "s"}, 201, ""},
		{"POST", "/api/organization-scopes", obj{"name": "s"}, 422, unique},
		{"POST", u("/jit/email-domains"), obj{"emailDomain": "a.test"}, 201, ""},
		{"POST", u("/jit/email-domains"), obj{"emailDomain": "a.test"}, 422, unique},
		// Input.
		{"POST", "/api/organizations", obj{"name": "a", "customData": "b"}, 400, "guard.invalid_input"},
		{"POST", "/api/organizations", obj{}, 400, "guard.invalid_input"},
		{"POST", "/api/organization-roles", obj{"name": "x", "type": "Robot"}, 400, "guard.invalid_input"},
		{"POST", u("/users"), obj{"userIds": []string{}}, 400, "guard.invalid_input"},
		{"POST", u("/applications"), obj{}, 400, "guard.invalid_input"},
		{"POST", u("/users/roles"), obj{"userIds": []string{userID}}, 400, "guard.invalid_input"},
		// Missing related entities.
		{"POST", "/api/organizations/nope/users", obj{"userIds": []string{userID}}, 422, fk},
		{"POST", u("/users"), obj{"userIds": []string{"nope"}}, 422, fk},
		{"POST", "/api/organization-roles", obj{"name": "r2", "organizationScopeIds": []string{"nope"}}, 422, fk},
		{"POST", "/api/organization-roles", obj{"name": "r3", "resourceScopeIds": []string{"nope"}}, 422, fk},
		{"POST", "/api/organization-roles/" + userRoleID + "/scopes", obj{"organizationScopeIds": []string{"nope"}}, 422, fk},
		{"POST", "/api/organization-roles/nope/scopes", obj{"organizationScopeIds": []string{"x"}}, 422, fk},
		{"POST", u("/users/" + userID + "/roles"), obj{"organizationRoleIds": []string{"nope"}}, 422, fk},
		{"POST", u("/users/roles"), obj{"userIds": []string{otherID}, "organizationRoleIds": []string{userRoleID}}, 422, fk},
		{"POST", u("/jit/roles"), obj{"organizationRoleIds": []string{"nope"}}, 422, fk},
		// Type rules: an M2M role to a user, a user role to an app, a SPA as member.
		{"POST", u("/users/" + userID + "/roles"), obj{"organizationRoleIds": []string{appRoleID}}, 422, cv},
		{"POST", u("/users/roles"), obj{"userIds": []string{userID}, "organizationRoleIds": []string{appRoleID}}, 422, cv},
		{"POST", u("/applications/" + appID + "/roles"), obj{"organizationRoleIds": []string{userRoleID}}, 422, cv},
		{"POST", u("/applications/roles"), obj{"applicationIds": []string{appID}, "organizationRoleIds": []string{userRoleID}}, 422, cv},
		{"POST", u("/applications"), obj{"applicationIds": []string{str(spa, "id")}}, 422, cv},
		// Membership.
		{"GET", u("/users/" + otherID + "/roles"), nil, 422, member},
		{"POST", u("/users/" + otherID + "/roles"), obj{"organizationRoleIds": []string{userRoleID}}, 422, member},
		{"PUT", u("/users/" + otherID + "/roles"), obj{"organizationRoleIds": []string{}}, 422, member},
		{"DELETE", u("/users/" + otherID + "/roles/" + userRoleID), nil, 422, member},
		{"GET", u("/applications/" + str(spa, "id") + "/roles"), nil, 422, member},
		{"POST", u("/users/" + userID + "/roles"), obj{"organizationRoleNames": []string{"ghost"}}, 422, "organization.role_names_not_found"},
		// Not found.
		{"GET", "/api/organizations/nope", nil, 404, "entity.not_exists_with_id"},
		{"PATCH", "/api/organizations/nope", obj{"name": "x"}, 404, "entity.not_exists"},
		{"DELETE", "/api/organizations/nope", nil, 404, "entity.not_found"},
		{"DELETE", u("/users/" + otherID), nil, 404, "entity.not_found"},
		{"DELETE", u("/applications/" + str(spa, "id")), nil, 404, "entity.not_found"},
		{"GET", "/api/organization-roles/nope", nil, 404, "entity.not_found"},
		{"DELETE", "/api/organization-roles/nope", nil, 404, "entity.not_found"},
		{"GET", "/api/organization-roles/nope/scopes", nil, 404, "entity.not_found"},
		{"DELETE", "/api/organization-roles/" + userRoleID + "/scopes/nope", nil, 404, "entity.not_found"},
		{"GET", "/api/organization-scopes/nope", nil, 404, "entity.not_exists_with_id"},
		{"DELETE", "/api/organization-scopes/nope", nil, 404, "entity.not_found"},
		{"DELETE", u("/jit/email-domains/b.test"), nil, 404, "entity.not_found"},
		{"DELETE", u("/jit/roles/" + userRoleID), nil, 404, "entity.not_found"},
		{"DELETE", u("/jit/sso-connectors/x"), nil, 404, "entity.not_found"},
		{"GET", "/api/users/nope/organizations", nil, 404, "entity.not_found"},
		{"GET", "/api/applications/nope/organizations", nil, 404, "entity.not_exists_with_id"},
		{"GET", "/api/organization-invitations/nope", nil, 404, "entity.not_found"},
		{"POST", u("/users/" + userID), obj{}, 404, "guard.not_found"},
		{"POST", u("/applications/" + appID), obj{}, 404, "guard.not_found"},
	} {
		if tc.code == "" {
			e.call(tc.method, tc.path, tc.body, tc.status)
			continue
		}
		e.wantError(tc.method, tc.path, tc.body, tc.status, tc.code)
	}
	// Logto's membership guard covers .../roles only: a non-member has no scopes.
	if scopes, _ := e.list(u("/users/" + otherID + "/scopes")); len(scopes) != 0 {
		t.Fatalf("non-member scopes %v", scopes)
	}
	// Nothing of the refused writes happened.
	if e.dir.IsUserOrganizationMember(orgID, otherID) || e.dir.UserOrganizationRoles(userID) != nil ||
		e.dir.IsAppOrganizationMember(orgID, str(spa, "id")) || len(e.dir.OrganizationRoles("")) != 2 {
		t.Fatal("a refused write changed the directory")
	}
	// Adding an existing member again is fine (Logto's on conflict do nothing).
	e.call("POST", u("/users"), obj{"userIds": []string{userID}}, http.StatusCreated)
	if n, _ := e.dir.OrganizationUserCount(orgID, 0); n != 1 {
		t.Fatalf("members = %d", n)
	}
}

func TestMgmtOrganizationPaging(t *testing.T) {
	e := newMgmtEnv(t)
	orgID, userID, appID, userRoleID, _ := orgFixtureIDs(t, e)
	for i := range 24 {
		e.call("POST", "/api/organizations", obj{"name": fmt.Sprintf("paged-%02d", i)}, http.StatusCreated)
		e.call("POST", "/api/organization-scopes", obj{"name": fmt.Sprintf("scope-%02d", i)}, http.StatusCreated)
	}
	e.call("POST", "/api/organizations/"+orgID+"/users/"+userID+"/roles", obj{"organizationRoleIds": []string{userRoleID}}, http.StatusCreated)

	all, h := e.list("/api/organizations")
	if len(all) != 20 || h.Get("Total-Number") != "25" || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("default page: %d items, %v", len(all), h)
	}
	page2, _ := e.list("/api/organizations?page=2&page_size=10")
	if len(page2) != 10 || page2[0]["id"] != all[10]["id"] {
		t.Fatalf("page 2 starts with %v, want %v", page2[0]["id"], all[10]["id"])
	}
	found, h := e.list("/api/organizations?q=PAGED-0")
	if len(found) != 10 || h.Get("Total-Number") != "10" {
		t.Fatalf("search: %d, %v", len(found), h)
	}
	featured, _ := e.list("/api/organizations?showFeatured=1&q=" + orgID)
	if len(featured) != 1 || featured[0]["usersCount"] != float64(1) || len(featured[0]["featuredUsers"].([]any)) != 1 {
		t.Fatalf("featured: %v", featured)
	}
	if _, has := all[0]["usersCount"]; has {
		t.Fatal("usersCount without showFeatured")
	}
	// Optional paging: everything, no header, unless asked.
	scopes, h := e.list("/api/organization-scopes")
	if len(scopes) != 24 || h.Get("Total-Number") != "" {
		t.Fatalf("scopes unpaged: %d %v", len(scopes), h)
	}
	scopes2, h := e.list("/api/organization-scopes?page=2&page_size=10")
	if len(scopes2) != 10 || scopes2[0]["id"] != scopes[10]["id"] || h.Get("Total-Number") != "24" {
		t.Fatalf("scopes paged: %d %v", len(scopes2), h)
	}
	if scopes[0]["name"] != "scope-00" || scopes[23]["name"] != "scope-23" {
		t.Fatal("scopes not by name")
	}

	// Every paged organization route refuses bad paging and pages past the end.
	paged := []string{
		"/api/organizations",
		"/api/organizations/" + orgID + "/users",
		"/api/organizations/" + orgID + "/users/" + userID + "/roles",
		"/api/organizations/" + orgID + "/applications",
		"/api/organizations/" + orgID + "/applications/" + appID + "/roles",
		"/api/organizations/" + orgID + "/jit/email-domains",
		"/api/organizations/" + orgID + "/jit/roles",
		"/api/organizations/" + orgID + "/jit/sso-connectors",
		"/api/organization-roles",
		"/api/organization-roles/" + userRoleID + "/scopes",
		"/api/organization-roles/" + userRoleID + "/resource-scopes",
		"/api/organization-scopes",
		"/api/applications/" + appID + "/organizations",
	}
	for _, p := range paged {
		for _, q := range []string{"page=0", "page=abc", "page_size=101", "page=9223372036854775807"} {
			e.wantError("GET", p+"?"+q, nil, http.StatusBadRequest, "guard.invalid_pagination")
		}
		w := e.do("GET", p+"?page="+strconv.Itoa(maxPageNumber)+"&page_size=100", nil)
		if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "[]" || w.Header().Get("Total-Number") == "" {
			t.Errorf("GET %s past the end: %d %s %v", p, w.Code, w.Body, w.Header())
		}
	}
}

func TestMgmtOrganizationInvitations(t *testing.T) {
	e := newMgmtEnv(t)
	orgID, userID, _, userRoleID, _ := orgFixtureIDs(t, e)
	later := e.s.now().Add(24 * 60 * 60 * 1e9).UnixMilli()
	invitee := e.call("POST", "/api/users", obj{"username": "carol", "primaryEmail": "carol@acme.test"}, http.StatusOK)
	e.call("PATCH", "/api/users/"+userID, obj{"primaryEmail": "member@acme.test"}, http.StatusOK)

	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "not-an-email", "organizationId": orgID, "expiresAt": later}, 400, "guard.invalid_input")
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "x@acme.test", "organizationId": orgID, "expiresAt": 1}, 400, "request.invalid_input")
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "x@acme.test", "organizationId": "nope", "expiresAt": later}, 422, "entity.relation_foreign_key_not_found")
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "member@acme.test", "organizationId": orgID, "expiresAt": later}, 422, "request.invalid_input")
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "x@acme.test", "organizationId": orgID, "expiresAt": later,
		"messagePayload": obj{"link": "https://x"}}, 501, "connector.not_found")
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "x@acme.test", "organizationId": "nope", "expiresAt": later,
		"messagePayload": obj{"link": "https://x"}}, 422, "entity.relation_foreign_key_not_found")
	if len(e.dir.OrganizationInvitations(directory.InvitationFilter{})) != 0 {
		t.Fatal("a refused invitation was stored")
	}

	inv := e.call("POST", "/api/organization-invitations", obj{"inviterId": userID, "invitee": "carol@acme.test", "organizationId": orgID,
		"expiresAt": later, "organizationRoleIds": []string{userRoleID}}, http.StatusCreated)
	if inv["status"] != "Pending" || inv["acceptedUserId"] != nil || !slices.Equal(roleNames(inv["organizationRoles"]), []string{"user-role"}) {
		t.Fatalf("invitation %v", inv)
	}
	id := str(inv, "id")
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "carol@acme.test", "organizationId": orgID, "expiresAt": later}, 422, "entity.unique_integrity_violation")
	list, _ := e.list("/api/organization-invitations?invitee=CAROL@acme.test")
	if len(list) != 1 || list[0]["id"] != id {
		t.Fatalf("invitations by invitee %v", list)
	}
	if list, _ := e.list("/api/organization-invitations?inviterId=nope"); len(list) != 0 {
		t.Fatalf("invitations by other inviter %v", list)
	}
	e.wantError("POST", "/api/organization-invitations/"+id+"/message", obj{"link": "x"}, 501, "connector.not_found")
	e.wantError("PUT", "/api/organization-invitations/"+id+"/status", obj{"status": "Pending"}, 400, "guard.invalid_input")
	e.wantError("PUT", "/api/organization-invitations/"+id+"/status", obj{"status": "Accepted"}, 422, "request.invalid_input")
	e.wantError("PUT", "/api/organization-invitations/"+id+"/status", obj{"status": "Accepted", "acceptedUserId": "nope"}, 404, "entity.not_found")
	e.wantError("PUT", "/api/organization-invitations/"+id+"/status", obj{"status": "Accepted", "acceptedUserId": userID}, 422, "request.invalid_input")
	acc := e.call("PUT", "/api/organization-invitations/"+id+"/status", obj{"status": "Accepted", "acceptedUserId": str(invitee, "id")}, http.StatusOK)
	if acc["status"] != "Accepted" || acc["acceptedUserId"] != str(invitee, "id") {
		t.Fatalf("accepted %v", acc)
	}
	if got := e.dir.UserOrganizationRoles(str(invitee, "id")); len(got) != 1 || got[0].RoleName != "user-role" {
		t.Fatalf("roles after accepting %v", got)
	}
	e.wantError("PUT", "/api/organization-invitations/"+id+"/status", obj{"status": "Revoked"}, 422, "request.invalid_input")

	// Carol is a member now: no new invitation for her. Another is revoked and deleted.
	e.wantError("POST", "/api/organization-invitations", obj{"invitee": "carol@acme.test", "organizationId": orgID, "expiresAt": later}, 422, "request.invalid_input")
	inv2 := e.call("POST", "/api/organization-invitations", obj{"invitee": "dave@acme.test", "organizationId": orgID, "expiresAt": later}, http.StatusCreated)
	rev := e.call("PUT", "/api/organization-invitations/"+str(inv2, "id")+"/status", obj{"status": "Revoked"}, http.StatusOK)
	if rev["status"] != "Revoked" {
		t.Fatalf("revoked %v", rev)
	}
	e.call("DELETE", "/api/organization-invitations/"+str(inv2, "id"), nil, http.StatusNoContent)
	e.wantError("DELETE", "/api/organization-invitations/"+str(inv2, "id"), nil, 404, "entity.not_found")
}
