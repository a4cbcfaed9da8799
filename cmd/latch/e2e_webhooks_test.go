package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// webhookDelivery is one request a test receiver got.
type webhookDelivery struct {
	header  http.Header
	raw     []byte
	payload map[string]any
}

func (d webhookDelivery) event() string { s, _ := d.payload["event"].(string); return s }

// webhookReceiver is a real HTTP receiver on 127.0.0.1 that records what it gets and
// answers status (200 unless set).
type webhookReceiver struct {
	mu     sync.Mutex
	got    []webhookDelivery
	status int
}

func (rc *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	d := webhookDelivery{header: r.Header.Clone(), raw: raw}
	_ = json.Unmarshal(raw, &d.payload)
	rc.mu.Lock()
	rc.got = append(rc.got, d)
	status := rc.status
	rc.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(`{"received":true}`))
}

func (rc *webhookReceiver) deliveries() []webhookDelivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

func (rc *webhookReceiver) setStatus(s int) {
	rc.mu.Lock()
	rc.status = s
	rc.mu.Unlock()
}

// find returns the deliveries of event for which match holds.
func (rc *webhookReceiver) find(event string, match func(webhookDelivery) bool) []webhookDelivery {
	var out []webhookDelivery
	for _, d := range rc.deliveries() {
		if d.event() == event && (match == nil || match(d)) {
			out = append(out, d)
		}
	}
	return out
}

// wait waits for a delivery of event that match accepts and returns it.
func (rc *webhookReceiver) wait(t *testing.T, event string, match func(webhookDelivery) bool) webhookDelivery {
	t.Helper()
	var got []webhookDelivery
	waitFor(t, "webhook "+event, func() bool {
		got = rc.find(event, match)
		return len(got) > 0
	})
	return got[0]
}

// validSignature checks Logto's logto-signature-sha-256: HMAC-SHA256 of the raw body
// keyed by the signing key, hex.
func validSignature(d webhookDelivery, key string) bool {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(d.raw)
	want := hex.EncodeToString(m.Sum(nil))
	return hmac.Equal([]byte(d.header.Get("logto-signature-sha-256")), []byte(want))
}

type hookBody struct {
	TenantID   string   `json:"tenantId"`
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Event      *string  `json:"event"`
	Events     []string `json:"events"`
	SigningKey string   `json:"signingKey"`
	Enabled    bool     `json:"enabled"`
	CreatedAt  int64    `json:"createdAt"`
	Config     struct {
		URL     string            `json:"url"`
		Headers map[string]string `json:"headers"`
	} `json:"config"`
	ExecutionStats *struct {
		SuccessCount int `json:"successCount"`
		RequestCount int `json:"requestCount"`
	} `json:"executionStats"`
}

type hookLog struct {
	ID        string `json:"id"`
	Key       string `json:"key"`
	CreatedAt int64  `json:"createdAt"`
	Payload   struct {
		Key         string `json:"key"`
		Result      string `json:"result"`
		HookID      string `json:"hookId"`
		HookRequest struct {
			Body map[string]any `json:"body"`
		} `json:"hookRequest"`
		Response *struct {
			StatusCode int            `json:"statusCode"`
			Body       map[string]any `json:"body"`
		} `json:"response"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	} `json:"payload"`
}

func str(v any) string { s, _ := v.(string); return s }

// TestWebhooksEndToEnd: a hook created through /api/hooks gets every Logto event
// Latch emits (a sign-in, Management API writes on users, roles, scopes,
// organizations, organization roles and scopes, memberships) at a real receiver, each
// signed with the hook's key and in Logto's payload shape; its delivery logs are
// listed by /recent-logs; /test, signing-key rotation, disabling and deleting work as
// Logto's.
func TestWebhooksEndToEnd(t *testing.T) {
	e := newBrowserEnvWith(t, func(c *serveConfig) { c.BackchannelBackoff = 20 * time.Millisecond })
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	rc := &webhookReceiver{}
	srv := httptest.NewServer(rc) // 127.0.0.1
	t.Cleanup(srv.Close)

	// Logto's guard errors.
	var apiErr struct {
		Code string         `json:"code"`
		Data map[string]any `json:"data"`
	}
	if st, _ := n.api(admin, "POST", "/api/hooks", map[string]any{"name": "x", "config": map[string]any{"url": srv.URL}}, &apiErr); st != 400 || apiErr.Code != "hook.missing_events" {
		t.Errorf("no events = %d %q, want 400 hook.missing_events", st, apiErr.Code)
	}
	if st, _ := n.api(admin, "POST", "/api/hooks", map[string]any{"events": []string{"User.Exploded"}, "config": map[string]any{"url": srv.URL}}, &apiErr); st != 400 || apiErr.Code != "guard.invalid_input" {
		t.Errorf("unknown event = %d %q, want 400 guard.invalid_input", st, apiErr.Code)
	}
	if st, _ := n.api(admin, "POST", "/api/hooks", map[string]any{"events": []string{"PostSignIn"}, "config": map[string]any{"url": "not a url"}}, &apiErr); st != 400 || apiErr.Code != "guard.invalid_input" {
		t.Errorf("bad url = %d %q, want 400 guard.invalid_input", st, apiErr.Code)
	}
	if st, _ := n.api(admin, "GET", "/api/hooks/nope", nil, &apiErr); st != 404 || apiErr.Code != "entity.not_exists_with_id" {
		t.Errorf("unknown hook = %d %q, want 404 entity.not_exists_with_id", st, apiErr.Code)
	}

	events := []string{
		"PostSignIn", "User.Created", "User.Deleted", "User.Data.Updated", "User.SuspensionStatus.Updated",
		"Role.Created", "Role.Deleted", "Role.Data.Updated", "Role.Scopes.Updated",
		"Scope.Created", "Scope.Deleted", "Scope.Data.Updated",
		"Organization.Created", "Organization.Deleted", "Organization.Data.Updated", "Organization.Membership.Updated",
		"OrganizationRole.Created", "OrganizationRole.Deleted", "OrganizationRole.Data.Updated", "OrganizationRole.Scopes.Updated",
		"OrganizationScope.Created", "OrganizationScope.Deleted", "OrganizationScope.Data.Updated",
	}
	var hook hookBody
	n.mustAPI(admin, "POST", "/api/hooks", map[string]any{
		"name": "all", "events": append(slices.Clone(events), "PostSignIn"), // duplicates are removed
		"config": map[string]any{"url": srv.URL + "/hook", "headers": map[string]string{"X-Custom": "yes"}},
	}, http.StatusCreated, &hook)
	if hook.ID == "" || len(hook.SigningKey) != 32 || !hook.Enabled || hook.TenantID != "default" || hook.Event != nil ||
		len(hook.Events) != len(events) || hook.Config.Headers["X-Custom"] != "yes" || hook.CreatedAt == 0 {
		t.Fatalf("created hook %+v", hook)
	}
	var listed []hookBody
	n.mustAPI(admin, "GET", "/api/hooks", nil, http.StatusOK, &listed)
	if len(listed) != 1 || listed[0].ID != hook.ID || listed[0].ExecutionStats != nil {
		t.Errorf("GET /api/hooks = %+v", listed)
	}

	// checkCommon: Logto's headers and signature, hookId and createdAt.
	checkCommon := func(d webhookDelivery, key string) {
		t.Helper()
		if !validSignature(d, key) {
			t.Errorf("%s: bad signature %q", d.event(), d.header.Get("logto-signature-sha-256"))
		}
		if d.header.Get("User-Agent") != "Logto (https://logto.io/)" || d.header.Get("X-Custom") != "yes" ||
			d.header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: headers %v", d.event(), d.header)
		}
		if str(d.payload["hookId"]) != hook.ID {
			t.Errorf("%s: hookId %v", d.event(), d.payload["hookId"])
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", str(d.payload["createdAt"])); err != nil {
			t.Errorf("%s: createdAt %v", d.event(), d.payload["createdAt"])
		}
	}
	// checkData: a Management API data event in Logto's shape.
	checkData := func(event, method, route, path string) webhookDelivery {
		t.Helper()
		d := rc.wait(t, event, func(d webhookDelivery) bool {
			return str(d.payload["path"]) == path && str(d.payload["method"]) == method
		})
		checkCommon(d, hook.SigningKey)
		if str(d.payload["matchedRoute"]) != route || str(d.payload["ip"]) != "127.0.0.1" || str(d.payload["userAgent"]) == "" {
			t.Errorf("%s %s: payload %s", method, path, d.raw)
		}
		if st, _ := d.payload["status"].(float64); st < 200 || st > 299 {
			t.Errorf("%s %s: status %v", method, path, d.payload["status"])
		}
		return d
	}
	write := func(method, path string, body any, out any) {
		t.Helper()
		var raw json.RawMessage
		if st, _ := n.api(admin, method, path, body, &raw); st < 200 || st > 299 {
			t.Fatalf("%s %s = %d %s", method, path, st, raw)
		}
		if out != nil {
			_ = json.Unmarshal(raw, out)
		}
	}

	// Users.
	var user struct{ ID string }
	write("POST", "/api/users", map[string]any{"username": "hooked_user", "password": "c0rrect-Horse-battery"}, &user)
	d := checkData("User.Created", "POST", "/users", "/users")
	if data, _ := d.payload["data"].(map[string]any); str(data["id"]) != user.ID || str(data["username"]) != "hooked_user" {
		t.Errorf("User.Created data %s", d.raw)
	}
	write("PATCH", "/api/users/"+user.ID, map[string]any{"name": "Hooked"}, nil)
	d = checkData("User.Data.Updated", "PATCH", "/users/:userId", "/users/"+user.ID)
	if p, _ := d.payload["params"].(map[string]any); str(p["userId"]) != user.ID {
		t.Errorf("params %s", d.raw)
	}
	write("PATCH", "/api/users/"+user.ID+"/custom-data", map[string]any{"customData": map[string]any{"a": 1}}, nil)
	checkData("User.Data.Updated", "PATCH", "/users/:userId/custom-data", "/users/"+user.ID+"/custom-data")
	write("PATCH", "/api/users/"+user.ID+"/is-suspended", map[string]any{"isSuspended": true}, nil)
	d = checkData("User.SuspensionStatus.Updated", "PATCH", "/users/:userId/is-suspended", "/users/"+user.ID+"/is-suspended")
	if data, _ := d.payload["data"].(map[string]any); data["isSuspended"] != true {
		t.Errorf("suspension data %s", d.raw)
	}

	// Roles and scopes.
	var res, scope, role struct{ ID string }
	write("POST", "/api/resources", map[string]any{"name": "Hooks API", "indicator": "https://hooks.example"}, &res)
	write("POST", "/api/resources/"+res.ID+"/scopes", map[string]any{"name": "hook:read"}, &scope)
	d = checkData("Scope.Created", "POST", "/resources/:resourceId/scopes", "/resources/"+res.ID+"/scopes")
	if p, _ := d.payload["params"].(map[string]any); str(p["resourceId"]) != res.ID {
		t.Errorf("Scope.Created params %s", d.raw)
	}
	write("PATCH", "/api/resources/"+res.ID+"/scopes/"+scope.ID, map[string]any{"description": "reads"}, nil)
	checkData("Scope.Data.Updated", "PATCH", "/resources/:resourceId/scopes/:scopeId", "/resources/"+res.ID+"/scopes/"+scope.ID)
	write("POST", "/api/roles", map[string]any{"name": "hook-role", "description": "r"}, &role)
	checkData("Role.Created", "POST", "/roles", "/roles")
	write("PATCH", "/api/roles/"+role.ID, map[string]any{"description": "r2"}, nil)
	checkData("Role.Data.Updated", "PATCH", "/roles/:id", "/roles/"+role.ID)
	write("POST", "/api/roles/"+role.ID+"/scopes", map[string]any{"scopeIds": []string{scope.ID}}, nil)
	checkData("Role.Scopes.Updated", "POST", "/roles/:id/scopes", "/roles/"+role.ID+"/scopes")
	write("DELETE", "/api/roles/"+role.ID+"/scopes/"+scope.ID, nil, nil)
	checkData("Role.Scopes.Updated", "DELETE", "/roles/:id/scopes/:scopeId", "/roles/"+role.ID+"/scopes/"+scope.ID)
	write("DELETE", "/api/roles/"+role.ID, nil, nil)
	checkData("Role.Deleted", "DELETE", "/roles/:id", "/roles/"+role.ID)
	write("DELETE", "/api/resources/"+res.ID+"/scopes/"+scope.ID, nil, nil)
	checkData("Scope.Deleted", "DELETE", "/resources/:resourceId/scopes/:scopeId", "/resources/"+res.ID+"/scopes/"+scope.ID)

	// Organizations, their memberships, organization roles and scopes.
	var org, orgScope, orgRole struct{ ID string }
	write("POST", "/api/organizations", map[string]any{"name": "Hook Org"}, &org)
	checkData("Organization.Created", "POST", "/organizations", "/organizations")
	write("PATCH", "/api/organizations/"+org.ID, map[string]any{"description": "d"}, nil)
	checkData("Organization.Data.Updated", "PATCH", "/organizations/:id", "/organizations/"+org.ID)
	write("POST", "/api/organizations/"+org.ID+"/users", map[string]any{"userIds": []string{user.ID, e.userID}}, nil)
	d = checkData("Organization.Membership.Updated", "POST", "/organizations/:id/users", "/organizations/"+org.ID+"/users")
	if str(d.payload["organizationId"]) != org.ID || len(d.payload["addedUserIds"].([]any)) != 2 || d.payload["removedUserIds"] != nil {
		t.Errorf("membership add %s", d.raw)
	}
	write("PUT", "/api/organizations/"+org.ID+"/users", map[string]any{"userIds": []string{user.ID}}, nil)
	d = checkData("Organization.Membership.Updated", "PUT", "/organizations/:id/users", "/organizations/"+org.ID+"/users")
	if rm, _ := d.payload["removedUserIds"].([]any); len(rm) != 1 || rm[0] != e.userID || d.payload["addedUserIds"] != nil {
		t.Errorf("membership replace %s", d.raw)
	}
	write("DELETE", "/api/organizations/"+org.ID+"/users/"+user.ID, nil, nil)
	d = checkData("Organization.Membership.Updated", "DELETE", "/organizations/:id/users/:userId", "/organizations/"+org.ID+"/users/"+user.ID)
	if rm, _ := d.payload["removedUserIds"].([]any); len(rm) != 1 || rm[0] != user.ID {
		t.Errorf("membership remove %s", d.raw)
	}
	write("POST", "/api/organization-scopes", map[string]any{"name": "org:read"}, &orgScope)
	checkData("OrganizationScope.Created", "POST", "/organization-scopes", "/organization-scopes")
	write("PATCH", "/api/organization-scopes/"+orgScope.ID, map[string]any{"description": "d"}, nil)
	checkData("OrganizationScope.Data.Updated", "PATCH", "/organization-scopes/:id", "/organization-scopes/"+orgScope.ID)
	write("POST", "/api/organization-roles", map[string]any{"name": "org-admin"}, &orgRole)
	checkData("OrganizationRole.Created", "POST", "/organization-roles", "/organization-roles")
	write("PATCH", "/api/organization-roles/"+orgRole.ID, map[string]any{"description": "d"}, nil)
	checkData("OrganizationRole.Data.Updated", "PATCH", "/organization-roles/:id", "/organization-roles/"+orgRole.ID)
	write("PUT", "/api/organization-roles/"+orgRole.ID+"/scopes", map[string]any{"organizationScopeIds": []string{orgScope.ID}}, nil)
	checkData("OrganizationRole.Scopes.Updated", "PUT", "/organization-roles/:id/scopes", "/organization-roles/"+orgRole.ID+"/scopes")
	write("DELETE", "/api/organization-roles/"+orgRole.ID+"/scopes/"+orgScope.ID, nil, nil)
	checkData("OrganizationRole.Scopes.Updated", "DELETE", "/organization-roles/:id/scopes/:organizationScopeId", "/organization-roles/"+orgRole.ID+"/scopes/"+orgScope.ID)
	write("DELETE", "/api/organization-roles/"+orgRole.ID, nil, nil)
	checkData("OrganizationRole.Deleted", "DELETE", "/organization-roles/:id", "/organization-roles/"+orgRole.ID)
	write("DELETE", "/api/organization-scopes/"+orgScope.ID, nil, nil)
	checkData("OrganizationScope.Deleted", "DELETE", "/organization-scopes/:id", "/organization-scopes/"+orgScope.ID)
	write("DELETE", "/api/organizations/"+org.ID, nil, nil)
	checkData("Organization.Deleted", "DELETE", "/organizations/:id", "/organizations/"+org.ID)

	// User.Deleted carries the user as it was.
	write("DELETE", "/api/users/"+user.ID, nil, nil)
	d = checkData("User.Deleted", "DELETE", "/users/:userId", "/users/"+user.ID)
	if data, _ := d.payload["data"].(map[string]any); str(data["id"]) != user.ID || str(data["name"]) != "Hooked" {
		t.Errorf("User.Deleted data %s", d.raw)
	}

	// A sign-in: PostSignIn with the interaction's session, the user and the app.
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	v := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(v)))
	b.signIn(browserUser, browserPassword)
	d = rc.wait(t, "PostSignIn", nil)
	checkCommon(d, hook.SigningKey)
	u, _ := d.payload["user"].(map[string]any)
	app, _ := d.payload["application"].(map[string]any)
	if str(d.payload["userId"]) != e.userID || str(d.payload["interactionEvent"]) != "SignIn" || str(d.payload["sessionId"]) == "" ||
		str(d.payload["userIp"]) != "127.0.0.1" || str(u["id"]) != e.userID || str(u["username"]) != browserUser ||
		str(app["id"]) != e.web.ID || str(app["type"]) != "Traditional" || str(app["name"]) != "web" {
		t.Errorf("PostSignIn payload %s", d.raw)
	}

	// The delivery logs: TriggerHook.<event>, with the request and the answer.
	var logs []hookLog
	waitFor(t, "recent logs", func() bool {
		logs = nil
		n.mustAPI(admin, "GET", "/api/hooks/"+hook.ID+"/recent-logs?page_size=100", nil, http.StatusOK, &logs)
		return len(logs) >= len(rc.deliveries())
	})
	var sawCreated bool
	for _, l := range logs {
		if l.Payload.HookID != hook.ID || l.Payload.Result != "Success" || l.Payload.Response == nil || l.Payload.Response.StatusCode != 200 ||
			l.Payload.Response.Body["received"] != true || l.Key != "TriggerHook."+str(l.Payload.HookRequest.Body["event"]) {
			t.Errorf("delivery log %+v", l)
		}
		if l.Key == "TriggerHook.User.Created" && str(l.Payload.HookRequest.Body["hookId"]) == hook.ID {
			sawCreated = true
		}
	}
	if !sawCreated {
		t.Error("no TriggerHook.User.Created log")
	}
	var created []hookLog
	n.mustAPI(admin, "GET", "/api/hooks/"+hook.ID+"/recent-logs?logKey=TriggerHook.User.Created", nil, http.StatusOK, &created)
	if len(created) != 1 {
		t.Errorf("logKey filter: %d logs", len(created))
	}
	if st, _ := n.api(admin, "GET", "/api/hooks/"+hook.ID+"/recent-logs?start_time=10&end_time=5", nil, &apiErr); st != 400 || apiErr.Code != "log.invalid_time_window" {
		t.Errorf("bad window = %d %q", st, apiErr.Code)
	}
	var withStats hookBody
	n.mustAPI(admin, "GET", "/api/hooks/"+hook.ID+"?includeExecutionStats=true", nil, http.StatusOK, &withStats)
	if withStats.ExecutionStats == nil || withStats.ExecutionStats.RequestCount < len(events) ||
		withStats.ExecutionStats.SuccessCount != withStats.ExecutionStats.RequestCount {
		t.Errorf("execution stats %+v", withStats.ExecutionStats)
	}

	// /test: Logto's test payload to the given config, signed with the hook's key.
	before := len(rc.deliveries())
	n.mustAPI(admin, "POST", "/api/hooks/"+hook.ID+"/test", map[string]any{
		"events": []string{"PostRegister", "User.Created"}, "config": map[string]any{"url": srv.URL + "/test"},
	}, http.StatusNoContent, nil)
	tests := rc.deliveries()[before:]
	if len(tests) != 2 || str(tests[0].payload["sessionId"]) != "fake-session-id" || str(tests[1].payload["path"]) != "/fake-path/:id" ||
		!validSignature(tests[0], hook.SigningKey) || !validSignature(tests[1], hook.SigningKey) {
		t.Errorf("test deliveries %+v", tests)
	}
	rc.setStatus(http.StatusTeapot)
	if st, _ := n.api(admin, "POST", "/api/hooks/"+hook.ID+"/test", map[string]any{
		"events": []string{"PostSignIn"}, "config": map[string]any{"url": srv.URL},
	}, &apiErr); st != 422 || apiErr.Code != "hook.endpoint_responded_with_error" || apiErr.Data["responseStatus"] != float64(418) {
		t.Errorf("test against a 418 = %d %+v", st, apiErr)
	}
	rc.setStatus(0)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	if st, _ := n.api(admin, "POST", "/api/hooks/"+hook.ID+"/test", map[string]any{
		"events": []string{"PostSignIn"}, "config": map[string]any{"url": deadURL},
	}, &apiErr); st != 422 || apiErr.Code != "hook.send_test_payload_failed" {
		t.Errorf("test against a closed port = %d %+v", st, apiErr)
	}

	// Rotating the signing key: later events are signed with the new one.
	var rotated hookBody
	n.mustAPI(admin, "PATCH", "/api/hooks/"+hook.ID+"/signing-key", nil, http.StatusOK, &rotated)
	if rotated.SigningKey == hook.SigningKey || len(rotated.SigningKey) != 32 {
		t.Fatalf("rotated key %q (was %q)", rotated.SigningKey, hook.SigningKey)
	}
	var r1 struct{ ID string }
	write("POST", "/api/roles", map[string]any{"name": "after-rotation", "description": "r"}, &r1)
	d = rc.wait(t, "Role.Created", func(d webhookDelivery) bool {
		data, _ := d.payload["data"].(map[string]any)
		return str(data["id"]) == r1.ID
	})
	if !validSignature(d, rotated.SigningKey) || validSignature(d, hook.SigningKey) {
		t.Error("event after rotation not signed with the new key")
	}

	// Disabled: no event; enabled again, the next one arrives (and the skipped one never).
	n.mustAPI(admin, "PATCH", "/api/hooks/"+hook.ID, map[string]any{"enabled": false}, http.StatusOK, nil)
	var skipped, next struct{ ID string }
	write("POST", "/api/roles", map[string]any{"name": "while-disabled", "description": "r"}, &skipped)
	n.mustAPI(admin, "PATCH", "/api/hooks/"+hook.ID, map[string]any{"enabled": true, "events": []string{"Role.Created"}}, http.StatusOK, nil)
	write("POST", "/api/roles", map[string]any{"name": "re-enabled", "description": "r"}, &next)
	rc.wait(t, "Role.Created", func(d webhookDelivery) bool {
		data, _ := d.payload["data"].(map[string]any)
		return str(data["id"]) == next.ID
	})
	if got := rc.find("Role.Created", func(d webhookDelivery) bool {
		data, _ := d.payload["data"].(map[string]any)
		return str(data["id"]) == skipped.ID
	}); len(got) != 0 {
		t.Error("a disabled hook got an event")
	}

	// PATCH: events, when given, non-empty; config replaced whole; paging on request.
	if st, _ := n.api(admin, "PATCH", "/api/hooks/"+hook.ID, map[string]any{"events": []string{}}, &apiErr); st != 400 || apiErr.Code != "guard.invalid_input" {
		t.Errorf("empty events = %d %q", st, apiErr.Code)
	}
	var patched hookBody
	n.mustAPI(admin, "PATCH", "/api/hooks/"+hook.ID, map[string]any{"name": "renamed", "event": nil, "config": map[string]any{"url": srv.URL + "/v2"}}, http.StatusOK, &patched)
	if patched.Name != "renamed" || patched.Config.URL != srv.URL+"/v2" || patched.Config.Headers != nil || patched.SigningKey != rotated.SigningKey {
		t.Errorf("patched %+v", patched)
	}
	var second hookBody
	n.mustAPI(admin, "POST", "/api/hooks", map[string]any{"event": "PostSignIn", "config": map[string]any{"url": srv.URL}}, http.StatusCreated, &second)
	var paged []hookBody
	if st, h := n.api(admin, "GET", "/api/hooks?page=1&page_size=1", nil, &paged); st != 200 || len(paged) != 1 || paged[0].ID != second.ID || h.Get("Total-Number") != "2" {
		t.Errorf("paged list = %d %+v %q (newest first)", st, paged, h.Get("Total-Number"))
	}

	// Deleted: 204, then 404.
	n.mustAPI(admin, "DELETE", "/api/hooks/"+hook.ID, nil, http.StatusNoContent, nil)
	if st, _ := n.api(admin, "GET", "/api/hooks/"+hook.ID, nil, &apiErr); st != 404 || apiErr.Code != "entity.not_exists_with_id" {
		t.Errorf("deleted hook = %d %q", st, apiErr.Code)
	}
}

// TestWebhooksSurviveOutageAndRestart: a real `latch serve` process queues User.Created
// events for a receiver that is down (each attempt fails and is logged), is killed
// (SIGKILL) and restarted, queues more, and once the receiver listens every event
// arrives, signed: delivery is at least once, through the durable outbox.
func TestWebhooksSurviveOutageAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a latch process")
	}
	c := newProcCluster(t, "--backchannel-backoff", "100ms", "--backchannel-max-backoff", "400ms")
	node := c.startCluster(1)[0]
	ctx := t.Context()
	n := node.mgmt(t)
	admin := n.adminToken(ctx)

	port := freePortRange(t, 1) // nothing listens there yet
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var hook hookBody
	n.mustAPI(admin, "POST", "/api/hooks", map[string]any{
		"name": "provisioning", "events": []string{"User.Created"}, "config": map[string]any{"url": "http://" + addr + "/hook"},
	}, http.StatusCreated, &hook)

	var ids []string
	createUsers := func(token string, from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			var u struct{ ID string }
			n.mustAPI(token, "POST", "/api/users", map[string]any{"username": "provisioned_" + strconv.Itoa(i)}, http.StatusOK, &u)
			ids = append(ids, u.ID)
		}
	}
	createUsers(admin, 0, 5)

	// Every event was tried and failed: the delivery logs say so.
	failedFor := func() map[string]bool {
		var logs []hookLog
		n.mustAPI(admin, "GET", "/api/hooks/"+hook.ID+"/recent-logs?page_size=100", nil, http.StatusOK, &logs)
		out := map[string]bool{}
		for _, l := range logs {
			if l.Payload.Result == "Error" && l.Payload.Error != nil && l.Payload.Response == nil {
				data, _ := l.Payload.HookRequest.Body["data"].(map[string]any)
				out[str(data["id"])] = true
			}
		}
		return out
	}
	c.waitFor(t, 30*time.Second, "a failed attempt for every event", func() (bool, string) {
		f := failedFor()
		return len(f) == len(ids), fmt.Sprintf("%d of %d", len(f), len(ids))
	})

	// kill -9 and restart on the same data; more events while the receiver is down.
	node.kill()
	node.start(t)
	node.waitReady(t, 60*time.Second)
	admin = n.adminToken(ctx)
	createUsers(admin, 5, 8)

	// The receiver comes up: every event arrives, signed with the hook's key.
	rc := receiveWebhooksAt(t, addr)
	waitUsersCreatedDelivered(t, c, 60*time.Second, rc, hook, ids)
}

// TestWebhooksInteractionEvents: a registration by emailed code sends PostRegister and
// User.Created; a password reset sends PostResetPassword; each names the interaction,
// the user and the application, signed.
func TestWebhooksInteractionEvents(t *testing.T) {
	e := newFlowsEnv(t)
	rc := &webhookReceiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	var hook hookBody
	e.n.mustAPI(e.admin, "POST", "/api/hooks", map[string]any{
		"events": []string{"PostRegister", "PostResetPassword", "User.Created"}, "config": map[string]any{"url": srv.URL},
	}, http.StatusCreated, &hook)

	const addr = "hooked.new@flows.example"
	b, state, verifier := e.authorize(t)
	b.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "Register"}, http.StatusNoContent)
	id := sendCode(t, b, "Register", addr)
	b.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(addr, id, e.code(t, addr, "Register")), http.StatusOK)
	if st, body := b.experience("POST", "/api/experience/identification", map[string]any{"verificationId": id}); st != 422 {
		t.Fatalf("identification without a password = %d %v", st, body) // the settings ask for one
	}
	b.mustExperience("POST", "/api/experience/profile", map[string]any{"type": "password", "value": "Fresh-passw0rd-42"}, http.StatusNoContent)
	b.mustExperience("POST", "/api/experience/identification", map[string]any{}, http.StatusCreated)
	redirectTo, _ := b.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)["redirectTo"].(string)
	claims := e.finish(t, b, redirectTo, state, verifier)
	sub := str(claims["sub"])

	reg := rc.wait(t, "PostRegister", nil)
	user, _ := reg.payload["user"].(map[string]any)
	app, _ := reg.payload["application"].(map[string]any)
	if !validSignature(reg, hook.SigningKey) || str(reg.payload["userId"]) != sub || str(reg.payload["interactionEvent"]) != "Register" ||
		str(user["primaryEmail"]) != addr || str(app["id"]) == "" || str(reg.payload["sessionId"]) == "" {
		t.Errorf("PostRegister %s", reg.raw)
	}
	created := rc.wait(t, "User.Created", nil)
	if data, _ := created.payload["data"].(map[string]any); !validSignature(created, hook.SigningKey) || str(data["id"]) != sub ||
		str(created.payload["interactionEvent"]) != "Register" || str(created.payload["sessionId"]) != str(reg.payload["sessionId"]) {
		t.Errorf("User.Created on registration %s", created.raw)
	}

	const alice, newPassword = "alice@browser.example", "Brand-new-Passw0rd!"
	b2, _, _ := e.authorize(t)
	b2.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "ForgotPassword"}, http.StatusNoContent)
	id = sendCode(t, b2, "ForgotPassword", alice)
	b2.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(alice, id, e.code(t, alice, "ForgotPassword")), http.StatusOK)
	b2.mustExperience("POST", "/api/experience/identification", map[string]any{"verificationId": id}, http.StatusNoContent)
	b2.mustExperience("PUT", "/api/experience/profile/password", map[string]any{"password": newPassword}, http.StatusNoContent)
	b2.mustExperience("POST", "/api/experience/submit", nil, http.StatusNoContent)
	reset := rc.wait(t, "PostResetPassword", nil)
	if !validSignature(reset, hook.SigningKey) || str(reset.payload["userId"]) != e.userID || str(reset.payload["interactionEvent"]) != "ForgotPassword" {
		t.Errorf("PostResetPassword %s", reset.raw)
	}
	if n := len(rc.find("User.Created", nil)); n != 1 {
		t.Errorf("%d User.Created, want the registration's only", n)
	}
}

// receiveWebhooksAt starts a webhook receiver on addr (the hook's URL, down until now).
func receiveWebhooksAt(t *testing.T, addr string) *webhookReceiver {
	t.Helper()
	rc := &webhookReceiver{}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(rc)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return rc
}

// waitUsersCreatedDelivered waits until rc got, from hook and signed with its key, a
// User.Created event for every user id in ids.
func waitUsersCreatedDelivered(t *testing.T, c *procCluster, within time.Duration, rc *webhookReceiver, hook hookBody, ids []string) {
	t.Helper()
	c.waitFor(t, within, "every User.Created delivered", func() (bool, string) {
		got := map[string]bool{}
		for _, d := range rc.find("User.Created", nil) {
			data, _ := d.payload["data"].(map[string]any)
			if validSignature(d, hook.SigningKey) && str(d.payload["hookId"]) == hook.ID {
				got[str(data["id"])] = true
			}
		}
		var missing []string
		for _, id := range ids {
			if !got[id] {
				missing = append(missing, id)
			}
		}
		return len(missing) == 0, fmt.Sprintf("missing %v", missing)
	})
}
