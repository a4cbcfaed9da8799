package directory

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

const testTotpKey = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"

// TestUseTotpWindowAndReplay: RFC 6238 with one step of drift either way, and each
// step at most once, never one at or before the last accepted.
func TestUseTotpWindowAndReplay(t *testing.T) {
	d, clock := openTest(t, newMemStore())
	u := mustUser(t, d, NewUser{Username: ptr("otp")})
	if _, err := d.AddUserMfaVerification(t.Context(), u.ID, MfaVerification{Type: MfaTotp, Key: testTotpKey}); err != nil {
		t.Fatal(err)
	}
	codeAt := func(steps int) string {
		c, err := totp.GenerateCode(testTotpKey, clock.Now().Add(time.Duration(steps)*30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, tt := range []struct {
		name  string
		steps int // relative to now
		ok    bool
	}{
		{"two steps old", -2, false},
		{"one step old", -1, true},
		{"the same again", -1, false},
		{"now", 0, true},
		{"an older step after a newer one", -1, false},
		{"two steps ahead", 2, false},
		{"one step ahead", 1, true},
		{"now, after the step ahead", 0, false},
	} {
		err := d.UseTotp(t.Context(), u.ID, codeAt(tt.steps))
		if tt.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidTotp)) {
			t.Errorf("%s: %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
	if err := d.UseTotp(t.Context(), u.ID, "12345"); !errors.Is(err, ErrInvalidTotp) {
		t.Errorf("short code: %v", err)
	}
	clock.Advance(60 * time.Second)
	if err := d.UseTotp(t.Context(), u.ID, codeAt(0)); err != nil {
		t.Errorf("a later step: %v", err)
	}
	got, _ := d.User(u.ID)
	if tp, _ := got.Totp(); tp.LastUsedAt != clock.Now().UnixMilli() {
		t.Errorf("lastUsedAt = %d", tp.LastUsedAt)
	}
	other := mustUser(t, d, NewUser{Username: ptr("no_otp")})
	if err := d.UseTotp(t.Context(), other.ID, codeAt(0)); !errors.Is(err, ErrNoMfaFactor) {
		t.Errorf("user without TOTP: %v", err)
	}
}

func TestMfaRulesAndBackupCodes(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	u := mustUser(t, d, NewUser{Username: ptr("mfa")})
	codes, err := NewBackupCodes(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != BackupCodeCount || !ValidBackupCode(codes[0]) || codes[0] == codes[1] {
		t.Fatalf("codes = %v", codes)
	}
	hashed, err := HashBackupCodes(rand.Reader, codes)
	if err != nil {
		t.Fatal(err)
	}
	add := func(v MfaVerification) error {
		_, err := d.AddUserMfaVerification(t.Context(), u.ID, v)
		return err
	}
	if err := add(MfaVerification{Type: MfaBackupCode, Codes: hashed}); !errors.Is(err, ErrBackupCodeAlone) {
		t.Fatalf("backup codes alone: %v", err)
	}
	if err := add(MfaVerification{Type: MfaTotp, Key: testTotpKey}); err != nil {
		t.Fatal(err)
	}
	if err := add(MfaVerification{Type: MfaTotp, Key: testTotpKey}); !errors.Is(err, ErrTotpInUse) {
		t.Fatalf("second TOTP: %v", err)
	}
	if err := add(MfaVerification{Type: MfaBackupCode, Codes: hashed}); err != nil {
		t.Fatal(err)
	}
	if err := add(MfaVerification{Type: MfaBackupCode, Codes: hashed}); !errors.Is(err, ErrBackupCodeInUse) {
		t.Fatalf("second live set: %v", err)
	}

	if err := d.UseBackupCode(t.Context(), u.ID, codes[2]); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{codes[2], "0000000000", ""} {
		if err := d.UseBackupCode(t.Context(), u.ID, c); !errors.Is(err, ErrInvalidBackup) {
			t.Errorf("code %q: %v", c, err)
		}
	}

	// Stored hashed, and kept across a restart.
	d2 := reopen(t, store)
	got, _ := d2.User(u.ID)
	raw, _ := json.Marshal(got)
	for _, c := range codes {
		if strings.Contains(string(raw), c) {
			t.Fatalf("backup code %s stored in clear", c)
		}
	}
	if f := got.MfaFactors(); len(f) != 2 || got.MfaVerifications[1].RemainingCodes() != BackupCodeCount-1 {
		t.Fatalf("after reopen: %v %+v", f, got.MfaVerifications)
	}

	// A spent set is replaced by a new one.
	for _, c := range codes {
		_ = d2.UseBackupCode(t.Context(), u.ID, c)
	}
	got, _ = d2.User(u.ID)
	if f := got.MfaFactors(); len(f) != 1 || f[0] != MfaTotp {
		t.Fatalf("factors with every code spent: %v", f)
	}
	if _, err := d2.AddUserMfaVerification(t.Context(), u.ID, MfaVerification{Type: MfaBackupCode, Codes: hashed[:1]}); err != nil {
		t.Fatal(err)
	}
	got, _ = d2.User(u.ID)
	if len(got.MfaVerifications) != 2 || got.MfaVerifications[1].RemainingCodes() != 1 {
		t.Fatalf("after replacing the spent set: %+v", got.MfaVerifications)
	}

	var nf *NotFoundError
	if err := d2.DeleteUserMfaVerification(t.Context(), u.ID, "nope"); !errors.As(err, &nf) {
		t.Fatalf("delete unknown: %v", err)
	}
	if err := d2.DeleteUserMfaVerification(t.Context(), u.ID, got.MfaVerifications[0].ID); err != nil {
		t.Fatal(err)
	}
}

// FuzzMatchTotp: secrets and codes from requests never panic the check.
func FuzzMatchTotp(f *testing.F) {
	f.Add(testTotpKey, "123456")
	f.Add("", "")
	f.Add("====", "12345678")
	f.Fuzz(func(t *testing.T, secret, code string) {
		_, _ = MatchTotp(secret, code, time.Unix(1700000000, 0))
		_ = ValidTotpSecret(secret)
		_ = ValidBackupCode(code)
	})
}
