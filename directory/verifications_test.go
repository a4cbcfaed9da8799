package directory

import (
	"errors"
	"testing"
	"time"
)

// A verification record is found for its user only, until it expires; a later
// creation deletes the expired one from the store.
func TestVerificationRecordLifetime(t *testing.T) {
	store := newMemStore()
	d, clock := openTest(t, store)
	u, err := d.CreateUser(t.Context(), NewUser{Username: ptr("vera")})
	if err != nil {
		t.Fatal(err)
	}
	rec, id, err := d.CreateVerificationRecord(t.Context(), u.ID, VerificationTypePassword)
	if err != nil {
		t.Fatal(err)
	}
	if rec.ExpiresAt-rec.CreatedAt != VerificationRecordTTL.Milliseconds() || len(id) < IDLength+20 {
		t.Errorf("record %+v, id %q", rec, id)
	}
	d2, _ := openTest(t, store) // a directory record: another Open sees it
	for i, dd := range []*Directory{d, d2} {
		if got, err := dd.VerificationRecordFor(id, u.ID); err != nil || got.Type != VerificationTypePassword {
			t.Fatalf("directory %d: %+v, %v", i, got, err)
		}
		if _, err := dd.VerificationRecordFor(id, "other"); !errors.Is(err, ErrVerificationRecordNotFound) {
			t.Errorf("directory %d: another user's lookup: %v", i, err)
		}
		if _, err := dd.VerificationRecordFor(id+"x", u.ID); !errors.Is(err, ErrVerificationRecordNotFound) {
			t.Errorf("directory %d: a wrong id: %v", i, err)
		}
	}
	if _, _, err := d.CreateVerificationRecord(t.Context(), "nobody", VerificationTypePassword); err == nil {
		t.Error("a record for a missing user was created")
	}
	clock.Advance(VerificationRecordTTL)
	if _, err := d.VerificationRecordFor(id, u.ID); !errors.Is(err, ErrVerificationRecordNotFound) {
		t.Errorf("expired record: %v", err)
	}
	clock.Advance(time.Second)
	if _, _, err := d.CreateVerificationRecord(t.Context(), u.ID, VerificationTypePassword); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(t.Context(), kindVerificationRecord, tokenHash(id)); err == nil {
		t.Error("the expired record was not swept")
	}
	if n := len(d.st.verifications); n != 1 {
		t.Errorf("%d records in memory, want 1", n)
	}
}

// Every node of a cluster knows a record created on any of them.
func TestVerificationRecordReplicated(t *testing.T) {
	_, dirs, nodes := cluster(t, 3, false)
	u, err := dirs[0].CreateUser(t.Context(), NewUser{Username: ptr("vera")})
	if err != nil {
		t.Fatal(err)
	}
	_, id, err := dirs[1].CreateVerificationRecord(t.Context(), u.ID, VerificationTypePassword)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		if _, err := d.VerificationRecordFor(id, u.ID); err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	sameEverywhere(t, dirs, nodes)
}
