package httpapi

import (
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// TestDecodeIDListsAsTypedBody: the member routes decode their id lists by field
// name (one handler set for users and applications); the answer, and the 400 of a
// malformed body, must be those of the typed body each route had before.
func TestDecodeIDListsAsTypedBody(t *testing.T) {
	type typed struct {
		UserIDs *[]string `json:"userIds"`
		RoleIDs *[]string `json:"organizationRoleIds"`
	}
	bodies := []string{
		``,
		`{}`,
		`{"userIds":["a","b"],"organizationRoleIds":["r"]}`,
		`{"userIds":null,"organizationRoleIds":[]}`,
		`{"USERIDS":["a"],"other":5}`,
		`{"userIds":"a"}`,
		`{"userIds":[1]}`,
		`{"organizationRoleIds":5,"userIds":5}`,
		`{"userIds":5,"organizationRoleIds":5}`,
		`{"userIds":[`,
		`[]`,
		`{} x`,
	}
	for _, body := range bodies {
		var want typed
		wantErr := decodeBody(httptest.NewRequest("POST", "/", strings.NewReader(body)), &want)
		got, err := decodeIDLists(httptest.NewRequest("POST", "/", strings.NewReader(body)), "userIds", "organizationRoleIds")
		if !reflect.DeepEqual(err, wantErr) {
			t.Errorf("%s: error %v, want %v", body, err, wantErr)
			continue
		}
		if err == nil && (!reflect.DeepEqual(got[0], want.UserIDs) || !reflect.DeepEqual(got[1], want.RoleIDs)) {
			t.Errorf("%s: got %v %v, want %v %v", body, got[0], got[1], want.UserIDs, want.RoleIDs)
		}
	}
}
