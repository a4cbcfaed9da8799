package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLogtoExpressSDK runs Logto's Express sample (e2e/express/app.js, @logto/express from
// npm) against a real node and drives it like a browser with e2e/express/drive.js: sign-in
// through /oidc/auth, the sign-in page's Experience API and the SDK's callback; the ID
// token's claims; fetchUserInfo with custom_data; getAccessToken for an API resource
// (refresh_token grant, JWT checked against the JWKS); organizations (UserScope.Organizations
// and OrganizationRoles: the SDK adds urn:logto:resource:organizations, the ID token's
// organizations and organization_roles, userinfo's organization_data, and
// getOrganizationToken, a refresh with organization_id); sign-out through
// /oidc/session/end back to the app.
//
// It needs node (>= 20) and `npm ci` in e2e/express. Without them it skips, unless
// LATCH_REQUIRE_NODE=1 (CI sets it), where it fails.
func TestLogtoExpressSDK(t *testing.T) {
	dir, err := filepath.Abs(filepath.Join("..", "..", "e2e", "express"))
	if err != nil {
		t.Fatal(err)
	}
	nodePrereqs(t, dir, "@logto/express")

	n := startNode(t, t.TempDir(), nil)
	token := n.adminToken(t.Context())

	appPort := expressFreePort(t)
	baseURL := fmt.Sprintf("http://127.0.0.1:%d", appPort)
	const (
		resource  = "https://orders.express.example"
		scopeName = "read:orders"
		username  = "express_alice"
		password  = "Expr3ss-sample-passw0rd"
	)
	customData := map[string]any{"plan": "gold", "seats": 3, "tags": []any{"a", "b"}, "nested": map[string]any{"ok": true}}

	// The README's steps, through the Management API: an API resource with a scope, a User
	// role holding it, a user with custom data and that role, a Traditional app.
	var res, scope, role, user struct{ ID string }
	n.mustAPI(token, "POST", "/api/resources", map[string]any{"name": "Orders", "indicator": resource}, 201, &res)
	n.mustAPI(token, "POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": scopeName}, 201, &scope)
	n.mustAPI(token, "POST", "/api/roles", map[string]any{
		"name": "order-reader", "description": "reads orders", "type": "User", "scopeIds": []string{scope.ID},
	}, 200, &role)
	n.mustAPI(token, "POST", "/api/users", map[string]any{
		"username": username, "password": password, "customData": customData,
	}, 200, &user)
	n.mustAPI(token, "POST", "/api/users/"+user.ID+"/roles", map[string]any{"roleIds": []string{role.ID}}, 201, nil)
	// An organization the user is a member of, with a role holding one organization scope
	// (Logto's organization guide).
	const orgScope, orgRole = "read:projects", "project-viewer"
	var oscope, orole, org struct{ ID string }
	n.mustAPI(token, "POST", "/api/organization-scopes", map[string]any{"name": orgScope}, 201, &oscope)
	n.mustAPI(token, "POST", "/api/organization-roles", map[string]any{"name": orgRole, "organizationScopeIds": []string{oscope.ID}}, 201, &orole)
	n.mustAPI(token, "POST", "/api/organizations", map[string]any{"name": "Express Org", "description": "for the SDK"}, 201, &org)
	n.mustAPI(token, "POST", "/api/organizations/"+org.ID+"/users", map[string]any{"userIds": []string{user.ID}}, 201, nil)
	n.mustAPI(token, "POST", "/api/organizations/"+org.ID+"/users/"+user.ID+"/roles", map[string]any{"organizationRoleIds": []string{orole.ID}}, 201, nil)
	var app struct{ ID, Secret string }
	n.createApp(token, map[string]any{
		"name": "Express sample", "type": "Traditional",
		"oidcClientMetadata": map[string]any{
			"redirectUris": []string{baseURL + "/logto/sign-in-callback"},
			// @logto/express signs out with post_logout_redirect_uri = baseUrl exactly.
			"postLogoutRedirectUris": []string{baseURL},
		},
	}, &app)
	if app.ID == "" || app.Secret == "" {
		t.Fatalf("application without id or secret: %+v", app)
	}

	appOut := startExpressApp(t, dir, []string{
		"PORT=" + strconv.Itoa(appPort),
		"BASE_URL=" + baseURL,
		"LOGTO_ENDPOINT=" + n.endpoint,
		"LOGTO_APP_ID=" + app.ID,
		"LOGTO_APP_SECRET=" + app.Secret,
		"LOGTO_RESOURCE=" + resource,
		"LOGTO_SCOPES=" + scopeName + " " + orgScope,
		"LOGTO_ORGANIZATIONS=1",
		"SESSION_SECRET=e2e-express-session-secret",
	}, baseURL)

	want, err := json.Marshal(customData)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	drive := exec.CommandContext(ctx, "node", "drive.js")
	drive.Dir = dir
	drive.Env = append(os.Environ(),
		"APP_URL="+baseURL,
		"LOGTO_ENDPOINT="+n.endpoint,
		"LOGTO_APP_ID="+app.ID,
		"LATCH_USERNAME="+username,
		"LATCH_PASSWORD="+password,
		"EXPECT_SUB="+user.ID,
		"EXPECT_CUSTOM_DATA="+string(want),
		"LOGTO_RESOURCE="+resource,
		"EXPECT_SCOPE="+scopeName,
		"EXPECT_ORGANIZATION="+org.ID,
		"EXPECT_ORGANIZATION_ROLE="+orgRole,
		"EXPECT_ORGANIZATION_SCOPE="+orgScope,
	)
	out, err := drive.CombinedOutput()
	if err != nil {
		t.Fatalf("node drive.js: %v\n--- drive.js\n%s\n--- app.js\n%s\n--- latch (tail)\n%s",
			err, out, appOut.String(), lastBytes(n.out.String(), 8000))
	}
	t.Logf("node drive.js\n%s\n--- app.js\n%s", out, appOut.String())
}

// nodePrereqs skips (or, with LATCH_REQUIRE_NODE=1, fails) unless node >= 20 is on PATH
// and dir's node_modules hold module (npm ci has run there).
func nodePrereqs(t *testing.T, dir, module string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("LATCH_REQUIRE_NODE") == "1" {
			t.Fatalf("LATCH_REQUIRE_NODE=1 but %s", msg)
		}
		t.Skip(msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not on PATH")
	}
	v, err := exec.Command(node, "--version").Output()
	if err != nil {
		missing("node --version: %v", err)
	}
	major, _ := strconv.Atoi(strings.SplitN(strings.TrimPrefix(strings.TrimSpace(string(v)), "v"), ".", 2)[0])
	if major < 20 {
		missing("node %s is older than 20", strings.TrimSpace(string(v)))
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(module))); err != nil {
		missing("%s/node_modules lacks %s: run `npm ci` there (make e2e-deps)", dir, module)
	}
}

// expressFreePort returns a port that was free on 127.0.0.1 a moment ago.
func expressFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startExpressApp runs `node app.js` with env added, waits until baseURL answers, and
// kills it when the test ends. It returns the app's output so far (and to come).
func startExpressApp(t *testing.T, dir string, env []string, baseURL string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command("node", "app.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node app.js: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("node app.js exited early: %v\n%s", err, out.String())
		default:
		}
		resp, err := client.Get(baseURL + "/")
		if err == nil {
			resp.Body.Close()
			return out
		}
		if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "connection refused") {
			t.Logf("waiting for the app: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node app.js did not answer on %s\n%s", baseURL, out.String())
	return nil
}

// lastBytes returns the last n bytes of s (the end of a long log, for a failure).
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
