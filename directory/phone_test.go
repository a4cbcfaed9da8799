package directory

import (
	"errors"
	"testing"
)

func TestPhoneForms(t *testing.T) {
	tests := []struct{ in, want, zero string }{
		{"610412345678", "61412345678", "610412345678"}, // Australia, trunk 0 written
		{"61412345678", "61412345678", "610412345678"},
		{"4407911123456", "447911123456", "4407911123456"}, // UK
		{"13108050000", "13108050000", "103108050000"},     // US: no trunk prefix to strip
		{"390612345678", "390612345678", "3900612345678"},  // Italy keeps its leading 0
	}
	for _, tt := range tests {
		n, z, ok := phoneForms(tt.in)
		if !ok || n != tt.want || z != tt.zero {
			t.Errorf("phoneForms(%q) = %q, %q, %v; want %q, %q", tt.in, n, z, ok, tt.want, tt.zero)
		}
	}
	if _, _, ok := phoneForms("0"); ok {
		t.Error("phoneForms(\"0\") parsed")
	}
	if got := NormalizePhone("0"); got != "0" {
		t.Errorf("NormalizePhone kept %q, want the input", got)
	}
}

// TestUserPhoneNormalized: one number however written: stored without the trunk 0,
// unique across spellings, found by either.
func TestUserPhoneNormalized(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	p := func(s string) *string { return &s }
	u, err := d.CreateUser(ctx, NewUser{PrimaryPhone: p("610412345678")})
	if err != nil {
		t.Fatal(err)
	}
	if *u.PrimaryPhone != "61412345678" {
		t.Fatalf("stored %q", *u.PrimaryPhone)
	}
	for _, other := range []string{"61412345678", "610412345678"} {
		var ce *ConflictError
		if _, err := d.CreateUser(ctx, NewUser{PrimaryPhone: p(other)}); !errors.As(err, &ce) || ce.Field != "primaryPhone" {
			t.Fatalf("create with %q: %v", other, err)
		}
		if got, ok := d.UserByPhone(other); !ok || got.ID != u.ID {
			t.Fatalf("UserByPhone(%q) = %v, %v", other, got, ok)
		}
	}
	// The owner may write its own number either way.
	if _, err := d.UpdateUser(ctx, u.ID, func(x *User) error { x.PrimaryPhone = p("610412345678"); return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestUserPhoneInvalid(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	p := "99999"
	var pe *PhoneError
	if _, err := d.CreateUser(t.Context(), NewUser{PrimaryPhone: &p}); !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("create with %q: %v", p, err)
	}
}
