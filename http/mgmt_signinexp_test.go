package httpapi

import (
	"context"
	"crypto/sha1" //nolint:gosec // HIBP's range API
	"encoding/hex"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// newSignInExpEnv is newMgmtEnv with the public well-known route too.
func newSignInExpEnv(t *testing.T) *mgmtEnv {
	t.Helper()
	e := newMgmtEnv(t)
	e.h.(*httprouter.Router).GET(pathWellKnownSignInExp, e.s.public(e.s.wellKnownSignInExp))
	return e
}

func TestSignInExpDefaults(t *testing.T) {
	e := newSignInExpEnv(t)
	got := e.call("GET", "/api/sign-in-exp", nil, http.StatusOK)
	want := map[string]string{
		"id":             `"default"`,
		"signInMode":     `"SignInAndRegister"`,
		"signUp":         `{"identifiers":["username"],"password":true,"verify":false}`,
		"signIn":         `{"methods":[{"identifier":"username","isPasswordPrimary":true,"password":true,"verificationCode":false}]}`,
		"passwordPolicy": `{}`,
		"mfa":            `{"factors":[],"policy":"UserControlled"}`,
		"color":          `{"darkPrimaryColor":"#8768F8","isDarkModeEnabled":false,"primaryColor":"#6139F6"}`,
		"languageInfo":   `{"autoDetect":true,"fallbackLanguage":"en"}`,
		"termsOfUseUrl":  `null`,
	}
	for k, v := range want {
		if b, _ := json.Marshal(got[k]); string(b) != v {
			t.Errorf("%s = %s, want %s", k, b, v)
		}
	}
}

func TestSignInExpPatchRoundTrip(t *testing.T) {
	e := newSignInExpEnv(t)
	patch := map[string]any{
		"passwordPolicy": map[string]any{"length": map[string]any{"min": 10, "max": 64}, "rejects": map[string]any{"words": []string{"latch"}}},
		"mfa":            map[string]any{"factors": []string{"Totp", "BackupCode"}, "policy": "PromptAtSignInAndSignUp"},
		"branding":       map[string]any{"logoUrl": "https://example.com/logo.png"},
		"termsOfUseUrl":  "https://example.com/terms",
		"signUp":         map[string]any{"identifiers": []string{"email"}, "password": true, "verify": true},
		"signIn": map[string]any{"methods": []any{
			map[string]any{"identifier": "email", "password": true, "verificationCode": true, "isPasswordPrimary": true},
			map[string]any{"identifier": "username", "password": true, "verificationCode": false, "isPasswordPrimary": true},
		}},
		"someFutureFeature": map[string]any{"enabled": true}, // unknown to Latch: kept
		"id":                "other",                         // ignored, as Logto's guard omits it
	}
	got := e.call("PATCH", "/api/sign-in-exp", patch, http.StatusOK)
	again := e.call("GET", "/api/sign-in-exp", nil, http.StatusOK)
	for _, m := range []map[string]any{got, again} {
		for _, k := range []string{"passwordPolicy", "mfa", "branding", "termsOfUseUrl", "signUp", "signIn", "someFutureFeature"} {
			wb, _ := json.Marshal(patch[k])
			var w any
			_ = json.Unmarshal(wb, &w)
			if !reflect.DeepEqual(m[k], w) {
				t.Errorf("%s = %v, want %v", k, m[k], w)
			}
		}
		if m["id"] != "default" || m["signInMode"] != "SignInAndRegister" {
			t.Errorf("untouched fields changed: id %v signInMode %v", m["id"], m["signInMode"])
		}
	}
	if p := e.dir.SignInExperience().PasswordPolicy(); p.Length.Min != 10 || p.Length.Max != 64 || !p.Rejects.Pwned || len(p.Rejects.Words) != 1 {
		t.Errorf("policy with defaults = %+v", p)
	}
}

func TestSignInExpPatchValidation(t *testing.T) {
	method := func(id string, pw, code bool) map[string]any {
		return map[string]any{"identifier": id, "password": pw, "verificationCode": code, "isPasswordPrimary": true}
	}
	tests := []struct {
		name  string
		patch map[string]any
		code  string
	}{
		{"email sign-up without verify", map[string]any{"signUp": map[string]any{"identifiers": []string{"email"}, "password": true, "verify": false}},
			"sign_in_experiences.passwordless_requires_verify"},
		{"duplicate sign-up identifiers", map[string]any{"signUp": map[string]any{"identifiers": []string{"username", "username"}, "password": true}},
			"sign_in_experiences.duplicated_sign_up_identifiers"},
		{"no factor", map[string]any{"signIn": map[string]any{"methods": []any{method("username", false, false)}}},
			"sign_in_experiences.at_least_one_authentication_factor"},
		{"passwordless sign-up needs code sign-in", map[string]any{
			"signUp": map[string]any{"identifiers": []string{"email"}, "password": false, "verify": true},
			"signIn": map[string]any{"methods": []any{method("email", true, false)}}},
			"sign_in_experiences.code_sign_in_must_be_enabled"},
		{"email code for sign-in and MFA", map[string]any{
			"signIn": map[string]any{"methods": []any{method("email", false, true)}},
			"mfa":    map[string]any{"factors": []string{"EmailVerificationCode"}, "policy": "UserControlled"}},
			"sign_in_experiences.email_verification_code_cannot_be_used_for_sign_in"},
		{"backup code alone", map[string]any{"mfa": map[string]any{"factors": []string{"BackupCode"}, "policy": "UserControlled"}},
			"sign_in_experiences.backup_code_cannot_be_enabled_alone"},
		{"duplicate MFA factors", map[string]any{"mfa": map[string]any{"factors": []string{"Totp", "Totp"}, "policy": "UserControlled"}},
			"sign_in_experiences.duplicated_mfa_factors"},
		{"unknown MFA policy", map[string]any{"mfa": map[string]any{"factors": []string{}, "policy": "Sometimes"}}, "guard.invalid_input"},
		{"unknown identifier", map[string]any{"signUp": map[string]any{"identifiers": []string{"nickname"}}}, "guard.invalid_input"},
		{"terms not a URL", map[string]any{"termsOfUseUrl": "not a url"}, "guard.invalid_input"},
		{"character types out of range", map[string]any{"passwordPolicy": map[string]any{"characterTypes": map[string]any{"min": 5}}}, "guard.invalid_input"},
		{"sign-in mode", map[string]any{"signInMode": "Sometimes"}, "guard.invalid_input"},
		{"signUp null", map[string]any{"signUp": nil}, "guard.invalid_input"},
	}
	e := newSignInExpEnv(t)
	before := e.do("GET", "/api/sign-in-exp", nil).Body.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.wantError("PATCH", "/api/sign-in-exp", tt.patch, http.StatusBadRequest, tt.code)
		})
	}
	e.t = t
	if after := e.do("GET", "/api/sign-in-exp", nil).Body.String(); after != before {
		t.Errorf("a refused PATCH changed the settings:\n%s\n%s", before, after)
	}
	// Clearing the terms with "" is allowed, as Logto's guard allows it.
	e.call("PATCH", "/api/sign-in-exp", map[string]any{"termsOfUseUrl": ""}, http.StatusOK)
}

func TestSignInExpWellKnown(t *testing.T) {
	e := newSignInExpEnv(t)
	e.call("PATCH", "/api/sign-in-exp", map[string]any{"privacyPolicyUrl": "https://example.com/privacy"}, http.StatusOK)
	got := e.call("GET", "/api/.well-known/sign-in-exp", nil, http.StatusOK)
	if got["privacyPolicyUrl"] != "https://example.com/privacy" {
		t.Errorf("privacyPolicyUrl = %v", got["privacyPolicyUrl"])
	}
	for _, k := range []string{"signIn", "signUp", "passwordPolicy", "mfa", "color", "branding", "socialConnectors", "ssoConnectors", "forgotPassword", "isDevelopmentTenant"} {
		if _, ok := got[k]; !ok {
			t.Errorf("well-known sign-in experience lacks %s", k)
		}
	}
	for _, k := range []string{"emailBlocklistPolicy", "forgotPasswordMethods"} {
		if _, ok := got[k]; ok {
			t.Errorf("well-known sign-in experience exposes %s", k)
		}
	}
	if b, _ := json.Marshal(got["forgotPassword"]); string(b) != `{"email":false,"phone":false}` {
		t.Errorf("forgotPassword = %s", b)
	}
}

// fakeHIBP answers the range API for the passwords it holds and records the prefixes
// it was asked for.
type fakeHIBP struct {
	breached []string
	asked    []string
}

func (f *fakeHIBP) get(_ context.Context, url string) ([]byte, error) {
	prefix := url[strings.LastIndex(url, "/")+1:]
	f.asked = append(f.asked, prefix)
	var b strings.Builder
	b.WriteString("0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n")
	for _, pw := range f.breached {
		sum := sha1.Sum([]byte(pw)) //nolint:gosec
		h := strings.ToUpper(hex.EncodeToString(sum[:]))
		if h[:5] == prefix {
			b.WriteString(h[5:] + ":42\r\n")
		}
	}
	return []byte(b.String()), nil
}

func TestSignInExpCheckPassword(t *testing.T) {
	e := newSignInExpEnv(t)
	hibp := &fakeHIBP{breached: []string{"Correct-Horse9"}}
	e.s.breach = directory.HIBP{Get: hibp.get}
	e.call("PATCH", "/api/sign-in-exp", map[string]any{"passwordPolicy": map[string]any{
		"length": map[string]any{"min": 8, "max": 20}, "characterTypes": map[string]any{"min": 3},
		"rejects": map[string]any{"words": []string{"latch"}},
	}}, http.StatusOK)
	name := "Ada Lovelace"
	u, err := e.dir.CreateUser(t.Context(), directory.NewUser{Username: ptr("carolina"), Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		password string
		want     []string // issue codes; nil: accepted
	}{
		{"Zebra!Mint4Sky", nil},
		{"Ab1!", []string{"password_rejected.too_short"}},
		{"Abcdefgh1!Abcdefgh1!x", []string{"password_rejected.too_long"}},
		{"zebramintsky", []string{"password_rejected.character_types"}},
		{"Zebra Mint4Sky", []string{"password_rejected.unsupported_characters"}},
		{"Qwerty123", []string{"password_rejected.pwned", "password_rejected.restricted.sequence"}}, // bundled list
		{"Correct-Horse9", []string{"password_rejected.pwned"}},                                     // HIBP (fake)
		{"aaaaaaaA1!", []string{"password_rejected.restricted.repetition"}},
		{"abcdefgH1!", []string{"password_rejected.restricted.sequence"}},
		{"Carolina9!", []string{"password_rejected.restricted.user_info"}},
		{"Lovelace9!", []string{"password_rejected.restricted.user_info"}},
		{"LatchLatch1!", []string{"password_rejected.restricted.words"}},
	}
	for _, tt := range tests {
		t.Run(tt.password, func(t *testing.T) {
			e.t = t
			w := e.do("POST", "/api/sign-in-exp/default/check-password", map[string]any{"password": tt.password, "userId": u.ID})
			var body struct {
				Result bool                      `json:"result"`
				Issues []directory.PasswordIssue `json:"issues"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			var codes []string
			for _, is := range body.Issues {
				codes = append(codes, is.Code)
			}
			wantStatus := http.StatusOK
			if tt.want != nil {
				wantStatus = http.StatusBadRequest
			}
			if w.Code != wantStatus || body.Result != (tt.want == nil) || !reflect.DeepEqual(codes, tt.want) {
				t.Errorf("%d %s, want %d %v", w.Code, w.Body, wantStatus, tt.want)
			}
		})
	}
	e.t = t
	// The interpolation carries the policy's bound, as Logto's.
	w := e.do("POST", "/api/sign-in-exp/default/check-password", map[string]any{"password": "zebramintsky", "userId": u.ID})
	if !strings.Contains(w.Body.String(), `"interpolation":{"min":3}`) {
		t.Errorf("character_types issue = %s", w.Body)
	}
	// Only a 5-hex-digit prefix of the SHA-1 ever leaves the node.
	for _, p := range hibp.asked {
		if len(p) != 5 {
			t.Errorf("HIBP asked for %q", p)
		}
	}
	if len(hibp.asked) == 0 {
		t.Error("HIBP never asked")
	}
	// Without a user and with user information rejected: Logto's invalid input.
	e.wantError("POST", "/api/sign-in-exp/default/check-password", map[string]any{"password": "Zebra!Mint4Sky"}, http.StatusBadRequest, "request.invalid_input")
	e.wantError("POST", "/api/sign-in-exp/default/check-password", map[string]any{"password": "Zebra!Mint4Sky", "userId": "nobody"}, http.StatusNotFound, "entity.not_found")
	// With user information not rejected, no user is needed.
	e.call("PATCH", "/api/sign-in-exp", map[string]any{"passwordPolicy": map[string]any{"rejects": map[string]any{"userInfo": false}}}, http.StatusOK)
	e.call("POST", "/api/sign-in-exp/default/check-password", map[string]any{"password": "Zebra!Mint4Sky"}, http.StatusOK)
}

func ptr[T any](v T) *T { return &v }

// TestSignInExpEnforcedAtRegistration: the Experience API applies the settings'
// policy (not fixed bounds) when a password is set at sign-up, with Logto's
// password.rejected and the issues as data, the staged username as user info.
func TestSignInExpEnforcedAtRegistration(t *testing.T) {
	e := newExpEnv(t)
	if _, err := e.dir.UpdateSignInExperience(t.Context(), map[string]json.RawMessage{
		"passwordPolicy": json.RawMessage(`{"length":{"min":12},"characterTypes":{"min":2}}`),
	}, nil); err != nil {
		t.Fatal(err)
	}
	e.start("Register")
	profile := "/api/experience/profile"
	e.must("POST", profile, map[string]string{"type": "username", "value": "marguerite"}, http.StatusNoContent, nil)
	for pw, code := range map[string]string{
		"Zebra-Mint4":    "password_rejected.too_short", // 11 < 12
		"zebramintskyzz": "password_rejected.character_types",
		"Marguerite12":   "password_rejected.restricted.user_info",
		"Password123":    "password_rejected.pwned",
	} {
		rej := e.wantError("POST", profile, map[string]string{"type": "password", "value": pw}, http.StatusUnprocessableEntity, "password.rejected")
		if b, _ := json.Marshal(rej.Data); !strings.Contains(string(b), `"`+code+`"`) {
			t.Errorf("%s: data = %s, want %s", pw, b, code)
		}
	}
	e.must("POST", profile, map[string]string{"type": "password", "value": "Zebra-Mint4-Sky"}, http.StatusNoContent, nil)
}
