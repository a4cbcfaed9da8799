package op

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/persistence"
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
	// The old key (Previous), the new Current one, and the Next key published for
	// the rotation after.
	var nextKid string
	for _, k := range dir.SigningKeys() {
		if k.Status == directory.KeyNext {
			nextKid = k.ID
		}
	}
	if nextKid == "" || len(set.Key(oldKid)) != 1 || len(set.Key(sk.ID)) != 1 || len(set.Key(nextKid)) != 1 || len(set.Keys) != 3 {
		t.Fatalf("next %q, JWKS %s", nextKid, keys.JWKS())
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
	if len(ks) != 2 || ks[0].Status != directory.KeyCurrent || ks[0].Alg != oidcflow.AlgES256 ||
		ks[1].Status != directory.KeyNext || ks[1].Alg != oidcflow.AlgES256 {
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
	if len(ks) != 3 || ks[0].Alg != oidcflow.AlgES384 || ks[0].Status != directory.KeyCurrent ||
		ks[1].Alg != oidcflow.AlgES384 || ks[1].Status != directory.KeyNext ||
		ks[2].ID != first || ks[2].Status != directory.KeyPrevious {
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

// teeStore hands every batch the directory writes on one node to another node's
// directory, as the replicated log does.
type teeStore struct {
	persistence.Store
	replica *directory.Directory
	t       *testing.T
}

func (s teeStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	v, err := s.Store.Apply(ctx, muts)
	if err == nil {
		if _, rerr := s.replica.ApplyReplicated(ctx, muts); rerr != nil {
			s.t.Errorf("replica: %v", rerr)
		}
	}
	return v, err
}

// Two nodes: a rotation written through node 1 is followed by node 2's DirectoryKeys
// once it applies the batch. Tokens node 1 signed before verify on node 2 after, node
// 2 signs with the new kid, and both publish the same JWKS bytes.
func TestDirectoryKeysFollowReplicatedRotation(t *testing.T) {
	ctx := t.Context()
	open := func(store persistence.Store) *directory.Directory {
		d, err := directory.Open(ctx, directory.Config{Store: store, Now: testNow, Rand: rand.Reader,
			Argon2: directory.Argon2Params{Memory: 64, Time: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	memStore := func() persistence.Store {
		s, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	dir2 := open(memStore())
	dir1 := open(teeStore{Store: memStore(), replica: dir2, t: t})
	keys1, keys2 := NewDirectoryKeys(dir1, nil), NewDirectoryKeys(dir2, nil)
	if err := EnsureSigningKey(ctx, dir1, oidcflow.AlgES256, nil); err != nil {
		t.Fatal(err)
	}
	before, err := keys1.Sign(oidcflow.TypIDToken, []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys2.Verify(before); err != nil {
		t.Fatalf("node 2 before the rotation: %v", err)
	}
	sk, err := RotateSigningKey(ctx, dir1, oidcflow.AlgES384, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := keys2.Verify(before); err != nil {
		t.Fatalf("node 2 after the rotation, a token from before: %v", err)
	}
	after, err := keys2.Sign(oidcflow.TypIDToken, []byte(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if kid, _ := kidOf(t, after); kid != sk.ID {
		t.Fatalf("node 2 signs with %s, want the new key %s", kid, sk.ID)
	}
	if _, _, err := keys1.Verify(after); err != nil {
		t.Fatalf("node 1 verifies node 2's new token: %v", err)
	}
	if !bytes.Equal(keys1.JWKS(), keys2.JWKS()) {
		t.Fatalf("JWKS differ:\n%s\n%s", keys1.JWKS(), keys2.JWKS())
	}
}

// Signing and verifying while the key rotates (run with -race): every token signed
// verifies, whichever ring signed it, since a rotation keeps the old key as Previous.
// (Two rotations within a token's life drop its key: Logto keeps two keys.)
func TestDirectoryKeysConcurrentRotation(t *testing.T) {
	ctx := t.Context()
	dir, _ := newTestDirectory(t, testNow)
	if err := EnsureSigningKey(ctx, dir, oidcflow.AlgES256, nil); err != nil {
		t.Fatal(err)
	}
	keys := NewDirectoryKeys(dir, nil)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			for range 100 {
				tok, err := keys.Sign(oidcflow.TypAccessToken, []byte(`{}`))
				if err == nil {
					_, _, err = keys.Verify(tok)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	sk, err := RotateSigningKey(ctx, dir, oidcflow.AlgES384, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if keys.Alg() != oidcflow.AlgES384 {
		t.Fatalf("after the rotation to %s: Alg %s", sk.ID, keys.Alg())
	}
}
