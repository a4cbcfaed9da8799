package oidcflow

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"github.com/latchid/latch/oidcflow/oauth"
)

// PKCE (RFC 7636), S256 only, as in Logto (`pkce.methods: ['S256']`).
const (
	// PKCEVerifierMinLen and PKCEVerifierMaxLen bound a code_verifier (RFC 7636 4.1).
	PKCEVerifierMinLen = 43
	PKCEVerifierMaxLen = 128
	// pkceS256ChallengeLen is the length of BASE64URL(SHA256(x)) without padding.
	pkceS256ChallengeLen = 43
)

// ValidCodeChallenge checks the code_challenge and code_challenge_method of an
// authorization request.
//
// RFC 7636 4.3: "code_challenge_method ... Defaults to "plain" if not present in the
// request." Latch supports only S256 (4.2: code_challenge =
// BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))), so an absent or "plain" method is
// refused with invalid_request (4.4.1: "If the server supporting PKCE does not support
// the requested transformation, the authorization endpoint MUST return the
// authorization error response with "error" value set to "invalid_request""). An S256
// challenge is the unpadded base64url encoding of 32 bytes: exactly 43 characters of the
// base64url alphabet. Its last character's unused bits are not checked (Logto takes any
// 43 such characters): a challenge with them set matches no verifier, so its code can
// never be redeemed.
func ValidCodeChallenge(challenge, method string) error {
	if method != PKCEMethodS256 {
		return oauth.InvalidRequest("code_challenge_method must be S256 (plain is not supported)")
	}
	if len(challenge) != pkceS256ChallengeLen {
		return oauth.InvalidRequest("code_challenge must be 43 characters of base64url")
	}
	if b, err := base64.RawURLEncoding.DecodeString(challenge); err != nil || len(b) != sha256.Size {
		return oauth.InvalidRequest("code_challenge must be 43 characters of base64url")
	}
	return nil
}

// VerifyPKCE checks a token request's code_verifier against the code_challenge (S256)
// bound to the authorization code.
//
// RFC 7636 4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" /
// "." / "_" / "~". RFC 7636 4.6: "the server verifies it by calculating the code
// challenge from the received "code_verifier" and comparing it with the previously
// associated "code_challenge" ... If the values are not equal, an error response
// indicating "invalid_grant" as described in Section 5.2 of [RFC6749] MUST be returned."
// The comparison is constant-time. Every failure, a malformed verifier included, is
// the same invalid_grant "PKCE verification failed" (as node-oidc-provider answers), so
// the response tells an attacker nothing about which check failed.
func VerifyPKCE(verifier, challenge string) error {
	if !validVerifier(verifier) || challenge == "" {
		return oauth.InvalidGrant("PKCE verification failed")
	}
	sum := sha256.Sum256([]byte(verifier))
	computed := base64.RawURLEncoding.EncodeToString(sum[:])
	if subtle.ConstantTimeCompare([]byte(computed), []byte(challenge)) != 1 {
		return oauth.InvalidGrant("PKCE verification failed")
	}
	return nil
}

// validVerifier reports whether v is 43-128 unreserved characters (RFC 7636 4.1).
func validVerifier(v string) bool {
	if len(v) < PKCEVerifierMinLen || len(v) > PKCEVerifierMaxLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}
