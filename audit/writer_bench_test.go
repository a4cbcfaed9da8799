package audit_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/persistence"
)

// BenchmarkWriter is the cost of one refresh's audit log entry end to end: Record on
// the caller, then encoding and the batched write on the writer goroutine, into a
// Pebble store on disk with fsync. ns/op is the wall time per entry at full speed; the
// CPU a server spends per entry is at most that.
func BenchmarkWriter(b *testing.B) {
	st, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	w, err := audit.NewWriter(audit.WriterConfig{Store: st, Now: time.Now, Rand: rand.Reader, QueueSize: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	e := audit.Entry{Key: audit.KeyExchangeByRefreshToken, GrantType: "refresh_token", ApplicationID: "app-0123456789",
		UserID: "user-0123456789abcdef", TokenTypes: audit.AccessToken | audit.RefreshToken | audit.IDToken,
		Scope: "openid offline_access profile", IP: "127.0.0.1", UserAgent: "Go-http-client/1.1"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w.Record(e)
		if i%4096 == 4095 { // let the writer catch up: measure it, not drops
			for w.Stats().Written < uint64(i+1) {
				time.Sleep(50 * time.Microsecond)
			}
		}
	}
	w.Close()
	b.StopTimer()
	if s := w.Stats(); s.Failed != 0 || s.Dropped != 0 || s.Written != uint64(b.N) {
		b.Fatalf("stats %+v for %d entries", s, b.N)
	}
}
