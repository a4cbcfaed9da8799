package directory

import (
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestVerifyDigestArgon2i(t *testing.T) {
	salt := []byte("0123456789abcdef")
	key := argon2.Key([]byte("password"), salt, 1, 64, 1, 32)
	digest := fmt.Sprintf("$argon2i$v=19$m=64,t=1,p=1$%s$%s", b64.EncodeToString(salt), b64.EncodeToString(key))
	for pw, want := range map[string]bool{"password": true, "passwort": false} {
		if ok, err := verifyDigest(PasswordArgon2i, digest, pw); err != nil || ok != want {
			t.Errorf("verifyDigest(Argon2i, %q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// An Argon2id string is not an Argon2i one, and the reverse.
	if ok, err := verifyDigest(PasswordArgon2i, "$argon2id"+digest[len("$argon2i"):], "password"); ok || err == nil {
		t.Errorf("variant mismatch accepted: %v, %v", ok, err)
	}
	if _, err := verifyDigest(PasswordLegacy, "x", "password"); err == nil {
		t.Error("Legacy verified")
	}
}
