package directory

import (
	"fmt"
	"io"
)

const (
	idAlphabet     = "abcdefghijklmnopqrstuvwxyz0123456789"
	secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// IDLength is the length of generated entity ids (Logto's generateStandardId).
	IDLength = 21
	// SecretLength is the length of generated application secrets (Logto's
	// generateStandardSecret): 32 x log2(62) ~ 190 bits.
	SecretLength = 32
)

// randomString draws n characters uniformly from alphabet (len <= 256) by rejection
// sampling bytes from r, so no character is more likely than another.
func randomString(r io.Reader, n int, alphabet string) (string, error) {
	limit := 256 - 256%len(alphabet) // bytes >= limit would bias the modulo
	out := make([]byte, 0, n)
	var buf [64]byte
	for len(out) < n {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("directory: reading randomness: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit {
				continue
			}
			out = append(out, alphabet[int(b)%len(alphabet)])
			if len(out) == n {
				break
			}
		}
	}
	return string(out), nil
}

func (d *Directory) newID() (string, error) { return randomString(d.rand, IDLength, idAlphabet) }

func (d *Directory) newSecret() (string, error) {
	return randomString(d.rand, SecretLength, secretAlphabet)
}
