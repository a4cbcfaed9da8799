package directory

import (
	"fmt"
	"strconv"

	"github.com/nyaruka/phonenumbers"
)

// Phone numbers are stored as Logto stores them: digits only, the country calling code
// then the national significant number, without the trunk prefix a local number is
// often written with ("+61 0412 345 678" and "61412345678" are one number, stored as
// 61412345678). A number libphonenumber cannot parse is kept as given.

// phoneForms returns the stored form of phone and the form with a leading 0 before
// the national number (Logto's two spellings of one number). ok is false when phone
// cannot be parsed: then it is compared as given.
func phoneForms(phone string) (normalized, withZero string, ok bool) {
	if phone == "" {
		return "", "", false
	}
	in := phone
	if in[0] != '+' {
		in = "+" + in
	}
	num, err := phonenumbers.Parse(in, "")
	if err != nil || num.GetCountryCode() == 0 {
		return "", "", false
	}
	national := phonenumbers.GetNationalSignificantNumber(num)
	if national == "" {
		return "", "", false
	}
	cc := strconv.Itoa(int(num.GetCountryCode()))
	return cc + national, cc + "0" + national, true
}

// PhoneError is a primary phone that is digits but no phone number libphonenumber
// can parse (an unknown country code, too short, too long): Logto's
// user.invalid_phone. It is an ErrInvalid.
type PhoneError struct{ Phone string }

func (e *PhoneError) Error() string {
	return fmt.Sprintf("directory: invalid primaryPhone: %q is not a phone number", e.Phone)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *PhoneError) Is(target error) bool { return target == ErrInvalid }

// normalizePhoneField normalizes *p in place, or reports a *PhoneError.
func normalizePhoneField(p **string) error {
	if *p == nil {
		return nil
	}
	n, _, ok := phoneForms(**p)
	if !ok {
		return &PhoneError{Phone: **p}
	}
	*p = &n
	return nil
}

// NormalizePhone is the stored form of phone (digits, no trunk 0), or phone itself
// when it cannot be parsed.
func NormalizePhone(phone string) string {
	if n, _, ok := phoneForms(phone); ok {
		return n
	}
	return phone
}

// phoneKeys are the phones index keys one number may be held under: its stored form
// and its leading-zero form (data written before Latch normalized phones), or the
// number as given.
func phoneKeys(phone string) []string {
	n, z, ok := phoneForms(phone)
	if !ok {
		return []string{phone}
	}
	keys := []string{n, z}
	if phone != n && phone != z {
		keys = append(keys, phone)
	}
	return keys
}
