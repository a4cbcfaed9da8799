package httpapi

import (
	"strings"
	"testing"
)

// FuzzCodeIdentifier: the identifier of a verification code is untrusted input. It
// never panics; a normalized email normalizes to itself; a normalized phone is digits
// that are accepted again. (Phones are not idempotent: directory.NormalizePhone drops
// a trunk 0 each time, as Logto's two spellings of one number; send and check
// normalize the same input the same way, which is what a record needs.)
func FuzzCodeIdentifier(f *testing.F) {
	for _, s := range []string{"Alice@Example.com", "+1 (555) 123-4567", "61 0412 345 678", "a@b", "", "x@y.z\r\n", "123", "+"} {
		f.Add("email", s)
		f.Add("phone", s)
	}
	f.Fuzz(func(t *testing.T, typ, value string) {
		got, err := codeIdentifier(identifierJSON{Type: typ, Value: value})
		if err != nil {
			return
		}
		again, err := codeIdentifier(identifierJSON{Type: typ, Value: got.Value})
		if err != nil || (typ == identifierEmail && again != got) {
			t.Fatalf("%q %q -> %+v -> %+v, %v", typ, value, got, again, err)
		}
		if typ == identifierPhone && (got.Value == "" || strings.Trim(got.Value, "0123456789") != "") {
			t.Fatalf("phone %q -> %q", value, got.Value)
		}
	})
}
