package directory

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Password algorithms of imported digests (Logto's UsersPasswordEncryptionMethod).
// A user's PasswordAlgorithm is empty for the Argon2id hashes Latch makes itself.
const (
	PasswordArgon2id = "Argon2id"
	PasswordArgon2i  = "Argon2i"
	PasswordArgon2d  = "Argon2d"
	PasswordSHA1     = "SHA1"
	PasswordSHA256   = "SHA256"
	PasswordMD5      = "MD5"
	PasswordBcrypt   = "Bcrypt"
	PasswordLegacy   = "Legacy"
)

// maxPasswordDigest is Logto's bound on an imported digest.
const maxPasswordDigest = 256

// errPasswordAlgorithm: a stored algorithm Latch cannot verify (never stored by check:
// Argon2d, which golang.org/x/crypto does not implement, and Logto's Legacy format).
var errPasswordAlgorithm = errors.New("directory: password algorithm not supported")

// PasswordDigest is an imported password hash: its algorithm and the digest itself.
type PasswordDigest struct {
	Algorithm, Digest string
}

func (p PasswordDigest) check() error {
	switch p.Algorithm {
	case PasswordArgon2id, PasswordArgon2i, PasswordSHA1, PasswordSHA256, PasswordMD5, PasswordBcrypt:
	case PasswordLegacy:
		if len(p.Digest) > maxPasswordDigest {
			return invalid("passwordDigest", "must be 1 to %d characters", maxPasswordDigest)
		}
		_, err := parseLegacyPassword(p.Digest)
		return err
	case PasswordArgon2d:
		return invalid("passwordAlgorithm", "%s digests cannot be verified by Latch", p.Algorithm)
	default:
		return invalid("passwordAlgorithm", "must be one of Argon2i, Argon2id, SHA1, SHA256, MD5, Bcrypt, Legacy")
	}
	if p.Digest == "" || len(p.Digest) > maxPasswordDigest {
		return invalid("passwordDigest", "must be 1 to %d characters", maxPasswordDigest)
	}
	return nil
}

// verifyDigest checks password against an imported digest. Hex digests compare
// case-insensitively in constant time; a malformed Argon2 or bcrypt digest is an
// error, never a match.
func verifyDigest(alg, digest, password string) (bool, error) {
	hexEqual := func(sum []byte) bool {
		want := hex.EncodeToString(sum)
		return subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(digest))) == 1
	}
	switch alg {
	case "", PasswordArgon2id:
		return VerifyPassword(digest, password)
	case PasswordArgon2i:
		return verifyArgon2i(digest, password)
	case PasswordMD5:
		s := md5.Sum([]byte(password))
		return hexEqual(s[:]), nil
	case PasswordSHA1:
		s := sha1.Sum([]byte(password))
		return hexEqual(s[:]), nil
	case PasswordSHA256:
		s := sha256.Sum256([]byte(password))
		return hexEqual(s[:]), nil
	case PasswordLegacy:
		return verifyLegacy(digest, password)
	case PasswordBcrypt:
		err := bcrypt.CompareHashAndPassword([]byte(digest), []byte(password))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	}
	return false, errPasswordAlgorithm
}
