package directory

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the Argon2id cost parameters for new password hashes. Verification
// reads the parameters from the stored PHC string, so changing them keeps every old
// hash valid.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
}

// DefaultArgon2 is OWASP's Argon2id recommendation (Password Storage Cheat Sheet):
// m=19 MiB, t=2, p=1.
var DefaultArgon2 = Argon2Params{Memory: 19456, Time: 2, Threads: 1}

const (
	argon2SaltLen = 16
	argon2KeyLen  = 32
	// Bounds on what a stored hash may ask for, so a corrupt or hostile record cannot
	// make verification allocate gigabytes or spin for minutes.
	argon2MaxMemory  = 1 << 22 // KiB = 4 GiB
	argon2MaxTime    = 1 << 10
	argon2MinSaltLen = 8
	argon2MaxSaltLen = 64
	argon2MinKeyLen  = 16
	argon2MaxKeyLen  = 64
)

// errBadPHC is returned for any string that is not a well-formed Argon2id PHC hash.
var errBadPHC = errors.New("directory: malformed argon2id hash")

func (p Argon2Params) withDefaults() Argon2Params {
	if p.Memory == 0 {
		p.Memory = DefaultArgon2.Memory
	}
	if p.Time == 0 {
		p.Time = DefaultArgon2.Time
	}
	if p.Threads == 0 {
		p.Threads = DefaultArgon2.Threads
	}
	return p
}

func (p Argon2Params) validate() error {
	var errs []error
	if p.Memory != 0 && p.Memory > argon2MaxMemory {
		errs = append(errs, fmt.Errorf("directory: Argon2.Memory %d KiB exceeds %d", p.Memory, argon2MaxMemory))
	}
	if p.Time > argon2MaxTime {
		errs = append(errs, fmt.Errorf("directory: Argon2.Time %d exceeds %d", p.Time, argon2MaxTime))
	}
	d := p.withDefaults()
	if d.Memory < 8*uint32(d.Threads) {
		errs = append(errs, fmt.Errorf("directory: Argon2.Memory must be at least 8 KiB per thread"))
	}
	return errors.Join(errs...)
}

// HashPassword returns the Argon2id hash of password as a PHC string
// "$argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>" (unpadded standard
// base64; 16-byte salt from r, 32-byte key). Zero fields of p take DefaultArgon2.
func HashPassword(r io.Reader, p Argon2Params, password string) (string, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
		return "", err
	}
	salt := make([]byte, argon2SaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("directory: reading salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argon2KeyLen)
	return formatPHC(phc{params: p, salt: salt, key: key}), nil
}

// VerifyPassword reports whether password matches the PHC hash, comparing keys in
// constant time. A malformed hash is an error, never a match.
func VerifyPassword(hash, password string) (bool, error) {
	h, err := parsePHC(hash)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// verifyArgon2i is VerifyPassword for an Argon2i PHC string ("$argon2i$...", as Logto
// OSS hashes), for imported password digests.
func verifyArgon2i(hash, password string) (bool, error) {
	h, err := parsePHCVariant(hash, "argon2i")
	if err != nil {
		return false, err
	}
	key := argon2.Key([]byte(password), h.salt, h.params.Time, h.params.Memory, h.params.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1, nil
}

// phc is a parsed Argon2id PHC string.
type phc struct {
	params Argon2Params
	salt   []byte
	key    []byte
}

var b64 = base64.RawStdEncoding

func formatPHC(h phc) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, h.params.Memory, h.params.Time, h.params.Threads,
		b64.EncodeToString(h.salt), b64.EncodeToString(h.key))
}

// parsePHC parses "$argon2id$v=19$m=..,t=..,p=..$salt$key". It accepts only version
// 19, parameters in the order m, t, p, and values within the bounds above.
func parsePHC(s string) (phc, error) { return parsePHCVariant(s, "argon2id") }

// parsePHCVariant is parsePHC for the Argon2 variant named (argon2id or argon2i).
func parsePHCVariant(s, variant string) (phc, error) {
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != variant {
		return phc{}, errBadPHC
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok || v != strconv.Itoa(argon2.Version) {
		return phc{}, errBadPHC
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return phc{}, errBadPHC
	}
	var vals [3]uint64
	for i, name := range [3]string{"m=", "t=", "p="} {
		num, ok := strings.CutPrefix(fields[i], name)
		if !ok || num == "" || (len(num) > 1 && num[0] == '0') {
			return phc{}, errBadPHC
		}
		n, err := strconv.ParseUint(num, 10, 32)
		if err != nil {
			return phc{}, errBadPHC
		}
		vals[i] = n
	}
	m, t, p := vals[0], vals[1], vals[2]
	if t < 1 || t > argon2MaxTime || p < 1 || p > 255 || m < 8*p || m > argon2MaxMemory {
		return phc{}, errBadPHC
	}
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil || len(salt) < argon2MinSaltLen || len(salt) > argon2MaxSaltLen {
		return phc{}, errBadPHC
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil || len(key) < argon2MinKeyLen || len(key) > argon2MaxKeyLen {
		return phc{}, errBadPHC
	}
	return phc{
		params: Argon2Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(p)},
		salt:   salt,
		key:    key,
	}, nil
}
