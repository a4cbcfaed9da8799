package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"golang.org/x/oauth2"
)

// Application-level access control end to end (Logto's application-access-control
// tests): the rules through the Management API, then sign-in, SSO, refresh and token
// exchange for users the rules allow and users they do not.
func TestApplicationAccessControl(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	web := e.webConfig()
	appPath := "/api/applications/" + e.web.ID
	acPath := appPath + "/access-control"

	var bob struct{ ID string }
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": "bob_access", "password": browserPassword}, 200, &bob)
	var roles []struct{ ID string }
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/roles", nil, 200, &roles)
	if len(roles) != 1 {
		t.Fatalf("alice's roles %v", roles)
	}
	rules := func(kind string, ids ...string) map[string]any {
		r := map[string]any{"userIds": []string{}, "userRoleIds": []string{}, "organizationIds": []string{}, "organizationRoleRules": []any{}}
		if kind != "" {
			r[kind] = ids
		}
		return r
	}

	// Off by default, and cannot be turned on without a rule.
	var app map[string]any
	n.mustAPI(admin, "GET", appPath, nil, 200, &app)
	if app["appLevelAccessControlEnabled"] != false {
		t.Fatalf("appLevelAccessControlEnabled %v", app["appLevelAccessControlEnabled"])
	}
	var apiErr struct{ Code string }
	n.mustAPI(admin, "PATCH", appPath, map[string]any{"appLevelAccessControlEnabled": true}, 422, &apiErr)
	if apiErr.Code != "request.invalid_input" {
		t.Fatalf("enable without rules: %s", apiErr.Code)
	}
	n.mustAPI(admin, "PUT", acPath, rules("userIds", e.userID), 200, nil)
	n.mustAPI(admin, "PATCH", appPath, map[string]any{"appLevelAccessControlEnabled": true}, 200, &app)
	if app["appLevelAccessControlEnabled"] != true {
		t.Fatalf("after PATCH %v", app["appLevelAccessControlEnabled"])
	}
	// Rules cannot be emptied while access control is on.
	n.mustAPI(admin, "PUT", acPath, rules(""), 422, &apiErr)

	// Alice is allowed: code, tokens.
	alice := newBrowser(t, n.endpoint)
	v := oauth2.GenerateVerifier()
	alice.redirect(web.AuthCodeURL("s", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "consent")))
	code := codeFrom(t, alice.redirect(alice.signIn(browserUser, browserPassword)), e.webCB, "s", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}

	// Bob signs in but cannot finish: the browser gets an error page, not a code.
	bobB := newBrowser(t, n.endpoint)
	bobB.redirect(web.AuthCodeURL("b", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	resp, body := bobB.get(bobB.signIn("bob_access", browserPassword))
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Fatalf("bob's resume = %d %s %.200s", resp.StatusCode, resp.Header.Get("Location"), body)
	}

	// Alice's access is revoked: her refresh token and her live session stop working
	// for this app.
	n.mustAPI(admin, "PUT", acPath, rules("userIds", bob.ID), 200, nil)
	st, _, tb := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.web.ID, e.web.Secret)
	if st != http.StatusBadRequest || tb["error"] != "access_denied" {
		t.Fatalf("refresh after revocation = %d %v", st, tb)
	}
	loc := alice.redirect(web.AuthCodeURL("s2", oauth2.S256ChallengeOption(v)))
	if loc.Query().Get("error") != "access_denied" {
		t.Fatalf("SSO after revocation -> %s", loc)
	}

	// The refused refresh did not use the token up: given access again, it works.
	n.mustAPI(admin, "PUT", acPath, rules("userIds", e.userID), 200, nil)
	if st, _, tb := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, e.web.ID, e.web.Secret); st != http.StatusOK {
		t.Fatalf("refresh after access is given back = %d %v", st, tb)
	}

	// A role rule lets her in again (SSO from her session).
	n.mustAPI(admin, "PUT", acPath, rules("userRoleIds", roles[0].ID), 200, nil)
	codeFrom(t, alice.redirect(web.AuthCodeURL("s3", oauth2.S256ChallengeOption(v))), e.webCB, "s3", n.issuer())

	// An organization rule.
	var org struct{ ID string }
	n.mustAPI(admin, "POST", "/api/organizations", map[string]any{"name": "club"}, 201, &org)
	n.mustAPI(admin, "PUT", acPath, rules("organizationIds", org.ID), 200, nil)
	loc = alice.redirect(web.AuthCodeURL("s4", oauth2.S256ChallengeOption(v)))
	if loc.Query().Get("error") != "access_denied" {
		t.Fatalf("SSO outside the organization -> %s", loc)
	}
	n.mustAPI(admin, "POST", "/api/organizations/"+org.ID+"/users", map[string]any{"userIds": []string{e.userID}}, 201, nil)
	codeFrom(t, alice.redirect(web.AuthCodeURL("s5", oauth2.S256ChallengeOption(v))), e.webCB, "s5", n.issuer())

	// An organization role rule: membership alone is not enough.
	var orgRole struct{ ID string }
	n.mustAPI(admin, "POST", "/api/organization-roles", map[string]any{"name": "member"}, 201, &orgRole)
	orgRule := rules("organizationRoleRules")
	orgRule["organizationRoleRules"] = []any{map[string]any{"organizationId": org.ID, "organizationRoleIds": []string{orgRole.ID}}}
	n.mustAPI(admin, "PUT", acPath, orgRule, 200, nil)
	loc = alice.redirect(web.AuthCodeURL("s6", oauth2.S256ChallengeOption(v)))
	if loc.Query().Get("error") != "access_denied" {
		t.Fatalf("SSO without the organization role -> %s", loc)
	}
	n.mustAPI(admin, "POST", "/api/organizations/"+org.ID+"/users/"+e.userID+"/roles", map[string]any{"organizationRoleIds": []string{orgRole.ID}}, 201, nil)
	codeFrom(t, alice.redirect(web.AuthCodeURL("s7", oauth2.S256ChallengeOption(v))), e.webCB, "s7", n.issuer())

	// A third-party application: the consent page refuses a user the rules do not
	// allow, and shows itself to one they do.
	var third struct{ ID, Secret string }
	thirdCB := "http://127.0.0.1:9/third/callback"
	n.mustAPI(admin, "POST", "/api/applications", map[string]any{"name": "third", "type": "Traditional", "isThirdParty": true,
		"oidcClientMetadata": map[string]any{"redirectUris": []string{thirdCB}, "postLogoutRedirectUris": []string{}}}, 200, &third)
	n.mustAPI(admin, "PUT", "/api/applications/"+third.ID+"/access-control", rules("userIds", e.userID), 200, nil)
	n.mustAPI(admin, "PATCH", "/api/applications/"+third.ID, map[string]any{"appLevelAccessControlEnabled": true}, 200, nil)
	thirdCfg := &oauth2.Config{ClientID: third.ID, ClientSecret: third.Secret, Endpoint: e.provider.Endpoint(), RedirectURL: thirdCB, Scopes: []string{"openid"}}
	consentFor := func(username string) int {
		b := newBrowser(t, n.endpoint)
		b.redirect(thirdCfg.AuthCodeURL("t", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if loc := b.redirect(b.signIn(username, browserPassword)); loc.Path != "/consent" {
			t.Fatalf("%s's resume -> %s, want the consent page", username, loc)
		}
		resp, _ := b.get("/consent")
		return resp.StatusCode
	}
	if st := consentFor("bob_access"); st != http.StatusBadRequest {
		t.Fatalf("consent page for a denied user = %d", st)
	}
	if st := consentFor(browserUser); st != http.StatusOK {
		t.Fatalf("consent page for an allowed user = %d", st)
	}

	// Token exchange for a user the rules do not allow.
	var ex struct{ ID, Secret string }
	n.mustAPI(admin, "POST", "/api/applications", map[string]any{"name": "exchanger", "type": "Traditional",
		"oidcClientMetadata":   map[string]any{"redirectUris": []string{"http://127.0.0.1:9/x"}, "postLogoutRedirectUris": []string{}},
		"customClientMetadata": map[string]any{"allowTokenExchange": true}}, 200, &ex)
	n.mustAPI(admin, "PUT", "/api/applications/"+ex.ID+"/access-control", rules("userIds", bob.ID), 200, nil)
	n.mustAPI(admin, "PATCH", "/api/applications/"+ex.ID, map[string]any{"appLevelAccessControlEnabled": true}, 200, nil)
	exchange := func(userID string) (int, map[string]any) {
		var out struct{ SubjectToken string }
		n.mustAPI(admin, "POST", "/api/subject-tokens", map[string]any{"userId": userID}, 201, &out)
		st, _, body := n.postToken(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token": {out.SubjectToken}, "subject_token_type": {"urn:ietf:params:oauth:token-type:access_token"}}, ex.ID, ex.Secret)
		return st, body
	}
	if st, body := exchange(e.userID); st != http.StatusBadRequest || body["error"] != "access_denied" {
		t.Fatalf("token exchange for a denied user = %d %v", st, body)
	}
	if st, body := exchange(bob.ID); st != http.StatusOK {
		t.Fatalf("token exchange for an allowed user = %d %v", st, body)
	}
}

// An identity set with PUT /api/users/:userId/identities/:target is in the user's
// `identities` userinfo claim (scope identities), and leaves it when deleted.
func TestUserIdentityClaims(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	idPath := "/api/users/" + e.userID + "/identities/github"
	n.mustAPI(admin, "PUT", idPath, map[string]any{"userId": "gh-42", "details": map[string]any{"login": "octo"}}, 201, nil)

	web := e.webConfig()
	web.Scopes = []string{"openid", "identities"}
	b := newBrowser(t, n.endpoint)
	v := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("s", oauth2.S256ChallengeOption(v)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "s", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	userinfo := func() map[string]any {
		t.Helper()
		req, _ := http.NewRequest("GET", n.issuer()+"/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("userinfo %d %v", resp.StatusCode, err)
		}
		return out
	}
	ids, _ := userinfo()["identities"].(map[string]any)
	gh, _ := ids["github"].(map[string]any)
	if gh["userId"] != "gh-42" || gh["details"].(map[string]any)["login"] != "octo" {
		t.Fatalf("identities claim %v", ids)
	}
	n.mustAPI(admin, "DELETE", idPath, nil, 200, nil)
	if ids, _ := userinfo()["identities"].(map[string]any); ids == nil || len(ids) != 0 {
		t.Fatalf("identities claim after DELETE %v", ids)
	}
}
