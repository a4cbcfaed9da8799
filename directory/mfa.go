package directory

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"
)

// Logto's MfaFactor values for the factors Latch stores on a user.
const (
	MfaTotp       = "Totp"
	MfaWebAuthn   = "WebAuthn"
	MfaBackupCode = "BackupCode"
)

// BackupCodeCount is how many backup codes one set holds (Logto: 10 codes of 10
// characters from 0-9a-f).
const (
	BackupCodeCount  = 10
	backupCodeLength = 10
	backupCodeChars  = "0123456789abcdef"
)

// MfaVerification is one MFA factor of a user (an item of Logto's
// users.mfa_verifications). The key material (Key, Codes) is stored here and never
// leaves the directory through the APIs: they show id, type, createdAt, lastUsedAt and
// the count of unused backup codes.
type MfaVerification struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	// Name is the user's label for a WebAuthn credential (Logto's name).
	Name       string `json:"name,omitempty"`
	CreatedAt  int64  `json:"createdAt"`
	LastUsedAt int64  `json:"lastUsedAt,omitempty"`
	// Key is the TOTP secret (base32, RFC 6238 with SHA-1, 6 digits, 30 s).
	Key string `json:"key,omitempty"`
	// LastStep is the last TOTP time step accepted: a code is good once per step, and
	// no step at or before it is accepted again (RFC 6238 5.2).
	LastStep int64 `json:"lastStep,omitempty"`
	// Codes are the backup codes, hashed.
	Codes []BackupCode `json:"codes,omitempty"`
	// WebAuthn: the credential's id (base64url) and its record as the WebAuthn library
	// keeps it (public key, sign count, flags; JSON). No secret.
	CredentialID string          `json:"credentialId,omitempty"`
	Credential   json.RawMessage `json:"credential,omitempty"`
}

// BackupCode is one backup code: Hash is "<salt>$<hex sha256(salt || code)>" (a code
// carries 40 random bits and is usable once, so a salted SHA-256 is the right cost);
// UsedAt (unix ms) is set when it was spent.
type BackupCode struct {
	Hash   string `json:"hash"`
	UsedAt int64  `json:"usedAt,omitempty"`
}

// RemainingCodes counts the unused backup codes of a BackupCode verification.
func (v *MfaVerification) RemainingCodes() int {
	n := 0
	for _, c := range v.Codes {
		if c.UsedAt == 0 {
			n++
		}
	}
	return n
}

// MfaError is an MFA rule Logto enforces with its error code (user.totp_already_in_use,
// user.backup_code_already_in_use, session.mfa.backup_code_can_not_be_alone: 422;
// session.mfa.invalid_totp_code, session.mfa.invalid_backup_code: 400).
type MfaError struct {
	Code    string
	Message string
	Status  int
}

func (e *MfaError) Error() string { return "directory: " + e.Code + ": " + e.Message }

// The MFA errors, as Logto phrases them.
var (
	ErrTotpInUse       = &MfaError{Code: "user.totp_already_in_use", Message: "TOTP is already in use.", Status: 422}
	ErrBackupCodeInUse = &MfaError{Code: "user.backup_code_already_in_use", Message: "Backup code is already in use.", Status: 422}
	ErrBackupCodeAlone = &MfaError{Code: "session.mfa.backup_code_can_not_be_alone", Message: "Backup code can not be the only MFA.", Status: 422}
	ErrInvalidTotp     = &MfaError{Code: "session.mfa.invalid_totp_code", Message: "Invalid TOTP code.", Status: 400}
	ErrInvalidBackup   = &MfaError{Code: "session.mfa.invalid_backup_code", Message: "Invalid backup code.", Status: 400}
	ErrWebAuthnInUse   = &MfaError{Code: "user.webauthn_already_in_use", Message: "This WebAuthn credential is already bound.", Status: 422}
	ErrNoMfaFactor     = &MfaError{Code: "session.mfa.mfa_factor_not_enabled", Message: "MFA factor is not enabled.", Status: 400}
)

// EntityMfaVerification names an MFA verification in a NotFoundError.
const EntityMfaVerification = "mfa verification"

// HasMfa reports whether the user has a usable MFA factor: a TOTP, or a backup code
// set with an unused code.
func (u *User) HasMfa() bool { return len(u.MfaFactors()) > 0 }

// MfaFactors lists the user's usable factors (Totp, WebAuthn, BackupCode).
func (u *User) MfaFactors() []string {
	var out []string
	for _, t := range []string{MfaTotp, MfaWebAuthn, MfaBackupCode} {
		for i := range u.MfaVerifications {
			v := &u.MfaVerifications[i]
			if v.Type == t && (t != MfaBackupCode || v.RemainingCodes() > 0) {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// Totp returns the user's TOTP factor, if any.
func (u *User) Totp() (*MfaVerification, bool) {
	for i := range u.MfaVerifications {
		if u.MfaVerifications[i].Type == MfaTotp {
			return &u.MfaVerifications[i], true
		}
	}
	return nil, false
}

func cloneMfa(in []MfaVerification) []MfaVerification {
	if in == nil {
		return nil
	}
	out := slices.Clone(in)
	for i := range out {
		out[i].Codes = slices.Clone(out[i].Codes)
		out[i].Credential = bytes.Clone(out[i].Credential)
	}
	return out
}

// NewBackupCodes draws a set of BackupCodeCount backup codes from r.
func NewBackupCodes(r io.Reader) ([]string, error) {
	codes := make([]string, BackupCodeCount)
	for i := range codes {
		c, err := randomString(r, backupCodeLength, backupCodeChars)
		if err != nil {
			return nil, err
		}
		codes[i] = c
	}
	return codes, nil
}

// ValidBackupCode reports whether code has the shape of a backup code.
func ValidBackupCode(code string) bool {
	if len(code) != backupCodeLength {
		return false
	}
	for _, c := range code {
		if !strings.ContainsRune(backupCodeChars, c) {
			return false
		}
	}
	return true
}

// HashBackupCodes hashes codes, each with its own salt drawn from r.
func HashBackupCodes(r io.Reader, codes []string) ([]BackupCode, error) {
	out := make([]BackupCode, len(codes))
	for i, c := range codes {
		salt, err := randomString(r, 16, idAlphabet)
		if err != nil {
			return nil, err
		}
		out[i] = BackupCode{Hash: salt + "$" + backupCodeDigest(salt, c)}
	}
	return out, nil
}

func backupCodeDigest(salt, code string) string {
	sum := sha256.Sum256([]byte(salt + strings.ToLower(code)))
	return hex.EncodeToString(sum[:])
}

func (c BackupCode) matches(code string) bool {
	salt, digest, ok := strings.Cut(c.Hash, "$")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(digest), []byte(backupCodeDigest(salt, code))) == 1
}

// AddUserMfaVerification stores a new factor on the user (id and createdAt assigned
// here) with Logto's rules: one TOTP per user (user.totp_already_in_use); one backup
// code set with unused codes (user.backup_code_already_in_use), and never backup codes
// as the only factor (session.mfa.backup_code_can_not_be_alone). A spent backup code
// set is replaced by the new one.
func (d *Directory) AddUserMfaVerification(ctx context.Context, userID string, v MfaVerification) (MfaVerification, error) {
	id, err := d.newID()
	if err != nil {
		return MfaVerification{}, err
	}
	v.ID = id
	v.CreatedAt = d.nowMs()
	_, err = d.UpdateUser(ctx, userID, func(u *User) error {
		switch v.Type {
		case MfaTotp:
			if _, ok := u.Totp(); ok {
				return ErrTotpInUse
			}
		case MfaBackupCode:
			others := false
			for i := range u.MfaVerifications {
				o := &u.MfaVerifications[i]
				if o.Type == MfaBackupCode && o.RemainingCodes() > 0 {
					return ErrBackupCodeInUse
				}
				others = others || o.Type != MfaBackupCode
			}
			if !others {
				return ErrBackupCodeAlone
			}
			u.MfaVerifications = slices.DeleteFunc(u.MfaVerifications, func(o MfaVerification) bool {
				return o.Type == MfaBackupCode
			})
		case MfaWebAuthn:
			if v.CredentialID == "" || len(v.Credential) == 0 {
				return invalid("credential", "is required")
			}
			for i := range u.MfaVerifications {
				if u.MfaVerifications[i].CredentialID == v.CredentialID {
					return ErrWebAuthnInUse
				}
			}
		default:
			return invalid("type", "must be Totp, WebAuthn or BackupCode")
		}
		u.MfaVerifications = append(u.MfaVerifications, v)
		return nil
	})
	return v, err
}

// DeleteUserMfaVerification removes one factor of the user.
func (d *Directory) DeleteUserMfaVerification(ctx context.Context, userID, id string) error {
	_, err := d.UpdateUser(ctx, userID, func(u *User) error {
		n := len(u.MfaVerifications)
		u.MfaVerifications = slices.DeleteFunc(u.MfaVerifications, func(o MfaVerification) bool { return o.ID == id })
		if len(u.MfaVerifications) == n {
			return notFound(EntityMfaVerification, id)
		}
		return nil
	})
	return err
}

// UseTotp accepts code for the user's TOTP factor at the directory's time: it must
// match a step within one of now (RFC 6238 5.2, one step of clock drift either way)
// that is later than the last step accepted, which is then recorded. The check and the
// record are one conditional write, so a code is spent once even when two requests
// race (ErrInvalidTotp for the loser).
func (d *Directory) UseTotp(ctx context.Context, userID, code string) error {
	u, ok := d.User(userID)
	if !ok {
		return notFound(EntityUser, userID)
	}
	if _, ok := u.Totp(); !ok {
		return ErrNoMfaFactor
	}
	now := d.now()
	_, err := d.UpdateUser(ctx, userID, func(u *User) error {
		t, ok := u.Totp()
		if !ok {
			return ErrNoMfaFactor
		}
		step, ok := MatchTotp(t.Key, code, now)
		if !ok || step <= t.LastStep {
			return ErrInvalidTotp
		}
		t.LastStep = step
		t.LastUsedAt = now.UnixMilli()
		return nil
	})
	return err
}

// UseBackupCode spends one unused backup code of the user (ErrInvalidBackup when none
// matches).
func (d *Directory) UseBackupCode(ctx context.Context, userID, code string) error {
	now := d.nowMs()
	_, err := d.UpdateUser(ctx, userID, func(u *User) error {
		for i := range u.MfaVerifications {
			v := &u.MfaVerifications[i]
			if v.Type != MfaBackupCode {
				continue
			}
			for j := range v.Codes {
				if v.Codes[j].UsedAt == 0 && v.Codes[j].matches(code) {
					v.Codes[j].UsedAt = now
					v.LastUsedAt = now
					return nil
				}
			}
		}
		return ErrInvalidBackup
	})
	return err
}

// SetUserMfaSkipped records that the user declined MFA enrollment.
func (d *Directory) SetUserMfaSkipped(ctx context.Context, userID string) error {
	_, err := d.UpdateUser(ctx, userID, func(u *User) error {
		u.MfaSkipped = true
		return nil
	})
	return err
}

// WebAuthnCredential returns the user's WebAuthn factor with credentialID.
func (u *User) WebAuthnCredential(credentialID string) (*MfaVerification, bool) {
	for i := range u.MfaVerifications {
		v := &u.MfaVerifications[i]
		if v.Type == MfaWebAuthn && v.CredentialID == credentialID {
			return v, true
		}
	}
	return nil, false
}

// UseWebAuthnCredential records a successful WebAuthn assertion: the credential's new
// record (its sign count) and the time.
func (d *Directory) UseWebAuthnCredential(ctx context.Context, userID, credentialID string, credential json.RawMessage) error {
	now := d.nowMs()
	_, err := d.UpdateUser(ctx, userID, func(u *User) error {
		v, ok := u.WebAuthnCredential(credentialID)
		if !ok {
			return ErrNoMfaFactor
		}
		v.Credential = bytes.Clone(credential)
		v.LastUsedAt = now
		return nil
	})
	return err
}

// PutUserTotp binds secret as the user's TOTP factor, replacing the one they have
// (Logto's PUT /my-account/mfa-verifications/totp): a new id and createdAt; lastStep
// is the step of the code that proved the secret, so that code is not accepted again.
func (d *Directory) PutUserTotp(ctx context.Context, userID, secret string, lastStep int64) (MfaVerification, error) {
	id, err := d.newID()
	if err != nil {
		return MfaVerification{}, err
	}
	v := MfaVerification{ID: id, Type: MfaTotp, CreatedAt: d.nowMs(), Key: secret, LastStep: lastStep}
	_, err = d.UpdateUser(ctx, userID, func(u *User) error {
		if t, ok := u.Totp(); ok {
			*t = v
			return nil
		}
		u.MfaVerifications = append(u.MfaVerifications, v)
		return nil
	})
	return v, err
}
