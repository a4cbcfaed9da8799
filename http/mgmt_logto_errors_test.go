package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"
)

// One case of each of Logto's error codes and statuses that issue 20 lists, through a
// real HTTP server with a Management API token (each from Logto's integration tests:
// role.user, admin-user, admin-user.roles, organization, oidc).
func TestLogtoErrorCodes(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var user, userRole, m2mRole obj
	c.call("POST", "/api/users", obj{"username": "errs"}, http.StatusOK, &user)
	c.call("POST", "/api/roles", obj{"name": "user-role", "description": "u"}, http.StatusOK, &userRole)
	c.call("POST", "/api/roles", obj{"name": "m2m-role", "description": "m", "type": "MachineToMachine"}, http.StatusOK, &m2mRole)
	uid, rid, mid := str(user, "id"), str(userRole, "id"), str(m2mRole, "id")

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		code               string // "" checks the status only
	}{
		// 400, not 404, for an invalid id in a body (role.user: assign [""]).
		{"invalid id in body", "POST", "/api/roles/" + rid + "/users", obj{"userIds": []string{""}}, 400, ""},
		{"empty id list", "POST", "/api/roles/" + rid + "/users", obj{"userIds": []string{}}, 400, ""},
		// entity.not_found where Logto's lookup is a plain query.
		{"missing user", "GET", "/api/users/nope", nil, 404, "entity.not_found"},
		{"missing user's organizations", "GET", "/api/users/nope/organizations", nil, 404, "entity.not_found"},
		// 422 on an empty PATCH.
		{"empty PATCH", "PATCH", "/api/users/" + uid, obj{}, 422, "entity.invalid_input"},
		// A machine-to-machine role given to a user.
		{"m2m role to user", "POST", "/api/users/" + uid + "/roles", obj{"roleIds": []string{mid}}, 422, "user.invalid_role_type"},
		{"user to m2m role", "POST", "/api/roles/" + mid + "/users", obj{"userIds": []string{uid}}, 422, "entity.db_constraint_violated"},
		// An unknown OIDC route.
		{"unknown OIDC route", "GET", "/oidc/nonexistent", nil, 404, "oidc.invalid_request"},
	} {
		status, _, raw := c.do(tc.method, tc.path, tc.body)
		var ae APIError
		_ = json.Unmarshal(raw, &ae)
		if status != tc.status || (tc.code != "" && ae.Code != tc.code) {
			t.Errorf("%s: %s %s = %d %s, want %d %s", tc.name, tc.method, tc.path, status, raw, tc.status, tc.code)
		}
	}
}
