package bench

import (
	"encoding/json"
	"net/http"
	"strings"
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
		{200, `{"active":true,"active":false}`, "response: introspect: token not active"}, // the last wins
		{200, `{"active":true,"ACTIVE":false}`, "response: introspect: token not active"},
		{200, `{"active":true,"\u0061ctive":false}`, "response: introspect: token not active"},
		{200, `{"active":true,"x":"\"active\""}`, ""},
		{200, `{"active":trueish}`, "response: introspect: undecodable response"},
		{200, `{"active":true,"sub":"u"`, "response: introspect: undecodable response"},
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
	f.Add([]byte(`{"active":true,"x":{"active":false}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = judgeIntrospection(http.StatusOK, body)
		// The fast path never disagrees with a full decode of valid JSON.
		if json.Valid(body) {
			var v struct {
				Active *bool `json:"active"`
			}
			active, ok := parseIntrospection(body)
			err := json.Unmarshal(body, &v)
			wantOK := err == nil && v.Active != nil
			if ok != wantOK || (ok && active != *v.Active) {
				t.Fatalf("parseIntrospection(%s) = %v, %v; encoding/json says %v, %v", body, active, ok, v.Active, err)
			}
		}
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

func TestKindOfAccessToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		token string
		want  accessTokenKind
	}{
		{fakeJWT(), tokenJWT},
		// RFC 7515 A.3.1 (ES256), shortened signature.
		{"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODB9.DtEhU3ljbEg8L38VWAfUAqOyKAM6", tokenJWT},
		{"a.b.c", tokenJWT},
		{"grant_1.s3cr3t", tokenOpaque}, // Latch's opaque "<grant id>.<secret>"
		{"at-ABCDEF", tokenOpaque},
		{"", tokenOpaque},
		{"..", tokenOpaque},
		{"a..c", tokenOpaque},
		{"a.b.c.d", tokenOpaque},
		{"a.b=.c", tokenOpaque}, // padding: not base64url as JWS uses it
		{"a.b+/.c", tokenOpaque},
		{"a.b c.d", tokenOpaque},
	} {
		if got := kindOfAccessToken(tc.token); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.token, got, tc.want)
		}
	}
}

// An OP that ignores the resource and answers with an opaque token fails
// introspect-jwt's setup with the reason, instead of measuring the wrong thing, and
// setup deletes what it created.
func TestIntrospectJWTGotOpaqueToken(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	op.browser.ignoreResource.Store(true)
	code, stdout, stderr := runCommand(t, append(adminArgs(op), "--concurrency", "2", "--requests", "5", "introspect-jwt")...)
	if code != ExitFailed || stdout != "" || !strings.Contains(stderr, "response: token: opaque access token, want jwt") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if op.browser.introspections.Load() != 0 {
		t.Errorf("%d introspections of a token of the wrong kind", op.browser.introspections.Load())
	}
	if left := op.leftovers(); len(left) != 0 {
		t.Errorf("a failed setup left %v", left)
	}
}

// introspect-jwt against another OP would ask for --resource: without it, setup stops
// before any request, saying so.
func TestIntrospectJWTNeedsResource(t *testing.T) {
	t.Parallel()
	op := newFakeOP(t)
	code, stdout, stderr := runCommand(t, "--target", "generic", "--issuer", op.issuer(),
		"--client-id", "c", "--client-secret", "s", "--requests", "5", "introspect-jwt")
	if code != ExitFailed || stdout != "" || !strings.Contains(stderr, "introspect-jwt: --target generic needs --resource") {
		t.Errorf("exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if op.tokens.Load() != 0 || len(op.leftovers()) != 0 {
		t.Errorf("setup went on: %d token requests, created %v", op.tokens.Load(), op.leftovers())
	}
}
