package directory

import (
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Logto's Legacy password digests: the JSON `["<algorithm>", [args...], "<hex digest>"]`
// where one arg is "@", replaced by the password. The algorithm is a digest (the args
// are concatenated and hashed) or "pbkdf2" / "pbkdf2Sync" with args [salt, iterations,
// key length, digest] (salt "hex:..." is hex). Latch verifies md5, sha1, sha224,
// sha256, sha384, sha512 and PBKDF2 over those; Logto's other OpenSSL digests and
// firebase-scrypt are refused when the user is created.

var (
	// ErrLegacyPasswordFormat: a Legacy digest that is not Logto's JSON expression
	// (Logto's password.invalid_legacy_password_format).
	ErrLegacyPasswordFormat = errors.New("directory: invalid legacy password format")
	// ErrLegacyHashAlgorithm: a Legacy digest whose algorithm Latch cannot compute
	// (Logto's password.unsupported_legacy_hash_algorithm).
	ErrLegacyHashAlgorithm = errors.New("directory: unsupported legacy hash algorithm")
)

type legacyPassword struct {
	algorithm string
	args      []string
	digest    string
}

var legacyHexSalt = regexp.MustCompile(`^(?:[0-9a-fA-F]{2})+$`)

func legacyDigestHash(name string) (func() hash.Hash, bool) {
	switch strings.ToLower(name) {
	case "md5":
		return md5.New, true
	case "sha1":
		return sha1.New, true
	case "sha224":
		return sha256.New224, true
	case "sha256":
		return sha256.New, true
	case "sha384":
		return sha512.New384, true
	case "sha512":
		return sha512.New, true
	}
	return nil, false
}

func isPBKDF2(alg string) bool { return alg == "pbkdf2" || alg == "pbkdf2Sync" }

// parseLegacyPassword checks a Legacy digest as Logto does when the user is created.
func parseLegacyPassword(s string) (legacyPassword, error) {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil || len(raw) != 3 {
		return legacyPassword{}, ErrLegacyPasswordFormat
	}
	var lp legacyPassword
	if json.Unmarshal(raw[0], &lp.algorithm) != nil || json.Unmarshal(raw[1], &lp.args) != nil ||
		json.Unmarshal(raw[2], &lp.digest) != nil || lp.args == nil || !slices.Contains(lp.args, "@") {
		return legacyPassword{}, ErrLegacyPasswordFormat
	}
	if isPBKDF2(lp.algorithm) {
		if len(lp.args) > 0 {
			if _, err := legacySalt(lp.args[0]); err != nil {
				return legacyPassword{}, err
			}
		}
		return lp, nil
	}
	if _, ok := legacyDigestHash(lp.algorithm); !ok {
		return legacyPassword{}, ErrLegacyHashAlgorithm
	}
	return lp, nil
}

func legacySalt(salt string) ([]byte, error) {
	h, ok := strings.CutPrefix(salt, "hex:")
	if !ok {
		return []byte(salt), nil
	}
	if !legacyHexSalt.MatchString(h) {
		return nil, ErrLegacyPasswordFormat
	}
	return hex.DecodeString(h)
}

// verifyLegacy computes the Legacy expression for password and compares it in
// constant time with the stored hex digest.
func verifyLegacy(stored, password string) (bool, error) {
	lp, err := parseLegacyPassword(stored)
	if err != nil {
		return false, err
	}
	args := make([]string, len(lp.args))
	for i, a := range lp.args {
		if a == "@" {
			a = password
		}
		args[i] = a
	}
	var sum []byte
	if isPBKDF2(lp.algorithm) {
		if len(args) < 4 {
			return false, ErrLegacyPasswordFormat
		}
		salt, err := legacySalt(args[0])
		if err != nil {
			return false, err
		}
		iter, err1 := strconv.Atoi(args[1])
		keyLen, err2 := strconv.Atoi(args[2])
		h, ok := legacyDigestHash(args[3])
		// Bounds keep a hostile record from costing minutes or gigabytes.
		if err1 != nil || err2 != nil || !ok || iter < 1 || iter > 10_000_000 || keyLen < 1 || keyLen > 1024 {
			return false, ErrLegacyPasswordFormat
		}
		if sum, err = pbkdf2.Key(h, password, salt, iter, keyLen); err != nil {
			return false, err
		}
	} else {
		h, _ := legacyDigestHash(lp.algorithm)
		d := h()
		d.Write([]byte(strings.Join(args, "")))
		sum = d.Sum(nil)
	}
	return subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum)), []byte(lp.digest)) == 1, nil
}
