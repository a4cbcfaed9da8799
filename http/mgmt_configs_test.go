package httpapi

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
	"github.com/latchid/latch/persistence"
)

// keysEnv is a Server on a bootstrapped directory whose keys are op.DirectoryKeys, as
// cmd/latch wires it. withKey runs op.EnsureSigningKey first.
type keysEnv struct {
	t    *testing.T
	dir  *directory.Directory
	keys *op.DirectoryKeys
	h    http.Handler
	now  func() time.Time
}

func newKeysEnv(t *testing.T, withKey bool) *keysEnv {
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
	if _, err := dir.Bootstrap(t.Context(), mgmtAdminID, mgmtAdminSecret); err != nil {
		t.Fatal(err)
	}
	if withKey {
		if err := op.EnsureSigningKey(t.Context(), dir, oidcflow.AlgES256, nil); err != nil {
			t.Fatal(err)
		}
	}
	keys := op.NewDirectoryKeys(dir, nil)
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: dir, Keys: keys, Now: now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return &keysEnv{t: t, dir: dir, keys: keys, h: s.Handler(), now: now}
}

func (e *keysEnv) do(method, path, body, bearer string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		r.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

// token is a Management API token from the token endpoint (client_credentials).
func (e *keysEnv) token() *httptest.ResponseRecorder {
	e.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {directory.ManagementAPIIndicator}, "scope": {"all"}}
	r := httptest.NewRequest("POST", "/oidc/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth(mgmtAdminID, mgmtAdminSecret)
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	return w
}

func (e *keysEnv) accessToken() string {
	e.t.Helper()
	w := e.token()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &tok); err != nil || w.Code != 200 || tok.AccessToken == "" {
		e.t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return tok.AccessToken
}

// keyList decodes a key list and checks that every item has exactly Logto's fields.
func (e *keysEnv) keyList(w *httptest.ResponseRecorder, private bool) []map[string]any {
	e.t.Helper()
	if w.Code != http.StatusOK {
		e.t.Fatalf("key list: %d %s", w.Code, w.Body)
	}
	var items []map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &items); err != nil {
		e.t.Fatalf("not an array: %s", w.Body)
	}
	want := []string{"createdAt", "id"}
	if private {
		want = []string{"createdAt", "id", "signingKeyAlgorithm"}
	}
	for _, it := range items {
		var got []string
		for k := range it {
			got = append(got, k)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			e.t.Fatalf("key fields %v, want %v (never key material): %s", got, want, w.Body)
		}
	}
	return items
}

func headerKid(t *testing.T, tok string) (kid, alg string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return jws.Signatures[0].Protected.KeyID, jws.Signatures[0].Protected.Algorithm
}

func wantKeyAPIError(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	var ae APIError
	if err := json.Unmarshal(w.Body.Bytes(), &ae); err != nil || w.Code != status || ae.Code != code || ae.Message == "" {
		t.Fatalf("%d %s, want %d %s", w.Code, w.Body, status, code)
	}
}

// The key-rotation API end to end: list, rotate (a token signed before the rotation
// keeps working, new tokens carry the new kid, JWKS and discovery follow), delete
// with Logto's rules.
func TestOIDCKeysRotation(t *testing.T) {
	e := newKeysEnv(t, true)
	before := e.accessToken()
	oldKid, _ := headerKid(t, before)

	keys := e.keyList(e.do("GET", "/api/configs/oidc/private-keys", "", before), true)
	if len(keys) != 1 || keys[0]["id"] != oldKid || keys[0]["signingKeyAlgorithm"] != "EC" {
		t.Fatalf("private keys %v, want the one EC key %s", keys, oldKid)
	}
	cookies := e.keyList(e.do("GET", "/api/configs/oidc/cookie-keys", "", before), false)
	if len(cookies) != 1 {
		t.Fatalf("cookie keys %v", cookies)
	}

	// Rotate to RSA.
	keys = e.keyList(e.do("POST", "/api/configs/oidc/private-keys/rotate", `{"signingKeyAlgorithm":"RSA"}`, before), true)
	if len(keys) != 2 || keys[0]["signingKeyAlgorithm"] != "RSA" || keys[1]["id"] != oldKid {
		t.Fatalf("after rotation %v", keys)
	}
	newKid := keys[0]["id"].(string)
	// The token signed before the rotation still authorizes.
	if w := e.do("GET", "/api/configs/oidc/private-keys", "", before); w.Code != http.StatusOK {
		t.Fatalf("token from before the rotation: %d %s", w.Code, w.Body)
	}
	after := e.accessToken()
	if kid, alg := headerKid(t, after); kid != newKid || alg != oidcflow.AlgRS256 {
		t.Fatalf("new token kid %s alg %s, want %s RS256", kid, alg, newKid)
	}
	jwks := e.do("GET", "/oidc/jwks", "", "").Body.String()
	if !strings.Contains(jwks, `"kid":"`+oldKid+`"`) || !strings.Contains(jwks, `"kid":"`+newKid+`"`) {
		t.Fatalf("JWKS %s lacks a kid", jwks)
	}
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(e.do("GET", "/oidc/.well-known/openid-configuration", "", "").Body.Bytes(), &disc); err != nil ||
		!slices.Contains(disc.Algs, "RS256") || !slices.Contains(disc.Algs, "ES256") {
		t.Fatalf("discovery algs %v, %v", disc.Algs, err)
	}

	// Rotating again (EC, Logto's default) drops the oldest key: Logto keeps two.
	keys = e.keyList(e.do("POST", "/api/configs/oidc/private-keys/rotate", "", after), true)
	if len(keys) != 2 || keys[0]["signingKeyAlgorithm"] != "EC" || keys[1]["id"] != newKid {
		t.Fatalf("after the second rotation %v", keys)
	}
	if w := e.do("GET", "/api/configs/oidc/private-keys", "", before); w.Code != http.StatusUnauthorized {
		t.Fatalf("a token of a dropped key: %d", w.Code)
	}
	if w := e.do("GET", "/api/configs/oidc/private-keys", "", after); w.Code != http.StatusOK {
		t.Fatalf("a token of the Previous key: %d %s", w.Code, w.Body)
	}

	// Delete: unknown 404, the Previous key 204, then the last one 422.
	wantKeyAPIError(t, e.do("DELETE", "/api/configs/oidc/private-keys/nope", "", after), http.StatusNotFound, "oidc.key_not_found")
	if w := e.do("DELETE", "/api/configs/oidc/private-keys/"+newKid, "", after); w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("delete the Previous key: %d %s", w.Code, w.Body)
	}
	last := e.accessToken()
	keys = e.keyList(e.do("GET", "/api/configs/oidc/private-keys", "", last), true)
	if len(keys) != 1 {
		t.Fatalf("keys %v", keys)
	}
	wantKeyAPIError(t, e.do("DELETE", "/api/configs/oidc/private-keys/"+keys[0]["id"].(string), "", last), http.StatusUnprocessableEntity, "oidc.key_required")
	wantKeyAPIError(t, e.do("DELETE", "/api/configs/oidc/cookie-keys/"+cookies[0]["id"].(string), "", last), http.StatusUnprocessableEntity, "oidc.key_required")

	// Cookie keys rotate the same way; their values are never returned.
	cookies2 := e.keyList(e.do("POST", "/api/configs/oidc/cookie-keys/rotate", "{}", last), false)
	if len(cookies2) != 2 || cookies2[1]["id"] != cookies[0]["id"] {
		t.Fatalf("cookie keys after rotation %v", cookies2)
	}
	if w := e.do("DELETE", "/api/configs/oidc/cookie-keys/"+cookies[0]["id"].(string), "", last); w.Code != http.StatusNoContent {
		t.Fatalf("delete a cookie key: %d %s", w.Code, w.Body)
	}

	// Bad input is Logto's guard error.
	wantKeyAPIError(t, e.do("GET", "/api/configs/oidc/public-keys", "", last), http.StatusBadRequest, "guard.invalid_input")
	wantKeyAPIError(t, e.do("POST", "/api/configs/oidc/private-keys/rotate", `{"signingKeyAlgorithm":"DSA"}`, last), http.StatusBadRequest, "guard.invalid_input")
}

// The key API needs a Management API token with scope "all": 401 without a token,
// 403 for a token of another audience or without the scope; nothing is rotated.
func TestOIDCKeysAuthorization(t *testing.T) {
	e := newKeysEnv(t, true)
	sign := func(aud, scope string) string {
		claims := fmt.Sprintf(`{"iss":"http://localhost:3001/oidc","aud":%q,"scope":%q,"exp":%d,"client_id":"x","sub":"x"}`,
			aud, scope, e.now().Add(time.Hour).Unix())
		tok, err := e.keys.Sign(oidcflow.TypAccessToken, []byte(claims))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	routes := []struct{ method, path string }{
		{"GET", "/api/configs/oidc/private-keys"},
		{"POST", "/api/configs/oidc/private-keys/rotate"},
		{"POST", "/api/configs/oidc/cookie-keys/rotate"},
		{"DELETE", "/api/configs/oidc/private-keys/x"},
	}
	for _, rt := range routes {
		wantKeyAPIError(t, e.do(rt.method, rt.path, "{}", ""), http.StatusUnauthorized, "auth.authorization_header_missing")
		wantKeyAPIError(t, e.do(rt.method, rt.path, "{}", "not-a-jwt"), http.StatusUnauthorized, "auth.unauthorized")
		wantKeyAPIError(t, e.do(rt.method, rt.path, "{}", sign("https://other.test", "all")), http.StatusForbidden, "auth.forbidden")
		wantKeyAPIError(t, e.do(rt.method, rt.path, "{}", sign(directory.ManagementAPIIndicator, "read")), http.StatusForbidden, "auth.forbidden")
	}
	if len(e.dir.SigningKeys()) != 2 || len(e.dir.CookieKeys()) != 1 { // Current and Next
		t.Fatal("an unauthorized request changed the keys")
	}
}

// A node without a Current signing key yet (joined, not caught up) answers the token
// endpoint with 503 temporarily_unavailable and Retry-After, not 500; once the key
// is in the directory it issues tokens, with no restart.
func TestTokenWithoutSigningKeyIs503(t *testing.T) {
	e := newKeysEnv(t, false)
	w := e.token()
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != http.StatusServiceUnavailable ||
		body.Error != "temporarily_unavailable" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("token without a key: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if jwks := e.do("GET", "/oidc/jwks", "", "").Body.String(); !strings.Contains(jwks, `"keys":[]`) {
		t.Fatalf("JWKS without a key: %s", jwks)
	}
	if err := op.EnsureSigningKey(t.Context(), e.dir, oidcflow.AlgES256, nil); err != nil {
		t.Fatal(err)
	}
	e.accessToken()
}
