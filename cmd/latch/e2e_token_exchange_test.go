package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTokenExchange runs RFC 8693 token exchange (Logto RFC 0005) through real HTTP: a
// subject token from POST /api/subject-tokens and a personal access token from the
// Management API exchanged for a resource JWT, an opaque token good at /oidc/me, an
// organization token and an organization-level resource token; an actor token's act
// claim; a used subject token, a revoked PAT, an app without token exchange and a
// third-party app refused with Logto's OAuth errors.
func TestTokenExchange(t *testing.T) {
	e := newBrowserEnv(t)
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)

	var disc struct {
		GrantTypes []string `json:"grant_types_supported"`
	}
	if err := e.provider.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(disc.GrantTypes, "urn:ietf:params:oauth:grant-type:token-exchange") {
		t.Errorf("grant_types_supported %v lacks token exchange", disc.GrantTypes)
	}

	var app, third struct{ ID, Secret string }
	n.mustAPI(admin, "POST", "/api/applications", map[string]any{"name": "exchanger", "type": "Traditional",
		"oidcClientMetadata":   map[string]any{"redirectUris": []string{"http://127.0.0.1:9/x"}, "postLogoutRedirectUris": []string{}},
		"customClientMetadata": map[string]any{"allowTokenExchange": true}}, 200, &app)
	// A third-party app cannot enable token exchange (Logto's 422), and is refused
	// the grant without it.
	thirdApp := map[string]any{"name": "third", "type": "Traditional", "isThirdParty": true,
		"oidcClientMetadata":   map[string]any{"redirectUris": []string{"http://127.0.0.1:9/y"}, "postLogoutRedirectUris": []string{}},
		"customClientMetadata": map[string]any{"allowTokenExchange": true}}
	n.mustAPI(admin, "POST", "/api/applications", thirdApp, 422, nil)
	thirdApp["customClientMetadata"] = map[string]any{}
	n.mustAPI(admin, "POST", "/api/applications", thirdApp, 200, &third)

	// Personal access tokens through the Management API.
	patPath := "/api/users/" + e.userID + "/personal-access-tokens"
	var pat struct {
		UserID, Name, Value string
		ExpiresAt           *int64
	}
	n.mustAPI(admin, "POST", patPath, map[string]any{"name": "ci"}, 201, &pat)
	if pat.UserID != e.userID || pat.Name != "ci" || !strings.HasPrefix(pat.Value, "pat_") || pat.ExpiresAt != nil {
		t.Fatalf("created PAT %+v", pat)
	}
	list0Value := pat.Value
	var apiErr struct{ Code string }
	n.mustAPI(admin, "POST", patPath, map[string]any{"name": "ci"}, 422, &apiErr)
	if apiErr.Code != "user.personal_access_token_name_exists" {
		t.Errorf("duplicate name: %s", apiErr.Code)
	}
	n.mustAPI(admin, "POST", patPath, map[string]any{"name": "old", "expiresAt": 1000}, 400, nil)
	var list []map[string]any
	n.mustAPI(admin, "GET", patPath, nil, 200, &list)
	if len(list) != 1 || list[0]["name"] != "ci" || list[0]["value"] != nil {
		t.Fatalf("PAT list %v (the value is shown once)", list)
	}

	exchange := func(clientID, secret string, form url.Values) (int, map[string]any) {
		t.Helper()
		form.Set("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange")
		st, _, body := n.postToken(form, clientID, secret)
		return st, body
	}
	subjectToken := func() string {
		t.Helper()
		var out struct {
			SubjectToken string
			ExpiresIn    int
		}
		n.mustAPI(admin, "POST", "/api/subject-tokens", map[string]any{"userId": e.userID, "context": map[string]any{"ticket": 42}}, 201, &out)
		if out.SubjectToken == "" || out.ExpiresIn != 600 {
			t.Fatalf("subject token %+v", out)
		}
		return out.SubjectToken
	}
	wantError := func(st int, body map[string]any, code string) {
		t.Helper()
		if st < 400 || body["error"] != code {
			t.Errorf("status %d body %v, want error %s", st, body, code)
		}
	}
	const subjectType = "urn:ietf:params:oauth:token-type:access_token"
	const patType = "urn:logto:token-type:personal_access_token"

	// A subject token for the API resource: a JWT whose scope the user's roles decide.
	sub := subjectToken()
	st, body := exchange(app.ID, app.Secret, url.Values{"subject_token": {sub}, "subject_token_type": {subjectType},
		"resource": {e.api}, "scope": {"read:data write:data"}})
	if st != 200 || body["issued_token_type"] != subjectType || body["token_type"] != "Bearer" || body["scope"] != "read:data" ||
		body["refresh_token"] != nil || body["id_token"] != nil {
		t.Fatalf("subject token exchange: %d %v", st, body)
	}
	c := n.verify(body["access_token"].(string))
	if c.Sub != e.userID || c.Aud != e.api || c.ClientID != app.ID || c.Scope != "read:data" {
		t.Fatalf("exchanged JWT %+v", c)
	}
	// Used once.
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {sub}, "subject_token_type": {subjectType}, "resource": {e.api}})
	wantError(st, body, "invalid_grant")

	// A PAT without a resource: an opaque token for /oidc/me; reusable.
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {pat.Value}, "subject_token_type": {patType}, "scope": {"openid profile"}})
	if st != 200 || body["scope"] != "openid profile" {
		t.Fatalf("PAT exchange: %d %v", st, body)
	}
	opaque := body["access_token"].(string)
	if strings.Count(opaque, ".") != 1 {
		t.Fatalf("want an opaque token, got %q", opaque)
	}
	if st, _ := bearerGet(t, n.issuer()+"/me", opaque); st != 200 {
		t.Fatalf("/oidc/me with the exchanged opaque token = %d", st)
	}
	// Its grant is one of the user's, and revoking it ends the token.
	type grantEntry struct {
		ID      string
		Payload struct{ ClientID string }
	}
	var grants struct{ Grants []grantEntry }
	n.mustAPI(admin, "GET", "/api/users/"+e.userID+"/grants", nil, 200, &grants)
	grantID, _, _ := strings.Cut(opaque, ".")
	if !slices.ContainsFunc(grants.Grants, func(g grantEntry) bool { return g.ID == grantID && g.Payload.ClientID == app.ID }) {
		t.Errorf("the exchange's grant %s is not among the user's grants %+v", grantID, grants)
	}
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {pat.Value}, "subject_token_type": {patType}, "scope": {"openid"}})
	if st != 200 {
		t.Fatalf("second PAT exchange: %d %v", st, body)
	}
	second := body["access_token"].(string)
	secondGrant, _, _ := strings.Cut(second, ".")
	n.mustAPI(admin, "DELETE", "/api/users/"+e.userID+"/grants/"+secondGrant, nil, 204, nil)
	if st, _ := bearerGet(t, n.issuer()+"/me", second); st != 401 {
		t.Errorf("/oidc/me after revoking the exchange's grant = %d, want 401", st)
	}
	// The opaque token (openid) as actor_token: act names its account.
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {pat.Value}, "subject_token_type": {patType},
		"resource": {e.api}, "actor_token": {opaque}, "actor_token_type": {subjectType}})
	if st != 200 {
		t.Fatalf("exchange with an actor token: %d %v", st, body)
	}
	if act := jwtClaims(t, body["access_token"].(string))["act"]; act == nil || act.(map[string]any)["sub"] != e.userID {
		t.Errorf("act claim %v", act)
	}

	// Organizations: an organization token and an organization-level resource token.
	var scope, role, org, res, resScope struct{ ID string }
	const orgAPI = "https://org-api.exchange.example"
	n.mustAPI(admin, "POST", "/api/organization-scopes", map[string]any{"name": "read:docs"}, 201, &scope)
	n.mustAPI(admin, "POST", "/api/resources", map[string]any{"name": "Org API", "indicator": orgAPI}, 201, &res)
	n.mustAPI(admin, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "edit:projects"}, 201, &resScope)
	n.mustAPI(admin, "POST", "/api/organization-roles", map[string]any{"name": "member", "organizationScopeIds": []string{scope.ID},
		"resourceScopeIds": []string{resScope.ID}}, 201, &role)
	n.mustAPI(admin, "POST", "/api/organizations", map[string]any{"name": "Acme"}, 201, &org)
	n.mustAPI(admin, "POST", "/api/organizations/"+org.ID+"/users", map[string]any{"userIds": []string{e.userID}}, 201, nil)
	n.mustAPI(admin, "POST", "/api/organizations/"+org.ID+"/users/"+e.userID+"/roles", map[string]any{"organizationRoleIds": []string{role.ID}}, 201, nil)
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {subjectToken()}, "subject_token_type": {subjectType},
		"organization_id": {org.ID}, "scope": {"read:docs write:docs"}})
	if st != 200 {
		t.Fatalf("organization exchange: %d %v", st, body)
	}
	if c := n.verify(body["access_token"].(string)); c.Aud != "urn:logto:organization:"+org.ID || c.Scope != "read:docs" {
		t.Errorf("organization token %+v", c)
	}
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {pat.Value}, "subject_token_type": {patType},
		"organization_id": {org.ID}, "resource": {orgAPI}, "scope": {"edit:projects"}})
	if st != 200 {
		t.Fatalf("organization resource exchange: %d %v", st, body)
	}
	if cl := jwtClaims(t, body["access_token"].(string)); cl["aud"] != orgAPI || cl["organization_id"] != org.ID || cl["scope"] != "edit:projects" {
		t.Errorf("organization-level resource token %v", cl)
	}

	// Refusals.
	sub = subjectToken()
	st, body = exchange(e.web.ID, e.web.Secret, url.Values{"subject_token": {sub}, "subject_token_type": {subjectType}})
	wantError(st, body, "unauthorized_client")
	st, body = exchange(third.ID, third.Secret, url.Values{"subject_token": {sub}, "subject_token_type": {subjectType}})
	wantError(st, body, "invalid_client")
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {"sub_unknown"}, "subject_token_type": {subjectType}})
	wantError(st, body, "invalid_grant")
	n.mustAPI(admin, "PATCH", patPath+"/ci", map[string]any{"name": "renamed"}, 200, nil)
	var renamed map[string]any
	n.mustAPI(admin, "PATCH", patPath, map[string]any{"currentName": "renamed", "name": "final"}, 200, &renamed)
	if renamed["name"] != "final" || renamed["value"] != nil {
		t.Errorf("renamed PAT %v", renamed)
	}
	// Renaming keeps the token usable.
	if st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {list0Value}, "subject_token_type": {patType}, "resource": {e.api}}); st != 200 {
		t.Errorf("renamed PAT exchange: %d %v", st, body)
	}
	n.mustAPI(admin, "POST", patPath+"/delete", map[string]any{"name": "final"}, 204, nil)
	st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {list0Value}, "subject_token_type": {patType}, "resource": {e.api}})
	wantError(st, body, "invalid_grant")
	n.mustAPI(admin, "DELETE", patPath+"/final", nil, 404, nil)
	// The refused requests did not use the subject token.
	if st, body = exchange(app.ID, app.Secret, url.Values{"subject_token": {sub}, "subject_token_type": {subjectType}, "resource": {e.api}}); st != 200 {
		t.Errorf("subject token after refusals: %d %v", st, body)
	}
}

// jwtClaims decodes a JWT's payload without verifying it (n.verify checks the
// signature; this reads claims accessClaims does not hold).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTokenExchangeSubjectTokenOnceAcrossNodes: a subject token presented to three
// nodes of a cluster at once is accepted by exactly one. Each node decides from its
// own replica of the directory, so only the directory's version-conditional write
// (through Raft) keeps two nodes from both accepting it.
func TestTokenExchangeSubjectTokenOnceAcrossNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a cluster of latch serve processes")
	}
	c := newProcCluster(t)
	nodes := c.startCluster(3)
	m := nodes[0].mgmt(t)
	admin := m.adminToken(t.Context())
	var app, user struct{ ID, Secret string }
	m.mustAPI(admin, "POST", "/api/applications", map[string]any{"name": "exchanger", "type": "Traditional",
		"oidcClientMetadata":   map[string]any{"redirectUris": []string{"http://127.0.0.1:9/x"}, "postLogoutRedirectUris": []string{}},
		"customClientMetadata": map[string]any{"allowTokenExchange": true}}, 200, &app)
	m.mustAPI(admin, "POST", "/api/users", map[string]any{"username": "tx_cluster_user"}, 200, &user)
	var pat struct{ Value string }
	m.mustAPI(admin, "POST", "/api/users/"+user.ID+"/personal-access-tokens", map[string]any{"name": "ci"}, 201, &pat)

	exchange := func(n *procNode, subject, typ string) (int, string, error) {
		form := url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"},
			"subject_token": {subject}, "subject_token_type": {typ}, "scope": {"openid"}}
		req, err := http.NewRequestWithContext(t.Context(), "POST", c.issuer()+"/token", strings.NewReader(form.Encode()))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(app.ID, app.Secret)
		resp, err := n.client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw), err
	}
	// Every node has the app, the user and the PAT (a PAT exchange works through it).
	written := time.Now()
	for _, n := range nodes {
		c.waitBy(t, written, written.Add(replicationBound), "a PAT exchange through "+n.name, func() (bool, string) {
			st, body, err := exchange(n, pat.Value, "urn:logto:token-type:personal_access_token")
			return st == 200, fmt.Sprint(st, " ", body, " ", err)
		})
	}

	for round := range 5 {
		var out struct{ SubjectToken string }
		m.mustAPI(admin, "POST", "/api/subject-tokens", map[string]any{"userId": user.ID}, 201, &out)
		type answer struct {
			node string
			st   int
			body string
			err  error
		}
		answers := make([]answer, len(nodes))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, n := range nodes {
			wg.Go(func() {
				<-start
				st, body, err := exchange(n, out.SubjectToken, "urn:ietf:params:oauth:token-type:access_token")
				answers[i] = answer{n.name, st, body, err}
			})
		}
		close(start)
		wg.Wait()
		accepted := 0
		for _, a := range answers {
			switch {
			case a.err == nil && a.st == 200:
				accepted++
			case a.err == nil && a.st == 400 && strings.Contains(a.body, `"invalid_grant"`):
			default:
				t.Errorf("round %d, %s: %d %s %v", round, a.node, a.st, a.body, a.err)
			}
		}
		if accepted != 1 {
			t.Errorf("round %d: %d nodes accepted one subject token: %+v", round, accepted, answers)
		}
	}
}
