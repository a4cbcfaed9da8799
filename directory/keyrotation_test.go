package directory

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func keyIDs(ks []*SigningKey) (out []string) {
	for _, k := range ks {
		out = append(out, k.ID+":"+k.Status)
	}
	return out
}

// RotateSigningKey is one batch: the new key is Current, the old Current is Previous
// (still published), older Previous keys are dropped (Logto keeps two), a Next key is
// promoted in place and other Next keys stay.
func TestRotateSigningKey(t *testing.T) {
	ctx := t.Context()
	d, clock := openTest(t, newMemStore())
	rotate := func(id string) {
		t.Helper()
		clock.Advance(time.Millisecond)
		if err := d.RotateSigningKey(ctx, &SigningKey{ID: id, Alg: "ES256", JWK: json.RawMessage(`{"k":"` + id + `"}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	rotate("k1")
	if got := keyIDs(d.SigningKeys()); !slices.Equal(got, []string{"k1:Current"}) {
		t.Fatalf("first key: %v", got)
	}
	rotate("k2")
	if got := keyIDs(d.SigningKeys()); !slices.Equal(got, []string{"k2:Current", "k1:Previous"}) {
		t.Fatalf("after one rotation: %v", got)
	}
	rotate("k3")
	if got := keyIDs(d.SigningKeys()); !slices.Equal(got, []string{"k3:Current", "k2:Previous"}) {
		t.Fatalf("after two rotations: %v", got)
	}
	// A pre-published Next key is promoted; another Next key stays.
	clock.Advance(time.Millisecond)
	for _, id := range []string{"n1", "n2"} {
		if err := d.PutSigningKey(ctx, &SigningKey{ID: id, Alg: "ES256", JWK: json.RawMessage(`{}`), Status: KeyNext}); err != nil {
			t.Fatal(err)
		}
	}
	created := d.st.keys["n1"].CreatedAt
	rotate("n1")
	if got := keyIDs(d.SigningKeys()); !slices.Equal(got, []string{"n1:Current", "n2:Next", "k3:Previous"}) {
		t.Fatalf("promoting a Next key: %v", got)
	}
	if d.st.keys["n1"].CreatedAt != created {
		t.Fatal("a promoted Next key keeps its creation time")
	}
	if cur, ok := d.CurrentSigningKey(); !ok || cur.ID != "n1" {
		t.Fatalf("CurrentSigningKey = %v, %v", cur, ok)
	}
	// The rotation reached the store: a reopened directory sees the same ring.
	d2, _ := openTest(t, d.store)
	if got, want := keyIDs(d2.SigningKeys()), keyIDs(d.SigningKeys()); !slices.Equal(got, want) {
		t.Fatalf("reloaded %v, want %v", got, want)
	}
}

// RevokeSigningKey follows Logto: never the last key; an unknown id is not found;
// deleting the Current key makes the next key Current in the same write.
func TestRevokeSigningKey(t *testing.T) {
	ctx := t.Context()
	d, clock := openTest(t, newMemStore())
	for _, id := range []string{"k1", "k2"} {
		clock.Advance(time.Millisecond)
		if err := d.RotateSigningKey(ctx, &SigningKey{ID: id, Alg: "ES256", JWK: json.RawMessage(`{}`)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	wantErrIs(t, d.RevokeSigningKey(ctx, "nope"), ErrNotFound)
	if err := d.RevokeSigningKey(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if got := keyIDs(d.SigningKeys()); !slices.Equal(got, []string{"k1:Current"}) {
		t.Fatalf("after deleting the Current key: %v", got)
	}
	wantErrIs(t, d.RevokeSigningKey(ctx, "k1"), ErrKeyRequired)
	wantErrIs(t, d.RevokeSigningKey(ctx, "nope"), ErrKeyRequired) // Logto checks the count first
	if len(d.SigningKeys()) != 1 {
		t.Fatal("the last key was deleted")
	}
}

// Cookie keys: rotation puts a new random key on top and keeps two; the last one
// cannot be deleted; they survive a reopen (their kind is loaded at Open).
func TestCookieKeys(t *testing.T) {
	ctx := t.Context()
	d, clock := openTest(t, newMemStore())
	if len(d.CookieKeys()) != 0 {
		t.Fatal("a new directory has cookie keys")
	}
	var seen []string
	for range 3 {
		clock.Advance(time.Millisecond)
		if err := d.RotateCookieKey(ctx); err != nil {
			t.Fatal(err)
		}
		ks := d.CookieKeys()
		seen = append(seen, ks[0].ID)
		if len(ks[0].Value) < 32 {
			t.Fatalf("cookie key value %q is too short", ks[0].Value)
		}
	}
	ks := d.CookieKeys()
	if len(ks) != 2 || ks[0].ID != seen[2] || ks[1].ID != seen[1] {
		t.Fatalf("cookie keys %v, want the newest two of %v", ks, seen)
	}
	wantErrIs(t, d.RevokeCookieKey(ctx, seen[0]), ErrNotFound)
	if err := d.RevokeCookieKey(ctx, seen[1]); err != nil {
		t.Fatal(err)
	}
	wantErrIs(t, d.RevokeCookieKey(ctx, seen[2]), ErrKeyRequired)
	d2, _ := openTest(t, d.store)
	if ks := d2.CookieKeys(); len(ks) != 1 || ks[0].ID != seen[2] || ks[0].Value != d.CookieKeys()[0].Value {
		t.Fatalf("reloaded cookie keys %v", ks)
	}
}
