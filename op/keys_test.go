package op

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

func testNow() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// kidOf reads the kid and alg of a compact JWS.
func kidOf(t *testing.T, tok string) (kid, alg string) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.ES256, jose.ES384, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	h := jws.Signatures[0].Protected
	return h.KeyID, h.Algorithm
}

// A rotation written to the directory is followed without a restart: a token signed
// before it still verifies (its key is Previous), new tokens carry the new kid, and
// the JWKS publishes both.
func TestDirectoryKeysFollowRotation(t *testing.T) {
	ctx := t.Context()
	dir, _ := newTestDirectory(t, testNow)
	if err := EnsureSigningKey(ctx, dir, oidcflow.AlgES256, nil); err != nil {
		t.Fatal(err)
	}
	keys := NewDirectoryKeys(dir, nil)
	before, err := keys.Sign(oidcflow.TypAccessToken, []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	oldKid, _ := kidOf(t, before)
	if cur, _ := dir.CurrentSigningKey(); cur.ID != oldKid {
		t.Fatalf("signed with %s, Current is %s", oldKid, cur.ID)
	}
	if keys.current() != keys.current() {
		t.Fatal("the ring is rebuilt without a key write")
	}

	// A rotation to another algorithm, as POST /api/configs/oidc/private-keys/rotate does.
	sk, err := RotateSigningKey(ctx, dir, oidcflow.AlgRS256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	after, err := keys.Sign(oidcflow.TypAccessToken, []byte(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if kid, alg := kidOf(t, after); kid != sk.ID || kid == oldKid || alg != oidcflow.AlgRS256 {
		t.Fatalf("after rotation: kid %s alg %s, want kid %s RS256", kid, alg, sk.ID)
	}
	for _, tok := range []string{before, after} {
		if _, typ, err := keys.Verify(tok); err != nil || typ != oidcflow.TypAccessToken {
			t.Fatalf("verify %s...: %v", tok[:20], err)
		}
	}
	if keys.Alg() != oidcflow.AlgRS256 || !strings.Contains(strings.Join(keys.Algs(), ","), oidcflow.AlgES256) {
		t.Fatalf("Alg %s, Algs %v", keys.Alg(), keys.Algs())
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(keys.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Key(oldKid)) != 1 || len(set.Key(sk.ID)) != 1 || len(set.Keys) != 2 {
		t.Fatalf("JWKS %s", keys.JWKS())
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatal("JWKS publishes a private key")
		}
	}
}

// With no Current key (a node that has not caught up), signing is a 503
// temporarily_unavailable, not a server_error, and nothing verifies.
func TestDirectoryKeysNoKey(t *testing.T) {
	dir, _ := newTestDirectory(t, testNow)
	keys := NewDirectoryKeys(dir, nil)
	_, err := keys.Sign(oidcflow.TypAccessToken, []byte(`{}`))
	if !errors.Is(err, ErrNoSigningKey) {
		t.Fatalf("Sign: %v", err)
	}
	if e, ok := oauth.From(err); !ok || e.Code != oauth.CodeTemporarilyUnavailable || e.Status != 503 {
		t.Fatalf("Sign error as protocol error: %+v, %v", e, ok)
	}
	if _, _, err := keys.Verify("a.b.c"); !errors.Is(err, oidcflow.ErrBadSignature) {
		t.Fatalf("Verify: %v", err)
	}
	if string(keys.JWKS()) != `{"keys":[]}` || keys.Alg() != "" || keys.Algs() != nil {
		t.Fatalf("empty ring: %s %q %v", keys.JWKS(), keys.Alg(), keys.Algs())
	}
	// The key arrives (a replicated write applied): signing works, no restart.
	if err := EnsureSigningKey(t.Context(), dir, oidcflow.AlgES256, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Sign(oidcflow.TypAccessToken, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
}

// EnsureSigningKey generates a key once, keeps it across calls with the same alg,
// and rotates (the old key stays as Previous) when alg changes; it creates one
// cookie key.
func TestEnsureSigningKey(t *testing.T) {
	ctx := t.Context()
	dir, _ := newTestDirectory(t, testNow)
	for range 2 {
		if err := EnsureSigningKey(ctx, dir, oidcflow.AlgES256, nil); err != nil {
			t.Fatal(err)
		}
	}
	ks := dir.SigningKeys()
	if len(ks) != 1 || ks[0].Status != directory.KeyCurrent || ks[0].Alg != oidcflow.AlgES256 {
		t.Fatalf("keys %+v", ks)
	}
	if len(dir.CookieKeys()) != 1 {
		t.Fatalf("cookie keys %d", len(dir.CookieKeys()))
	}
	first := ks[0].ID
	if err := EnsureSigningKey(ctx, dir, oidcflow.AlgES384, nil); err != nil {
		t.Fatal(err)
	}
	ks = dir.SigningKeys()
	if len(ks) != 2 || ks[0].Alg != oidcflow.AlgES384 || ks[0].Status != directory.KeyCurrent ||
		ks[1].ID != first || ks[1].Status != directory.KeyPrevious {
		t.Fatalf("after an alg change: %+v", ks)
	}
	if len(dir.CookieKeys()) != 1 {
		t.Fatal("a second cookie key was made")
	}
}

// BenchmarkSign compares signing through DirectoryKeys (which checks the directory's
// key snapshot on every call) with the KeyRing it wraps.
func BenchmarkSign(b *testing.B) {
	dir, _ := newTestDirectory(b, testNow)
	if err := EnsureSigningKey(b.Context(), dir, oidcflow.AlgES256, nil); err != nil {
		b.Fatal(err)
	}
	keys := NewDirectoryKeys(dir, nil)
	ring, err := keys.Ring()
	if err != nil {
		b.Fatal(err)
	}
	claims := []byte(`{"iss":"http://localhost:3001/oidc","sub":"app","aud":"https://api.test","exp":1748779200,"iat":1748775600,"jti":"0123456789abcdef","client_id":"app","scope":"read write"}`)
	for _, c := range []struct {
		name string
		s    oidcflow.Signer
	}{{"KeyRing", ring}, {"DirectoryKeys", keys}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.s.Sign(oidcflow.TypAccessToken, claims); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("Snapshot", func(b *testing.B) { // the lookup alone
		b.ReportAllocs()
		for b.Loop() {
			_ = keys.current()
		}
	})
}
