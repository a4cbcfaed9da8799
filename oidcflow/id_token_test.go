package oidcflow

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

func TestTokenHash(t *testing.T) {
	tok := "ya29.opaque-access-token"
	s256 := sha256.Sum256([]byte(tok))
	s384 := sha512.Sum384([]byte(tok))
	tests := []struct {
		alg, want string
	}{
		{AlgES256, base64.RawURLEncoding.EncodeToString(s256[:16])},
		{AlgRS256, base64.RawURLEncoding.EncodeToString(s256[:16])},
		{AlgES384, base64.RawURLEncoding.EncodeToString(s384[:24])},
	}
	for _, tt := range tests {
		got, err := TokenHash(tt.alg, tok)
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.alg, got, err, tt.want)
		}
	}
	if _, err := TokenHash("HS256", tok); err == nil {
		t.Error("HS256 accepted")
	}
	// OIDC Core A.3's example: at_hash of "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
	// with RS256 is "77QmUPtjPfzWtF2AnpK9RQ".
	if got, _ := TokenHash(AlgRS256, "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"); got != "77QmUPtjPfzWtF2AnpK9RQ" {
		t.Errorf("OIDC Core A.3 vector: %s", got)
	}
}

// An ID token minted with every key type verifies with go-oidc, whose
// VerifyAccessToken checks at_hash with the token's own algorithm.
func TestMintIDTokenVerifiesWithGoOIDC(t *testing.T) {
	now := time.Now()
	for _, alg := range []string{AlgES256, AlgES384, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			k, err := GenerateSigningKey(alg, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			ring, err := NewKeyRing(k)
			if err != nil {
				t.Fatal(err)
			}
			at := "grant.secret-of-the-access-token"
			tok, err := MintIDToken(IDToken{
				Issuer: "https://id.example/oidc", Subject: "user1", Audience: "app1", Now: now,
				TTL: time.Hour, AuthTime: now.Add(-time.Minute).Unix(), Nonce: "n-0S6_WzA2Mj", SID: "sid1",
				AccessToken: at, Alg: ring.Alg(),
				Claims: map[string]any{"name": "Alice", "sub": "forged", "iss": "forged", "nonce": "forged"},
			}, ring)
			if err != nil {
				t.Fatal(err)
			}
			pub := k.Public()
			ks := &oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{pub.Key}}
			v := oidc.NewVerifier("https://id.example/oidc", ks, &oidc.Config{ClientID: "app1", SupportedSigningAlgs: []string{alg}})
			idt, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatal(err)
			}
			if err := idt.VerifyAccessToken(at); err != nil {
				t.Fatalf("at_hash: %v", err)
			}
			if idt.VerifyAccessToken("other") == nil {
				t.Fatal("at_hash accepted another token")
			}
			var c struct {
				Sub      string `json:"sub"`
				Nonce    string `json:"nonce"`
				SID      string `json:"sid"`
				AuthTime int64  `json:"auth_time"`
				Name     string `json:"name"`
				IAT      int64  `json:"iat"`
				EXP      int64  `json:"exp"`
			}
			if err := idt.Claims(&c); err != nil {
				t.Fatal(err)
			}
			if c.Sub != "user1" || c.Nonce != "n-0S6_WzA2Mj" || c.SID != "sid1" || c.Name != "Alice" ||
				c.AuthTime != now.Add(-time.Minute).Unix() || c.EXP-c.IAT != 3600 {
				t.Fatalf("claims %+v", c)
			}
		})
	}
}

func TestIDTokenClaimsOptional(t *testing.T) {
	b, err := IDTokenClaims(IDToken{Issuer: "i", Subject: "s", Audience: "a", Now: time.Unix(1000, 0), TTL: 10 * time.Second, Alg: AlgES256})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"nonce", "sid", "at_hash", "auth_time"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s present without a value: %s", k, b)
		}
	}
	if m["exp"].(float64) != 1010 || m["iat"].(float64) != 1000 {
		t.Fatalf("%s", b)
	}
	if _, err := IDTokenClaims(IDToken{Issuer: "i", Subject: "s", Audience: "a"}); err == nil {
		t.Fatal("zero TTL accepted")
	}
}

func TestParseIDTokenHint(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	other, _ := GenerateSigningKey(AlgES256, rand.Reader)
	otherRing, _ := NewKeyRing(other)
	past := time.Now().Add(-48 * time.Hour)
	mint := func(r *KeyRing, iss string) string {
		tok, err := MintIDToken(IDToken{Issuer: iss, Subject: "u", Audience: "app", Now: past, TTL: time.Hour, SID: "s1", Alg: AlgES256}, r)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	// Expired two days ago, still a valid hint.
	h, err := ParseIDTokenHint(mint(ring, "https://id.example/oidc"), "https://id.example/oidc", ring)
	if err != nil || h.Subject != "u" || len(h.Audiences) != 1 || h.Audiences[0] != "app" || h.SID != "s1" {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := ParseIDTokenHint(mint(otherRing, "https://id.example/oidc"), "https://id.example/oidc", ring); err == nil {
		t.Fatal("foreign key accepted")
	}
	if _, err := ParseIDTokenHint(mint(ring, "https://elsewhere/oidc"), "https://id.example/oidc", ring); err == nil {
		t.Fatal("foreign issuer accepted")
	}
	at, _ := ring.Sign(TypAccessToken, []byte(`{"iss":"https://id.example/oidc","sub":"u","aud":"app"}`))
	if _, err := ParseIDTokenHint(at, "https://id.example/oidc", ring); err == nil {
		t.Fatal("access token accepted as an ID token hint")
	}
	if _, err := ParseIDTokenHint("garbage", "https://id.example/oidc", ring); err == nil {
		t.Fatal("garbage accepted")
	}
}
