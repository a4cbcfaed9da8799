package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/latchid/latch/directory"
)

// Logto's admin-user social and enterprise-sso routes through a real server: PUT
// sets an identity (201 new, 200 replaced) that the user, GET and all-identities
// show; one social account belongs to one user; DELETE removes it; POST needs a
// social connector; no SSO identities.
func TestUserIdentities(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var u, other obj
	c.call("POST", "/api/users", obj{"username": "idt1"}, http.StatusOK, &u)
	c.call("POST", "/api/users", obj{"username": "idt2"}, http.StatusOK, &other)
	base := "/api/users/" + str(u, "id")

	var ids map[string]map[string]any
	c.call("PUT", base+"/identities/github", obj{"userId": "gh-1", "details": obj{"name": "Octo"}}, http.StatusCreated, &ids)
	if ids["github"]["userId"] != "gh-1" || ids["github"]["details"].(map[string]any)["name"] != "Octo" {
		t.Fatalf("PUT answered %v", ids)
	}
	c.call("PUT", base+"/identities/github", obj{"userId": "gh-2"}, http.StatusOK, &ids)
	if ids["github"]["userId"] != "gh-2" || ids["github"]["details"] != nil {
		t.Fatalf("replaced %v", ids)
	}
	c.call("PUT", base+"/identities/google", obj{"userId": "g-1"}, http.StatusCreated, &ids)
	if len(ids) != 2 {
		t.Fatalf("two identities %v", ids)
	}
	c.fail("PUT", "/api/users/"+str(other, "id")+"/identities/github", obj{"userId": "gh-2"}, 422, "user.identity_already_in_use")
	c.call("PUT", "/api/users/"+str(other, "id")+"/identities/github", obj{"userId": "gh-3"}, http.StatusCreated, nil)
	c.fail("PUT", base+"/identities/github", obj{"details": obj{}}, 400, "guard.invalid_input")
	c.fail("PUT", base+"/identities/github", obj{"userId": "x", "details": "no"}, 400, "guard.invalid_input")
	c.fail("PUT", "/api/users/nope/identities/github", obj{"userId": "x"}, 404, "entity.not_found")

	var user obj
	c.call("GET", base, nil, http.StatusOK, &user)
	if got := user["identities"].(map[string]any); len(got) != 2 {
		t.Fatalf("user identities %v", got)
	}
	var one obj
	c.call("GET", base+"/identities/google?includeTokenSecret=true", nil, http.StatusOK, &one)
	if one["identity"].(map[string]any)["userId"] != "g-1" || one["tokenSecret"] != nil || len(one) != 1 {
		t.Fatalf("GET identity %v", one)
	}
	c.fail("GET", base+"/identities/apple", nil, 404, "user.identity_not_exist")

	var all struct {
		SocialIdentities []struct {
			Target   string
			Identity map[string]any
		}
		SSOIdentities []any `json:"ssoIdentities"`
	}
	c.call("GET", base+"/all-identities", nil, http.StatusOK, &all)
	// jsonb key order: shorter first.
	if len(all.SocialIdentities) != 2 || all.SocialIdentities[0].Target != "github" || all.SocialIdentities[1].Target != "google" ||
		all.SSOIdentities == nil || len(all.SSOIdentities) != 0 {
		t.Fatalf("all-identities %+v", all)
	}
	c.fail("GET", "/api/users/nope/all-identities", nil, 404, "entity.not_found")
	c.fail("GET", base+"/sso-identities/conn1", nil, 404, "user.enterprise_sso_identity_not_exists")
	c.fail("GET", "/api/users/nope/sso-identities/conn1", nil, 404, "entity.not_found")

	// The identities claim (userinfo / ID token) reads the user's identities.
	stored, _ := e.dir.User(str(u, "id"))
	var claim map[string]any
	if err := json.Unmarshal(stored.Identities, &claim); err != nil || len(claim) != 2 {
		t.Fatalf("stored identities %s", stored.Identities)
	}

	c.call("DELETE", base+"/identities/github", nil, http.StatusOK, &user)
	if got := user["identities"].(map[string]any); len(got) != 1 || got["google"] == nil || user["id"] != str(u, "id") {
		t.Fatalf("after DELETE %v", user)
	}
	c.fail("DELETE", base+"/identities/github", nil, 404, "user.identity_not_exist")
	c.fail("DELETE", "/api/users/nope/identities/github", nil, 404, "entity.not_found")
	// The social account is free again.
	c.call("PUT", "/api/users/"+str(other, "id")+"/identities/github", obj{"userId": "gh-2"}, http.StatusOK, nil)

	// POST: an unknown connector, then a connector that is not social.
	c.fail("POST", base+"/identities", obj{"connectorId": "nope", "connectorData": obj{}}, 404, "entity.not_found")
	conn, err := e.dir.CreateConnector(t.Context(), directory.NewConnector{ConnectorID: "simple-mail-transfer-protocol", Type: directory.ConnectorTypeEmail})
	if err != nil {
		t.Fatal(err)
	}
	c.fail("POST", base+"/identities", obj{"connectorId": conn.ID, "connectorData": obj{}}, 422, "session.invalid_connector_id")
	c.fail("POST", base+"/identities", obj{"connectorId": conn.ID}, 400, "guard.invalid_input")
}

// Logto's trusted devices of a user: none in Latch (no "remember this device").
func TestUserTrustedDevices(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var u obj
	c.call("POST", "/api/users", obj{"username": "td1"}, http.StatusOK, &u)
	base := "/api/users/" + str(u, "id") + "/trusted-devices"
	var list []any
	h := c.call("GET", base, nil, http.StatusOK, &list)
	if list == nil || len(list) != 0 || h.Get("Total-Number") != "0" {
		t.Fatalf("list %v total %q", list, h.Get("Total-Number"))
	}
	c.fail("GET", base+"?page_size=0", nil, 400, "guard.invalid_pagination")
	c.fail("DELETE", base+"/dev1", nil, 404, "entity.not_found")
	c.fail("GET", "/api/users/nope/trusted-devices", nil, 404, "entity.not_found")
	c.fail("DELETE", "/api/users/nope/trusted-devices/dev1", nil, 404, "entity.not_found")
}
