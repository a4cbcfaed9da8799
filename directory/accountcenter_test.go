package directory

import (
	"errors"
	"testing"
)

// The settings are a directory record: a second Open of the same store sees them.
func TestAccountCenterPersists(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	if a := d.AccountCenter(); a.Enabled || a.Version != 0 || a.Control("name") != AccountCenterOff {
		t.Fatalf("defaults = %+v", a)
	}
	enabled := true
	url := "https://example.com/delete"
	if _, err := d.UpdateAccountCenter(t.Context(), AccountCenterPatch{Enabled: &enabled,
		Fields:      map[string]string{"name": AccountCenterEdit, "email": AccountCenterReadOnly, "unknown": "Edit"},
		WebauthnSet: true, WebauthnRelatedOrigins: []string{"https://a.example", "https://a.example"},
		DeleteAccountURLSet: true, DeleteAccountURL: &url}); err != nil {
		t.Fatal(err)
	}
	d2, _ := openTest(t, store)
	a := d2.AccountCenter()
	if !a.Enabled || a.Version == 0 || a.Control("name") != AccountCenterEdit || a.Control("email") != AccountCenterReadOnly ||
		a.Control("password") != AccountCenterOff || len(a.Fields) != 2 || len(a.WebauthnRelatedOrigins) != 1 ||
		a.DeleteAccountURL == nil || *a.DeleteAccountURL != url {
		t.Errorf("reopened = %+v", a)
	}
	var ae *AccountCenterError
	if _, err := d2.UpdateAccountCenter(t.Context(), AccountCenterPatch{Fields: map[string]string{"mfa": "Write"}}); !errors.As(err, &ae) {
		t.Errorf("bad control: %v", err)
	}
	if d2.AccountCenter().Version != a.Version {
		t.Error("a refused change was written")
	}
}

// A change through one node is applied by every node (kindAccountCenter is a
// directory kind, so it also travels in snapshots).
func TestAccountCenterReplicated(t *testing.T) {
	_, dirs, nodes := cluster(t, 3, false)
	enabled := true
	if _, err := dirs[1].UpdateAccountCenter(t.Context(), AccountCenterPatch{Enabled: &enabled,
		Fields: map[string]string{"profile": AccountCenterEdit}}); err != nil {
		t.Fatal(err)
	}
	for i, d := range dirs {
		if a := d.AccountCenter(); !a.Enabled || a.Control("profile") != AccountCenterEdit {
			t.Errorf("node %d: %+v", i, a)
		}
	}
	sameEverywhere(t, dirs, nodes)
}
