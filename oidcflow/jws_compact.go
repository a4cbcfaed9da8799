package oidcflow

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// compactSigner produces RFC 7515 compact JWS for one key and one typ on the token
// endpoint's hot path. go-jose's generic signer re-marshals the protected header map and
// its members on every call (about a hundred allocations per token); the header never
// changes, so it is encoded once here and each token costs one digest and one
// signature. go-jose still owns key handling, JWKS and every verification, and the tests
// verify these tokens with go-jose and go-oidc.
type compactSigner struct {
	header  string // base64url of the protected header, with the trailing '.'
	alg     string
	newHash func() hash.Hash
	hash    crypto.Hash
	ec      *ecdsa.PrivateKey
	rsa     *rsa.PrivateKey
}

func newCompactSigner(k jose.JSONWebKey, typ string) (*compactSigner, error) {
	hdr, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{k.Algorithm, k.KeyID, typ})
	if err != nil {
		return nil, err
	}
	s := &compactSigner{header: base64.RawURLEncoding.EncodeToString(hdr) + ".", alg: k.Algorithm}
	switch k.Algorithm {
	case AlgES256:
		s.newHash, s.hash = sha256.New, crypto.SHA256
	case AlgES384:
		s.newHash, s.hash = sha512.New384, crypto.SHA384
	case AlgRS256:
		s.newHash, s.hash = sha256.New, crypto.SHA256
	default:
		return nil, fmt.Errorf("unsupported alg %q", k.Algorithm)
	}
	switch key := k.Key.(type) {
	case *ecdsa.PrivateKey:
		if k.Algorithm == AlgRS256 {
			return nil, fmt.Errorf("alg %s needs an RSA key", k.Algorithm)
		}
		s.ec = key
	case *rsa.PrivateKey:
		if k.Algorithm != AlgRS256 {
			return nil, fmt.Errorf("alg %s needs an EC key", k.Algorithm)
		}
		s.rsa = key
	default:
		return nil, fmt.Errorf("unsupported key type %T", k.Key)
	}
	return s, nil
}

// sign returns header.payload.signature for claims.
func (s *compactSigner) sign(claims []byte) (string, error) {
	enc := base64.RawURLEncoding
	sigLen := 0
	if s.ec != nil {
		sigLen = 2 * ((s.ec.Curve.Params().BitSize + 7) / 8)
	} else {
		sigLen = s.rsa.Size()
	}
	buf := make([]byte, 0, len(s.header)+enc.EncodedLen(len(claims))+1+enc.EncodedLen(sigLen))
	buf = append(buf, s.header...)
	buf = enc.AppendEncode(buf, claims)
	h := s.newHash()
	h.Write(buf)
	digest := h.Sum(nil)

	var sig []byte
	if s.ec != nil {
		// RFC 7518 3.4: R and S as fixed-size big-endian octets, concatenated.
		der, err := ecdsa.SignASN1(rand.Reader, s.ec, digest)
		if err != nil {
			return "", err
		}
		if sig, err = derToRaw(der, sigLen/2); err != nil {
			return "", err
		}
	} else {
		var err error
		sig, err = rsa.SignPKCS1v15(nil, s.rsa, s.hash, digest)
		if err != nil {
			return "", err
		}
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// derToRaw converts an ASN.1 ECDSA-Sig-Value (SEQUENCE { r INTEGER, s INTEGER }) into
// the fixed-size R || S form of RFC 7518 3.4.
func derToRaw(der []byte, size int) ([]byte, error) {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&s, asn1.INTEGER) || !seq.Empty() {
		return nil, fmt.Errorf("malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	for i, v := range [][]byte{r, s} {
		for len(v) > 0 && v[0] == 0 { // strip the sign-padding byte
			v = v[1:]
		}
		if len(v) > size {
			return nil, fmt.Errorf("ECDSA signature component too long")
		}
		copy(out[(i+1)*size-len(v):(i+1)*size], v)
	}
	return out, nil
}
