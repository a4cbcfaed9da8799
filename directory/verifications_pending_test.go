package directory

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchid/latch/persistence"
)

// A pending record (a WebAuthn registration) is not a proof until it is updated; it is
// proven once (a stale copy conflicts), found by its type only, and spent once.
func TestPendingVerificationRecord(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	u, err := d.CreateUser(t.Context(), NewUser{Username: ptr("penny")})
	if err != nil {
		t.Fatal(err)
	}
	_, id, err := d.CreatePendingVerificationRecord(t.Context(), u.ID, "WebAuthn", json.RawMessage(`{"session":{}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.VerificationRecordFor(id, u.ID); !errors.Is(err, ErrVerificationRecordNotFound) {
		t.Fatalf("a pending record is accepted as a proof: %v", err)
	}
	if _, err := d.VerificationRecordOfType(id, u.ID, "Password"); !errors.Is(err, ErrVerificationRecordNotFound) {
		t.Fatalf("found under another type: %v", err)
	}
	if _, err := d.VerificationRecordOfType(id, "other", "WebAuthn"); !errors.Is(err, ErrVerificationRecordNotFound) {
		t.Fatalf("found for another user: %v", err)
	}
	rec, err := d.VerificationRecordOfType(id, u.ID, "WebAuthn")
	if err != nil || rec.Verified || string(rec.Data) != `{"session":{}}` {
		t.Fatalf("pending record %+v, %v", rec, err)
	}
	if err := d.UpdateVerificationRecord(t.Context(), rec, json.RawMessage(`{"credentialId":"c"}`)); err != nil {
		t.Fatal(err)
	}
	if err := d.UpdateVerificationRecord(t.Context(), rec, json.RawMessage(`{"credentialId":"d"}`)); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("a stale update: %v", err)
	}
	d2, _ := openTest(t, store)
	got, err := d2.VerificationRecordOfType(id, u.ID, "WebAuthn")
	if err != nil || !got.Verified || string(got.Data) != `{"credentialId":"c"}` {
		t.Fatalf("proven record on another directory: %+v, %v", got, err)
	}
	if err := d.DeleteVerificationRecord(t.Context(), rec); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("delete of a stale copy: %v", err)
	}
	cur, _ := d.VerificationRecordOfType(id, u.ID, "WebAuthn")
	if err := d.DeleteVerificationRecord(t.Context(), cur); err != nil {
		t.Fatal(err)
	}
	if _, err := d.VerificationRecordOfType(id, u.ID, "WebAuthn"); !errors.Is(err, ErrVerificationRecordNotFound) {
		t.Fatalf("spent record found: %v", err)
	}
}
