package audit_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/latchid/latch/audit"
)

// FuzzAppendLog: the Writer's own JSON of a log decodes to what json.Marshal's does,
// whatever its strings hold (quotes, control characters, invalid UTF-8, HTML).
func FuzzAppendLog(f *testing.F) {
	f.Add("ab-0", "ExchangeTokenBy.RefreshToken", "127.0.0.1", "Go-http-client/1.1", "u1", "openid", "", "", 0, int64(1700000000000))
	f.Add("x\"y", "k\\", "<script>&", "\x00\x1f\u2028", "\xff\xfe", "é€😀", "invalid_grant", "POST", 201, int64(-1))
	f.Fuzz(func(t *testing.T, id, key, ip, ua, user, scope, code, method string, status int, created int64) {
		for _, l := range []audit.Log{
			{ID: id, Key: key, CreatedAt: created, Payload: audit.Payload{Key: key, Result: audit.Success, IP: ip, UserAgent: ua,
				UserID: user, ApplicationID: scope, Scope: scope, Params: &audit.Params{GrantType: method}, TokenTypes: []string{ua, "IdToken"}}},
			{ID: id, Key: key, CreatedAt: created, Payload: audit.Payload{Key: key, Result: audit.Error, Error: &audit.ErrorInfo{Code: code, Message: ua},
				SessionID: id, InteractionEvent: scope, Identifier: &audit.Identifier{Type: code, Value: user}, VerificationID: ip,
				Method: method, Path: ua, Status: status, HookID: code}},
			{ID: id, Key: key, CreatedAt: created, Payload: audit.Payload{Key: key, HookID: user,
				HookRequest: &audit.HookRequest{Body: json.RawMessage(`{"a":1}`)}, Response: &audit.HookResponse{StatusCode: status, Body: json.RawMessage(`"x"`)}}},
		} {
			mine, err := audit.AppendLog(nil, &l)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := json.Marshal(l)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			if err := json.Unmarshal(mine, &a); err != nil {
				t.Fatalf("%s: %v", mine, err)
			}
			if err := json.Unmarshal(theirs, &b); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("appendLog %s\njson.Marshal %s", mine, theirs)
			}
		}
	})
}
