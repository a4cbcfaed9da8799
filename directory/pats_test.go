package directory

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPersonalAccessTokens(t *testing.T) {
	d, clock := openTest(t, newMemStore())
	u := mustUser(t, d, NewUser{Username: ptr("pat_user")})
	ctx := t.Context()

	tok, value, err := d.CreatePersonalAccessToken(ctx, u.ID, "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(value, PATPrefix) || tok.Hash == "" || strings.Contains(tok.Hash, value) {
		t.Fatalf("token %+v value %q", tok, value)
	}
	if _, _, err := d.CreatePersonalAccessToken(ctx, u.ID, "ci", nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate name: %v, want conflict", err)
	}
	past := clock.Now().UnixMilli() - 1
	if _, _, err := d.CreatePersonalAccessToken(ctx, u.ID, "old", &past); !errors.Is(err, ErrInvalid) {
		t.Fatalf("past expiresAt: %v, want invalid", err)
	}
	if got, err := d.PersonalAccessTokenByValue(value); err != nil || got.UserID != u.ID || got.Name != "ci" {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := d.PersonalAccessTokenByValue(value + "x"); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("wrong value: %v", err)
	}
	if _, err := d.RenamePersonalAccessToken(ctx, u.ID, "ci", "deploy"); err != nil {
		t.Fatal(err)
	}
	list, _ := d.PersonalAccessTokens(u.ID)
	if len(list) != 1 || list[0].Name != "deploy" {
		t.Fatalf("list after rename: %+v", list)
	}
	// A second node loading the store sees the same tokens.
	d2, _ := openTest(t, d.store)
	if got, err := d2.PersonalAccessTokenByValue(value); err != nil || got.Name != "deploy" {
		t.Fatalf("reloaded lookup: %+v %v", got, err)
	}
	if err := d.DeletePersonalAccessToken(ctx, u.ID, "deploy"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.PersonalAccessTokenByValue(value); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("revoked token: %v", err)
	}
	if err := d.DeletePersonalAccessToken(ctx, u.ID, "deploy"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}

	exp := clock.Now().Add(time.Minute).UnixMilli()
	_, v2, err := d.CreatePersonalAccessToken(ctx, u.ID, "short", &exp)
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	if _, err := d.PersonalAccessTokenByValue(v2); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired token: %v", err)
	}
	if _, _, err := d.CreatePersonalAccessToken(ctx, "nobody", "x", nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestSubjectTokenOneUse(t *testing.T) {
	d, clock := openTest(t, newMemStore())
	u := mustUser(t, d, NewUser{Username: ptr("sub_user")})
	ctx := t.Context()
	st, value, err := d.CreateSubjectToken(ctx, u.ID, json.RawMessage(`{"ticket":1}`), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(value, SubjectTokenPrefix) || st.ExpiresAt-st.CreatedAt != SubjectTokenTTL.Milliseconds() {
		t.Fatalf("token %+v value %q", st, value)
	}
	// Another node loaded the token before it was used.
	other, _ := openTest(t, d.store)
	got, err := d.ConsumeSubjectToken(ctx, value)
	if err != nil || got.UserID != u.ID || string(got.Context) != `{"ticket":1}` {
		t.Fatalf("first use: %+v %v", got, err)
	}
	if _, err := d.ConsumeSubjectToken(ctx, value); !errors.Is(err, ErrTokenConsumed) {
		t.Fatalf("second use on the same node: %v", err)
	}
	// The other node's memory still says unused: its conditional write loses.
	if _, err := other.ConsumeSubjectToken(ctx, value); !errors.Is(err, ErrTokenConsumed) {
		t.Fatalf("second use on another node: %v", err)
	}
	if _, err := d.ConsumeSubjectToken(ctx, "sub_nothing"); !errors.Is(err, ErrTokenUnknown) {
		t.Fatalf("unknown: %v", err)
	}
	_, v2, _ := d.CreateSubjectToken(ctx, u.ID, nil, "admin")
	clock.Advance(SubjectTokenTTL + time.Second)
	if _, err := d.ConsumeSubjectToken(ctx, v2); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("expired: %v", err)
	}
}

// Expired subject tokens are deleted by later creations, on the replicated path.
func TestSubjectTokenSweep(t *testing.T) {
	d, clock := openTest(t, newMemStore())
	u := mustUser(t, d, NewUser{Username: ptr("sweep_user")})
	for range 3 {
		if _, _, err := d.CreateSubjectToken(t.Context(), u.ID, nil, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(SubjectTokenTTL + time.Second)
	_, v, err := d.CreateSubjectToken(t.Context(), u.ID, nil, "admin")
	if err != nil {
		t.Fatal(err)
	}
	d.mu.RLock()
	n := len(d.st.tok.subjects)
	d.mu.RUnlock()
	if n != 1 {
		t.Fatalf("%d subject tokens in memory, want the new one only", n)
	}
	reloaded, _ := openTest(t, d.store)
	if _, err := reloaded.SubjectTokenByValue(v); err != nil {
		t.Fatalf("reloaded: %v", err)
	}
	if got := len(reloaded.st.tok.subjects); got != 1 {
		t.Fatalf("%d subject tokens in the store, want 1", got)
	}
}

// Deleting a user deletes its tokens with it.
func TestUserDeletionCascadesTokens(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	u := mustUser(t, d, NewUser{Username: ptr("gone_user")})
	_, pat, err := d.CreatePersonalAccessToken(t.Context(), u.ID, "ci", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, sub, err := d.CreateSubjectToken(t.Context(), u.ID, nil, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	reloaded, _ := openTest(t, d.store)
	for _, dd := range []*Directory{d, reloaded} {
		if len(dd.st.tok.pats) != 0 || len(dd.st.tok.patByHash) != 0 || len(dd.st.tok.subjects) != 0 {
			t.Fatalf("tokens left after deleting their user: %+v", dd.st.tok)
		}
		if _, err := dd.PersonalAccessTokenByValue(pat); !errors.Is(err, ErrTokenUnknown) {
			t.Fatalf("PAT of a deleted user: %v", err)
		}
		if _, err := dd.SubjectTokenByValue(sub); !errors.Is(err, ErrTokenUnknown) {
			t.Fatalf("subject token of a deleted user: %v", err)
		}
	}
}
