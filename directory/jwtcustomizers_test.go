package directory

import (
	"errors"
	"testing"
)

// The custom JWT configs are directory records: created (created = true), replaced,
// loaded again by Open, deleted (ErrNotFound the second time).
func TestJwtCustomizersLifecycleAndReload(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	ctx := t.Context()
	created, err := d.PutJwtCustomizer(ctx, JwtCustomizerAccessToken, []byte(`{"script":"a"}`))
	if err != nil || !created {
		t.Fatalf("first put: created %v, %v", created, err)
	}
	if created, err = d.PutJwtCustomizer(ctx, JwtCustomizerAccessToken, []byte(`{"script":"b"}`)); err != nil || created {
		t.Fatalf("second put: created %v, %v", created, err)
	}
	if _, err := d.PutJwtCustomizer(ctx, "jwt.idToken", []byte(`{}`)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("unknown key: %v", err)
	}
	d2, _ := openTest(t, store)
	c, ok := d2.JwtCustomizer(JwtCustomizerAccessToken)
	if !ok || string(c.Value) != `{"script":"b"}` {
		t.Fatalf("reloaded %v %v", c, ok)
	}
	if _, ok := d2.JwtCustomizer(JwtCustomizerClientCredentials); ok {
		t.Fatal("a client-credentials config appeared")
	}
	if err := d2.DeleteJwtCustomizer(ctx, JwtCustomizerAccessToken); err != nil {
		t.Fatal(err)
	}
	if err := d2.DeleteJwtCustomizer(ctx, JwtCustomizerAccessToken); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}
