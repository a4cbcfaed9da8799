package actors

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Tokens are self-routing (DESIGN.md "Two kinds of state"): an authorization code,
// refresh token, opaque access token or session cookie is "<grain key>.<secret>", so any
// member knows which grain to ask; the grain keeps only HashSecret(secret).

// MaxTokenLen bounds a token string accepted by SplitToken.
const MaxTokenLen = 256

const (
	tokenKeyBytes    = 16
	tokenSecretBytes = 32
)

// NewToken returns a new grain key (16 random bytes) and secret (32 random bytes), both
// unpadded base64url, read from r (crypto/rand.Reader in production). The token the
// client holds is key + "." + secret.
func NewToken(r io.Reader) (key, secret string, err error) {
	var buf [tokenKeyBytes + tokenSecretBytes]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return "", "", fmt.Errorf("actors: new token: %w", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(buf[:tokenKeyBytes]), enc.EncodeToString(buf[tokenKeyBytes:]), nil
}

// newSecret returns 32 random bytes from r, unpadded base64url.
func newSecret(r io.Reader) (string, error) {
	var buf [tokenSecretBytes]byte
	if _, err := io.ReadFull(r, buf[:]); err != nil {
		return "", fmt.Errorf("actors: new secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(buf[:]), nil
}

// SplitToken splits "<key>.<secret>". It refuses a token longer than MaxTokenLen, one
// without exactly one '.', and empty parts.
func SplitToken(tok string) (key, secret string, ok bool) {
	if len(tok) > MaxTokenLen {
		return "", "", false
	}
	key, secret, found := strings.Cut(tok, ".")
	if !found || key == "" || secret == "" || strings.Contains(secret, ".") {
		return "", "", false
	}
	return key, secret, true
}

// HashSecret returns the hex SHA-256 of a token secret: what grains store and compare.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretMatches reports, in constant time, whether secret hashes to hash.
func secretMatches(secret, hash string) bool {
	return hashesEqual(HashSecret(secret), hash)
}

// hashesEqual compares two stored hashes in constant time.
func hashesEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
