package actors

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
)

// Labels separate the keys that seal answers from each other and from a secret's stored
// hash (HashSecret is SHA-256 of the bare secret).
const (
	successorKeyLabel = "latch refresh successor v1\x00"
	exchangeKeyLabel  = "latch code exchange v1\x00"
)

// sealAEAD is AES-256-GCM under a key derived from label and secret.
func sealAEAD(label, secret string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(label + secret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealUnder seals plain under label and secret: nonce | ciphertext. Whoever reads the
// sealed bytes without secret (stored only as a hash, or never stored) learns nothing.
func sealUnder(label, secret, plain string, rand io.Reader) ([]byte, error) {
	aead, err := sealAEAD(label, secret)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := io.ReadFull(rand, out); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead.Seal(out, out, []byte(plain), nil), nil
}

// openUnder opens what sealUnder sealed under label and secret; false when sealed is
// empty, malformed or not sealed under them.
func openUnder(label, secret string, sealed []byte) (string, bool) {
	if len(sealed) == 0 || secret == "" {
		return "", false
	}
	aead, err := sealAEAD(label, secret)
	if err != nil || len(sealed) < aead.NonceSize()+aead.Overhead() {
		return "", false
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", false
	}
	return string(plain), true
}

// sealSuccessor seals a rotation's successor under consumedSecret, the secret of the
// token the rotation consumed.
func sealSuccessor(consumedSecret, successor string, rand io.Reader) ([]byte, error) {
	return sealUnder(successorKeyLabel, consumedSecret, successor, rand)
}

// openSuccessor opens what sealSuccessor sealed under consumedSecret.
func openSuccessor(consumedSecret string, sealed []byte) (string, bool) {
	return openUnder(successorKeyLabel, consumedSecret, sealed)
}

// exchangeIssued is what one code exchange issued: kept sealed in the redeemed code so
// that the same exchange sent again gets the same tokens.
type exchangeIssued struct {
	familyID, familySecret, accessTokenSecret string
}

// exchangeSecret is the key material of an exchange's sealed answer: its attempt id
// (never stored) and the code secret (stored only as a hash). Empty without an attempt.
func exchangeSecret(attempt, codeSecret string) string {
	if attempt == "" || codeSecret == "" {
		return ""
	}
	return attempt + "\x00" + codeSecret
}

// sealExchange seals x under the exchange's attempt id and code secret.
func sealExchange(attempt, codeSecret string, x exchangeIssued, rand io.Reader) ([]byte, error) {
	return sealUnder(exchangeKeyLabel, exchangeSecret(attempt, codeSecret),
		x.familyID+"\x00"+x.familySecret+"\x00"+x.accessTokenSecret, rand)
}

// openExchange opens what sealExchange sealed; false unless attempt and codeSecret are
// the ones it was sealed under.
func openExchange(attempt, codeSecret string, sealed []byte) (exchangeIssued, bool) {
	plain, ok := openUnder(exchangeKeyLabel, exchangeSecret(attempt, codeSecret), sealed)
	if !ok {
		return exchangeIssued{}, false
	}
	parts := strings.Split(plain, "\x00")
	if len(parts) != 3 {
		return exchangeIssued{}, false
	}
	return exchangeIssued{familyID: parts[0], familySecret: parts[1], accessTokenSecret: parts[2]}, true
}
