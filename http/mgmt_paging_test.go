package httpapi

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/latchid/latch/directory"
)

// pagedListRoutes are the Management API GET routes that page (Logto's
// koaPagination); TestMgmtPagingOverflow fails when a GET route is in neither this
// list nor unpagedGetRoutes, so a new list cannot skip the test.
var pagedListRoutes = []string{
	"/api/applications",
	"/api/applications/:id/roles",
	"/api/users",
	"/api/users/:userId/roles",
	"/api/resources",
	"/api/resources/:id/scopes",
	"/api/roles",
	"/api/roles/:id/scopes",
	"/api/roles/:id/users",
	"/api/roles/:id/applications",
	"/api/users/:userId/trusted-devices", // always empty (mgmt_users_trusted_devices.go)
}

var unpagedGetRoutes = map[string]bool{
	"/api/applications/:id/user-consent-scopes": true, // mgmt_consent.go: one object, not a list
	"/api/users/:userId/personal-access-tokens": true, // Logto does not page it (mgmt_pats.go)
	"/api/sign-in-exp":                          true, // one object (mgmt_signinexp.go)
	"/api/account-center":                       true, // one object (mgmt_accountcenter.go)
	"/api/connector-factories":                  true, // Logto does not page them (mgmt_connectors.go)
	"/api/connector-factories/:id":              true,
	"/api/connectors":                           true,
	"/api/connectors/:id":                       true,
	"/api/users/:userId/mfa-verifications":      true, // Logto does not page it (mgmt_user_mfa.go)
	"/api/users/:userId/logto-configs":          true, // one object (mgmt_users.go)
	"/api/applications/:id/sign-in-experience":  true, // one object (mgmt_applications_signinexp.go)
	// Pages inside {organizations}; only for third-party apps (the admin app is not one):
	// its paging is tested in TestConsentOrganizations.
	"/api/applications/:id/users/:userId/consent-organizations": true,
	// Entities and their parts:
	"/api/applications/:id":                  true,
	"/api/applications/:id/secrets":          true,
	"/api/users/:userId":                     true,
	"/api/users/:userId/has-password":        true,
	"/api/users/:userId/custom-data":         true,
	"/api/users/:userId/sessions":            true,
	"/api/users/:userId/sessions/:sessionId": true,
	"/api/users/:userId/grants":              true,
	"/api/resources/:id":                     true,
	"/api/roles/:id":                         true,
	"/api/configs/oidc/:keyType":             true, // Logto does not page it
	// No Protected apps in Latch: answered application.protected_application_only.
	"/api/applications/:id/protected-app-metadata/custom-domains": true,
	"/api/applications/:id/access-control":                        true, // one object (mgmt_applications_access_control.go)
	"/api/users/:userId/identities/:target":                       true, // one object (mgmt_users_identities.go)
	"/api/users/:userId/all-identities":                           true, // one object
	"/api/users/:userId/sso-identities/:ssoConnectorId":           true, // one object
	// Custom JWT (mgmt_jwt_customizer.go): at most two configs, never paged.
	"/api/configs/jwt-customizer":                true,
	"/api/configs/jwt-customizer/:tokenTypePath": true,
}

// TestMgmtPagingOverflow is the regression test of issue 12: page numbers that
// overflow (page=9223372036854775807) were a recovered panic and a 500 on every
// Management list; bad page and page_size values are a 400 guard.invalid_pagination.
func TestMgmtPagingOverflow(t *testing.T) {
	e := newMgmtEnv(t)
	user := e.call("POST", "/api/users", map[string]any{"username": "pager"}, http.StatusOK)
	userID := user["id"].(string)
	role, ok := e.dir.RoleByName(directory.ManagementAPIRoleName)
	if !ok {
		t.Fatal("no Management API role")
	}
	res := e.call("POST", "/api/resources", map[string]any{"name": "r", "indicator": "https://r.example"}, http.StatusCreated)
	// :id is the route's own entity: the admin application, a resource or a role.
	fill := func(path string) string {
		id := role.ID
		switch {
		case strings.HasPrefix(path, "/api/applications/"):
			id = mgmtAdminID
		case strings.HasPrefix(path, "/api/resources/"):
			id = res["id"].(string)
		}
		return strings.NewReplacer(":id", id, ":userId", userID).Replace(path)
	}

	seen := map[string]bool{}
	for _, p := range pagedListRoutes {
		seen[p] = true
	}
	for _, rt := range e.s.managementRoutes() {
		if rt.method == "GET" && !seen[rt.path] && !unpagedGetRoutes[rt.path] && !orgGetRoutes[rt.path] {
			t.Errorf("GET %s is neither in pagedListRoutes nor in unpagedGetRoutes", rt.path)
		}
	}

	bad := []string{
		"page=9223372036854775807",
		"page=9223372036854775807&page_size=100",
		"page=9223372036854775808",
		"page=4611686018427387904&page_size=2",
		"page=2147483648",
		"page=-9223372036854775808",
		"page=0",
		"page=-1",
		"page=1.5",
		"page=abc",
		"page=0x10",
		"page_size=9223372036854775807",
		"page_size=99999999999999999999",
		"page_size=-1",
		"page_size=0",
		"page_size=101",
		"page=1&page_size=-9223372036854775808",
	}
	serve := func(path string) (w *httptest.ResponseRecorder, panicked any) {
		defer func() { panicked = recover() }()
		w = httptest.NewRecorder()
		e.h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w, nil
	}
	for _, route := range pagedListRoutes {
		for _, q := range bad {
			path := fill(route) + "?" + q
			w, p := serve(path)
			if p != nil {
				t.Errorf("GET %s: panic %v", path, p)
				continue
			}
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"code":"guard.invalid_pagination"`) {
				t.Errorf("GET %s: %d %s, want 400 guard.invalid_pagination", path, w.Code, w.Body)
			}
		}
		// The largest page accepted is past the end: an empty page, with links.
		path := fmt.Sprintf("%s?page=%d&page_size=100", fill(route), maxPageNumber)
		w, p := serve(path)
		if p != nil || w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != "[]" || w.Header().Get("Total-Number") == "" {
			t.Errorf("GET %s: panic %v, %d %s, want 200 []", path, p, w.Code, w.Body)
		}
	}
	// Unpaged routes ignore paging parameters, and never panic on them.
	for route := range unpagedGetRoutes {
		path := fill(strings.ReplaceAll(route, ":sessionId", "s")) + "?page=9223372036854775807&page_size=-1"
		if w, p := serve(path); p != nil || w.Code >= 500 && w.Code != http.StatusServiceUnavailable && w.Code != http.StatusNotImplemented {
			t.Errorf("GET %s: panic %v, status %d", path, p, w.Code)
		}
	}
}

func TestPaginate(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	tests := []struct {
		page, size int
		want       []int
	}{
		{1, 2, []int{1, 2}},
		{3, 2, []int{5}},
		{4, 2, []int{}},
		{1, 100, []int{1, 2, 3, 4, 5}},
		{math.MaxInt, 100, []int{}},
		{math.MaxInt, math.MaxInt, []int{}},
		{2, math.MaxInt, []int{}},
		{0, 2, []int{}},
		{1, 0, []int{}},
		{-5, -5, []int{}},
	}
	for _, tt := range tests {
		got := paginate(items, tt.page, tt.size).Items.([]int)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("paginate(page %d, size %d) = %v, want %v", tt.page, tt.size, got, tt.want)
		}
	}
}

// FuzzParsePaging: no panic; a value is either refused with 400
// guard.invalid_pagination or within bounds; paginate never panics on an accepted
// value; and the page links, parsed again, give back the same page size and pages in
// bounds (parse -> serialize -> parse is stable).
func FuzzParsePaging(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""}, {"1", "20"}, {"9223372036854775807", ""}, {"", "9223372036854775807"},
		{"-1", "-1"}, {"2147483647", "100"}, {"2147483648", "1"}, {"+3", "007"}, {"1e3", " 5"},
	} {
		f.Add(s[0], s[1], uint8(7))
	}
	f.Fuzz(func(t *testing.T, pageV, sizeV string, n uint8) {
		q := url.Values{}
		if pageV != "" {
			q.Set("page", pageV)
		}
		if sizeV != "" {
			q.Set("page_size", sizeV)
		}
		pageNo, size, err := parsePaging(q)
		if err != nil {
			if err.Status != http.StatusBadRequest || err.Code != "guard.invalid_pagination" {
				t.Fatalf("parsePaging(%q, %q) = %+v", pageV, sizeV, err)
			}
			return
		}
		if pageNo < 1 || pageNo > maxPageNumber || size < 1 || size > maxPageSize {
			t.Fatalf("parsePaging(%q, %q) = %d, %d: out of bounds", pageV, sizeV, pageNo, size)
		}
		pg := paginate(make([]int, n), pageNo, size)
		if got := len(pg.Items.([]int)); got > size || got > int(n) {
			t.Fatalf("paginate(%d items, %d, %d) gave %d items", n, pageNo, size, got)
		}
		link := pageLinks(&url.URL{Path: "/api/x"}, pg)
		for part := range strings.SplitSeq(link, ", ") {
			u, perr := url.Parse(strings.TrimPrefix(part[:strings.Index(part, ">")], "<"))
			if perr != nil {
				t.Fatalf("link %q: %v", part, perr)
			}
			p2, s2, err2 := parsePaging(u.Query())
			if err2 != nil || s2 != size || p2 < 1 {
				t.Fatalf("link %q parses to %d, %d, %v; want page size %d", part, p2, s2, err2, size)
			}
			if strconv.Itoa(p2) != u.Query().Get("page") {
				t.Fatalf("link %q: page %q does not round-trip", part, u.Query().Get("page"))
			}
		}
	})
}
