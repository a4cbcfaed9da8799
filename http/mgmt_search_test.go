package httpapi

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// searchUsers seeds the users of Logto's admin-user.search test.
func searchUsers(t *testing.T, e *mgmtEnv) []string {
	t.Helper()
	raw := []string{"tom scott", "tom scott 2", "tom scott 3", "tom scott 4", "tom scott 5",
		"jerry swift", "jerry swift 1", "jerry swift jr", "jerry swift jr 2", "jerry swift jr jr"}
	suffix := []string{"@gmail.com", "@foo.bar", "@geek.best"}
	var ids []string
	for i, r := range raw {
		username := strings.ReplaceAll(r, " ", "_")
		var name []string
		for _, seg := range strings.Fields(r) {
			if seg[0] >= '0' && seg[0] <= '9' {
				continue
			}
			name = append(name, strings.ToUpper(seg[:1])+seg[1:])
		}
		u := e.call("POST", "/api/users", map[string]any{
			"username": "search_" + username, "primaryEmail": username + suffix[i%3],
			"primaryPhone": "1310805" + strings.Repeat("0", 3) + string(rune('0'+i)), "name": strings.Join(name, " "),
		}, http.StatusOK)
		ids = append(ids, str(u, "id"))
	}
	return ids
}

func searchQuery(pairs ...string) string {
	q := url.Values{}
	for i := 0; i < len(pairs); i += 2 {
		q.Add(pairs[i], pairs[i+1])
	}
	return q.Encode()
}

func TestMgmtUserSearch(t *testing.T) {
	e := newMgmtEnv(t)
	ids := searchUsers(t, e)

	cases := []struct {
		name      string
		q         []string
		want      int
		wantNames string // every result's name, when set
	}{
		{"like on every field", []string{"search", "%search_tom%"}, 5, "Tom Scott"},
		{"like on phone", []string{"search", "%1310805000%"}, 10, ""},
		{"general like is anchored", []string{"search", "search_tom"}, 0, ""},
		{"case-sensitive exact", []string{"search.name", "jerry swift", "mode.name", "exact", "isCaseSensitive", "true"}, 0, ""},
		{"case-insensitive exact", []string{"search.name", "jerry swift", "mode.name", "exact"}, 2, "Jerry Swift"},
		{"hybrid and: posix lookahead, like, similar_to", []string{
			"search.name", "^Jerry((?!Jr).)*Jr{1}((?!Jr).)*$", "mode.name", "posix",
			"search.username", "search_%",
			"search.primaryPhone", "%0{3,}%", "mode.primaryPhone", "similar_to",
			"joint", "and", "isCaseSensitive", "true"}, 2, "Jerry Swift Jr"},
		{"hybrid or", []string{"search.name", "^T.?m Scot+$", "mode.name", "posix",
			"search.username", "search_tom%", "mode.username", "similar_to", "isCaseSensitive", "true"}, 5, "Tom Scott"},
		{"exact with several values", []string{"search.primaryEmail", "jerry_swiFt_jr@foo.bar",
			"search.primaryEmail", "jerry_swift_Jr_2@geek.best", "search.primaryEmail", "jerry_swift_jr_jR@gmail.com",
			"mode.primaryEmail", "exact"}, 3, ""},
		{"exact ids", []string{"search.id", ids[0], "search.id", ids[1], "search.id", ids[2], "search.id", ids[2],
			"search.id", "not_possible", "mode.id", "exact", "isCaseSensitive", "true"}, 3, "Tom Scott"},
		{"snake_case field", []string{"search.primary_email", "%@geek.best"}, 3, ""},
		{"posix case-insensitive", []string{"search.name", "^jerry", "mode.name", "posix"}, 5, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			items, h := e.list("/api/users?" + searchQuery(tc.q...))
			if len(items) != tc.want || h.Get("Total-Number") != strconv.Itoa(tc.want) {
				t.Fatalf("got %d items (Total-Number %q), want %d", len(items), h.Get("Total-Number"), tc.want)
			}
			for _, u := range items {
				if tc.wantNames != "" && u["name"] != tc.wantNames {
					t.Fatalf("unexpected user %v", u["name"])
				}
			}
		})
	}

	bad := []struct {
		name, q, msg string
	}{
		{"several values outside exact", searchQuery("search.primaryEmail", "a@b.c", "search.primaryEmail", "d@e.f"), "`exact`"},
		{"empty value", searchQuery("search.primaryEmail", "", "search", "tom"), "cannot be empty"},
		{"case-insensitive similar_to", searchQuery("search.primaryEmail", "%gmail%", "mode.primaryEmail", "similar_to"), "case-insensitive"},
		{"unknown mode", searchQuery("search.primaryEmail", "%gmail%", "mode.primaryEmail", "similar to"), "is not valid"},
		{"unknown field", searchQuery("search.email", "%gmail%"), "is not valid"},
		{"unknown joint", searchQuery("search.primaryEmail", "%gmail%", "joint", "and1"), "is not valid"},
		{"nested field", searchQuery("search.a.b", "x"), "first level"},
		{"both excludes", searchQuery("excludeRoleId", "a", "excludeOrganizationId", "b"), "same time"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			ae := e.wantError("GET", "/api/users?"+tc.q, nil, http.StatusBadRequest, "request.invalid_input")
			if !strings.Contains(ae.Message, tc.msg) {
				t.Fatalf("message %q does not mention %q", ae.Message, tc.msg)
			}
		})
	}
}

func TestMgmtUserSearchExcludeAndPasswordHash(t *testing.T) {
	e := newMgmtEnv(t)
	u1 := str(e.call("POST", "/api/users", map[string]any{"username": "ex_1", "password": "Passw0rd!long"}, 200), "id")
	u2 := str(e.call("POST", "/api/users", map[string]any{"username": "ex_2"}, 200), "id")
	role := str(e.call("POST", "/api/roles", map[string]any{"name": "r1", "description": "d"}, 200), "id")
	e.call("POST", "/api/users/"+u1+"/roles", map[string]any{"roleIds": []string{role}}, 201)

	items, _ := e.list("/api/users?" + searchQuery("search.username", "ex_%", "excludeRoleId", role))
	if len(items) != 1 || items[0]["id"] != u2 {
		t.Fatalf("excludeRoleId: %v", items)
	}

	items, _ = e.list("/api/users?" + searchQuery("search.username", "ex_%"))
	for _, u := range items {
		if _, ok := u["passwordDigest"]; ok {
			t.Fatalf("password digest without includePasswordHash: %v", u)
		}
	}
	items, _ = e.list("/api/users?" + searchQuery("search.username", "ex_%", "includePasswordHash", "true"))
	i := slices.IndexFunc(items, func(u map[string]any) bool { return u["id"] == u1 })
	j := slices.IndexFunc(items, func(u map[string]any) bool { return u["id"] == u2 })
	if i < 0 || j < 0 {
		t.Fatalf("users missing: %v", items)
	}
	if d, _ := items[i]["passwordDigest"].(string); !strings.HasPrefix(d, "$argon2id$") || items[i]["passwordAlgorithm"] != "Argon2id" {
		t.Fatalf("with password: %v", items[i])
	}
	if v, ok := items[j]["passwordDigest"]; !ok || v != nil || items[j]["passwordAlgorithm"] != nil {
		t.Fatalf("without password: %v", items[j])
	}
}

func TestMgmtRoleAndApplicationSearch(t *testing.T) {
	e := newMgmtEnv(t)
	e.call("POST", "/api/roles", map[string]any{"name": "alpha-reader", "description": "reads alpha"}, 200)
	e.call("POST", "/api/roles", map[string]any{"name": "beta-writer", "description": "writes beta", "type": "MachineToMachine"}, 200)
	roles, h := e.list("/api/roles?search=%25alpha%25")
	if len(roles) != 1 || roles[0]["name"] != "alpha-reader" || h.Get("Total-Number") != "1" {
		t.Fatalf("role keyword: %v", roles)
	}
	roles, _ = e.list("/api/roles?search=%25WRITES%25&type=MachineToMachine")
	if len(roles) != 1 || roles[0]["name"] != "beta-writer" {
		t.Fatalf("role keyword and type: %v", roles)
	}
	roles, _ = e.list("/api/roles?search=%25writes%25&type=User")
	if len(roles) != 0 {
		t.Fatalf("role type filter: %v", roles)
	}
	e.wantError("GET", "/api/roles?search.foo=x", nil, 400, "request.invalid_input")
	// Logto's tests find the Management API role so.
	roles, _ = e.list("/api/roles?type=MachineToMachine&search=" + url.QueryEscape("%Logto Management API access%"))
	if len(roles) != 1 || roles[0]["description"] != "This default role grants access to the Logto management API." {
		t.Fatalf("Management API role %v", roles)
	}

	e.call("POST", "/api/applications", map[string]any{"name": "Shop frontend", "type": "SPA"}, 200)
	e.call("POST", "/api/applications", map[string]any{"name": "Shop worker", "type": "MachineToMachine"}, 200)
	apps, _ := e.list("/api/applications?search=%25shop%25")
	if len(apps) != 2 {
		t.Fatalf("app keyword: %v", apps)
	}
	apps, _ = e.list("/api/applications?search=%25shop%25&types=SPA")
	if len(apps) != 1 || apps[0]["name"] != "Shop frontend" {
		t.Fatalf("app keyword and type: %v", apps)
	}
	// excludeRoleId leaves out the applications holding the role.
	m2mRole := str(e.call("POST", "/api/roles", map[string]any{"name": "svc", "description": "d", "type": "MachineToMachine"}, 200), "id")
	all, _ := e.list("/api/applications?search=%25shop%25")
	var workerID string
	for _, a := range all {
		if a["name"] == "Shop worker" {
			workerID = str(a, "id")
		}
	}
	e.call("POST", "/api/roles/"+m2mRole+"/applications", map[string]any{"applicationIds": []string{workerID}}, 201)
	apps, _ = e.list("/api/applications?search=%25shop%25&excludeRoleId=" + m2mRole)
	if len(apps) != 1 || apps[0]["name"] != "Shop frontend" {
		t.Fatalf("excludeRoleId: %v", apps)
	}
	e.wantError("GET", "/api/applications?excludeRoleId=a&excludeOrganizationId=b", nil, 400, "request.invalid_input")
}

// TestMgmtSearchRegexBudget: a backtracking posix expression fails the search with a
// 400 instead of holding the request for one timeout per user.
func TestMgmtSearchRegexBudget(t *testing.T) {
	e := newMgmtEnv(t)
	for i := range 3 {
		e.call("POST", "/api/users", map[string]any{"username": "u" + strconv.Itoa(i), "name": strings.Repeat("a", 40) + "!"}, 200)
	}
	ae := e.wantError("GET", "/api/users?"+searchQuery("search.name", "^(a|aa)+$", "mode.name", "posix"), nil, 400, "request.invalid_input")
	if !strings.Contains(ae.Message, "too long") {
		t.Fatalf("message %q", ae.Message)
	}
}
