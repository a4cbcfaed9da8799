package httpapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// identitiesToken mints the env user's opaque access token with the identities scope
// (the Account API's MFA routes need it).
func (e *ltEnv) identitiesToken() string {
	e.tb.Helper()
	scopes := []string{"openid", "profile", "identities"}
	grantID, err := op.RandomID(e.s.rand)
	if err != nil {
		e.tb.Fatal(err)
	}
	if _, err := e.ac.EnsureGrant(e.tb.Context(), grantID, &msg.GrantEnsure{
		AccountId: e.user.ID, ClientId: e.spa.ID, Scopes: scopes, Sid: "sid-mfa",
	}); err != nil {
		e.tb.Fatal(err)
	}
	_, secret, err := actors.NewToken(rand.Reader)
	if err != nil {
		e.tb.Fatal(err)
	}
	const redirect = "http://127.0.0.1:9/cb"
	if err := e.ac.IssueCode(e.tb.Context(), grantID, &msg.CodeRecord{
		Hash: actors.HashSecret(secret), RedirectUri: redirect, Scopes: scopes, Sid: "sid-mfa",
	}); err != nil {
		e.tb.Fatal(err)
	}
	got, err := actors.NewTokens(e.ac).ExchangeCode(e.tb.Context(), op.CodeExchange{
		Code: grantID + "." + secret, ClientID: e.spa.ID, RedirectURI: redirect,
	})
	if err != nil || got.AccessToken.Token == "" {
		e.tb.Fatalf("exchange: %+v, %v", got, err)
	}
	return got.AccessToken.Token
}

// callJSON is one real HTTP call to srv: status and the JSON body decoded into out.
func callJSON(t *testing.T, srv *httptest.Server, tok, vid, method, path string, body, out any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if vid != "" {
		req.Header.Set(headerVerificationID, vid)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %s", method, path, raw)
		}
	}
	return resp.StatusCode, m
}

// A user binds a security key through the Account API: registration options, the
// authenticator's answer verified against the record, then the binding with a
// verification record of their password. The registration record is not a proof of
// identity, is spent by the binding, and a credential made for another origin is
// refused. The key's name can be changed.
func TestAccountMfaWebAuthn(t *testing.T) {
	e := newAccountEnv(t)
	setMfa(t, e.dir, "UserControlled", "Totp", "WebAuthn", "BackupCode")
	e.setFields(map[string]string{"mfa": "Edit"})
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	tok := e.identitiesToken()
	must := func(vid, method, path string, body any, want int, wantCode string, out any) {
		t.Helper()
		st, m := callJSON(t, srv, tok, vid, method, path, body, out)
		if st != want || (wantCode != "" && m["code"] != wantCode) {
			t.Fatalf("%s %s = %d %v, want %d %s", method, path, st, m, want, wantCode)
		}
	}
	var reg struct {
		VerificationRecordID string
		ExpiresAt            string
		RegistrationOptions  struct {
			Challenge string `json:"challenge"`
			RP        struct {
				ID string `json:"id"`
			} `json:"rp"`
		}
	}
	must("", "POST", "/api/verifications/web-authn/registration", nil, 200, "", &reg)
	if reg.VerificationRecordID == "" || reg.RegistrationOptions.RP.ID != "localhost" || reg.RegistrationOptions.Challenge == "" {
		t.Fatalf("registration = %+v", reg)
	}
	if exp, err := time.Parse(time.RFC3339Nano, reg.ExpiresAt); err != nil || !exp.After(e.clock.Now()) {
		t.Fatalf("expiresAt %q", reg.ExpiresAt)
	}
	auth := newSoftAuthenticator(t, "localhost", "http://localhost:3001")
	bind := map[string]any{"type": "WebAuthn", "newIdentifierVerificationRecordId": reg.VerificationRecordID, "name": "YubiKey"}
	vid := e.record(tok)

	// Not proven yet: nothing to bind; a pending record is no identity proof either.
	must(vid, "POST", "/api/my-account/mfa-verifications", bind, 400, "verification_record.not_found", nil)
	must(reg.VerificationRecordID, "POST", "/api/my-account/mfa-verifications", bind, 401, "verification_record.permission_denied", nil)
	// Another origin's credential, an unknown record.
	evil := newSoftAuthenticator(t, "localhost", "http://evil.example")
	must("", "POST", "/api/verifications/web-authn/registration/verify",
		map[string]any{"verificationRecordId": reg.VerificationRecordID, "payload": evil.create(reg.RegistrationOptions.Challenge)},
		400, "session.mfa.webauthn_verification_failed", nil)
	must("", "POST", "/api/verifications/web-authn/registration/verify",
		map[string]any{"verificationRecordId": "nope", "payload": auth.create(reg.RegistrationOptions.Challenge)},
		400, "verification_record.not_found", nil)
	must("", "POST", "/api/verifications/web-authn/registration/verify",
		map[string]any{"verificationRecordId": reg.VerificationRecordID, "payload": auth.create(reg.RegistrationOptions.Challenge)}, 200, "", nil)

	// A proven registration record is still no proof of the user's identity.
	must(reg.VerificationRecordID, "POST", "/api/my-account/mfa-verifications", bind, 401, "verification_record.permission_denied", nil)
	must("", "POST", "/api/my-account/mfa-verifications", bind, 401, "verification_record.permission_denied", nil)
	must(vid, "POST", "/api/my-account/mfa-verifications", bind, 204, "", nil)
	// Spent.
	must(vid, "POST", "/api/my-account/mfa-verifications", bind, 400, "verification_record.not_found", nil)

	u, _ := e.dir.User(e.user.ID)
	if len(u.MfaVerifications) != 1 || u.MfaVerifications[0].Type != directory.MfaWebAuthn ||
		u.MfaVerifications[0].Name != "YubiKey" || u.MfaVerifications[0].CredentialID != b64.EncodeToString(auth.credID) {
		t.Fatalf("factors = %+v", u.MfaVerifications)
	}
	id := u.MfaVerifications[0].ID
	must("", "PATCH", "/api/my-account/mfa-verifications/"+id+"/name", map[string]any{"name": "Blue key"}, 401, "verification_record.permission_denied", nil)
	must(vid, "PATCH", "/api/my-account/mfa-verifications/unknown/name", map[string]any{"name": "Blue key"}, 400, "verification_record.not_found", nil)
	must(vid, "PATCH", "/api/my-account/mfa-verifications/"+id+"/name", map[string]any{"name": "Blue key"}, 200, "", nil)
	var list []userMfaJSON
	must("", "GET", "/api/my-account/mfa-verifications", nil, 200, "", &list)
	if len(list) != 1 || list[0].Name != "Blue key" {
		t.Fatalf("mfa-verifications = %+v", list)
	}
	// Without the identities scope (openid offline_access profile): refused.
	if st, m := callJSON(t, srv, e.issue(e.spa).opaque, vid, "POST", "/api/my-account/mfa-verifications",
		map[string]any{"type": "Totp", "secret": "JBSWY3DPEHPK3PXPJBSWY3DP"}, nil); st != 401 || m["code"] != "auth.unauthorized" {
		t.Fatalf("bind without identities = %d %v", st, m)
	}
	e.setFields(map[string]string{"mfa": "ReadOnly"})
	must(vid, "PATCH", "/api/my-account/mfa-verifications/"+id+"/name", map[string]any{"name": "x"}, 400, "account_center.field_not_editable", nil)
}
