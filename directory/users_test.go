package directory

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestUserUniqueness(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	alice := mustUser(t, d, NewUser{Username: ptr("alice"), PrimaryEmail: ptr("Alice@Example.com"), PrimaryPhone: ptr("15550001")})

	tests := []struct {
		name  string
		in    NewUser
		field string
	}{
		{"username", NewUser{Username: ptr("alice")}, "username"},
		{"email same case", NewUser{PrimaryEmail: ptr("Alice@Example.com")}, "primaryEmail"},
		{"email other case", NewUser{PrimaryEmail: ptr("alice@EXAMPLE.COM")}, "primaryEmail"},
		{"phone", NewUser{PrimaryPhone: ptr("15550001")}, "primaryPhone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.CreateUser(t.Context(), tt.in)
			wantConflict(t, err, EntityUser, tt.field)
		})
	}
	// Usernames are case-sensitive (as in Logto).
	mustUser(t, d, NewUser{Username: ptr("Alice")})

	bob := mustUser(t, d, NewUser{Username: ptr("bob")})
	_, err := d.UpdateUser(t.Context(), bob.ID, func(u *User) error { u.PrimaryEmail = ptr("ALICE@example.com"); return nil })
	wantConflict(t, err, EntityUser, "primaryEmail")

	// Clearing alice's username (empty string = none) frees it; her own values do not
	// conflict with herself.
	alice2, err := d.UpdateUser(t.Context(), alice.ID, func(u *User) error {
		u.Username = ptr("")
		u.Name = ptr("Alice A.")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if alice2.Username != nil || alice2.UpdatedAt < alice.UpdatedAt || alice.Username == nil || *alice.Username != "alice" {
		t.Fatalf("after update: new %+v old %+v", alice2, alice)
	}
	if _, err := d.UpdateUser(t.Context(), bob.ID, func(u *User) error { u.Username = ptr("alice"); return nil }); err != nil {
		t.Fatalf("username freed by alice: %v", err)
	}
	if u, ok := d.UserByUsername("alice"); !ok || u.ID != bob.ID {
		t.Fatalf("UserByUsername(alice) = %v, %v", u, ok)
	}
	if u, ok := d.UserByEmail("alice@example.COM"); !ok || u.ID != alice.ID {
		t.Fatalf("UserByEmail = %v, %v", u, ok)
	}
	if u, ok := d.UserByPhone("15550001"); !ok || u.ID != alice.ID {
		t.Fatalf("UserByPhone = %v, %v", u, ok)
	}

	// Delete frees every identifier.
	if err := d.DeleteUser(t.Context(), alice.ID); err != nil {
		t.Fatal(err)
	}
	mustUser(t, d, NewUser{PrimaryEmail: ptr("alice@example.com"), PrimaryPhone: ptr("15550001")})
	wantErrIs(t, d.DeleteUser(t.Context(), alice.ID), ErrNotFound)
}

func TestUserValidation(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	tests := []struct {
		name  string
		in    NewUser
		field string
	}{
		{"username digit first", NewUser{Username: ptr("1abc")}, "username"},
		{"username dash", NewUser{Username: ptr("a-b")}, "username"},
		{"email", NewUser{PrimaryEmail: ptr("not-an-email")}, "primaryEmail"},
		{"phone", NewUser{PrimaryPhone: ptr("+1 555")}, "primaryPhone"},
		{"avatar", NewUser{Avatar: ptr("not a url")}, "avatar"},
		{"customData", NewUser{CustomData: json.RawMessage(`"x"`)}, "customData"},
		{"profile", NewUser{Profile: json.RawMessage(`[]`)}, "profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.CreateUser(t.Context(), tt.in)
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Field != tt.field {
				t.Fatalf("err = %v, want InvalidError on %s", err, tt.field)
			}
		})
	}
}

func TestUserPassword(t *testing.T) {
	ctx := t.Context()
	d, _ := openTest(t, newMemStore())
	u := mustUser(t, d, NewUser{Username: ptr("carol"), Password: "correct horse"})
	if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q", u.PasswordHash)
	}
	if got, err := d.VerifyUserPassword(u.ID, "correct horse"); err != nil || got.ID != u.ID {
		t.Fatalf("VerifyUserPassword = %v, %v", got, err)
	}
	_, err := d.VerifyUserPassword(u.ID, "wrong")
	wantErrIs(t, err, ErrInvalidCredentials)
	_, err = d.VerifyUserPassword("nobody", "x")
	wantErrIs(t, err, ErrNotFound)

	// UpdateUser cannot touch the hash; SetUserPassword can.
	u2, err := d.UpdateUser(ctx, u.ID, func(u *User) error { u.PasswordHash = ""; return nil })
	if err != nil || u2.PasswordHash != u.PasswordHash {
		t.Fatalf("UpdateUser changed the hash: %v", err)
	}
	if _, err := d.SetUserPassword(ctx, u.ID, "new secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.VerifyUserPassword(u.ID, "correct horse"); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old password still valid: %v", err)
	}
	if _, err := d.VerifyUserPassword(u.ID, "new secret"); err != nil {
		t.Fatal(err)
	}
	_, err = d.SetUserPassword(ctx, u.ID, "")
	wantErrIs(t, err, ErrInvalid)

	nopw := mustUser(t, d, NewUser{Username: ptr("dave")})
	if nopw.HasPassword() {
		t.Fatal("HasPassword without password")
	}
	_, err = d.VerifyUserPassword(nopw.ID, "")
	wantErrIs(t, err, ErrInvalidCredentials)
	d.SpendPasswordHash("x")
}

func TestUsersSearch(t *testing.T) {
	d, clock := openTest(t, newMemStore())
	mustUser(t, d, NewUser{Username: ptr("zed"), Name: ptr("Zed Zulu")})
	clock.Advance(time.Millisecond)
	mustUser(t, d, NewUser{Username: ptr("amy"), PrimaryEmail: ptr("amy@corp.example")})
	clock.Advance(time.Millisecond)
	mustUser(t, d, NewUser{Username: ptr("bea"), PrimaryEmail: ptr("bea@CORP.example")})

	if got := names(d.Users("")); got != "bea,amy,zed" {
		t.Fatalf("Users(\"\") = %s, want newest first", got)
	}
	if got := names(d.Users("corp")); got != "bea,amy" {
		t.Fatalf("Users(corp) = %s", got)
	}
	if got := names(d.Users("ZULU")); got != "zed" {
		t.Fatalf("Users(ZULU) = %s", got)
	}
}

func names(us []*User) string {
	var out []string
	for _, u := range us {
		out = append(out, *u.Username)
	}
	return strings.Join(out, ",")
}
