package bench

// FAKE OPENID PROVIDER, FOR TESTING THE HARNESS MECHANICS ONLY.
//
// fakeOP is a minimal stand-in: discovery, a client_credentials token endpoint that
// returns fixed non-JWT tokens, and just enough of the Management API for the Latch
// setup path; fakeop_browser_test.go adds the browser flows (authorize, Experience API,
// authorization_code and refresh_token grants, userinfo). It exists so bench's own
// tests need no Latch build. It says nothing about Latch's behaviour or speed: the real
// product is measured by scripts/bench.sh.

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

type fakeOP struct {
	srv *httptest.Server

	mu       sync.Mutex
	clients  map[string]fakeClient // id -> client
	nextID   int
	created  map[string]bool // management paths created (e.g. /api/roles/r3)
	deleted  []string
	tokens   atomic.Int64
	postAuth atomic.Int64 // token requests authenticated with client_secret_post
	audience atomic.Int64 // token requests carrying `audience`
	// failEvery, when > 0, answers every failEvery-th token request with
	// 503 (no OAuth body) -- for error-counting tests.
	failEvery atomic.Int64
	// resources are the indicators of the API resources created (RFC 8707).
	resources map[string]bool

	browser fakeBrowserState // fakeop_browser_test.go
}

type fakeClient struct {
	secret, resource string
	admin            bool
	appType          string
	redirectURIs     []string
}

const (
	fakeAdminID     = "admin-app"
	fakeAdminSecret = "admin-secret-0123456789"
)

func newFakeOP(t *testing.T) *fakeOP {
	t.Helper()
	op := &fakeOP{
		clients:   map[string]fakeClient{fakeAdminID: {secret: fakeAdminSecret, admin: true}},
		created:   map[string]bool{},
		resources: map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("POST /oidc/token", op.token)
	mux.HandleFunc("POST /api/resources", op.create("res", http.StatusCreated, op.newResource))
	mux.HandleFunc("POST /api/resources/{id}/scopes", op.create("scope", http.StatusCreated, nil))
	mux.HandleFunc("POST /api/roles", op.create("role", http.StatusOK, nil))
	mux.HandleFunc("POST /api/applications", op.create("app", http.StatusOK, op.newApp))
	mux.HandleFunc("POST /api/roles/{id}/applications", op.assign)
	mux.HandleFunc("DELETE /api/{kind}/{id}", op.delete)
	op.routesBrowser(mux)
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) issuer() string { return op.srv.URL + "/oidc" }

func (op *fakeOP) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"userinfo_endpoint":%q,"jwks_uri":%q,"introspection_endpoint":%q}`,
		op.issuer(), op.issuer()+"/auth", op.issuer()+"/token", op.issuer()+"/me", op.issuer()+"/jwks", op.issuer()+"/token/introspection")
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="fake"`)
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":%q,"error_description":%q}`, code, desc)
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	n := op.tokens.Add(1)
	if every := op.failEvery.Load(); every > 0 && n%every == 0 {
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "bad form")
		return
	}
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		op.postAuth.Add(1)
	}
	if r.PostForm.Get("audience") != "" {
		op.audience.Add(1)
	}
	op.mu.Lock()
	c, ok := op.clients[id]
	op.mu.Unlock()
	if !ok || c.secret != secret {
		oauthError(w, 401, "invalid_client", "client authentication failed")
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt == "authorization_code" || gt == "refresh_token" {
		op.userToken(w, r, id, c)
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, 400, "unsupported_grant_type", "")
		return
	}
	res := r.PostForm.Get("resource")
	if c.admin && res != managementAPIResource || !c.admin && c.resource != "" && res != c.resource {
		oauthError(w, 400, "invalid_target", "unknown resource")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":"fake-token-%d","token_type":"Bearer","expires_in":3600,"scope":%q}`, n, r.PostForm.Get("scope"))
}

func (op *fakeOP) bearerOK(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), "Bearer fake-token-")
}

func (op *fakeOP) create(kind string, status int, extra func(id string, body map[string]any) map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !op.bearerOK(r) {
			w.WriteHeader(401)
			return
		}
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(400)
			fmt.Fprint(w, `{"code":"guard.invalid_input","message":"bad json"}`)
			return
		}
		op.mu.Lock()
		op.nextID++
		id := fmt.Sprintf("%s%d", kind, op.nextID)
		op.created[map[string]string{"res": "resources", "role": "roles", "app": "applications", "scope": "scopes", "user": "users"}[kind]+"/"+id] = true
		op.mu.Unlock()
		out := map[string]any{"id": id, "name": body["name"]}
		if extra != nil {
			out = extra(id, body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(out)
	}
}

func (op *fakeOP) newApp(id string, body map[string]any) map[string]any {
	secret := base64.RawURLEncoding.EncodeToString([]byte("secret-of-" + id))
	c := fakeClient{secret: secret, appType: fmt.Sprint(body["type"])}
	if md, ok := body["oidcClientMetadata"].(map[string]any); ok {
		uris, _ := md["redirectUris"].([]any)
		for _, u := range uris {
			c.redirectURIs = append(c.redirectURIs, fmt.Sprint(u))
		}
	}
	if c.appType == "SPA" {
		c.secret = "" // a public client: authenticated by nothing but client_id
	}
	op.mu.Lock()
	op.clients[id] = c
	op.mu.Unlock()
	return map[string]any{"id": id, "secret": c.secret, "type": body["type"]}
}

func (op *fakeOP) newResource(id string, body map[string]any) map[string]any {
	indicator := fmt.Sprint(body["indicator"])
	op.mu.Lock()
	op.resources[indicator] = true
	op.mu.Unlock()
	return map[string]any{"id": id, "name": body["name"], "indicator": indicator}
}

// knownResource reports whether indicator names an API resource created so far.
func (op *fakeOP) knownResource(indicator string) bool {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.resources[indicator]
}

func (op *fakeOP) assign(w http.ResponseWriter, r *http.Request) {
	if !op.bearerOK(r) {
		w.WriteHeader(401)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (op *fakeOP) delete(w http.ResponseWriter, r *http.Request) {
	if !op.bearerOK(r) {
		w.WriteHeader(401)
		return
	}
	key := r.PathValue("kind") + "/" + r.PathValue("id")
	op.mu.Lock()
	defer op.mu.Unlock()
	if !op.created[key] {
		w.WriteHeader(404)
		fmt.Fprint(w, `{"code":"entity.not_found","message":"not found"}`)
		return
	}
	delete(op.created, key)
	op.deleted = append(op.deleted, key)
	w.WriteHeader(http.StatusNoContent)
}

// leftovers lists what setup created and teardown did not delete (scopes go with their
// resource, so they are not counted).
func (op *fakeOP) leftovers() []string {
	op.mu.Lock()
	defer op.mu.Unlock()
	var out []string
	for k := range op.created {
		if !strings.HasPrefix(k, "scopes/") {
			out = append(out, k)
		}
	}
	return out
}
