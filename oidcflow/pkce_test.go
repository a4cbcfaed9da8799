package oidcflow

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/latchid/latch/oidcflow/oauth"
)

// RFC 7636 Appendix B: the S256 example.
const (
	rfc7636Verifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfc7636Challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestValidCodeChallenge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, challenge, method string
		wantErr                 bool
	}{
		{"RFC 7636 appendix B", rfc7636Challenge, "S256", false},
		{"plain refused", rfc7636Verifier, "plain", true},
		{"absent method means plain: refused", rfc7636Challenge, "", true},
		{"lower-case method", rfc7636Challenge, "s256", true},
		{"too short", rfc7636Challenge[:42], "S256", true},
		{"too long", rfc7636Challenge + "A", "S256", true},
		{"padding", rfc7636Challenge[:42] + "=", "S256", true},
		{"standard base64 alphabet", strings.Replace(rfc7636Challenge, "-", "+", 1), "S256", true},
		// A last character with its unused bits set matches no verifier, but Logto takes
		// the request (its comma-separated-resource test sends 43 'a's).
		{"non-canonical last character", rfc7636Challenge[:42] + "N", "S256", false},
		{"43 a's", strings.Repeat("a", 43), "S256", false},
		{"empty", "", "S256", true},
	}
	for _, tt := range tests {
		err := ValidCodeChallenge(tt.challenge, tt.method)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: ValidCodeChallenge(%q, %q) = %v, wantErr %v", tt.name, tt.challenge, tt.method, err, tt.wantErr)
		}
		if err != nil && !errors.Is(err, oauth.InvalidRequest("")) {
			t.Errorf("%s: error %v is not invalid_request", tt.name, err)
		}
	}
}

func TestVerifyPKCE(t *testing.T) {
	t.Parallel()
	challengeOf := func(v string) string {
		sum := sha256.Sum256([]byte(v))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	long := strings.Repeat("a", 128)
	tests := []struct {
		name, verifier, challenge string
		ok                        bool
	}{
		{"RFC 7636 appendix B", rfc7636Verifier, rfc7636Challenge, true},
		{"all unreserved characters", "AZaz09-._~" + strings.Repeat("x", 33), challengeOf("AZaz09-._~" + strings.Repeat("x", 33)), true},
		{"128 characters", long, challengeOf(long), true},
		{"wrong verifier", rfc7636Verifier[:42] + "Y", rfc7636Challenge, false},
		{"42 characters", rfc7636Verifier[:42], challengeOf(rfc7636Verifier[:42]), false},
		{"129 characters", long + "a", challengeOf(long + "a"), false},
		{"reserved character", strings.Repeat("a", 42) + "+", challengeOf(strings.Repeat("a", 42) + "+"), false},
		{"space", strings.Repeat("a", 42) + " ", challengeOf(strings.Repeat("a", 42) + " "), false},
		{"non-ASCII", strings.Repeat("a", 41) + "é", challengeOf(strings.Repeat("a", 41) + "é"), false},
		{"plain comparison is not accepted", rfc7636Verifier, rfc7636Verifier, false},
		{"empty verifier", "", rfc7636Challenge, false},
		{"empty challenge", rfc7636Verifier, "", false},
	}
	for _, tt := range tests {
		err := VerifyPKCE(tt.verifier, tt.challenge)
		if (err == nil) != tt.ok {
			t.Errorf("%s: VerifyPKCE = %v, want ok %v", tt.name, err, tt.ok)
			continue
		}
		if err != nil {
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.CodeInvalidGrant || oe.Description != "PKCE verification failed" {
				t.Errorf("%s: error %v, want invalid_grant \"PKCE verification failed\"", tt.name, err)
			}
		}
	}
}

// FuzzVerifyPKCE: the verifier is untrusted input. No panic; success only for a
// well-formed verifier whose S256 challenge matches; any failure is invalid_grant.
func FuzzVerifyPKCE(f *testing.F) {
	f.Add(rfc7636Verifier, rfc7636Challenge)
	f.Add("", "")
	f.Add(strings.Repeat("~", 128), rfc7636Challenge)
	f.Add("\x00\xff", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=")
	f.Fuzz(func(t *testing.T, verifier, challenge string) {
		err := VerifyPKCE(verifier, challenge)
		if err == nil {
			sum := sha256.Sum256([]byte(verifier))
			if !validVerifier(verifier) || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
				t.Fatalf("accepted verifier %q for challenge %q", verifier, challenge)
			}
			return
		}
		if !errors.Is(err, oauth.InvalidGrant("")) {
			t.Fatalf("VerifyPKCE(%q, %q) = %v, want invalid_grant", verifier, challenge, err)
		}
		// A challenge computed from a valid verifier always verifies.
		if validVerifier(verifier) {
			sum := sha256.Sum256([]byte(verifier))
			if err := VerifyPKCE(verifier, base64.RawURLEncoding.EncodeToString(sum[:])); err != nil {
				t.Fatalf("valid verifier %q rejected against its own challenge: %v", verifier, err)
			}
		}
	})
}
