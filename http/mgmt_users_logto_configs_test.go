package httpapi

import (
	"net/http"
	"testing"
)

// GET/PATCH /api/users/:userId/logto-configs (Logto's admin-user basics): the MFA
// and passkey states a PATCH sets are read back, a value Latch cannot keep is refused, and a
// missing user is entity.not_found.
func TestUserLogtoConfigs(t *testing.T) {
	e := newMgmtEnv(t)
	c := newAPIClient(t, e)
	var user obj
	c.call("POST", "/api/users", obj{"username": "configs"}, http.StatusOK, &user)
	path := "/api/users/" + str(user, "id") + "/logto-configs"

	var got struct {
		Mfa struct {
			Skipped, SkipMfaOnSignIn bool
		}
		PasskeySignIn struct{ Skipped bool }
	}
	c.call("GET", path, nil, http.StatusOK, &got)
	if got.Mfa.Skipped || got.Mfa.SkipMfaOnSignIn || got.PasskeySignIn.Skipped {
		t.Fatalf("new user's configs: %+v", got)
	}
	c.call("PATCH", path, obj{"mfa": obj{"skipped": true, "skipMfaOnSignIn": true}}, http.StatusOK, &got)
	if !got.Mfa.Skipped || !got.Mfa.SkipMfaOnSignIn {
		t.Fatalf("after PATCH: %+v", got)
	}
	c.call("PATCH", path, obj{"mfa": obj{"skipMfaOnSignIn": false}}, http.StatusOK, nil)
	c.call("GET", path, nil, http.StatusOK, &got)
	if !got.Mfa.Skipped || got.Mfa.SkipMfaOnSignIn {
		t.Fatalf("a PATCH changes only what it names: %+v", got)
	}
	c.call("PATCH", path, obj{"passkeySignIn": obj{"skipped": true}}, http.StatusOK, nil)
	c.call("GET", path, nil, http.StatusOK, &got)
	if !got.PasskeySignIn.Skipped || !got.Mfa.Skipped {
		t.Fatalf("passkeySignIn.skipped kept: %+v", got)
	}
	c.fail("PATCH", path, obj{"mfa": obj{"enabled": true}}, http.StatusBadRequest, "guard.invalid_input")
	c.fail("GET", "/api/users/nope/logto-configs", nil, http.StatusNotFound, "entity.not_found")
	c.fail("PATCH", "/api/users/nope/logto-configs", obj{"mfa": obj{"skipped": true}}, http.StatusNotFound, "entity.not_found")
}
