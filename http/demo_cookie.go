package httpapi

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"time"
)

// The demo app keeps its own session (its pending authorization request, then the
// tokens it got) in one cookie, sealed with AES-256-GCM under a key derived from the
// directory's cookie keys (Logto's oidc.cookieKeys, the same on every node, rotated
// through the Management API): the newest key seals, every key still listed opens, so
// a rotation does not sign anyone out of the demo until the old key is dropped. The
// browser can neither read the tokens nor forge the state, nonce or PKCE verifier.

// demoSealInfo separates the demo app's derived keys from any other use of the
// cookie keys.
const demoSealInfo = "latch demo-app cookie v1"

// errNoCookieKey: the directory holds no cookie key yet (op.EnsureSigningKey makes
// one at bootstrap).
var errNoCookieKey = errors.New("httpapi: no cookie key in the directory")

// sealedEnvelope is what a demo cookie carries once opened.
type sealedEnvelope struct {
	Exp  int64           `json:"exp"` // unix seconds
	Data json.RawMessage `json:"data"`
}

func demoAEAD(secret string) (cipher.AEAD, error) {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(demoSealInfo))
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealCookie encrypts v for the cookie name, valid for ttl.
func (s *Server) sealCookie(name string, v any, ttl time.Duration) (string, error) {
	keys := s.dir.CookieKeys()
	if len(keys) == 0 {
		return "", errNoCookieKey
	}
	data, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	plain, err := json.Marshal(sealedEnvelope{Exp: s.now().Add(ttl).Unix(), Data: data})
	if err != nil {
		return "", err
	}
	aead, err := demoAEAD(keys[0].Value)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(s.rand, nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(aead.Seal(nonce, nonce, plain, []byte(name))), nil
}

// openCookie decrypts a value sealCookie made for name into v; false when it is not
// one (tampered, sealed for another cookie, by a key no longer listed) or expired.
func (s *Server) openCookie(name, value string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || value == "" {
		return false
	}
	for _, k := range s.dir.CookieKeys() {
		aead, err := demoAEAD(k.Value)
		if err != nil || len(raw) < aead.NonceSize() {
			continue
		}
		plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(name))
		if err != nil {
			continue
		}
		var env sealedEnvelope
		if json.Unmarshal(plain, &env) != nil || s.now().Unix() >= env.Exp {
			return false
		}
		return json.Unmarshal(env.Data, v) == nil
	}
	return false
}
