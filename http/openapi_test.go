package httpapi

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/persistence"
)

// newFullServer builds a Server with every optional part on (browser flows, user
// sessions, metrics handler, metrics observer m), so that it registers every route.
func newFullServer(t *testing.T, m Metrics) (*Server, *directory.Directory) {
	t.Helper()
	now := time.Now
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
	if _, err := dir.Bootstrap(t.Context(), tAdminID, tAdminSecret); err != nil {
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
	s, err := New(Config{Endpoint: "http://localhost:3001", Directory: dir, Keys: ring,
		Browser:        testBrowser(t, "http://localhost:3001/oidc", dir, ring, now),
		Metrics:        m,
		MetricsHandler: http.NotFoundHandler(),
		Now:            now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	return s, dir
}

// TestOpenAPICoversEveryRoute fails when a route the router registers has no entry in
// routeDocs (add one to openapi_docs.go), or an entry names no registered route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s, _ := newFullServer(t, nil)
	registered := map[string]bool{}
	for _, rt := range s.routes.routes {
		k := rt.method + " " + rt.path
		registered[k] = true
		if d, ok := routeDocs[k]; !ok || d.Summary == "" {
			t.Errorf("route %s has no OpenAPI entry (summary) in routeDocs", k)
		}
	}
	for k := range routeDocs {
		if !registered[k] {
			t.Errorf("routeDocs has %s, which no route registers", k)
		}
	}
	if len(registered) < 100 {
		t.Fatalf("only %d routes registered: the server under test lacks some", len(registered))
	}
}

// TestOpenAPIDocuments checks the served documents: each registered route is in exactly
// one of them (swagger.json, experience, user) with its path parameters, operation ids
// are unique, and management routes require the bearer token.
func TestOpenAPIDocuments(t *testing.T) {
	s, _ := newFullServer(t, nil)
	h := s.Handler()
	type op struct {
		OperationID string                      `json:"operationId"`
		Summary     string                      `json:"summary"`
		Tags        []string                    `json:"tags"`
		Parameters  []struct{ Name, In string } `json:"parameters"`
		Security    []map[string][]string       `json:"security"`
	}
	type doc struct {
		OpenAPI string                   `json:"openapi"`
		Paths   map[string]map[string]op `json:"paths"`
	}
	docs := map[string]doc{}
	for _, p := range []string{pathSwagger, pathManagementOpenAPI, pathExperienceOpenAPI, pathUserOpenAPI} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", p, nil))
		if w.Code != 200 {
			t.Fatalf("GET %s: %d", p, w.Code)
		}
		var d doc
		if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		if d.OpenAPI != openAPIVersion {
			t.Errorf("%s: openapi %q", p, d.OpenAPI)
		}
		docs[p] = d
	}
	ids := map[string]string{}
	for _, rt := range s.routes.routes {
		oaPath := rt.path
		var params []string
		for _, seg := range strings.Split(rt.path, "/") {
			if seg != "" && (seg[0] == ':' || seg[0] == '*') {
				params = append(params, seg[1:])
				oaPath = strings.Replace(oaPath, seg, "{"+seg[1:]+"}", 1)
			}
		}
		found := 0
		for _, p := range []string{pathSwagger, pathExperienceOpenAPI, pathUserOpenAPI} {
			o, ok := docs[p].Paths[oaPath][strings.ToLower(rt.method)]
			if !ok {
				continue
			}
			found++
			if o.Summary == "" || o.OperationID == "" || len(o.Tags) != 1 {
				t.Errorf("%s %s: incomplete operation %+v", rt.method, rt.path, o)
			}
			if prev, dup := ids[o.OperationID]; dup {
				t.Errorf("operationId %s of %s %s is also %s's", o.OperationID, rt.method, rt.path, prev)
			}
			ids[o.OperationID] = rt.method + " " + rt.path
			var got []string
			for _, prm := range o.Parameters {
				if prm.In == "path" {
					got = append(got, prm.Name)
				}
			}
			if strings.Join(got, ",") != strings.Join(params, ",") {
				t.Errorf("%s %s: path parameters %v, want %v", rt.method, rt.path, got, params)
			}
			if mgmt := strings.HasPrefix(rt.path, "/api/users"); mgmt && len(o.Security) == 0 {
				t.Errorf("%s %s: no security requirement", rt.method, rt.path)
			}
		}
		if found != 1 {
			t.Errorf("%s %s is in %d documents, want 1", rt.method, rt.path, found)
		}
	}
	if _, ok := docs[pathExperienceOpenAPI].Paths["/api/experience/submit"]["post"]; !ok {
		t.Error("experience document lacks POST /api/experience/submit")
	}
	if got := docs[pathSwagger].Paths["/api/applications/{id}"]["get"].OperationID; got != "GetApplication" {
		t.Errorf("GET /api/applications/{id}: operationId %q, want Logto's GetApplication", got)
	}
}
