package customjwt

import (
	"testing"
)

func TestRun(t *testing.T) {
	tok := map[string]any{"jti": "j", "clientId": "app"}
	tests := []struct {
		name     string
		script   string
		want     map[string]any
		wantKind string
	}{
		{"sync", `function getCustomJwtClaims({token}) { return {a: 1, c: token.clientId}; }`, map[string]any{"a": float64(1), "c": "app"}, ""},
		{"async env", `const getCustomJwtClaims = async ({ environmentVariables }) => { return { ...environmentVariables }; }`, map[string]any{"foo": "bar"}, ""},
		{"awaits", `const getCustomJwtClaims = async () => { const v = await Promise.resolve(2); return {v}; }`, map[string]any{"v": float64(2)}, ""},
		{"deny", `const getCustomJwtClaims = async ({ api }) => { return api.denyAccess('nope'); }`, nil, KindDenied},
		{"deny sync", `function getCustomJwtClaims({ api }) { api.denyAccess('nope'); }`, nil, KindDenied},
		{"deny caught", `function getCustomJwtClaims({ api }) { try { api.denyAccess('x'); } catch (e) {} return {ok: true}; }`, map[string]any{"ok": true}, ""},
		{"throws", `function getCustomJwtClaims() { throw new Error('boom'); }`, nil, KindRuntime},
		{"rejects", `const getCustomJwtClaims = async () => { throw new Error('boom'); }`, nil, KindRuntime},
		{"syntax", `function getCustomJwtClaims( {`, nil, KindSyntax},
		{"missing", `const x = 1;`, nil, KindRuntime},
		{"array", `function getCustomJwtClaims() { return [1]; }`, nil, KindInvalid},
		{"null", `function getCustomJwtClaims() { return null; }`, nil, KindInvalid},
		{"string", `function getCustomJwtClaims() { return "x"; }`, nil, KindInvalid},
		{"loop", `function getCustomJwtClaims() { for (;;) {} }`, nil, KindTimeout},
		{"async loop", `const getCustomJwtClaims = async () => { await null; while (true) {} }`, nil, KindTimeout},
		{"top-level loop", `while (true) {}`, nil, KindTimeout},
		{"recursion", `function f() { return f() + 1; } function getCustomJwtClaims() { return {v: f()}; }`, nil, KindRuntime},
		{"pending", `const getCustomJwtClaims = () => new Promise(() => {});`, nil, KindRuntime},
		{"no require", `function getCustomJwtClaims() { return {t: typeof require + typeof fetch + typeof setTimeout}; }`, map[string]any{"t": "undefinedundefinedundefined"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Runner{}.Run(Input{Script: tt.script, Token: tok, EnvironmentVariables: map[string]string{"foo": "bar"}})
			if tt.wantKind != "" {
				e, ok := err.(*Error)
				if !ok || e.Kind != tt.wantKind {
					t.Fatalf("err = %v, want kind %s", err, tt.wantKind)
				}
				if tt.wantKind == KindDenied && e.Message != "nope" {
					t.Fatalf("message = %q", e.Message)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// benchInput is a typical access-token script with its input.
var benchInput = Input{Script: `const getCustomJwtClaims = async ({ token, context, environmentVariables }) => {
  const roles = (context?.user?.roles ?? []).map((r) => r.name);
  return { roles, tier: environmentVariables?.TIER ?? 'free', user_id: token.accountId };
};`, Token: map[string]any{"accountId": "u1", "scope": "openid"},
	Context:              map[string]any{"user": map[string]any{"id": "u1", "roles": []any{map[string]any{"name": "admin"}}}},
	EnvironmentVariables: map[string]string{"TIER": "pro"}}

// BenchmarkRun is one script run from its text (POST /api/configs/jwt-customizer/test).
func BenchmarkRun(b *testing.B) {
	for b.Loop() {
		if _, err := (Runner{}).Run(benchInput); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunCompiled is one token's run of a stored config (Customizer keeps the
// script compiled).
func BenchmarkRunCompiled(b *testing.B) {
	prog, err := compile(benchInput.Script)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := (Runner{}).runProgram(prog, benchInput); err != nil {
			b.Fatal(err)
		}
	}
}
