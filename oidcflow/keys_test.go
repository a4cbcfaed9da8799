package oidcflow

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestKeyRingSignVerify(t *testing.T) {
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
			tok, err := ring.Sign(TypAccessToken, []byte(`{"sub":"x"}`))
			if err != nil {
				t.Fatal(err)
			}
			payload, typ, err := ring.Verify(tok)
			if err != nil || typ != TypAccessToken || string(payload) != `{"sub":"x"}` {
				t.Fatalf("verify: %q %q %v", payload, typ, err)
			}
			var set jose.JSONWebKeySet
			if err := json.Unmarshal(ring.JWKS(), &set); err != nil || len(set.Keys) != 1 {
				t.Fatalf("jwks: %v %d", err, len(set.Keys))
			}
			if !set.Keys[0].IsPublic() || set.Keys[0].KeyID != k.KeyID || set.Keys[0].Algorithm != alg {
				t.Fatalf("jwks key: %+v", set.Keys[0])
			}
			// Tampered payload fails.
			parts := strings.Split(tok, ".")
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"y"}`))
			if _, _, err := ring.Verify(strings.Join(parts, ".")); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered token verified: %v", err)
			}
		})
	}
}

// RFC 8725 3.1: "alg":"none" and an HMAC keyed with the public key must both fail.
func TestKeyRingRefusesAlgorithmConfusion(t *testing.T) {
	k, _ := GenerateSigningKey(AlgRS256, rand.Reader)
	ring, err := NewKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	payload := enc([]byte(`{"sub":"attacker","scope":"all"}`))
	none := enc([]byte(`{"alg":"none","kid":"`+k.KeyID+`","typ":"at+jwt"}`)) + "." + payload + "."
	if _, _, err := ring.Verify(none); err == nil {
		t.Fatal("alg none accepted")
	}
	pubJSON, _ := k.Public().MarshalJSON()
	h := enc([]byte(`{"alg":"HS256","kid":"` + k.KeyID + `","typ":"at+jwt"}`))
	mac := hmac.New(sha256.New, pubJSON)
	mac.Write([]byte(h + "." + payload))
	hs := h + "." + payload + "." + enc(mac.Sum(nil))
	if _, _, err := ring.Verify(hs); err == nil {
		t.Fatal("HS256 with public key accepted")
	}
	// A key of the ring with another alg header must fail too.
	other, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring2, _ := NewKeyRing(other, k)
	tok, _ := ring2.Sign(TypAccessToken, []byte(`{}`))
	parts := strings.Split(tok, ".")
	forged := enc([]byte(`{"alg":"ES256","kid":"`+k.KeyID+`","typ":"at+jwt"}`)) + "." + parts[1] + "." + parts[2]
	if _, _, err := ring2.Verify(forged); err == nil {
		t.Fatal("kid/alg mismatch accepted")
	}
}

func TestKeyRingPublishesOthers(t *testing.T) {
	cur, _ := GenerateSigningKey(AlgES256, rand.Reader)
	prev, _ := GenerateSigningKey(AlgES384, rand.Reader)
	old, _ := NewKeyRing(prev)
	oldTok, _ := old.Sign(TypAccessToken, []byte(`{"a":1}`))
	ring, err := NewKeyRing(cur, prev)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ring.Verify(oldTok); err != nil {
		t.Fatalf("token of the previous key no longer verifies: %v", err)
	}
	var set jose.JSONWebKeySet
	_ = json.Unmarshal(ring.JWKS(), &set)
	if len(set.Keys) != 2 {
		t.Fatalf("jwks has %d keys", len(set.Keys))
	}
	if _, err := NewKeyRing(cur, cur); err == nil {
		t.Fatal("duplicate kid accepted")
	}
	if _, err := NewKeyRing(cur.Public()); err == nil {
		t.Fatal("public current key accepted")
	}
}

func BenchmarkSignAccessToken(b *testing.B) {
	for _, alg := range []string{AlgES256, AlgES384, AlgRS256} {
		b.Run(alg, func(b *testing.B) {
			k, _ := GenerateSigningKey(alg, rand.Reader)
			ring, _ := NewKeyRing(k)
			claims := []byte(`{"jti":"abc","sub":"client","iat":1,"exp":2,"scope":"read write","client_id":"client","iss":"http://localhost:3001/oidc","aud":"https://api.example.com"}`)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := ring.Sign(TypAccessToken, claims); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// Short R or S values (leading zero bytes, about 1 in 128 signatures per component) must
// still be encoded at full width; many signatures make that case certain to occur.
func TestCompactSignerManySignaturesVerify(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgES384} {
		k, _ := GenerateSigningKey(alg, rand.Reader)
		ring, _ := NewKeyRing(k)
		for i := range 600 {
			tok, err := ring.Sign(TypIDToken, []byte(`{"i":`+strings.Repeat("1", i%7+1)+`}`))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ring.Verify(tok); err != nil {
				t.Fatalf("%s signature %d does not verify: %v", alg, i, err)
			}
		}
	}
}

func TestDerToRawRejectsGarbage(t *testing.T) {
	for _, der := range [][]byte{nil, {0x30}, {0x30, 0x03, 0x02, 0x01, 0x01}, {0x02, 0x01, 0x01}} {
		if _, err := derToRaw(der, 32); err == nil {
			t.Fatalf("derToRaw(%x) accepted", der)
		}
	}
}
