package httpapi

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/julienschmidt/httprouter"
	"golang.org/x/crypto/bcrypt"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/persistence"
)

// mgmtEnv is one test's Server with a fresh, bootstrapped directory. Its handler h
// serves the Management API routes without the bearer-token check, so handler tests
// do not depend on the token endpoint; TestMgmtThroughAuth covers the real wiring.
type mgmtEnv struct {
	t   *testing.T
	s   *Server
	dir *directory.Directory
	h   http.Handler
}

const (
	mgmtAdminID     = "mgmt-admin"
	mgmtAdminSecret = "mgmt-admin-secret-0123456789abcd"
)

func newMgmtEnv(t *testing.T) *mgmtEnv {
	t.Helper()
	return newMgmtEnvFrom(t, nil)
}

// newMgmtEnvFrom is newMgmtEnv with before run on the directory before Bootstrap
// (to reproduce a directory made by an older Latch).
func newMgmtEnvFrom(t *testing.T, before func(*directory.Directory)) *mgmtEnv {
	t.Helper()
	now := func() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir, err := directory.Open(t.Context(), directory.Config{Store: store, Now: now, Rand: rand.Reader,
		Argon2: directory.Argon2Params{Memory: 64, Time: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(dir)
	}
	if _, err := dir.Bootstrap(t.Context(), mgmtAdminID, mgmtAdminSecret); err != nil {
		t.Fatal(err)
	}
	key, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := oidcflow.NewKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: dir, Keys: ring, Now: now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	r := httprouter.New()
	for _, rt := range s.managementRoutes() {
		r.Handle(rt.method, rt.path, func(w http.ResponseWriter, req *http.Request, p httprouter.Params) {
			s.serveAPI(w, req, p, rt.h)
		})
	}
	return &mgmtEnv{t: t, s: s, dir: dir, h: r}
}

// do sends body (a string is sent raw, anything else as JSON).
func (e *mgmtEnv) do(method, path string, body any) *httptest.ResponseRecorder {
	e.t.Helper()
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = string(j)
	}
	r := httptest.NewRequest(method, path, strings.NewReader(raw))
	if raw != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// call sends the request, checks the status and decodes the JSON answer into a map
// (nil for empty bodies).
func (e *mgmtEnv) call(method, path string, body any, wantStatus int) map[string]any {
	e.t.Helper()
	w := e.do(method, path, body)
	if w.Code != wantStatus {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, wantStatus, w.Body)
	}
	if w.Body.Len() == 0 {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		e.t.Fatalf("%s %s: not a JSON object: %s", method, path, w.Body)
	}
	return m
}

// list sends a GET expecting a JSON array.
func (e *mgmtEnv) list(path string) ([]map[string]any, http.Header) {
	e.t.Helper()
	w := e.do("GET", path, nil)
	if w.Code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	var items []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &items); err != nil {
		e.t.Fatalf("GET %s: not an array: %s", path, w.Body)
	}
	return items, w.Header()
}

// wantError checks Logto's error shape.
func (e *mgmtEnv) wantError(method, path string, body any, status int, code string) APIError {
	e.t.Helper()
	w := e.do(method, path, body)
	var ae APIError
	if err := json.Unmarshal(w.Body.Bytes(), &ae); err != nil || w.Code != status || ae.Code != code || ae.Message == "" {
		e.t.Fatalf("%s %s: %d %s, want %d %s", method, path, w.Code, w.Body, status, code)
	}
	return ae
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

func TestMgmtApplications(t *testing.T) {
	e := newMgmtEnv(t)
	app := e.call("POST", "/api/applications", map[string]any{
		"name": "Backend", "type": "MachineToMachine", "description": "svc",
		"customData": map[string]any{"a": 1},
	}, http.StatusOK)
	id := str(app, "id")
	// The creation's answer shows the default secret once; Latch keeps only its hash,
	// so the secrets list names it without a value (Logto lists values: a departure).
	secret := str(app, "secret")
	if len(id) != directory.IDLength || len(secret) != directory.SecretLength {
		t.Fatalf("create response %v", app)
	}
	secrets, _ := e.list("/api/applications/" + id + "/secrets")
	if len(secrets) != 1 || secrets[0]["name"] != directory.DefaultSecretName || secrets[0]["value"] != nil {
		t.Fatalf("default secret %v", secrets)
	}
	if got := e.call("GET", "/api/applications/"+id, nil, http.StatusOK); got["secret"] != nil {
		t.Fatalf("GET shows the secret: %v", got)
	}
	if app["tenantId"] != "default" || app["type"] != "MachineToMachine" || app["description"] != "svc" || app["isThirdParty"] != false {
		t.Fatalf("create response %v", app)
	}
	if md, _ := app["oidcClientMetadata"].(map[string]any); md == nil || md["redirectUris"] == nil {
		t.Fatalf("oidcClientMetadata %v", app["oidcClientMetadata"])
	}
	if a, _ := e.dir.Application(id); !e.dir.AuthenticateApp(a, secret) {
		t.Fatal("returned secret does not authenticate")
	}

	// The application object never carries the secret, and no hash anywhere.
	w := e.do("GET", "/api/applications/"+id, nil)
	if w.Code != 200 || strings.Contains(w.Body.String(), secret) || strings.Contains(w.Body.String(), `"secret"`) ||
		strings.Contains(w.Body.String(), "hash") {
		t.Fatalf("GET application leaks: %s", w.Body)
	}

	// PATCH merges metadata objects key by key; customData is replaced (Logto).
	e.call("PATCH", "/api/applications/"+id, map[string]any{
		"oidcClientMetadata": map[string]any{"redirectUris": []string{"https://a.example/cb"}},
	}, http.StatusOK)
	got := e.call("PATCH", "/api/applications/"+id, map[string]any{
		"name":                 "Renamed",
		"oidcClientMetadata":   map[string]any{"postLogoutRedirectUris": []string{"https://a.example/out"}},
		"customClientMetadata": map[string]any{"idTokenTtl": 600},
		"customData":           map[string]any{"b": 2},
	}, http.StatusOK)
	md := got["oidcClientMetadata"].(map[string]any)
	if got["name"] != "Renamed" || fmt.Sprint(md["redirectUris"]) != "[https://a.example/cb]" ||
		fmt.Sprint(md["postLogoutRedirectUris"]) != "[https://a.example/out]" {
		t.Fatalf("patch result %v", got)
	}
	if fmt.Sprint(got["customData"]) != "map[b:2]" || fmt.Sprint(got["customClientMetadata"]) != "map[idTokenTtl:600]" {
		t.Fatalf("patch merge %v %v", got["customData"], got["customClientMetadata"])
	}
	// type and isThirdParty are not patchable: ignored, as Logto's guard strips them.
	if got := e.call("PATCH", "/api/applications/"+id, map[string]any{"type": "SPA", "isThirdParty": true}, 200); got["type"] != "MachineToMachine" || got["isThirdParty"] != false {
		t.Fatalf("type patched: %v", got)
	}
	e.wantError("PATCH", "/api/applications/"+id, map[string]any{"oidcClientMetadata": map[string]any{"redirectUris": []string{"https://a.example/#f"}}}, 400, "guard.invalid_input")
	e.wantError("PATCH", "/api/applications/"+id, map[string]any{"oidcClientMetadata": map[string]any{"redirectUris": "https://x"}}, 400, "guard.invalid_input")
	e.wantError("POST", "/api/applications", map[string]any{"name": "x", "type": "Desktop"}, 400, "guard.invalid_input")

	// Lists: without page params everything (Logto's optional paging), with them a page.
	e.call("POST", "/api/applications", map[string]any{"name": "Web", "type": "SPA"}, http.StatusOK)
	all, h := e.list("/api/applications")
	if len(all) != 3 || h.Get("Total-Number") != "" { // the bootstrap admin app, Backend, Web
		t.Fatalf("list all: %d items, Total-Number %q", len(all), h.Get("Total-Number"))
	}
	pg, h := e.list("/api/applications?page=1&page_size=2")
	if len(pg) != 2 || h.Get("Total-Number") != "3" || !strings.Contains(h.Get("Link"), `rel="next"`) {
		t.Fatalf("page: %d items, headers %v", len(pg), h)
	}
	spas, _ := e.list("/api/applications?types=SPA")
	if len(spas) != 1 || spas[0]["name"] != "Web" {
		t.Fatalf("types filter %v", spas)
	}

	e.call("DELETE", "/api/applications/"+id, nil, http.StatusNoContent)
	ae := e.wantError("GET", "/api/applications/"+id, nil, 404, "entity.not_exists_with_id")
	if !strings.Contains(ae.Message, id) {
		t.Fatalf("404 message %q does not name the id", ae.Message)
	}
	e.wantError("DELETE", "/api/applications/"+id, nil, 404, "entity.not_exists_with_id")
}

func TestMgmtApplicationSecrets(t *testing.T) {
	e := newMgmtEnv(t)
	id := str(e.call("POST", "/api/applications", map[string]any{"name": "B", "type": "Traditional"}, http.StatusOK), "id")
	exp := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	sec := e.call("POST", "/api/applications/"+id+"/secrets", map[string]any{"name": "ci", "expiresAt": exp}, http.StatusCreated)
	value := str(sec, "value")
	if _, has := sec["secret"]; has || len(value) != directory.SecretLength || sec["applicationId"] != id || sec["name"] != "ci" ||
		sec["expiresAt"] != float64(exp) || sec["createdAt"] == nil || sec["tenantId"] != "default" {
		t.Fatalf("create secret %v", sec)
	}
	if a, _ := e.dir.Application(id); !e.dir.AuthenticateApp(a, value) {
		t.Fatal("new secret does not authenticate")
	}
	e.wantError("POST", "/api/applications/"+id+"/secrets", map[string]any{"name": "ci"}, 422, "application.secret_name_exists")
	e.wantError("POST", "/api/applications/"+id+"/secrets", map[string]any{"name": "old", "expiresAt": 1}, 400, "guard.invalid_input")

	// The list carries every secret without its value (shown once, at creation) and
	// never a hash.
	w := e.do("GET", "/api/applications/"+id+"/secrets", nil)
	var list []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 || len(list) != 2 {
		t.Fatalf("list secrets: %d %s", w.Code, w.Body)
	}
	listed := maps.Clone(sec)
	delete(listed, "value")
	if !slices.ContainsFunc(list, func(m map[string]any) bool { return fmt.Sprint(m) == fmt.Sprint(listed) }) ||
		strings.Contains(w.Body.String(), "hash") || strings.Contains(w.Body.String(), value) {
		t.Fatalf("secret list %s does not hold %v without its value", w.Body, sec)
	}

	// PATCH renames; the secret keeps authenticating.
	renamed := e.call("PATCH", "/api/applications/"+id+"/secrets/ci", map[string]any{"name": "ci2"}, http.StatusOK)
	if renamed["name"] != "ci2" || renamed["value"] != nil || renamed["applicationId"] != id {
		t.Fatalf("renamed %v", renamed)
	}
	if a, _ := e.dir.Application(id); !e.dir.AuthenticateApp(a, value) {
		t.Fatal("renamed secret does not authenticate")
	}
	e.wantError("PATCH", "/api/applications/"+id+"/secrets/ci", map[string]any{"name": "x"}, 404, "entity.not_found")
	e.wantError("PATCH", "/api/applications/"+id+"/secrets/ci2", map[string]any{"name": directory.DefaultSecretName}, 422, "application.secret_name_exists")
	e.wantError("PATCH", "/api/applications/"+id+"/secrets/ci2", map[string]any{"name": ""}, 400, "guard.invalid_input")
	e.call("PATCH", "/api/applications/"+id+"/secrets/ci2", map[string]any{"name": "ci"}, http.StatusOK)

	// Public clients have no secrets (Logto's check constraint).
	spa := str(e.call("POST", "/api/applications", map[string]any{"name": "S", "type": "SPA"}, http.StatusOK), "id")
	if l, _ := e.list("/api/applications/" + spa + "/secrets"); len(l) != 0 {
		t.Fatalf("SPA secrets %v", l)
	}
	e.wantError("POST", "/api/applications/"+spa+"/secrets", map[string]any{"name": "x"}, 422, "entity.db_constraint_violated")

	e.call("DELETE", "/api/applications/"+id+"/secrets/ci", nil, http.StatusNoContent)
	e.wantError("DELETE", "/api/applications/"+id+"/secrets/ci", nil, 404, "entity.not_found")
	e.wantError("GET", "/api/applications/nope/secrets", nil, 404, "entity.not_exists_with_id")
}

func TestMgmtApplicationRoles(t *testing.T) {
	e := newMgmtEnv(t)
	m2m := str(e.call("POST", "/api/applications", map[string]any{"name": "M", "type": "MachineToMachine"}, 200), "id")
	spa := str(e.call("POST", "/api/applications", map[string]any{"name": "S", "type": "SPA"}, 200), "id")
	role := str(e.call("POST", "/api/roles", map[string]any{"name": "svc", "description": "d", "type": "MachineToMachine"}, 200), "id")
	userRole := str(e.call("POST", "/api/roles", map[string]any{"name": "people", "description": "d"}, 200), "id")

	got := e.call("POST", "/api/applications/"+m2m+"/roles", map[string]any{"roleIds": []string{role}}, http.StatusCreated)
	if fmt.Sprint(got["addedRoleIds"]) != "["+role+"]" {
		t.Fatalf("assign %v", got)
	}
	got = e.call("POST", "/api/applications/"+m2m+"/roles", map[string]any{"roleIds": []string{role}}, http.StatusCreated)
	if fmt.Sprint(got["addedRoleIds"]) != "[]" {
		t.Fatalf("re-assign %v", got)
	}
	roles, h := e.list("/api/applications/" + m2m + "/roles")
	if len(roles) != 1 || roles[0]["id"] != role || h.Get("Total-Number") != "1" {
		t.Fatalf("app roles %v", roles)
	}
	e.wantError("POST", "/api/applications/"+m2m+"/roles", map[string]any{"roleIds": []string{userRole}}, 422, "application.invalid_role_type")
	e.wantError("POST", "/api/applications/"+spa+"/roles", map[string]any{"roleIds": []string{role}}, 422, "application.invalid_type")
	e.wantError("GET", "/api/applications/"+spa+"/roles", nil, 422, "application.invalid_type")
	e.wantError("POST", "/api/applications/"+m2m+"/roles", map[string]any{"roleIds": []string{"missing"}}, 404, "entity.not_exists_with_id")
	e.wantError("POST", "/api/applications/"+m2m+"/roles", map[string]any{}, 400, "guard.invalid_input")

	e.call("DELETE", "/api/applications/"+m2m+"/roles/"+role, nil, http.StatusNoContent)
	e.wantError("DELETE", "/api/applications/"+m2m+"/roles/"+role, nil, 404, "entity.not_found")
	e.call("PUT", "/api/applications/"+m2m+"/roles", map[string]any{"roleIds": []string{role}}, http.StatusOK)
	if roles, _ := e.list("/api/applications/" + m2m + "/roles"); len(roles) != 1 {
		t.Fatalf("after PUT %v", roles)
	}
	e.call("PUT", "/api/applications/"+m2m+"/roles", map[string]any{"roleIds": []string{}}, http.StatusOK)
	if roles, _ := e.list("/api/applications/" + m2m + "/roles"); len(roles) != 0 {
		t.Fatalf("after PUT [] %v", roles)
	}
}

func TestMgmtUsers(t *testing.T) {
	e := newMgmtEnv(t)
	u := e.call("POST", "/api/users", map[string]any{
		"username": "alice", "primaryEmail": "Alice@Example.com", "name": "Alice",
		"password": "s3cret!", "customData": map[string]any{"k": "v"},
	}, http.StatusOK)
	id := str(u, "id")
	if len(id) != directory.IDLength || u["username"] != "alice" || u["primaryPhone"] != nil || u["isSuspended"] != false {
		t.Fatalf("create %v", u)
	}
	for _, k := range []string{"identities", "profile", "customData"} {
		if _, ok := u[k].(map[string]any); !ok {
			t.Fatalf("%s is not an object: %v", k, u[k])
		}
	}
	for _, k := range []string{"lastSignInAt", "applicationId", "avatar", "createdAt", "updatedAt"} {
		if _, ok := u[k]; !ok {
			t.Fatalf("missing %s in %v", k, u)
		}
	}

	w := e.do("GET", "/api/users/"+id, nil)
	if w.Code != 200 || strings.Contains(w.Body.String(), "argon2") || strings.Contains(strings.ToLower(w.Body.String()), "passwordhash") ||
		!strings.Contains(w.Body.String(), `"hasPassword":true`) {
		t.Fatalf("GET user: %s", w.Body)
	}

	// Uniqueness.
	e.wantError("POST", "/api/users", map[string]any{"username": "alice"}, 422, "user.username_already_in_use")
	e.wantError("POST", "/api/users", map[string]any{"primaryEmail": "alice@example.COM"}, 422, "user.email_already_in_use")
	e.call("POST", "/api/users", map[string]any{"username": "bob", "primaryPhone": "15550000"}, http.StatusOK)
	e.wantError("POST", "/api/users", map[string]any{"primaryPhone": "15550000"}, 422, "user.phone_already_in_use")
	e.wantError("PATCH", "/api/users/"+id, map[string]any{"username": "bob"}, 422, "user.username_already_in_use")
	e.wantError("POST", "/api/users", map[string]any{"username": "9lives"}, 400, "guard.invalid_input")

	// PATCH: null clears, absent keeps.
	got := e.call("PATCH", "/api/users/"+id, map[string]any{"username": nil, "name": "A."}, http.StatusOK)
	if got["username"] != nil || got["name"] != "A." || got["primaryEmail"] != "Alice@Example.com" {
		t.Fatalf("patch %v", got)
	}

	// Passwords.
	e.call("POST", "/api/users/"+id+"/password/verify", map[string]any{"password": "s3cret!"}, http.StatusNoContent)
	e.wantError("POST", "/api/users/"+id+"/password/verify", map[string]any{"password": "nope"}, 422, "session.invalid_credentials")
	e.call("PATCH", "/api/users/"+id+"/password", map[string]any{"password": "n3w"}, http.StatusOK)
	e.call("POST", "/api/users/"+id+"/password/verify", map[string]any{"password": "n3w"}, http.StatusNoContent)
	e.wantError("PATCH", "/api/users/"+id+"/password", map[string]any{}, 400, "guard.invalid_input")
	if hp := e.call("GET", "/api/users/"+id+"/has-password", nil, 200); hp["hasPassword"] != true {
		t.Fatalf("has-password %v", hp)
	}

	// Custom data, profile, suspension.
	// PATCH .../custom-data merges top-level keys into the stored object (Logto).
	cd := e.call("PATCH", "/api/users/"+id+"/custom-data", map[string]any{"customData": map[string]any{"x": 1}}, 200)
	if fmt.Sprint(cd) != "map[k:v x:1]" {
		t.Fatalf("custom-data %v", cd)
	}
	if cd := e.call("GET", "/api/users/"+id+"/custom-data", nil, 200); fmt.Sprint(cd) != "map[k:v x:1]" {
		t.Fatalf("GET custom-data %v", cd)
	}
	e.wantError("PATCH", "/api/users/"+id+"/custom-data", map[string]any{"customData": []int{1}}, 400, "guard.invalid_input")
	if p := e.call("PATCH", "/api/users/"+id+"/profile", map[string]any{"profile": map[string]any{"givenName": "A"}}, 200); p["givenName"] != "A" {
		t.Fatalf("profile %v", p)
	}
	if s := e.call("PATCH", "/api/users/"+id+"/is-suspended", map[string]any{"isSuspended": true}, 200); s["isSuspended"] != true {
		t.Fatalf("suspend %v", s)
	}

	// Search and delete.
	found, h := e.list("/api/users?search=%25example%25")
	if len(found) != 1 || found[0]["id"] != id || h.Get("Total-Number") != "1" {
		t.Fatalf("search %v", found)
	}
	e.call("DELETE", "/api/users/"+id, nil, http.StatusNoContent)
	e.wantError("GET", "/api/users/"+id, nil, 404, "entity.not_found")
	e.wantError("GET", "/api/users/"+id+"/has-password", nil, 404, "entity.not_found")
}

func TestMgmtUserRoles(t *testing.T) {
	e := newMgmtEnv(t)
	uid := str(e.call("POST", "/api/users", map[string]any{"username": "u"}, 200), "id")
	role := str(e.call("POST", "/api/roles", map[string]any{"name": "r", "description": "d"}, 200), "id")
	m2m := str(e.call("POST", "/api/roles", map[string]any{"name": "m", "description": "d", "type": "MachineToMachine"}, 200), "id")

	if got := e.call("POST", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{role}}, http.StatusCreated); fmt.Sprint(got) != fmt.Sprintf("map[addedRoleIds:[%s] roleIds:[%s]]", role, role) {
		t.Fatalf("assign body %v", got)
	}
	// existing: skipped
	if got := e.call("POST", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{role}}, http.StatusCreated); fmt.Sprint(got) != fmt.Sprintf("map[addedRoleIds:[] roleIds:[%s]]", role) {
		t.Fatalf("assign again %v", got)
	}
	e.wantError("POST", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{m2m}}, 422, "user.invalid_role_type")
	roles, _ := e.list("/api/users/" + uid + "/roles")
	if len(roles) != 1 || roles[0]["id"] != role {
		t.Fatalf("user roles %v", roles)
	}
	e.call("DELETE", "/api/users/"+uid+"/roles/"+role, nil, http.StatusNoContent)
	e.wantError("DELETE", "/api/users/"+uid+"/roles/"+role, nil, 404, "entity.not_found")
	other := str(e.call("POST", "/api/roles", map[string]any{"name": "o", "description": "d"}, 200), "id")
	e.call("PUT", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{role, other}}, http.StatusOK)
	if got := e.call("PUT", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{other, other}}, http.StatusOK); fmt.Sprint(got) != fmt.Sprintf("map[roleIds:[%s]]", other) {
		t.Fatalf("PUT answer %v", got)
	}
	if roles, _ := e.list("/api/users/" + uid + "/roles"); len(roles) != 1 || roles[0]["id"] != other {
		t.Fatalf("after PUT %v", roles)
	}
	e.wantError("PUT", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{m2m}}, 422, "user.invalid_role_type")
	e.wantError("GET", "/api/users/nope/roles", nil, 404, "entity.not_found")
}

func TestMgmtResourcesAndScopes(t *testing.T) {
	e := newMgmtEnv(t)
	res := e.call("POST", "/api/resources", map[string]any{"name": "API", "indicator": "https://api.example"}, http.StatusCreated)
	id := str(res, "id")
	if res["accessTokenTtl"] != float64(3600) || res["isDefault"] != false || fmt.Sprint(res["scopes"]) != "[]" || res["tenantId"] != "default" {
		t.Fatalf("create %v", res)
	}
	e.wantError("POST", "/api/resources", map[string]any{"name": "dup", "indicator": "https://api.example"}, 422, "resource.resource_identifier_in_use")
	e.wantError("POST", "/api/resources", map[string]any{"name": "bad", "indicator": "not a uri"}, 400, "guard.invalid_input")
	// Logto ignores indicator in a PATCH: the indicator never changes.
	if got := e.call("PATCH", "/api/resources/"+id, map[string]any{"indicator": "https://moved.example"}, 200); got["indicator"] != "https://api.example" {
		t.Fatalf("indicator changed: %v", got)
	}
	got := e.call("PATCH", "/api/resources/"+id, map[string]any{"name": "Renamed", "accessTokenTtl": 60, "indicator": "https://api.example"}, 200)
	if got["name"] != "Renamed" || got["accessTokenTtl"] != float64(60) {
		t.Fatalf("patch %v", got)
	}
	if d := e.call("PATCH", "/api/resources/"+id+"/is-default", map[string]any{"isDefault": true}, 200); d["isDefault"] != true {
		t.Fatalf("is-default %v", d)
	}

	sc := e.call("POST", "/api/resources/"+id+"/scopes", map[string]any{"name": "read", "description": "Read"}, http.StatusCreated)
	sid := str(sc, "id")
	if sc["resourceId"] != id || sc["name"] != "read" || sc["description"] != "Read" {
		t.Fatalf("scope %v", sc)
	}
	e.wantError("POST", "/api/resources/"+id+"/scopes", map[string]any{"name": "read"}, 422, "scope.name_exists")
	e.wantError("POST", "/api/resources/"+id+"/scopes", map[string]any{"name": "read all"}, 400, "guard.invalid_input")
	e.wantError("POST", "/api/resources/nope/scopes", map[string]any{"name": "x"}, 404, "entity.not_exists_with_id")
	if up := e.call("PATCH", "/api/resources/"+id+"/scopes/"+sid, map[string]any{"name": "read:all"}, 200); up["name"] != "read:all" {
		t.Fatalf("scope patch %v", up)
	}
	scopes, _ := e.list("/api/resources/" + id + "/scopes")
	if len(scopes) != 1 {
		t.Fatalf("scopes %v", scopes)
	}
	withScopes, _ := e.list("/api/resources?includeScopes=true")
	if len(withScopes) != 2 { // the Management API and ours
		t.Fatalf("resources %v", withScopes)
	}
	for _, r := range withScopes {
		if _, ok := r["scopes"].([]any); !ok {
			t.Fatalf("includeScopes: %v", r)
		}
	}
	e.call("DELETE", "/api/resources/"+id+"/scopes/"+sid, nil, http.StatusNoContent)
	e.wantError("DELETE", "/api/resources/"+id+"/scopes/"+sid, nil, 404, "entity.not_exists_with_id")

	// The Management API resource cannot be deleted.
	mgmt, _ := e.dir.ResourceByIndicator(directory.ManagementAPIIndicator)
	e.wantError("DELETE", "/api/resources/"+mgmt.ID, nil, 400, "resource.cannot_delete_management_api")
	e.call("DELETE", "/api/resources/"+id, nil, http.StatusNoContent)
	e.wantError("GET", "/api/resources/"+id, nil, 404, "entity.not_exists_with_id")
}

func TestMgmtRoles(t *testing.T) {
	e := newMgmtEnv(t)
	res := str(e.call("POST", "/api/resources", map[string]any{"name": "API", "indicator": "https://api.example"}, 201), "id")
	s1 := str(e.call("POST", "/api/resources/"+res+"/scopes", map[string]any{"name": "read"}, 201), "id")
	s2 := str(e.call("POST", "/api/resources/"+res+"/scopes", map[string]any{"name": "write"}, 201), "id")

	role := e.call("POST", "/api/roles", map[string]any{"name": "editor", "description": "Edits", "scopeIds": []string{s1}}, http.StatusOK)
	rid := str(role, "id")
	if role["type"] != "User" || role["isDefault"] != false || role["description"] != "Edits" {
		t.Fatalf("create %v", role)
	}
	e.wantError("POST", "/api/roles", map[string]any{"name": "editor", "description": "x"}, 422, "role.name_in_use")
	e.wantError("POST", "/api/roles", map[string]any{"name": "x", "scopeIds": []string{"nope"}}, 404, "entity.not_exists_with_id")
	e.wantError("PATCH", "/api/roles/"+rid, map[string]any{"name": ""}, 400, "guard.invalid_input")
	if p := e.call("PATCH", "/api/roles/"+rid, map[string]any{"description": "New"}, 200); p["description"] != "New" || p["name"] != "editor" {
		t.Fatalf("patch %v", p)
	}

	// Scopes.
	w := e.do("POST", "/api/roles/"+rid+"/scopes", map[string]any{"scopeIds": []string{s2}})
	var scopes []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &scopes); err != nil || w.Code != 200 || len(scopes) != 2 {
		t.Fatalf("add scopes: %d %s", w.Code, w.Body)
	}
	e.wantError("POST", "/api/roles/"+rid+"/scopes", map[string]any{"scopeIds": []string{s2}}, 422, "role.scope_exists")
	rs, _ := e.list("/api/roles/" + rid + "/scopes")
	if len(rs) != 2 || rs[0]["resource"] == nil {
		t.Fatalf("role scopes %v", rs)
	}
	e.call("DELETE", "/api/roles/"+rid+"/scopes/"+s2, nil, http.StatusNoContent)

	// Users: Logto's role-side add refuses a user that already has the role.
	uid := str(e.call("POST", "/api/users", map[string]any{"username": "u"}, 200), "id")
	e.call("POST", "/api/roles/"+rid+"/users", map[string]any{"userIds": []string{uid}}, http.StatusCreated)
	e.wantError("POST", "/api/roles/"+rid+"/users", map[string]any{"userIds": []string{uid}}, 422, "role.user_exists")
	if got := e.dir.UserResourceScopes(uid, res); fmt.Sprint(got) != "[read]" {
		t.Fatalf("user scopes %v", got)
	}
	users, h := e.list("/api/roles/" + rid + "/users")
	if len(users) != 1 || users[0]["id"] != uid || h.Get("Total-Number") != "1" {
		t.Fatalf("role users %v", users)
	}
	list, _ := e.list("/api/roles")
	var found bool
	for _, r := range list {
		if r["id"] == rid {
			found = true
			if r["usersCount"] != float64(1) || len(r["featuredUsers"].([]any)) != 1 || r["applicationsCount"] != float64(0) {
				t.Fatalf("role list item %v", r)
			}
		}
	}
	if !found {
		t.Fatalf("role missing from list %v", list)
	}
	if excl, _ := e.list("/api/roles?excludeUserId=" + uid); len(excl) != len(list)-1 {
		t.Fatalf("excludeUserId: %d of %d", len(excl), len(list))
	}
	if m2m, _ := e.list("/api/roles?type=MachineToMachine"); len(m2m) != 1 { // the bootstrap role
		t.Fatalf("type filter %v", m2m)
	}
	e.call("DELETE", "/api/roles/"+rid+"/users/"+uid, nil, http.StatusNoContent)

	// Applications, with role types checked.
	mrole := str(e.call("POST", "/api/roles", map[string]any{"name": "svc", "description": "d", "type": "MachineToMachine"}, 200), "id")
	app := str(e.call("POST", "/api/applications", map[string]any{"name": "M", "type": "MachineToMachine"}, 200), "id")
	// Logto: the users_roles check constraint here, user.invalid_role_type on /users/:id/roles.
	e.wantError("POST", "/api/roles/"+mrole+"/users", map[string]any{"userIds": []string{uid}}, 422, "entity.db_constraint_violated")
	e.wantError("POST", "/api/users/"+uid+"/roles", map[string]any{"roleIds": []string{mrole}}, 422, "user.invalid_role_type")
	// Ids in bodies are guarded: empty arrays and empty ids are 400s, never 404s.
	for _, rq := range []struct{ path, field string }{
		{"/api/roles/" + rid + "/users", "userIds"},
		{"/api/roles/" + mrole + "/applications", "applicationIds"},
		{"/api/roles/" + rid + "/scopes", "scopeIds"},
	} {
		e.wantError("POST", rq.path, map[string]any{rq.field: []string{}}, 400, "guard.invalid_input")
		e.wantError("POST", rq.path, map[string]any{rq.field: []string{""}}, 400, "guard.invalid_input")
	}
	e.wantError("POST", "/api/roles", map[string]any{"name": "x", "description": "d", "scopeIds": []string{""}}, 400, "guard.invalid_input")
	// The Management API's scope never goes to a user role: 400 (Logto).
	e.wantError("POST", "/api/roles/"+rid+"/scopes", map[string]any{"scopeIds": []string{directory.ManagementAPIScopeAllID}}, 400, "role.management_api_scopes_not_assignable_to_user_role")
	e.wantError("POST", "/api/roles", map[string]any{"name": "y", "description": "d", "scopeIds": []string{directory.ManagementAPIScopeAllID}}, 400, "role.management_api_scopes_not_assignable_to_user_role")
	e.wantError("POST", "/api/roles/"+rid+"/applications", map[string]any{"applicationIds": []string{app}}, 422, "application.invalid_role_type")
	e.call("POST", "/api/roles/"+mrole+"/applications", map[string]any{"applicationIds": []string{app}}, http.StatusCreated)
	e.wantError("POST", "/api/roles/"+mrole+"/applications", map[string]any{"applicationIds": []string{app}}, 422, "role.application_exists")
	apps, _ := e.list("/api/roles/" + mrole + "/applications")
	if len(apps) != 1 || apps[0]["id"] != app || apps[0]["secret"] != nil {
		t.Fatalf("role apps %v", apps)
	}
	e.call("DELETE", "/api/roles/"+mrole+"/applications/"+app, nil, http.StatusNoContent)
	e.wantError("DELETE", "/api/roles/"+mrole+"/applications/"+app, nil, 404, "entity.not_found")

	e.call("DELETE", "/api/roles/"+rid, nil, http.StatusNoContent)
	e.wantError("GET", "/api/roles/"+rid, nil, 404, "entity.not_exists_with_id")
	e.wantError("GET", "/api/roles/"+rid+"/users", nil, 404, "entity.not_exists_with_id")
}

func TestMgmtPaging(t *testing.T) {
	e := newMgmtEnv(t)
	for i := range 5 {
		e.call("POST", "/api/users", map[string]any{"username": fmt.Sprintf("user%d", i)}, 200)
	}
	items, h := e.list("/api/users?page=2&page_size=2")
	if len(items) != 2 || h.Get("Total-Number") != "5" {
		t.Fatalf("page 2: %d items, Total-Number %q", len(items), h.Get("Total-Number"))
	}
	link := h.Get("Link")
	for _, rel := range []string{"first", "prev", "next", "last"} {
		if !strings.Contains(link, `rel="`+rel+`"`) {
			t.Fatalf("Link %q lacks %s", link, rel)
		}
	}
	if !strings.Contains(link, "page=3") || !strings.Contains(link, "page_size=2") {
		t.Fatalf("Link %q", link)
	}
	// Users are always paged (default 20), even without parameters.
	if _, h := e.list("/api/users"); h.Get("Total-Number") != "5" {
		t.Fatalf("default paging Total-Number %q", h.Get("Total-Number"))
	}
	if beyond, _ := e.list("/api/users?page=9&page_size=2"); len(beyond) != 0 {
		t.Fatalf("past the end: %v", beyond)
	}
	e.wantError("GET", "/api/users?page=0", nil, 400, "guard.invalid_pagination")
	e.wantError("GET", "/api/users?page_size=101", nil, 400, "guard.invalid_pagination")
	e.wantError("GET", "/api/applications?page_size=abc", nil, 400, "guard.invalid_pagination")
}

// A malformed body is a 400 guard.invalid_input on every write route, never a 500.
func TestMgmtMalformedBodies(t *testing.T) {
	e := newMgmtEnv(t)
	app := str(e.call("POST", "/api/applications", map[string]any{"name": "M", "type": "MachineToMachine"}, 200), "id")
	user := str(e.call("POST", "/api/users", map[string]any{"username": "u"}, 200), "id")
	res := str(e.call("POST", "/api/resources", map[string]any{"name": "A", "indicator": "https://a.example"}, 201), "id")
	scope := str(e.call("POST", "/api/resources/"+res+"/scopes", map[string]any{"name": "s"}, 201), "id")
	role := str(e.call("POST", "/api/roles", map[string]any{"name": "r", "description": "d"}, 200), "id")

	routes := []struct{ method, path string }{
		{"POST", "/api/applications"},
		{"PATCH", "/api/applications/" + app},
		{"POST", "/api/applications/" + app + "/secrets"},
		{"POST", "/api/applications/" + app + "/roles"},
		{"PUT", "/api/applications/" + app + "/roles"},
		{"POST", "/api/users"},
		{"PATCH", "/api/users/" + user},
		{"PATCH", "/api/users/" + user + "/password"},
		{"POST", "/api/users/" + user + "/password/verify"},
		{"PATCH", "/api/users/" + user + "/is-suspended"},
		{"PATCH", "/api/users/" + user + "/custom-data"},
		{"PATCH", "/api/users/" + user + "/profile"},
		{"POST", "/api/users/" + user + "/roles"},
		{"POST", "/api/resources"},
		{"PATCH", "/api/resources/" + res},
		{"PATCH", "/api/resources/" + res + "/is-default"},
		{"POST", "/api/resources/" + res + "/scopes"},
		{"PATCH", "/api/resources/" + res + "/scopes/" + scope},
		{"POST", "/api/roles"},
		{"PATCH", "/api/roles/" + role},
		{"POST", "/api/roles/" + role + "/scopes"},
		{"POST", "/api/roles/" + role + "/users"},
		{"POST", "/api/roles/" + role + "/applications"},
	}
	bodies := []string{
		`{`,
		`[]`,
		`"text"`,
		`{"name": 5, "type": 7, "username": 1, "password": 2, "roleIds": "x", "userIds": {}, "scopeIds": 1, "applicationIds": 1, "indicator": [], "isSuspended": "yes", "isDefault": "no", "customData": 1, "profile": "x", "description": 1, "accessTokenTtl": "1"}`,
		`{"a":1} trailing`,
		`{"a":1} }`,
		strings.Repeat(" ", mgmtMaxBody+1) + "{}",
	}
	for _, rt := range routes {
		for i, body := range bodies {
			w := e.do(rt.method, rt.path, body)
			var ae APIError
			_ = json.Unmarshal(w.Body.Bytes(), &ae)
			if w.Code != 400 || ae.Code != "guard.invalid_input" {
				t.Errorf("%s %s body #%d: %d %s", rt.method, rt.path, i, w.Code, w.Body)
			}
		}
	}
	// Nested metadata with wrong types.
	for _, body := range []string{
		`{"name": "x", "type": "SPA", "oidcClientMetadata": {"redirectUris": 1}}`,
		`{"name": "x", "type": "SPA", "customClientMetadata": {"idTokenTtl": "x"}}`,
		`{"name": "x", "type": "SPA", "oidcClientMetadata": []}`,
	} {
		for _, rt := range routes[:2] {
			if w := e.do(rt.method, rt.path, body); w.Code != 400 {
				t.Errorf("%s %s %s: %d %s", rt.method, rt.path, body, w.Code, w.Body)
			}
		}
	}
}

// TestMgmtThroughAuth drives the real handler: a Management API token from
// /oidc/token for the bootstrap admin app, then the API with and without it.
func TestMgmtThroughAuth(t *testing.T) {
	e := newMgmtEnv(t)
	h := e.s.Handler()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"all"}}
	r := httptest.NewRequest("POST", "/oidc/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(mgmtAdminID, mgmtAdminSecret)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != 200 || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}

	req := func(method, path, body, bearer string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := req("POST", "/api/users", `{"username":"viaauth"}`, ""); w.Code != http.StatusUnauthorized {
		t.Fatalf("without token: %d %s", w.Code, w.Body)
	}
	if _, ok := e.dir.UserByUsername("viaauth"); ok {
		t.Fatal("unauthorized request created a user")
	}
	if w := req("POST", "/api/users", `{"username":"viaauth"}`, tok.AccessToken); w.Code != http.StatusOK {
		t.Fatalf("with token: %d %s", w.Code, w.Body)
	}
	if w := req("GET", "/api/roles?page=1", "", tok.AccessToken); w.Code != http.StatusOK || w.Header().Get("Total-Number") == "" {
		t.Fatalf("roles with token: %d %v", w.Code, w.Header())
	}
	// Every registered route is behind the check.
	for _, rt := range e.s.managementRoutes() {
		path := strings.NewReplacer(":id", "x", ":userId", "x", ":roleId", "x", ":name", "x", ":scopeId", "x", ":applicationId", "x").Replace(rt.path)
		if w := req(rt.method, path, "{}", ""); w.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without token: %d", rt.method, path, w.Code)
		}
	}
}

// TestMgmtManagementAPIResource: Logto's built-in resource "management-api" with its
// scope "management-api-all", readable, and refused to every change.
func TestMgmtManagementAPIResource(t *testing.T) {
	e := newMgmtEnv(t)
	res := e.call("GET", "/api/resources/management-api", nil, 200)
	if res["id"] != "management-api" || res["indicator"] != directory.ManagementAPIIndicator || res["name"] != "Logto Management API" || res["tenantId"] != "default" {
		t.Fatalf("management api %v", res)
	}
	scopes, _ := e.list("/api/resources/management-api/scopes")
	if len(scopes) != 1 || scopes[0]["id"] != "management-api-all" || scopes[0]["name"] != "all" || scopes[0]["resourceId"] != "management-api" ||
		scopes[0]["description"] != "Default scope for Management API, allows all permissions." {
		t.Fatalf("management api scopes %v", scopes)
	}
	e.wantError("PATCH", "/api/resources/management-api", map[string]any{"name": "new-name"}, 400, "resource.cannot_modify_management_api")
	e.wantError("DELETE", "/api/resources/management-api", nil, 400, "resource.cannot_delete_management_api")
	e.wantError("POST", "/api/resources/management-api/scopes", map[string]any{"name": "more"}, 400, "resource.cannot_modify_management_api")
	e.wantError("PATCH", "/api/resources/management-api/scopes/management-api-all", map[string]any{"description": "x"}, 400, "resource.cannot_modify_management_api")
	e.wantError("DELETE", "/api/resources/management-api/scopes/management-api-all", nil, 400, "resource.cannot_modify_management_api")
	if got := e.call("GET", "/api/resources/management-api", nil, 200); got["name"] != "Logto Management API" {
		t.Fatalf("changed: %v", got)
	}
}

// TestMgmtManagementAPIResourceLegacyID: a directory bootstrapped before Latch used
// Logto's fixed id keeps its random one, and "management-api" still names it.
func TestMgmtManagementAPIResourceLegacyID(t *testing.T) {
	var legacy string
	e := newMgmtEnvFrom(t, func(d *directory.Directory) {
		res, err := d.CreateResource(t.Context(), directory.NewResource{Name: directory.ManagementAPIName, Indicator: directory.ManagementAPIIndicator})
		if err != nil {
			t.Fatal(err)
		}
		legacy = res.ID
	})
	if legacy == "management-api" || e.dir.ManagementAPIID() != legacy {
		t.Fatalf("legacy id %q, ManagementAPIID %q", legacy, e.dir.ManagementAPIID())
	}
	for _, path := range []string{"/api/resources/management-api", "/api/resources/" + legacy} {
		if got := e.call("GET", path, nil, 200); got["id"] != legacy || got["indicator"] != directory.ManagementAPIIndicator {
			t.Fatalf("GET %s: %v", path, got)
		}
	}
	if scopes, _ := e.list("/api/resources/management-api/scopes"); len(scopes) != 1 || scopes[0]["name"] != "all" {
		t.Fatalf("scopes %v", scopes)
	}
	e.wantError("PATCH", "/api/resources/management-api", map[string]any{"name": "x"}, 400, "resource.cannot_modify_management_api")
	e.wantError("DELETE", "/api/resources/management-api", nil, 400, "resource.cannot_delete_management_api")
	// Its token still works: the admin application keeps the "all" scope.
	admin, _ := e.dir.Application(mgmtAdminID)
	if !slices.Contains(e.dir.AppResourceScopes(admin.ID, legacy), directory.ManagementAPIScopeAll) {
		t.Fatal("the admin application lost the Management API scope")
	}
}

func TestMgmtApplicationCustomData(t *testing.T) {
	e := newMgmtEnv(t)
	id := str(e.call("POST", "/api/applications", map[string]any{"name": "S", "type": "SPA"}, http.StatusOK), "id")
	if got := e.call("PATCH", "/api/applications/"+id+"/custom-data", map[string]any{"key": "value"}, 200); fmt.Sprint(got) != "map[key:value]" {
		t.Fatalf("custom-data %v", got)
	}
	if got := e.call("PATCH", "/api/applications/"+id+"/custom-data", map[string]any{"key": "new-value", "test": "foo"}, 200); fmt.Sprint(got) != "map[key:new-value test:foo]" {
		t.Fatalf("custom-data merge %v", got)
	}
	if app := e.call("GET", "/api/applications/"+id, nil, 200); fmt.Sprint(app["customData"]) != "map[key:new-value test:foo]" {
		t.Fatalf("stored %v", app["customData"])
	}
	e.wantError("PATCH", "/api/applications/"+id+"/custom-data", "[1]", 400, "guard.invalid_input")
	e.wantError("PATCH", "/api/applications/nope/custom-data", map[string]any{"a": 1}, 404, "entity.not_exists_with_id")
	// PATCH /api/applications/:id replaces customData.
	if app := e.call("PATCH", "/api/applications/"+id, map[string]any{"customData": map[string]any{}}, 200); fmt.Sprint(app["customData"]) != "map[]" {
		t.Fatalf("replaced %v", app["customData"])
	}
}

// TestMgmtUserFields: Logto's optional user fields and partial updates.
func TestMgmtUserFields(t *testing.T) {
	e := newMgmtEnv(t)
	created := e.call("POST", "/api/users", map[string]any{"username": "pw", "password": "a long enough password"}, 200)
	withPW := str(created, "id")
	if created["hasPassword"] != true { // every /api/users answer carries it (Logto)
		t.Fatalf("create answer %v", created)
	}
	if l, _ := e.list("/api/users?search.username=pw&mode.username=exact"); len(l) != 1 || l[0]["hasPassword"] != true {
		t.Fatalf("list %v", l)
	}
	noPW := str(e.call("POST", "/api/users", map[string]any{"username": "nopw"}, 200), "id")

	got := e.call("GET", "/api/users/"+withPW, nil, 200)
	_, hasDigest := got["passwordDigest"]
	_, hasSSO := got["ssoIdentities"]
	if got["hasPassword"] != true || hasDigest || hasSSO {
		t.Fatalf("default detail %v", got)
	}
	got = e.call("GET", "/api/users/"+withPW+"?includePasswordHash=true&includeSsoIdentities=true", nil, 200)
	if d, _ := got["passwordDigest"].(string); !strings.HasPrefix(d, "$argon2id$") || got["passwordAlgorithm"] != "Argon2id" || fmt.Sprint(got["ssoIdentities"]) != "[]" {
		t.Fatalf("with hash %v", got)
	}
	got = e.call("GET", "/api/users/"+noPW+"?includePasswordHash=true", nil, 200)
	if d, ok := got["passwordDigest"]; !ok || d != nil || got["passwordAlgorithm"] != nil || got["hasPassword"] != false {
		t.Fatalf("no password %v", got)
	}

	// PATCH .../profile merges top-level keys; a key sent replaces its whole value.
	e.call("PATCH", "/api/users/"+noPW+"/profile", map[string]any{"profile": map[string]any{
		"familyName": "F", "address": map[string]any{"formatted": "1 Road", "country": "X"}}}, 200)
	prof := e.call("PATCH", "/api/users/"+noPW+"/profile", map[string]any{"profile": map[string]any{
		"familyName": "G", "website": "https://logto.io/"}}, 200)
	if fmt.Sprint(prof) != "map[address:map[country:X formatted:1 Road] familyName:G website:https://logto.io/]" {
		t.Fatalf("merged profile %v", prof)
	}
	prof = e.call("PATCH", "/api/users/"+noPW+"/profile", map[string]any{"profile": map[string]any{"address": map[string]any{"formatted": "2 Road"}}}, 200)
	if fmt.Sprint(prof["address"]) != "map[formatted:2 Road]" {
		t.Fatalf("address %v", prof)
	}

	// An empty PATCH is Logto's 422 entity.invalid_input; an unknown user stays a 404.
	e.wantError("PATCH", "/api/users/"+noPW, map[string]any{}, 422, "entity.invalid_input")
	e.wantError("PATCH", "/api/users/nope", map[string]any{}, 404, "entity.not_found")
}

// TestMgmtUserPhoneNormalized: Logto stores a phone number without the trunk 0 and
// treats both spellings as one number.
func TestMgmtUserPhoneNormalized(t *testing.T) {
	e := newMgmtEnv(t)
	u := e.call("POST", "/api/users", map[string]any{"primaryPhone": "610412345678"}, 200)
	if u["primaryPhone"] != "61412345678" {
		t.Fatalf("stored %v", u["primaryPhone"])
	}
	if uk := e.call("POST", "/api/users", map[string]any{"primaryPhone": "4407911123456"}, 200); uk["primaryPhone"] != "447911123456" {
		t.Fatalf("stored %v", uk["primaryPhone"])
	}
	other := str(e.call("POST", "/api/users", map[string]any{"username": "other"}, 200), "id")
	for _, phone := range []string{"61412345678", "610412345678"} {
		e.wantError("POST", "/api/users", map[string]any{"primaryPhone": phone}, 422, "user.phone_already_in_use")
		e.wantError("PATCH", "/api/users/"+other, map[string]any{"primaryPhone": phone}, 422, "user.phone_already_in_use")
	}
	if got := e.call("PATCH", "/api/users/"+str(u, "id"), map[string]any{"primaryPhone": "610412345678"}, 200); got["primaryPhone"] != "61412345678" {
		t.Fatalf("owner update %v", got)
	}
	e.wantError("POST", "/api/users", map[string]any{"primaryPhone": "+1 310 805 0000"}, 400, "guard.invalid_input")
	// Digits that are no phone number: Logto's 422 user.invalid_phone.
	e.wantError("POST", "/api/users", map[string]any{"primaryPhone": "99999"}, 422, "user.invalid_phone")
	e.wantError("PATCH", "/api/users/"+other, map[string]any{"primaryPhone": "99999"}, 422, "user.invalid_phone")
}

// TestMgmtApplicationTypesAndFields: Logto's checks on application types, third-party
// apps, device flow and isAdmin.
func TestMgmtApplicationTypesAndFields(t *testing.T) {
	e := newMgmtEnv(t)
	e.wantError("POST", "/api/applications", map[string]any{"name": "m", "type": "MachineToMachine", "isThirdParty": true}, 400, "application.invalid_third_party_application_type")
	for _, typ := range []string{"Traditional", "SPA", "Native"} {
		if got := e.call("POST", "/api/applications", map[string]any{"name": "tp", "type": typ, "isThirdParty": true}, 200); got["isThirdParty"] != true || got["type"] != typ {
			t.Fatalf("third-party %s: %v", typ, got)
		}
	}
	e.wantError("POST", "/api/applications", map[string]any{"name": "tp", "type": "SPA", "isThirdParty": true,
		"customClientMetadata": map[string]any{"allowTokenExchange": true}}, 422, "application.third_party_application_cannot_enable_token_exchange")
	tp, _ := e.list("/api/applications?isThirdParty=true")
	if len(tp) != 3 {
		t.Fatalf("third-party list %v", tp)
	}
	e.wantError("POST", "/api/applications", map[string]any{"name": "s", "type": "SAML"}, 400, "application.saml.use_saml_app_api")
	e.wantError("POST", "/api/applications", map[string]any{"name": "p", "type": "Protected"}, 400, "application.protected_app_metadata_is_required")
	e.wantError("POST", "/api/applications", map[string]any{"name": "p", "type": "Protected",
		"protectedAppMetadata": map[string]any{"origin": "https://example.com", "subDomain": "example"}}, 501, "application.protected_app_not_configured")
	if l, _ := e.list("/api/applications?types=Protected&types=SAML"); len(l) != 0 {
		t.Fatalf("Protected/SAML filter %v", l)
	}

	// Device flow: Native only, set on creation, never changed.
	e.wantError("POST", "/api/applications", map[string]any{"name": "d", "type": "SPA", "customClientMetadata": map[string]any{"isDeviceFlow": true}}, 422, "application.device_flow_native_only")
	dev := e.call("POST", "/api/applications", map[string]any{"name": "d", "type": "Native", "customClientMetadata": map[string]any{"isDeviceFlow": true}}, 200)
	if fmt.Sprint(dev["customClientMetadata"]) != "map[isDeviceFlow:true]" {
		t.Fatalf("device flow %v", dev["customClientMetadata"])
	}
	devID := str(dev, "id")
	e.wantError("PATCH", "/api/applications/"+devID, map[string]any{"customClientMetadata": map[string]any{"isDeviceFlow": false}}, 422, "application.device_flow_not_changeable")
	e.wantError("PATCH", "/api/applications/"+devID, map[string]any{"customClientMetadata": map[string]any{"idTokenTtl": 3600}}, 422, "application.device_flow_not_changeable")
	if got := e.call("PATCH", "/api/applications/"+devID, map[string]any{"customClientMetadata": map[string]any{"isDeviceFlow": true, "idTokenTtl": 3600}}, 200); fmt.Sprint(got["customClientMetadata"]) != "map[idTokenTtl:3600 isDeviceFlow:true]" {
		t.Fatalf("device flow kept %v", got["customClientMetadata"])
	}
	// customClientMetadata is replaced as a whole.
	web := str(e.call("POST", "/api/applications", map[string]any{"name": "w", "type": "Traditional", "customClientMetadata": map[string]any{"idTokenTtl": 600}}, 200), "id")
	if got := e.call("PATCH", "/api/applications/"+web, map[string]any{"customClientMetadata": map[string]any{"rotateRefreshToken": true, "refreshTokenTtlInDays": 10}}, 200); fmt.Sprint(got["customClientMetadata"]) != "map[refreshTokenTtlInDays:10 rotateRefreshToken:true]" {
		t.Fatalf("replaced %v", got["customClientMetadata"])
	}
	e.wantError("PATCH", "/api/applications/"+web, map[string]any{"protectedAppMetadata": map[string]any{"origin": "https://x.example"}}, 400, "application.protected_application_only")

	// isAdmin gives and takes the Management API access role.
	m2m := str(e.call("POST", "/api/applications", map[string]any{"name": "m", "type": "MachineToMachine"}, 200), "id")
	if got := e.call("GET", "/api/applications/"+m2m, nil, 200); got["isAdmin"] != false {
		t.Fatalf("isAdmin %v", got)
	}
	e.call("PATCH", "/api/applications/"+m2m, map[string]any{"isAdmin": true}, 200)
	if got := e.call("GET", "/api/applications/"+m2m, nil, 200); got["isAdmin"] != true {
		t.Fatalf("isAdmin after true %v", got)
	}
	if !slices.Contains(e.dir.AppResourceScopes(m2m, e.dir.ManagementAPIID()), directory.ManagementAPIScopeAll) {
		t.Fatal("isAdmin did not grant the Management API")
	}
	e.call("PATCH", "/api/applications/"+m2m, map[string]any{"isAdmin": false}, 200)
	if got := e.call("GET", "/api/applications/"+m2m, nil, 200); got["isAdmin"] != false {
		t.Fatalf("isAdmin after false %v", got)
	}
	if got := e.call("GET", "/api/applications/"+mgmtAdminID, nil, 200); got["isAdmin"] != true {
		t.Fatalf("the bootstrap admin app %v", got)
	}
	e.wantError("PATCH", "/api/applications/"+mgmtAdminID, map[string]any{"isAdmin": false}, 400, "application.cannot_remove_admin_app_access")
}

// TestMgmtUserPasswordDigest: Logto's passwordDigest + passwordAlgorithm on create;
// the imported password verifies, and a new password replaces it.
func TestMgmtUserPasswordDigest(t *testing.T) {
	e := newMgmtEnv(t)
	verify := func(id, pw string, status int) {
		t.Helper()
		if w := e.do("POST", "/api/users/"+id+"/password/verify", map[string]any{"password": pw}); w.Code != status {
			t.Fatalf("verify %q: %d %s, want %d", pw, w.Code, w.Body, status)
		}
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ alg, digest string }{
		{"MD5", "5f4dcc3b5aa765d61d8327deb882cf99"},
		{"SHA1", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"},
		{"SHA256", "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"},
		{"Bcrypt", string(bc)},
		{"Legacy", `["sha512", ["@"], "b109f3bbbc244eb82441917ed06d618b9008dd09b3befd1b5e07394c706a8bb980b1d7785e5976ec049b46df5f1326af5a2ea6d103fd07c95385ffab0cacbc86"]`},
	} {
		u := e.call("POST", "/api/users", map[string]any{"passwordDigest": tc.digest, "passwordAlgorithm": tc.alg}, 200)
		id := str(u, "id")
		got := e.call("GET", "/api/users/"+id+"?includePasswordHash=true", nil, 200)
		if got["hasPassword"] != true || got["passwordDigest"] != tc.digest || got["passwordAlgorithm"] != tc.alg {
			t.Fatalf("%s: %v", tc.alg, got)
		}
		verify(id, "Password", http.StatusUnprocessableEntity)
		verify(id, "password", http.StatusNoContent)
		// A successful check replaces the imported digest with Argon2id (Logto migrates too).
		got = e.call("GET", "/api/users/"+id+"?includePasswordHash=true", nil, 200)
		if d, _ := got["passwordDigest"].(string); !strings.HasPrefix(d, "$argon2id$") || got["passwordAlgorithm"] != "Argon2id" {
			t.Fatalf("%s after a check: %v", tc.alg, got)
		}
		verify(id, "password", http.StatusNoContent)
		verify(id, "Password", http.StatusUnprocessableEntity)
		e.call("PATCH", "/api/users/"+id+"/password", map[string]any{"password": "a new long password"}, 200)
		verify(id, "a new long password", http.StatusNoContent)
		verify(id, "password", http.StatusUnprocessableEntity)
		if got := e.call("GET", "/api/users/"+id+"?includePasswordHash=true", nil, 200); got["passwordAlgorithm"] != "Argon2id" {
			t.Fatalf("%s after a new password: %v", tc.alg, got)
		}
	}
	// Logto's bound is on length only.
	e.call("POST", "/api/users", map[string]any{"passwordDigest": strings.Repeat("a", 256), "passwordAlgorithm": "MD5"}, 200)
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": strings.Repeat("a", 257), "passwordAlgorithm": "MD5"}, 400, "guard.invalid_input")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": "x", "password": "y"}, 400, "user.password_and_digest")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": "x"}, 400, "user.password_algorithm_required")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": "x", "passwordAlgorithm": "Rot13"}, 400, "guard.invalid_input")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": "x", "passwordAlgorithm": "Legacy"}, 400, "password.invalid_legacy_password_format")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": `["sha512", ["x"], "ab"]`, "passwordAlgorithm": "Legacy"}, 400, "password.invalid_legacy_password_format")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": `["whirlpool", ["@"], "ab"]`, "passwordAlgorithm": "Legacy"}, 400, "password.unsupported_legacy_hash_algorithm")
	e.wantError("POST", "/api/users", map[string]any{"passwordDigest": "x", "passwordAlgorithm": "Argon2d"}, 400, "guard.invalid_input")
}

// TestMgmtDefaultRoles: a new user gets every default User role (Logto).
func TestMgmtDefaultRoles(t *testing.T) {
	e := newMgmtEnv(t)
	def := str(e.call("POST", "/api/roles", map[string]any{"name": "def", "description": "d", "isDefault": true}, 200), "id")
	e.call("POST", "/api/roles", map[string]any{"name": "plain", "description": "d"}, 200)
	uid := str(e.call("POST", "/api/users", map[string]any{"username": "new"}, 200), "id")
	roles, _ := e.list("/api/users/" + uid + "/roles")
	if len(roles) != 1 || roles[0]["id"] != def {
		t.Fatalf("roles of a new user %v", roles)
	}
}

// TestMgmtRoutesWithoutFeature: Logto routes whose feature Latch does not have answer
// as Logto OSS does without it.
func TestMgmtRoutesWithoutFeature(t *testing.T) {
	e := newMgmtEnv(t)
	app := str(e.call("POST", "/api/applications", map[string]any{"name": "w", "type": "Traditional"}, 200), "id")
	e.wantError("DELETE", "/api/applications/"+app+"/legacy-secret", nil, 400, "application.no_legacy_secret_found")
	e.wantError("DELETE", "/api/applications/nope/legacy-secret", nil, 404, "entity.not_exists_with_id")
	e.wantError("GET", "/api/applications/"+app+"/protected-app-metadata/custom-domains", nil, 400, "application.protected_application_only")
	e.wantError("POST", "/api/applications/"+app+"/protected-app-metadata/custom-domains", map[string]any{"domain": "a.example"}, 400, "application.protected_application_only")
	e.wantError("DELETE", "/api/applications/"+app+"/protected-app-metadata/custom-domains/a.example", nil, 400, "application.protected_application_only")
	e.wantError("GET", "/api/applications/nope/protected-app-metadata/custom-domains", nil, 404, "entity.not_exists_with_id")

	uid := str(e.call("POST", "/api/users", map[string]any{"username": "u"}, 200), "id")
	e.wantError("PATCH", "/api/users/"+uid+"/password/expiration", map[string]any{"isExpired": true}, 400, "sign_in_experiences.password_expiration_not_enabled")
	if got := e.call("PATCH", "/api/users/"+uid+"/password/expiration", map[string]any{"isExpired": false}, 200); got["id"] != uid {
		t.Fatalf("not expired %v", got)
	}
	e.wantError("PATCH", "/api/users/"+uid+"/password/expiration", map[string]any{}, 400, "guard.invalid_input")
	e.wantError("PATCH", "/api/users/nope/password/expiration", map[string]any{"isExpired": false}, 404, "entity.not_found")
}
