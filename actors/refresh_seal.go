package actors

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
	"io"
)

// successorKeyLabel separates the key that seals a successor from the token's stored
// hash (HashSecret is SHA-256 of the bare secret).
const successorKeyLabel = "latch refresh successor v1\x00"

// successorAEAD is AES-256-GCM under a key derived from a consumed token's secret.
func successorAEAD(consumedSecret string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte(successorKeyLabel + consumedSecret))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// sealSuccessor seals successor under consumedSecret (the secret of the token the
// rotation consumed): nonce | ciphertext. Whoever reads the record without that secret,
// which is stored only as a hash, learns nothing of the successor.
func sealSuccessor(consumedSecret, successor string, rand io.Reader) ([]byte, error) {
	aead, err := successorAEAD(consumedSecret)
	if err != nil {
		return nil, fmt.Errorf("seal successor: %w", err)
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(successor)+aead.Overhead())
	if _, err := io.ReadFull(rand, out); err != nil {
		return nil, fmt.Errorf("seal successor: %w", err)
	}
	return aead.Seal(out, out, []byte(successor), nil), nil
}

// openSuccessor opens what sealSuccessor sealed under consumedSecret; false when sealed
// is empty, malformed or not sealed under that secret.
func openSuccessor(consumedSecret string, sealed []byte) (string, bool) {
	if len(sealed) == 0 || consumedSecret == "" {
		return "", false
	}
	aead, err := successorAEAD(consumedSecret)
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
