package httpapi

import (
	"net/http"
	"testing"
)

// Logto's application-user-consent-organization test through a real server: the
// guard's order and codes, membership, POST adds, PUT replaces, DELETE removes one, GET
// lists the organizations (Total-Number).
func TestConsentOrganizations(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var first, third, admin, guest, orgA, orgG obj
	c.call("POST", "/api/applications", obj{"name": "first", "type": "SPA"}, http.StatusOK, &first)
	c.call("POST", "/api/applications", obj{"name": "third", "type": "Traditional", "isThirdParty": true}, http.StatusOK, &third)
	c.call("POST", "/api/users", obj{"username": "admin1"}, http.StatusOK, &admin)
	c.call("POST", "/api/users", obj{"username": "guest1"}, http.StatusOK, &guest)
	c.call("POST", "/api/organizations", obj{"name": "A"}, http.StatusCreated, &orgA)
	c.call("POST", "/api/organizations", obj{"name": "G"}, http.StatusCreated, &orgG)
	c.call("POST", "/api/organizations/"+str(orgA, "id")+"/users", obj{"userIds": []string{str(admin, "id")}}, http.StatusCreated, nil)
	c.call("POST", "/api/organizations/"+str(orgG, "id")+"/users", obj{"userIds": []string{str(admin, "id"), str(guest, "id")}}, http.StatusCreated, nil)
	path := func(app, user obj) string {
		return "/api/applications/" + str(app, "id") + "/users/" + str(user, "id") + "/consent-organizations"
	}
	none := obj{"organizationIds": []string{}}

	c.fail("POST", "/api/applications/nope/users/"+str(admin, "id")+"/consent-organizations", none, 404, "entity.not_exists_with_id")
	c.fail("POST", "/api/applications/"+str(third, "id")+"/users/nope/consent-organizations", none, 404, "entity.not_found")
	c.fail("POST", path(first, admin), none, 422, "application.third_party_application_only")
	c.fail("GET", path(first, admin), nil, 422, "application.third_party_application_only")
	c.fail("POST", path(third, guest), obj{"organizationIds": []string{str(orgA, "id")}}, 422, "organization.require_membership")
	c.fail("POST", path(third, admin), none, 400, "guard.invalid_input")

	list := func(app, user obj) []string {
		t.Helper()
		var out struct{ Organizations []obj }
		h := c.call("GET", path(app, user), nil, http.StatusOK, &out)
		ids := make([]string, 0, len(out.Organizations))
		for _, o := range out.Organizations {
			ids = append(ids, str(o, "id"))
		}
		if h.Get("Total-Number") == "" {
			t.Errorf("no Total-Number")
		}
		return ids
	}
	if got := list(third, admin); len(got) != 0 {
		t.Fatalf("initially %v", got)
	}
	c.fail("GET", path(third, admin)+"?page=9223372036854775807", nil, 400, "guard.invalid_pagination")
	c.fail("GET", path(third, admin)+"?page_size=0", nil, 400, "guard.invalid_pagination")
	c.call("POST", path(third, admin), obj{"organizationIds": []string{str(orgA, "id"), str(orgG, "id")}}, http.StatusCreated, nil)
	if got := list(third, admin); len(got) != 2 {
		t.Fatalf("after POST %v", got)
	}
	c.call("PUT", path(third, admin), obj{"organizationIds": []string{str(orgA, "id")}}, http.StatusNoContent, nil)
	if got := list(third, admin); len(got) != 1 || got[0] != str(orgA, "id") {
		t.Fatalf("after PUT %v", got)
	}
	c.call("PUT", path(third, admin), none, http.StatusNoContent, nil)
	if got := list(third, admin); len(got) != 0 {
		t.Fatalf("after PUT [] %v", got)
	}
	c.call("POST", path(third, guest), obj{"organizationIds": []string{str(orgG, "id")}}, http.StatusCreated, nil)
	c.call("DELETE", path(third, guest)+"/"+str(orgG, "id"), nil, http.StatusNoContent, nil)
	if got := list(third, guest); len(got) != 0 {
		t.Fatalf("after DELETE %v", got)
	}
}
