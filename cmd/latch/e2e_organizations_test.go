package main

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestOrganizationTokens runs Logto's organization token rules (RFC 0001, 0006)
// through real HTTP: an organization set up through the Management API, a sign-in
// with both organization scopes and urn:logto:resource:organizations, the ID token and
// userinfo claims, an organization token and an organization-level resource token by
// refresh, a non-member refused, an M2M organization token, and a removed membership
// that takes effect on the next refresh.
func TestOrganizationTokens(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	api := func(method, path string, body, out any) {
		t.Helper()
		var raw json.RawMessage
		st, _ := n.api(admin, method, path, body, &raw)
		if st != 200 && st != 201 && st != 204 {
			t.Fatalf("%s %s = %d: %s", method, path, st, raw)
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("%s %s: %s: %v", method, path, raw, err)
			}
		}
	}
	var disc struct {
		Scopes []string `json:"scopes_supported"`
		Claims []string `json:"claims_supported"`
	}
	if err := e.provider.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"urn:logto:scope:organizations", "urn:logto:scope:organization_roles"} {
		if !slices.Contains(disc.Scopes, s) {
			t.Errorf("scopes_supported lacks %s", s)
		}
	}
	for _, c := range []string{"organizations", "organization_data", "organization_roles"} {
		if !slices.Contains(disc.Claims, c) {
			t.Errorf("claims_supported lacks %s", c)
		}
	}

	// The organization template, two organizations, an organization-level API.
	const orgAPI = "https://org-api.browser.example"
	var readDocs, writeDocs, res, resScope, member, robot, orgA, orgB, m2m struct{ ID, Secret string }
	api("POST", "/api/organization-scopes", map[string]any{"name": "read:docs"}, &readDocs)
	api("POST", "/api/organization-scopes", map[string]any{"name": "write:docs"}, &writeDocs)
	api("POST", "/api/resources", map[string]any{"name": "Org API", "indicator": orgAPI}, &res)
	api("POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "edit:projects"}, &resScope)
	api("POST", "/api/organization-roles", map[string]any{"name": "member", "organizationScopeIds": []string{readDocs.ID},
		"resourceScopeIds": []string{resScope.ID}}, &member)
	api("POST", "/api/organization-roles", map[string]any{"name": "robot", "type": "MachineToMachine",
		"organizationScopeIds": []string{writeDocs.ID}}, &robot)
	api("POST", "/api/organizations", map[string]any{"name": "Acme", "description": "the first"}, &orgA)
	api("POST", "/api/organizations", map[string]any{"name": "Beta"}, &orgB)
	api("POST", "/api/organizations/"+orgA.ID+"/users", map[string]any{"userIds": []string{e.userID}}, nil)
	api("POST", "/api/organizations/"+orgA.ID+"/users/"+e.userID+"/roles", map[string]any{"organizationRoleIds": []string{member.ID}}, nil)

	// Sign in as the Logto SDKs do for organizations.
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	web.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "urn:logto:scope:organizations",
		"urn:logto:scope:organization_roles", "read:docs", "write:docs", "edit:projects"}
	verifier := oauth2.GenerateVerifier()
	authURL := web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent"),
		oauth2.SetAuthURLParam("nonce", "n1")) +
		"&resource=" + url.QueryEscape("urn:logto:resource:organizations") + "&resource=" + url.QueryEscape(orgAPI)
	b.redirect(authURL)
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}

	// ID token: organizations (ids) and organization_roles; no organization_data.
	rawIDT, _ := tok.Extra("id_token").(string)
	idt, err := e.provider.Verifier(&oidc.Config{ClientID: e.web.ID}).Verify(ctx, rawIDT)
	if err != nil {
		t.Fatal(err)
	}
	var idc map[string]any
	if err := idt.Claims(&idc); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal([]any{idc["organizations"], idc["organization_roles"], idc["organization_data"]}); string(got) !=
		`[["`+orgA.ID+`"],["`+orgA.ID+`:member"],null]` {
		t.Errorf("ID token organization claims %s", got)
	}
	// userinfo: organization_data as Logto shapes it.
	ui, err := e.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var uic map[string]any
	if err := ui.Claims(&uic); err != nil {
		t.Fatal(err)
	}
	if got, _ := json.Marshal([]any{uic["organizations"], uic["organization_roles"], uic["organization_data"]}); string(got) !=
		`[["`+orgA.ID+`"],["`+orgA.ID+`:member"],[{"description":"the first","id":"`+orgA.ID+`","name":"Acme"}]]` {
		t.Errorf("userinfo organization claims %s", got)
	}

	keys := oidc.NewRemoteKeySet(ctx, n.issuer()+"/jwks")
	refreshToken := tok.RefreshToken
	refresh := func(form url.Values) (int, map[string]any) {
		t.Helper()
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", refreshToken)
		st, _, body := n.postToken(form, e.web.ID, e.web.Secret)
		if rt, _ := body["refresh_token"].(string); st == 200 && rt != "" {
			refreshToken = rt
		}
		return st, body
	}
	claimsOf := func(body map[string]any) map[string]any {
		t.Helper()
		at, _ := body["access_token"].(string)
		payload, err := keys.VerifySignature(ctx, at)
		if err != nil {
			t.Fatalf("access token %q: %v", at, err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	wantRefused := func(what string, st int, body map[string]any, status int, code, desc string) {
		t.Helper()
		if st != status || body["error"] != code || body["error_description"] != desc {
			t.Errorf("%s: %d %v, want %d %s %q", what, st, body, status, code, desc)
		}
	}

	// An organization token.
	st, body := refresh(url.Values{"organization_id": {orgA.ID}})
	if st != 200 {
		t.Fatalf("organization token: %d %v", st, body)
	}
	c := claimsOf(body)
	if c["aud"] != "urn:logto:organization:"+orgA.ID || c["scope"] != "read:docs" || c["organization_id"] != nil ||
		c["sub"] != e.userID || c["client_id"] != e.web.ID || c["exp"].(float64)-c["iat"].(float64) != 3600 ||
		body["expires_in"] != 3600.0 || body["scope"] != "read:docs" {
		t.Errorf("organization token %v, response %v", c, body)
	}
	// An organization-level API resource token.
	st, body = refresh(url.Values{"organization_id": {orgA.ID}, "resource": {orgAPI}})
	if st != 200 {
		t.Fatalf("organization resource token: %d %v", st, body)
	}
	if c := claimsOf(body); c["aud"] != orgAPI || c["scope"] != "edit:projects" || c["organization_id"] != orgA.ID {
		t.Errorf("organization resource token %v", c)
	}
	// Not a member of B: Logto's error, and the refresh token still works.
	st, body = refresh(url.Values{"organization_id": {orgB.ID}})
	wantRefused("non-member", st, body, 403, "access_denied", "user is not a member of the organization")
	st, body = refresh(url.Values{"organization_id": {orgB.ID}, "resource": {orgAPI}})
	wantRefused("non-member, resource", st, body, 403, "access_denied", "user is not a member of the organization")

	// A machine-to-machine member of A.
	n.createApp(admin, map[string]any{"name": "robot", "type": "MachineToMachine"}, &m2m) // its secret from .../secrets
	api("POST", "/api/organizations/"+orgA.ID+"/applications", map[string]any{"applicationIds": []string{m2m.ID}}, nil)
	api("POST", "/api/organizations/"+orgA.ID+"/applications/"+m2m.ID+"/roles", map[string]any{"organizationRoleIds": []string{robot.ID}}, nil)
	st, _, body = n.postToken(url.Values{"grant_type": {"client_credentials"}, "organization_id": {orgA.ID}, "scope": {"write:docs read:docs"}}, m2m.ID, m2m.Secret)
	if st != 200 {
		t.Fatalf("M2M organization token: %d %v", st, body)
	}
	if c := claimsOf(body); c["aud"] != "urn:logto:organization:"+orgA.ID || c["scope"] != "write:docs" || c["sub"] != m2m.ID ||
		c["exp"].(float64)-c["iat"].(float64) != 3600 {
		t.Errorf("M2M organization token %v", c)
	}
	st, _, body = n.postToken(url.Values{"grant_type": {"client_credentials"}, "organization_id": {orgB.ID}, "resource": {orgAPI}}, m2m.ID, m2m.Secret)
	wantRefused("M2M non-member", st, body, 403, "access_denied", "app has not associated with the organization")

	// A removed membership applies to the next refresh, on the same refresh token.
	api("DELETE", "/api/organizations/"+orgA.ID+"/users/"+e.userID, nil, nil)
	// The Management API answers once the serving node applied the write: the very
	// next refresh sees it.
	st, body = refresh(url.Values{"organization_id": {orgA.ID}})
	wantRefused("removed member", st, body, 403, "access_denied", "user is not a member of the organization")
	if st, body := refresh(url.Values{}); st != 200 || strings.Count(body["access_token"].(string), ".") != 1 {
		t.Errorf("plain refresh after the refusals: %d %v", st, body)
	}

	// A member whose refresh token lacks urn:logto:scope:organizations: Logto's
	// insufficient_scope, and the refresh token still works.
	api("POST", "/api/organizations/"+orgA.ID+"/users", map[string]any{"userIds": []string{e.userID}}, nil)
	b2 := newBrowser(t, n.endpoint)
	plain := e.webConfig()
	plain.Scopes = []string{oidc.ScopeOpenID, oidc.ScopeOfflineAccess, "read:docs"}
	verifier = oauth2.GenerateVerifier()
	b2.redirect(plain.AuthCodeURL("st2", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
	code = codeFrom(t, b2.redirect(b2.signIn(browserUser, browserPassword)), e.webCB, "st2", n.issuer())
	tok2, err := plain.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	refreshToken = tok2.RefreshToken
	st, body = refresh(url.Values{"organization_id": {orgA.ID}})
	wantRefused("no organizations scope", st, body, 403, "insufficient_scope", "refresh token missing required scope")
	if st, body := refresh(url.Values{}); st != 200 {
		t.Errorf("plain refresh after insufficient_scope: %d %v", st, body)
	}
}
