package oidcflow

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	jose "github.com/go-jose/go-jose/v4"
)

// Supported signing algorithms. ES256 is Latch's default (fast on every core, published
// by every OIDC client library); ES384 is Logto's default; RS256 for old clients.
const (
	AlgES256 = "ES256"
	AlgES384 = "ES384"
	AlgRS256 = "RS256"
)

// Token types carried in the JWS "typ" header.
const (
	TypAccessToken = "at+jwt"     // RFC 9068 2.1
	TypIDToken     = "JWT"        // OIDC Core 2
	TypLogoutToken = "logout+jwt" // OIDC Back-Channel Logout 2.4
)

// GenerateSigningKey makes a new private JWK for alg, with kid = the RFC 7638 thumbprint.
func GenerateSigningKey(alg string, rand io.Reader) (jose.JSONWebKey, error) {
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand)
	case AlgES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand, 2048)
	default:
		return jose.JSONWebKey{}, fmt.Errorf("oidcflow: unsupported signing algorithm %q (want ES256, ES384 or RS256)", alg)
	}
	if err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("oidcflow: generate %s key: %w", alg, err)
	}
	k := jose.JSONWebKey{Key: priv, Algorithm: alg, Use: "sig"}
	pub := k.Public()
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	k.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return k, nil
}

// KeyRing signs with the current key and publishes current, next and previous keys. It is
// immutable after construction and safe for concurrent use; rotation builds a new ring.
type KeyRing struct {
	current   jose.JSONWebKey
	signers   map[string]*compactSigner // by typ
	verifyBy  map[string]jose.JSONWebKey
	algs      []jose.SignatureAlgorithm
	jwks      []byte
	alg       string
	publicSet jose.JSONWebKeySet
}

// NewKeyRing builds a ring that signs with current and also verifies (and publishes)
// others, e.g. the Next and Previous keys.
func NewKeyRing(current jose.JSONWebKey, others ...jose.JSONWebKey) (*KeyRing, error) {
	if current.IsPublic() || !current.Valid() {
		return nil, errors.New("oidcflow: current signing key must be a valid private key")
	}
	if current.KeyID == "" || current.Algorithm == "" {
		return nil, errors.New("oidcflow: signing key needs kid and alg")
	}
	r := &KeyRing{
		current:  current,
		signers:  map[string]*compactSigner{},
		verifyBy: map[string]jose.JSONWebKey{},
		alg:      current.Algorithm,
	}
	seenAlg := map[string]bool{}
	for _, k := range append([]jose.JSONWebKey{current}, others...) {
		if _, dup := r.verifyBy[k.KeyID]; dup {
			return nil, fmt.Errorf("oidcflow: duplicate kid %q", k.KeyID)
		}
		pub := k.Public()
		if !pub.Valid() {
			return nil, fmt.Errorf("oidcflow: key %q is not valid", k.KeyID)
		}
		r.verifyBy[k.KeyID] = pub
		r.publicSet.Keys = append(r.publicSet.Keys, pub)
		if !seenAlg[k.Algorithm] {
			seenAlg[k.Algorithm] = true
			r.algs = append(r.algs, jose.SignatureAlgorithm(k.Algorithm))
		}
	}
	for _, typ := range []string{TypAccessToken, TypIDToken, TypLogoutToken} {
		s, err := newCompactSigner(current, typ)
		if err != nil {
			return nil, fmt.Errorf("oidcflow: signer for %s: %w", typ, err)
		}
		r.signers[typ] = s
	}
	jwks, err := json.Marshal(r.publicSet)
	if err != nil {
		return nil, err
	}
	r.jwks = jwks
	return r, nil
}

// Alg is the algorithm of the current key.
func (r *KeyRing) Alg() string { return r.alg }

// Algs lists every algorithm the ring verifies (for discovery and for refusing any other
// "alg" header: no algorithm confusion).
func (r *KeyRing) Algs() []string {
	out := make([]string, len(r.algs))
	for i, a := range r.algs {
		out[i] = string(a)
	}
	return out
}

// JWKS is the pre-encoded public JSON Web Key Set.
func (r *KeyRing) JWKS() []byte { return r.jwks }

// Sign signs claims (already JSON) as a compact JWS with the given typ.
func (r *KeyRing) Sign(typ string, claims []byte) (string, error) {
	s, ok := r.signers[typ]
	if !ok {
		return "", fmt.Errorf("oidcflow: no signer for typ %q", typ)
	}
	return s.sign(claims)
}

// ErrBadSignature is returned by Verify for anything that is not a compact JWS signed by
// one of the ring's keys with that key's algorithm.
var ErrBadSignature = errors.New("oidcflow: token signature invalid")

// Verify checks a compact JWS against the ring's keys and returns its payload and typ.
// Only the algorithms of the ring's own keys are accepted, and the key is chosen by kid
// and must carry the same algorithm as the header (no algorithm confusion, RFC 8725 3.1).
func (r *KeyRing) Verify(token string) (payload []byte, typ string, err error) {
	jws, err := jose.ParseSignedCompact(token, r.algs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", ErrBadSignature
	}
	h := jws.Signatures[0].Protected
	key, ok := r.verifyBy[h.KeyID]
	if !ok || key.Algorithm != h.Algorithm {
		return nil, "", ErrBadSignature
	}
	payload, err = jws.Verify(key)
	if err != nil {
		return nil, "", ErrBadSignature
	}
	t, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return payload, t, nil
}
