package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Logto OSS's Management API resource and scope (what Latch's admin app is granted).
const (
	managementAPIResource = "https://default.logto.app/api"
	managementAPIScope    = "all"
)

// AdminCredentials is <data>/admin-credentials.json as `latch serve` writes it.
type AdminCredentials struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// ReadAdminCredentials reads <dataDir>/admin-credentials.json. A missing file is
// reported with os.ErrNotExist.
func ReadAdminCredentials(dataDir string) (AdminCredentials, error) {
	var c AdminCredentials
	b, err := os.ReadFile(filepath.Join(dataDir, "admin-credentials.json"))
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", filepath.Join(dataDir, "admin-credentials.json"), err)
	}
	if c.ClientID == "" || c.ClientSecret == "" {
		return c, fmt.Errorf("%s: clientId or clientSecret missing", filepath.Join(dataDir, "admin-credentials.json"))
	}
	return c, nil
}

// latchAdmin is a minimal client of Latch's (Logto-compatible) Management API, used by
// the scenarios' setup to create their own resources, roles, apps and users.
type latchAdmin struct {
	client *http.Client
	base   string // the endpoint: issuer without "/oidc"
	tokenR *tokenRequest
	token  string
	log    func(format string, args ...any)
	// undo holds the deletions to run at teardown, newest first.
	undo []string
}

// managementBase derives Latch's endpoint from its issuer (<endpoint>/oidc).
func managementBase(issuer string) (string, error) {
	base, ok := strings.CutSuffix(strings.TrimSuffix(issuer, "/"), "/oidc")
	if !ok {
		return "", fmt.Errorf("issuer %q does not end in /oidc; is this a Latch issuer? (use --target generic for other providers)", issuer)
	}
	return base, nil
}

// newLatchAdmin obtains a Management API token with the admin app's client credentials.
func newLatchAdmin(ctx context.Context, env *Env, tokenEndpoint string) (*latchAdmin, error) {
	t := env.Target
	if t.AdminClientID == "" || t.AdminClientSecret == "" {
		return nil, errors.New("--target latch needs the admin app's credentials: --admin-client-id and --admin-client-secret, or --data pointing at the data directory holding admin-credentials.json (or --target generic with --client-id/--client-secret)")
	}
	base, err := managementBase(t.Issuer)
	if err != nil {
		return nil, err
	}
	tr, err := newTokenRequest(tokenEndpoint, t.AdminClientID, t.AdminClientSecret, "basic", url.Values{
		"grant_type": {"client_credentials"},
		"resource":   {managementAPIResource},
		"scope":      {managementAPIScope},
	})
	if err != nil {
		return nil, err
	}
	a := &latchAdmin{client: env.Client, base: base, tokenR: tr, log: env.logf}
	if err := a.refreshToken(ctx); err != nil {
		return nil, fmt.Errorf("management API token for admin app %s: %w", t.AdminClientID, err)
	}
	return a, nil
}

// refreshToken gets a fresh Management API token (teardown may come after a run longer
// than the token's lifetime).
func (a *latchAdmin) refreshToken(ctx context.Context) error {
	body, err := a.tokenR.do(ctx, a.client, make([]byte, 0, 64<<10))
	if err != nil {
		return err
	}
	resp, ok := parseTokenResponse(body)
	if !ok {
		return errors.New("token response without access_token")
	}
	a.token = resp.AccessToken
	return nil
}

// call sends one Management API request with a JSON body and decodes the JSON reply
// into out (when non-nil). Any status but want is an error carrying Logto's error shape.
func (a *latchAdmin) call(ctx context.Context, method, path string, in, out any, want int) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var le struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}
		if json.Unmarshal(rb, &le) == nil && le.Code != "" {
			return fmt.Errorf("%s %s: %d %s: %s", method, path, resp.StatusCode, le.Code, le.Message)
		}
		return fmt.Errorf("%s %s: status %d (want %d): %s", method, path, resp.StatusCode, want, snippet(rb))
	}
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			return fmt.Errorf("%s %s: decode reply: %w", method, path, err)
		}
	}
	return nil
}

// m2mClient is a machine-to-machine app created for a run, with a role granting one
// scope on one API resource.
type m2mClient struct {
	ClientID, ClientSecret string
	Resource, Scope        string
}

// apiResource is an API resource created for a run.
type apiResource struct {
	ID, Name string
	// Indicator is its RFC 8707 resource indicator, under bench.latch.invalid (.invalid
	// never resolves, RFC 6761 6.4): nothing has to serve it.
	Indicator string
}

// createResource creates an API resource named <prefix>-<random> whose access tokens
// live an hour. Teardown deletes it, with its scopes, unless --keep.
func (a *latchAdmin) createResource(ctx context.Context, prefix string) (*apiResource, error) {
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	name := prefix + "-" + suffix
	indicator := "https://bench.latch.invalid/" + name
	var res struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, http.MethodPost, "/api/resources", map[string]any{
		"name": name, "indicator": indicator, "accessTokenTtl": 3600,
	}, &res, http.StatusCreated); err != nil {
		return nil, err
	}
	if res.ID == "" {
		return nil, errors.New("POST /api/resources: reply without id")
	}
	a.undo = append(a.undo, "/api/resources/"+res.ID)
	return &apiResource{ID: res.ID, Name: name, Indicator: indicator}, nil
}

// createM2MClient creates, through the Management API, an API resource with one scope,
// a MachineToMachine role holding it, and an M2M app assigned that role, all named
// after the resource (random suffix: runs never collide); teardown deletes them unless
// --keep.
func (a *latchAdmin) createM2MClient(ctx context.Context, prefix string) (*m2mClient, error) {
	res, err := a.createResource(ctx, prefix)
	if err != nil {
		return nil, err
	}
	name, indicator := res.Name, res.Indicator
	var scope struct {
		ID string `json:"id"`
	}
	const scopeName = "bench:read"
	if err := a.call(ctx, http.MethodPost, "/api/resources/"+res.ID+"/scopes", map[string]any{
		"name": scopeName, "description": "latch bench",
	}, &scope, http.StatusCreated); err != nil {
		return nil, err
	}
	var role struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, http.MethodPost, "/api/roles", map[string]any{
		"name": name, "description": "latch bench", "type": "MachineToMachine", "scopeIds": []string{scope.ID},
	}, &role, http.StatusOK); err != nil {
		return nil, err
	}
	a.undo = append(a.undo, "/api/roles/"+role.ID)
	var app struct {
		ID     string `json:"id"`
		Secret string
	}
	if err := a.call(ctx, http.MethodPost, "/api/applications", map[string]any{
		"name": name, "type": "MachineToMachine",
	}, &app, http.StatusOK); err != nil {
		return nil, err
	}
	if app.ID == "" {
		return nil, errors.New("POST /api/applications: reply without id")
	}
	a.undo = append(a.undo, "/api/applications/"+app.ID)
	if app.Secret == "" {
		return nil, errors.New("POST /api/applications: reply without the secret")
	}
	if err := a.call(ctx, http.MethodPost, "/api/roles/"+role.ID+"/applications", map[string]any{
		"applicationIds": []string{app.ID},
	}, nil, http.StatusCreated); err != nil {
		return nil, err
	}
	a.log("setup: created M2M app %s with role %s (scope %s on %s)", app.ID, name, scopeName, indicator)
	return &m2mClient{ClientID: app.ID, ClientSecret: app.Secret, Resource: indicator, Scope: scopeName}, nil
}

// teardown deletes what this admin created, newest first, and reports every failure.
func (a *latchAdmin) teardown(ctx context.Context) error {
	if len(a.undo) == 0 {
		return nil
	}
	if err := a.refreshToken(ctx); err != nil {
		return fmt.Errorf("teardown: management API token: %w", err)
	}
	var errs []error
	for i := len(a.undo) - 1; i >= 0; i-- {
		if err := a.call(ctx, http.MethodDelete, a.undo[i], nil, nil, http.StatusNoContent); err != nil {
			errs = append(errs, err)
		}
	}
	a.undo = nil
	return errors.Join(errs...)
}

func randomSuffix() (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// userApp is an application for the browser flows, created for a run.
type userApp struct {
	ID string
	// Secret is empty for public clients (SPA, Native): they authenticate with PKCE
	// alone and send client_id in the token request body.
	Secret      string
	Type        string // Traditional or SPA
	RedirectURI string
}

// Public reports whether the app is a public client (no secret).
func (a *userApp) Public() bool { return a.Type != "Traditional" }

// createUserApp creates a first-party app of appType ("Traditional" or "SPA") with one
// redirect URI, which nothing has to serve: the scenarios read the authorization
// response from the Location header and never follow it.
func (a *latchAdmin) createUserApp(ctx context.Context, prefix, appType, redirectURI string) (*userApp, error) {
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	var app struct {
		ID     string `json:"id"`
		Secret string `json:"secret"` // in the creation's answer only
	}
	if err := a.call(ctx, http.MethodPost, "/api/applications", map[string]any{
		"name": prefix + "-" + suffix, "type": appType,
		"oidcClientMetadata": map[string]any{"redirectUris": []string{redirectURI}, "postLogoutRedirectUris": []string{}},
	}, &app, http.StatusOK); err != nil {
		return nil, err
	}
	if app.ID == "" {
		return nil, errors.New("POST /api/applications: reply without id")
	}
	a.undo = append(a.undo, "/api/applications/"+app.ID)
	ua := &userApp{ID: app.ID, Type: appType, RedirectURI: redirectURI}
	if !ua.Public() { // a public client never authenticates with a secret
		if app.Secret == "" {
			return nil, errors.New("POST /api/applications: reply without the secret")
		}
		ua.Secret = app.Secret
	}
	a.log("setup: created %s app %s (redirect URI %s)", appType, app.ID, redirectURI)
	return ua, nil
}

// benchUser is an account created for a run.
type benchUser struct {
	ID, Username, Password string
}

// createUsers creates n users with random passwords, a few at a time (every creation
// hashes a password with the server's Argon2id parameters). Usernames are
// <prefix>_<random>_<i>, valid Logto usernames.
func (a *latchAdmin) createUsers(ctx context.Context, prefix string, n int) ([]benchUser, error) {
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	users := make([]benchUser, n)
	for i := range users {
		pw, err := randomSuffix()
		if err != nil {
			return nil, err
		}
		users[i] = benchUser{Username: fmt.Sprintf("%s_%s_%d", prefix, suffix, i), Password: "Bench-" + pw + "-pw"}
	}
	errs := make([]error, n)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			var u struct {
				ID string `json:"id"`
			}
			errs[i] = a.call(ctx, http.MethodPost, "/api/users", map[string]any{
				"username": users[i].Username, "password": users[i].Password, "name": "latch bench " + users[i].Username,
			}, &u, http.StatusOK)
			if errs[i] == nil && u.ID == "" {
				errs[i] = errors.New("POST /api/users: reply without id")
			}
			users[i].ID = u.ID
		})
	}
	wg.Wait()
	// Undo entries are added in order, after the concurrent part.
	for _, u := range users {
		if u.ID != "" {
			a.undo = append(a.undo, "/api/users/"+u.ID)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	a.log("setup: created %d users %s_%s_0..%d", n, prefix, suffix, n-1)
	return users, nil
}

// benchOrganization is an organization created for a run, with the organization scope
// its members' role holds.
type benchOrganization struct {
	ID    string
	Scope string
}

// createOrganization creates, through the Management API, an organization scope, a
// User organization role holding it and an organization named <prefix>-<random>, and
// makes every user in userIDs a member with that role; teardown deletes them (the
// memberships go with the organization) unless --keep.
func (a *latchAdmin) createOrganization(ctx context.Context, prefix string, userIDs []string) (*benchOrganization, error) {
	suffix, err := randomSuffix()
	if err != nil {
		return nil, err
	}
	name := prefix + "-" + suffix
	scopeName := "bench:org:" + suffix
	var scope, role, org struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, http.MethodPost, "/api/organization-scopes", map[string]any{
		"name": scopeName, "description": "latch bench",
	}, &scope, http.StatusCreated); err != nil {
		return nil, err
	}
	a.undo = append(a.undo, "/api/organization-scopes/"+scope.ID)
	if err := a.call(ctx, http.MethodPost, "/api/organization-roles", map[string]any{
		"name": name, "description": "latch bench", "organizationScopeIds": []string{scope.ID},
	}, &role, http.StatusCreated); err != nil {
		return nil, err
	}
	a.undo = append(a.undo, "/api/organization-roles/"+role.ID)
	if err := a.call(ctx, http.MethodPost, "/api/organizations", map[string]any{
		"name": name, "description": "latch bench",
	}, &org, http.StatusCreated); err != nil {
		return nil, err
	}
	a.undo = append(a.undo, "/api/organizations/"+org.ID)
	if scope.ID == "" || role.ID == "" || org.ID == "" {
		return nil, errors.New("organization setup: a reply without id")
	}
	if err := a.call(ctx, http.MethodPost, "/api/organizations/"+org.ID+"/users", map[string]any{
		"userIds": userIDs,
	}, nil, http.StatusCreated); err != nil {
		return nil, err
	}
	if err := a.call(ctx, http.MethodPost, "/api/organizations/"+org.ID+"/users/roles", map[string]any{
		"userIds": userIDs, "organizationRoleIds": []string{role.ID},
	}, nil, http.StatusCreated); err != nil {
		return nil, err
	}
	a.log("setup: created organization %s (%d members, role %s holding %s)", org.ID, len(userIDs), name, scopeName)
	return &benchOrganization{ID: org.ID, Scope: scopeName}, nil
}
