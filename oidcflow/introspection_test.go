package oidcflow

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

func TestVerifyAccessToken(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	other, _ := GenerateSigningKey(AlgES256, rand.Reader)
	otherRing, _ := NewKeyRing(other)
	now := time.Unix(1_700_000_000, 0)
	const iss = "https://id.example/oidc"
	sign := func(r *KeyRing, typ string, c AccessTokenClaims) string {
		b, _ := json.Marshal(c)
		tok, err := r.Sign(typ, b)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := AccessTokenClaims{JTI: "j", Sub: "u1", IAT: now.Unix(), EXP: now.Unix() + 60, ClientID: "app", Iss: iss, Aud: "https://api", GrantID: "g1"}
	with := func(f func(*AccessTokenClaims)) AccessTokenClaims { c := good; f(&c); return c }
	user, _, err := IssueUserAccessToken(UserAccessToken{Issuer: iss, ClientID: "app", Subject: "u1", Resource: "https://api",
		GrantID: "g1", JTI: "j", Now: now, TTL: time.Minute}, ring)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"user access token", user, true},
		{"signed claims", sign(ring, TypAccessToken, good), true},
		{"another key", sign(otherRing, TypAccessToken, good), false},
		{"ID token typ", sign(ring, TypIDToken, good), false},
		{"logout token typ", sign(ring, TypLogoutToken, good), false},
		{"other issuer", sign(ring, TypAccessToken, with(func(c *AccessTokenClaims) { c.Iss = "https://evil/oidc" })), false},
		{"expired", sign(ring, TypAccessToken, with(func(c *AccessTokenClaims) { c.EXP = now.Unix() })), false},
		{"no client_id", sign(ring, TypAccessToken, with(func(c *AccessTokenClaims) { c.ClientID = "" })), false},
		{"no sub", sign(ring, TypAccessToken, with(func(c *AccessTokenClaims) { c.Sub = "" })), false},
		{"tampered payload", strings.Replace(user, ".", ".e30", 1), false},
		{"alg none", "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0.e30.", false},
		{"garbage", "a.b.c", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		c, err := VerifyAccessToken(ring, tt.token, iss, now)
		switch {
		case tt.ok && (err != nil || c.Sub != "u1" || c.ClientID != "app" || c.GrantID != "g1" || c.Aud != "https://api"):
			t.Errorf("%s: %+v, %v", tt.name, c, err)
		case !tt.ok && !errors.Is(err, oauth.InvalidToken("")):
			t.Errorf("%s: %+v, %v; want invalid_token", tt.name, c, err)
		}
	}
}

// FuzzVerifyAccessToken: arbitrary input never panics and never verifies.
func FuzzVerifyAccessToken(f *testing.F) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	tok, _, _ := IssueUserAccessToken(UserAccessToken{Issuer: "i", ClientID: "c", Subject: "s", TTL: time.Hour, Now: time.Now()}, ring)
	for _, s := range []string{tok, "a.b.c", "..", "eyJhbGciOiJub25lIn0.e30.", tok[:len(tok)-3]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == tok {
			return
		}
		if _, err := VerifyAccessToken(ring, s, "i", time.Now()); err == nil {
			t.Fatalf("%q verified", s)
		}
	})
}

func TestHintsRefreshToken(t *testing.T) {
	for hint, want := range map[string]bool{
		"refresh_token": true, "urn:ietf:params:oauth:token-type:refresh_token": true,
		"access_token": false, "urn:ietf:params:oauth:token-type:access_token": false, "": false, "REFRESH_TOKEN": false, "bogus": false,
	} {
		if got := HintsRefreshToken(hint); got != want {
			t.Errorf("HintsRefreshToken(%q) = %v", hint, got)
		}
	}
}

// An inactive response is {"active":false} and nothing else (RFC 7662 2.2).
func TestIntrospectionInactiveShape(t *testing.T) {
	b, _ := json.Marshal(Introspection{})
	if string(b) != `{"active":false}` {
		t.Fatalf("inactive = %s", b)
	}
}

// RFC 8414 2 / RFC 7662 / RFC 7009 metadata: both endpoints with the token endpoint's
// client authentication methods.
func TestDiscoveryIntrospectionRevocation(t *testing.T) {
	d := NewDiscovery("https://id.example/oidc", []string{AlgES384})
	if d.IntrospectionEndpoint != "https://id.example/oidc/token/introspection" ||
		d.RevocationEndpoint != "https://id.example/oidc/token/revocation" {
		t.Fatalf("endpoints %q %q", d.IntrospectionEndpoint, d.RevocationEndpoint)
	}
	want := []string{"client_secret_basic", "client_secret_post", "none"}
	if !slices.Equal(d.IntrospectionAuthMethodsSupported, want) || !slices.Equal(d.RevocationAuthMethodsSupported, want) ||
		!slices.Equal(d.TokenEndpointAuthMethodsSupported, want) {
		t.Fatalf("auth methods %v %v %v", d.IntrospectionAuthMethodsSupported, d.RevocationAuthMethodsSupported, d.TokenEndpointAuthMethodsSupported)
	}
	b, _ := json.Marshal(d)
	for _, k := range []string{`"introspection_endpoint_auth_methods_supported"`, `"revocation_endpoint_auth_methods_supported"`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("discovery lacks %s", k)
		}
	}
}

// User access tokens name their grant (gid); client-credentials tokens carry none.
func TestAccessTokenGrantClaim(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	now := time.Now()
	user, _, _ := IssueUserAccessToken(UserAccessToken{Issuer: "i", ClientID: "c", Subject: "u", GrantID: "g-1", TTL: time.Hour, Now: now}, ring)
	cc, _ := IssueClientCredentials(ClientCredentialsGrant{Issuer: "i", ClientID: "m", TTL: time.Hour, Now: now,
		Request: ClientCredentialsRequest{Resource: "https://api"}}, ring)
	for _, tt := range []struct {
		tok, want string
	}{{user, "g-1"}, {cc.AccessToken, ""}} {
		payload, _, err := ring.Verify(tt.tok)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		_ = json.Unmarshal(payload, &m)
		if got, _ := m["gid"].(string); got != tt.want || (tt.want == "" && m["gid"] != nil) {
			t.Errorf("gid = %v, want %q", m["gid"], tt.want)
		}
	}
}
