package op

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Keys signs and verifies the provider's tokens and publishes its public keys:
// *oidcflow.KeyRing (a fixed ring, in tests) or *DirectoryKeys (the directory's keys,
// followed live). Every method is safe for concurrent use.
type Keys interface {
	oidcflow.Signer
	oidcflow.Verifier
	// Alg is the algorithm of the signing key.
	Alg() string
	// Algs lists every algorithm the keys verify (discovery).
	Algs() []string
	// JWKS is the encoded public JSON Web Key Set.
	JWKS() []byte
}

var (
	_ Keys = (*oidcflow.KeyRing)(nil)
	_ Keys = (*DirectoryKeys)(nil)
)

// ErrNoSigningKey: the directory holds no Current signing key yet (a node that joined
// a cluster and has not caught up with its directory). Sign returns it joined with
// oauth.TemporarilyUnavailable, so the HTTP layer answers 503 with Retry-After, not
// a server_error.
var ErrNoSigningKey = errors.New("op: no current signing key yet: this node has not caught up with the directory")

// DirectoryKeys signs with the directory's Current signing key and verifies and
// publishes its Current, Next and Previous keys, following every key write (a
// rotation through any node of the cluster) without a restart.
//
// Hot path: each call reads the directory's key snapshot (a shared slice rebuilt on
// each key write) and compares its identity with the one the ring was built from, an
// atomic load and two comparisons; the ring (parsed keys, signers, JWKS) is rebuilt
// only when the snapshot changed.
type DirectoryKeys struct {
	dir *directory.Directory
	log *slog.Logger

	built   atomic.Pointer[builtRing]
	buildMu sync.Mutex // one rebuild at a time
}

// builtRing is the ring built from one key snapshot.
type builtRing struct {
	first **directory.SigningKey // &snapshot[0]: a fresh array on every key write
	n     int
	ring  *oidcflow.KeyRing // nil when the snapshot has no usable Current key
	jwks  []byte
}

var emptyJWKS = []byte(`{"keys":[]}`)

// NewDirectoryKeys follows dir's signing keys. log may be nil.
func NewDirectoryKeys(dir *directory.Directory, log *slog.Logger) *DirectoryKeys {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DirectoryKeys{dir: dir, log: log}
}

func snapshotID(ks []*directory.SigningKey) (**directory.SigningKey, int) {
	if len(ks) == 0 {
		return nil, 0
	}
	return &ks[0], len(ks)
}

// current is the ring of the directory's present keys (nil ring: no Current key).
func (k *DirectoryKeys) current() *builtRing {
	ks := k.dir.SigningKeys()
	first, n := snapshotID(ks)
	if b := k.built.Load(); b != nil && b.first == first && b.n == n {
		return b
	}
	return k.rebuild()
}

func (k *DirectoryKeys) rebuild() *builtRing {
	k.buildMu.Lock()
	defer k.buildMu.Unlock()
	ks := k.dir.SigningKeys() // the newest, read under buildMu
	first, n := snapshotID(ks)
	if b := k.built.Load(); b != nil && b.first == first && b.n == n {
		return b // another caller rebuilt it meanwhile
	}
	b := &builtRing{first: first, n: n, jwks: emptyJWKS}
	ring, err := buildKeyRing(ks, k.log)
	if err != nil {
		k.log.Error("signing keys unusable; not signing until the directory has a usable Current key", "err", err)
	} else if ring != nil {
		b.ring, b.jwks = ring, ring.JWKS()
		k.log.Info("signing key ring loaded", "kid", ks[0].ID, "alg", ring.Alg(), "keys", n)
	}
	k.built.Store(b)
	return b
}

// buildKeyRing parses the directory's keys: the first Current key signs, every other
// key (Next, Previous) verifies and is published. A key that does not parse is
// skipped (and logged) rather than taking the others down. A nil ring and nil error:
// there is no Current key.
func buildKeyRing(ks []*directory.SigningKey, log *slog.Logger) (*oidcflow.KeyRing, error) {
	var (
		current *jose.JSONWebKey
		others  []jose.JSONWebKey
	)
	for _, sk := range ks {
		var jk jose.JSONWebKey
		if err := jk.UnmarshalJSON(sk.JWK); err != nil {
			if sk.Status == directory.KeyCurrent && current == nil {
				return nil, fmt.Errorf("current signing key %s: %w", sk.ID, err)
			}
			log.Error("skipping a signing key that does not parse", "id", sk.ID, "err", err)
			continue
		}
		if sk.Status == directory.KeyCurrent && current == nil {
			current = &jk
			continue
		}
		others = append(others, jk)
	}
	if current == nil {
		return nil, nil
	}
	return oidcflow.NewKeyRing(*current, others...)
}

func noSigningKey() error {
	return fmt.Errorf("%w: %w", ErrNoSigningKey,
		oauth.TemporarilyUnavailable("this node has no signing key yet; retry later"))
}

// Sign signs claims with the Current key (see oidcflow.KeyRing.Sign). With no Current
// key it returns ErrNoSigningKey, which is also a 503 temporarily_unavailable.
func (k *DirectoryKeys) Sign(typ string, claims []byte) (string, error) {
	b := k.current()
	if b.ring == nil {
		return "", noSigningKey()
	}
	return b.ring.Sign(typ, claims)
}

// Verify checks a token against the Current, Next and Previous keys (see
// oidcflow.KeyRing.Verify). With no Current key every token is
// oidcflow.ErrBadSignature (joined with ErrNoSigningKey).
func (k *DirectoryKeys) Verify(token string) ([]byte, string, error) {
	b := k.current()
	if b.ring == nil {
		return nil, "", fmt.Errorf("%w: %w", oidcflow.ErrBadSignature, ErrNoSigningKey)
	}
	return b.ring.Verify(token)
}

// Alg is the algorithm of the Current key ("" when there is none).
func (k *DirectoryKeys) Alg() string {
	if b := k.current(); b.ring != nil {
		return b.ring.Alg()
	}
	return ""
}

// Algs lists the algorithms of every published key (nil when there is no Current key).
func (k *DirectoryKeys) Algs() []string {
	if b := k.current(); b.ring != nil {
		return b.ring.Algs()
	}
	return nil
}

// JWKS is the published key set ({"keys":[]} when there is no Current key). It is
// byte-identical on every node that applied the same key writes.
func (k *DirectoryKeys) JWKS() []byte { return k.current().jwks }

// Ring is the oidcflow.KeyRing of the directory's present keys, or ErrNoSigningKey.
func (k *DirectoryKeys) Ring() (*oidcflow.KeyRing, error) {
	if b := k.current(); b.ring != nil {
		return b.ring, nil
	}
	return nil, noSigningKey()
}

// fixedKeys is the present ring of keys that change (*DirectoryKeys), keys as they are
// otherwise: what a caller needs when it reads Alg and then signs.
func fixedKeys(keys Keys) (Keys, error) {
	if r, ok := keys.(interface {
		Ring() (*oidcflow.KeyRing, error)
	}); ok {
		return r.Ring()
	}
	return keys, nil
}

// RotateSigningKey makes a key for alg the directory's Current key in one replicated
// write (directory.RotateSigningKey: the old Current key stays published as
// Previous). The Next key of alg, published since the previous rotation, is promoted
// (otherwise a new key is generated from random), and a new Next key of alg is
// published in the same write for the rotation after. Every node has published the
// promoted key before any node signs with it, so a token signed on a node that
// applied the rotation verifies on one that has not yet. It returns the new Current
// key.
func RotateSigningKey(ctx context.Context, dir *directory.Directory, alg string, random io.Reader) (*directory.SigningKey, error) {
	var cur *directory.SigningKey
	for _, sk := range dir.SigningKeys() {
		if sk.Status == directory.KeyNext && sk.Alg == alg {
			cur = &directory.SigningKey{ID: sk.ID, Alg: sk.Alg, JWK: sk.JWK, CreatedAt: sk.CreatedAt}
			break
		}
	}
	if cur == nil {
		k, err := newSigningKey(alg, random)
		if err != nil {
			return nil, err
		}
		cur = k
	}
	next, err := newSigningKey(alg, random)
	if err != nil {
		return nil, err
	}
	if err := dir.RotateSigningKey(ctx, cur, next); err != nil {
		return nil, err
	}
	return cur, nil
}

// newSigningKey generates a signing key for alg as the directory stores it.
func newSigningKey(alg string, random io.Reader) (*directory.SigningKey, error) {
	jk, err := oidcflow.GenerateSigningKey(alg, random)
	if err != nil {
		return nil, err
	}
	raw, err := jk.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return &directory.SigningKey{ID: jk.KeyID, Alg: alg, JWK: raw}, nil
}

// EnsureSigningKey makes sure the directory has a Current signing key for alg: on a
// cluster's first start, or when alg changed, it rotates to a new key (the old
// Current key becomes Previous and keeps verifying the tokens it signed). It also
// creates the first cookie key (Logto always has one). Call it only where the node
// may write the directory (the bootstrapping node); the others follow the key ring
// through DirectoryKeys.
func EnsureSigningKey(ctx context.Context, dir *directory.Directory, alg string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cur, ok := dir.CurrentSigningKey(); !ok || cur.Alg != alg {
		sk, err := RotateSigningKey(ctx, dir, alg, rand.Reader)
		if err != nil {
			return fmt.Errorf("signing key: %w", err)
		}
		log.Info("generated signing key", "kid", sk.ID, "alg", alg)
	}
	if len(dir.CookieKeys()) == 0 {
		if err := dir.RotateCookieKey(ctx); err != nil {
			return fmt.Errorf("cookie key: %w", err)
		}
	}
	return nil
}
