package actorstest

import (
	"testing"
	"time"

	"github.com/latchid/latch/persistence"
	"github.com/latchid/latch/persistence/persistencetest"
)

// TestMemStoreConformance runs the store conformance suite, so grain tests stand on a
// store that keeps the same contract as Pebble.
func TestMemStoreConformance(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		s := NewMemStore()
		s.Now = now
		return s
	})
}
