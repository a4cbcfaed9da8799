package op

import (
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// Tokens are self-routing (DESIGN.md "Two kinds of state"): a session cookie, code,
// refresh token or opaque access token is "<grain key>.<secret>"; grains keep only a
// hash of the secret (hashed by the adapters in actors, not here).

// maxTokenLen bounds a token string SplitToken accepts (actors.MaxTokenLen).
const maxTokenLen = 256

// RandomID returns 16 random bytes from r as unpadded base64url: grain keys
// (interaction uids, grant ids), sids and verification ids.
func RandomID(r io.Reader) (string, error) { return randomString(r, 16) }

// newSecret returns a token secret: 32 random bytes from r, unpadded base64url.
func newSecret(r io.Reader) (string, error) { return randomString(r, 32) }

func randomString(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("op: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// SplitToken splits "<key>.<secret>"; it refuses a token longer than 256 bytes, one
// without exactly one '.', and empty parts (as actors.SplitToken).
func SplitToken(tok string) (key, secret string, ok bool) {
	if len(tok) > maxTokenLen {
		return "", "", false
	}
	key, secret, found := strings.Cut(tok, ".")
	if !found || key == "" || secret == "" || strings.Contains(secret, ".") {
		return "", "", false
	}
	return key, secret, true
}
