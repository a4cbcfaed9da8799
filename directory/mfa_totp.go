package directory

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"image"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// totpPeriod is the TOTP time step in seconds (RFC 6238's default, what every
// authenticator app assumes).
const totpPeriod = 30

// TotpKey is a new TOTP secret with its otpauth:// URI (Key Uri Format) for
// authenticator apps.
type TotpKey struct {
	Secret string
	URI    string
	key    *otp.Key
}

// NewTotpKey draws a 160-bit TOTP secret from r (RFC 4226 4 recommends 160 bits) for
// account at issuer.
func NewTotpKey(r io.Reader, issuer, account string) (*TotpKey, error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Rand: r})
	if err != nil {
		return nil, err
	}
	return &TotpKey{Secret: k.Secret(), URI: k.URL(), key: k}, nil
}

// TotpKeyFor wraps an existing secret (e.g. one an administrator supplies).
func TotpKeyFor(secret, issuer, account string) (*TotpKey, error) {
	if !ValidTotpSecret(secret) {
		return nil, invalid("secret", "must be a base32 TOTP secret of at least 16 characters")
	}
	raw, _ := totpSecretBytes(secret)
	k, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: account, Secret: raw})
	if err != nil {
		return nil, err
	}
	return &TotpKey{Secret: k.Secret(), URI: k.URL(), key: k}, nil
}

// QRCodePNG renders the otpauth URI as a PNG QR code (size x size pixels).
func (k *TotpKey) QRCodePNG(size int) ([]byte, error) {
	img, err := k.key.Image(size, size)
	if err != nil {
		return nil, err
	}
	return encodePNG(img)
}

func encodePNG(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func totpSecretBytes(secret string) ([]byte, error) {
	s := strings.ToUpper(strings.TrimRight(strings.ReplaceAll(secret, " ", ""), "="))
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// ValidTotpSecret reports whether secret is base32 of at least 80 bits (16
// characters, Logto's otplib default length).
func ValidTotpSecret(secret string) bool {
	raw, err := totpSecretBytes(secret)
	return err == nil && len(raw) >= 10 && len(secret) <= 128
}

// MatchTotp reports whether code is the TOTP of secret at a time step within one of
// now's, and which step it matched (the latest, when several do).
func MatchTotp(secret, code string, now time.Time) (int64, bool) {
	if len(code) != 6 {
		return 0, false
	}
	cur := now.Unix() / totpPeriod
	for _, step := range []int64{cur + 1, cur, cur - 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totp.ValidateOpts{
			Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}
