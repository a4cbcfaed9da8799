package directory

import (
	"errors"
	"testing"
)

// Hooks are directory records: created with a generated id and signing key, patched
// (config replaced whole, the legacy event cleared), their key rotated, loaded again by
// Open, deleted.
func TestHooksLifecycleAndReload(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	ctx := t.Context()
	legacy := "PostSignIn"
	h, err := d.CreateHook(ctx, NewHook{Name: "crm", Event: &legacy, Events: []string{"User.Created"}, Enabled: true,
		Config: HookConfig{URL: "https://crm.example/hook", Headers: map[string]string{"x": "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.ID) != IDLength || len(h.SigningKey) != SecretLength || h.CreatedAt == 0 {
		t.Fatalf("created %+v", h)
	}
	if !h.Subscribes("User.Created") || h.Subscribes("PostSignIn") {
		t.Error("events, when set, win over the legacy event")
	}
	old := h.SigningKey
	off := false
	got, err := d.UpdateHook(ctx, h.ID, HookPatch{ClearEvent: true, Enabled: &off, RotateSigningKey: true,
		Config: &HookConfig{URL: "https://crm.example/v2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Event != nil || got.Enabled || got.SigningKey == old || len(got.SigningKey) != SecretLength ||
		got.Config.URL != "https://crm.example/v2" || got.Config.Headers != nil || got.Subscribes("User.Created") {
		t.Fatalf("patched %+v", got)
	}
	if _, err := d.CreateHook(ctx, NewHook{Events: []string{"PostSignIn"}}); err == nil {
		t.Error("a hook without a URL was created")
	}
	re := reopen(t, store)
	back, ok := re.HookByID(h.ID)
	if !ok || back.SigningKey != got.SigningKey || back.Config.URL != "https://crm.example/v2" || len(re.Hooks()) != 1 {
		t.Fatalf("after reopen %+v", back)
	}
	if err := re.DeleteHook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	var nf *NotFoundError
	if err := re.DeleteHook(ctx, h.ID); !errors.As(err, &nf) || nf.Entity != EntityHook {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := re.UpdateHook(ctx, h.ID, HookPatch{RotateSigningKey: true}); !errors.As(err, &nf) {
		t.Fatalf("update of a deleted hook: %v", err)
	}
}
