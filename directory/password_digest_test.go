package directory

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/hex"
	"errors"
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

func TestVerifyLegacy(t *testing.T) {
	salted := `["md5", ["salt", "@"], "` + md5Hex("saltpassword") + `"]`
	for _, tc := range []struct {
		stored, pw string
		want       bool
	}{
		{salted, "password", true},
		{salted, "passwort", false},
		{`["pbkdf2", ["hex:73616c74", "1000", "32", "sha256", "@"], "` + pbkdf2Hex(t) + `"]`, "password", true},
		{`["pbkdf2", ["hex:73616c74", "1000", "32", "sha256", "@"], "` + pbkdf2Hex(t) + `"]`, "x", false},
	} {
		ok, err := verifyLegacy(tc.stored, tc.pw)
		if err != nil || ok != tc.want {
			t.Errorf("verifyLegacy(%s, %q) = %v, %v; want %v", tc.stored, tc.pw, ok, err, tc.want)
		}
	}
	for _, bad := range []string{`x`, `["md5", ["salt"], "ab"]`, `["pbkdf2", ["hex:zz", "@"], "ab"]`, `["md5", "@", "ab"]`} {
		if _, err := parseLegacyPassword(bad); !errors.Is(err, ErrLegacyPasswordFormat) {
			t.Errorf("parseLegacyPassword(%s) = %v", bad, err)
		}
	}
	if _, err := parseLegacyPassword(`["whirlpool", ["@"], "ab"]`); !errors.Is(err, ErrLegacyHashAlgorithm) {
		t.Errorf("whirlpool: %v", err)
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func pbkdf2Hex(t *testing.T) string {
	t.Helper()
	k, err := pbkdf2.Key(sha256.New, "password", []byte("salt"), 1000, 32)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(k)
}

func TestUpgradePasswordHash(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	name := "imported"
	u, err := d.CreateUserWithPasswordDigest(ctx, NewUser{Username: &name}, PasswordDigest{Algorithm: PasswordMD5, Digest: md5Hex("password")})
	if err != nil {
		t.Fatal(err)
	}
	// A stale read (the password changed since) is left alone.
	stale := u.Clone()
	stale.PasswordHash = "other"
	d.UpgradePasswordHash(ctx, stale, "password")
	if cur, _ := d.User(u.ID); cur.PasswordAlgorithm != PasswordMD5 {
		t.Fatalf("stale upgrade applied: %+v", cur)
	}
	v, err := d.VerifyUserPassword(u.ID, "password")
	if err != nil {
		t.Fatal(err)
	}
	d.UpgradePasswordHash(ctx, v, "password")
	cur, _ := d.User(u.ID)
	if cur.PasswordAlgorithm != "" {
		t.Fatalf("not upgraded: %+v", cur)
	}
	if _, err := d.VerifyUserPassword(u.ID, "password"); err != nil {
		t.Fatalf("upgraded hash does not verify: %v", err)
	}
	if _, err := d.VerifyUserPassword(u.ID, "passwort"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
}
