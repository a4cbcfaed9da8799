package bench

import (
	"net/http"
	"testing"
)

func TestJudgeIntrospection(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   string // Classify(...).String(), "" for success
	}{
		{200, `{"active":true,"client_id":"a","sub":"u"}`, ""},
		{200, ` {"active": true} `, ""},
		{200, `{"active":false}`, "response: introspect: token not active"},
		{200, `{}`, "response: introspect: undecodable response"},
		{200, `{"active":"true"}`, "response: introspect: undecodable response"},
		{200, `{"active":null}`, "response: introspect: undecodable response"},
		{200, `[true]`, "response: introspect: undecodable response"},
		{200, `not json`, "response: introspect: undecodable response"},
		{200, ``, "response: introspect: undecodable response"},
		{200, `{"active":tru`, "response: introspect: undecodable response"},
		{204, ``, "response: introspect: status No Content, want 200"},
		{401, `{"error":"invalid_client","error_description":"nope"}`, "oauth invalid_client (401)"},
		{500, `boom`, "http 500 (introspect)"},
	} {
		err := judgeIntrospection(tc.status, []byte(tc.body))
		got := ""
		if err != nil {
			got = Classify(err).String()
		}
		if got != tc.want {
			t.Errorf("%d %q: got %q, want %q", tc.status, tc.body, got, tc.want)
		}
	}
}

func FuzzParseIntrospection(f *testing.F) {
	f.Add([]byte(`{"active":true}`))
	f.Add([]byte(`{"active":false,"x":[1,2]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = judgeIntrospection(http.StatusOK, body)
	})
}

// A token the OP no longer knows is {"active": false}: one error, then the worker
// signs in again (through its live session) for a fresh token.
func TestIntrospectTokenRevoked(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	_, ws := newScenarioEnv(t, op, "introspect", 2)
	ctx := t.Context()
	for _, w := range ws {
		if err := w.Do(ctx); err != nil {
			t.Fatal(err)
		}
	}
	op.revokeAccessTokens()
	if got := Classify(ws[0].Do(ctx)).String(); got != "response: introspect: token not active" {
		t.Fatalf("revoked token: %s", got)
	}
	if err := ws[0].Do(ctx); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if op.browser.signIns.Load() != 2 {
		t.Errorf("sign-ins %d, want 2 (recovery goes through the live session)", op.browser.signIns.Load())
	}
}
