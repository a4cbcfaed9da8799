package op

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/persistence"
)

// newTestDirectory is a directory on an in-memory Pebble store with cheap password
// hashing, and a fresh ES256 key ring: what every flow test runs against.
func newTestDirectory(t testing.TB, clock func() time.Time) (*directory.Directory, *oidcflow.KeyRing) {
	t.Helper()
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir, err := directory.Open(t.Context(), directory.Config{Store: store, Now: clock, Rand: rand.Reader,
		Argon2: directory.Argon2Params{Memory: 64, Time: 1}})
	if err != nil {
		t.Fatal(err)
	}
	key, err := oidcflow.GenerateSigningKey(oidcflow.AlgES256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := oidcflow.NewKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	return dir, keys
}
