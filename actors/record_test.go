package actors

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/persistence"
	"github.com/latchid/latch/persistence/persistencetest"
)

const testKind = "health"

// racingStore simulates another activation of the same key: before each Put it lets
// compete write first, so the grain's expected version is stale.
type racingStore struct {
	persistence.Store
	compete func()
}

func (s *racingStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	if s.compete != nil {
		s.compete()
	}
	return s.Store.Put(ctx, kind, key, expect, value, expiresAt)
}

// bump is a decision that counts one ping and replies with the new count.
func bump(cur *msg.HealthRecord) (*msg.HealthRecord, uint64, error) {
	cur.Pings++
	return cur, cur.Pings, nil
}

// competitor returns a function that bumps key's record as another activation would.
func competitor(t *testing.T, store persistence.Store, key string) func() {
	return func() {
		other := NewState[*msg.HealthRecord](store, testKind, key)
		if _, err := Update(t.Context(), other, bump); err != nil {
			t.Errorf("competing write: %v", err)
		}
	}
}

func TestStateUpdate(t *testing.T) {
	t.Parallel()
	errNo := errors.New("decided no")
	tests := []struct {
		name string
		// setup prepares the store (and may return a store wrapper to use instead).
		setup       func(t *testing.T, mem *actorstest.MemStore) persistence.Store
		decide      func(cur *msg.HealthRecord) (*msg.HealthRecord, uint64, error)
		wantReply   uint64
		wantErr     error
		wantVersion uint64 // of the stored record after Update; 0 = absent
		wantPings   uint64 // in the stored record
	}{
		{
			name:        "absent record is created at version 1",
			decide:      bump,
			wantReply:   1,
			wantVersion: 1, wantPings: 1,
		},
		{
			name: "existing record is loaded and advanced",
			setup: func(t *testing.T, mem *actorstest.MemStore) persistence.Store {
				for range 2 {
					competitor(t, mem, "k")()
				}
				return mem
			},
			decide:      bump,
			wantReply:   3,
			wantVersion: 3, wantPings: 3,
		},
		{
			name: "decide error writes nothing",
			setup: func(t *testing.T, mem *actorstest.MemStore) persistence.Store {
				competitor(t, mem, "k")()
				return mem
			},
			decide: func(cur *msg.HealthRecord) (*msg.HealthRecord, uint64, error) {
				cur.Pings = 99 // mutating the copy must not leak into the state
				return cur, 0, errNo
			},
			wantErr:     errNo,
			wantVersion: 1, wantPings: 1,
		},
		{
			name: "conflict reloads and re-decides on the winner's state",
			setup: func(t *testing.T, mem *actorstest.MemStore) persistence.Store {
				once := competitor(t, mem, "k")
				rs := &racingStore{Store: mem}
				rs.compete = func() { rs.compete = nil; once() }
				return rs
			},
			decide:      bump,
			wantReply:   2, // the competitor's ping, then ours
			wantVersion: 2, wantPings: 2,
		},
		{
			name: "endless conflicts give up with ErrConflict",
			setup: func(t *testing.T, mem *actorstest.MemStore) persistence.Store {
				return &racingStore{Store: mem, compete: competitor(t, mem, "k")}
			},
			decide:      bump,
			wantErr:     persistence.ErrConflict,
			wantVersion: MaxConflicts, wantPings: MaxConflicts, // only the competitor's writes
		},
		{
			name: "nil next state deletes the record",
			setup: func(t *testing.T, mem *actorstest.MemStore) persistence.Store {
				competitor(t, mem, "k")()
				return mem
			},
			decide: func(cur *msg.HealthRecord) (*msg.HealthRecord, uint64, error) {
				return nil, cur.Pings, nil
			},
			wantReply:   1,
			wantVersion: 0,
		},
		{
			name: "store failure is returned",
			setup: func(t *testing.T, mem *actorstest.MemStore) persistence.Store {
				_ = mem.Close()
				return mem
			},
			decide:  bump,
			wantErr: persistence.ErrClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := actorstest.NewMemStore()
			var store persistence.Store = mem
			if tt.setup != nil {
				store = tt.setup(t, mem)
			}
			s := NewState[*msg.HealthRecord](store, testKind, "k")
			reply, err := Update(t.Context(), s, tt.decide)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Update error = %v, want %v", err, tt.wantErr)
			}
			if reply != tt.wantReply {
				t.Errorf("reply = %d, want %d", reply, tt.wantReply)
			}
			if tt.wantErr == persistence.ErrClosed {
				return
			}
			got := NewState[*msg.HealthRecord](mem, testKind, "k")
			if err := got.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got.Version() != tt.wantVersion || got.Current().GetPings() != tt.wantPings {
				t.Errorf("stored version %d pings %d, want version %d pings %d",
					got.Version(), got.Current().GetPings(), tt.wantVersion, tt.wantPings)
			}
			if err == nil && (s.Version() != got.Version() || s.Current().GetPings() != got.Current().GetPings()) {
				t.Errorf("in-memory state (v%d, %d pings) differs from the store (v%d, %d pings)",
					s.Version(), s.Current().GetPings(), got.Version(), got.Current().GetPings())
			}
			if err != nil && s.Current().GetPings() == 99 {
				t.Error("a failed decision changed the in-memory state")
			}
		})
	}
}

func TestStateExpiry(t *testing.T) {
	t.Parallel()
	clock := persistencetest.NewClock(persistencetest.Epoch)
	mem := actorstest.NewMemStore()
	mem.Now = clock.Now
	s := NewState[*msg.HealthRecord](mem, testKind, "k")
	s.Now = clock.Now
	s.Expiry = func(*msg.HealthRecord) time.Time { return clock.Now().Add(time.Hour) }

	for want := uint64(1); want <= 2; want++ {
		if got, err := Update(t.Context(), s, bump); err != nil || got != want {
			t.Fatalf("ping %d: got %d, %v", want, got, err)
		}
	}
	if want := clock.Now().Add(time.Hour); !s.ExpiresAt().Equal(want) {
		t.Errorf("ExpiresAt = %v, want %v", s.ExpiresAt(), want)
	}
	clock.Advance(2 * time.Hour)
	// The activation still holds the expired state; the store sees no record, so the
	// next mutation starts from empty and writes with expect 0.
	got, err := Update(t.Context(), s, bump)
	if err != nil || got != 1 {
		t.Fatalf("after expiry: got %d, %v; want a fresh count of 1", got, err)
	}
	if s.Version() != 1 {
		t.Errorf("version after re-creation = %d, want 1", s.Version())
	}
}

func TestStateLoad(t *testing.T) {
	t.Parallel()
	mem := actorstest.NewMemStore()
	s := NewState[*msg.HealthRecord](mem, testKind, "k")
	if err := s.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.Exists() || s.Version() != 0 || s.Current() == nil || s.Current().GetPings() != 0 {
		t.Fatalf("absent record loads as v%d %v", s.Version(), s.Current())
	}
	if _, err := mem.Put(t.Context(), testKind, "bad", 0, []byte{0xff, 0xff}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := NewState[*msg.HealthRecord](mem, testKind, "bad").Load(t.Context()); err == nil {
		t.Error("loading an undecodable record succeeded")
	}
}

func TestStateUpdateKeep(t *testing.T) {
	t.Parallel()
	mem := actorstest.NewMemStore()
	competitor(t, mem, "k")()
	s := NewState[*msg.HealthRecord](mem, testKind, "k")
	reply, err := Update(t.Context(), s, func(cur *msg.HealthRecord) (*msg.HealthRecord, uint64, error) {
		cur.Pings = 99 // a kept decision's changes are dropped
		return nil, 0, Keep(uint64(7))
	})
	if err != nil || reply != 7 {
		t.Fatalf("Keep: reply %d, err %v; want 7, nil", reply, err)
	}
	if s.Version() != 1 || s.Current().GetPings() != 1 {
		t.Errorf("state after Keep: v%d, %d pings; want v1, 1 ping", s.Version(), s.Current().GetPings())
	}
	if rec, _ := mem.Get(t.Context(), testKind, "k"); rec.Version != 1 {
		t.Errorf("Keep wrote: stored version %d", rec.Version)
	}
	// A reply of the wrong type is a programming error, reported.
	if _, err := Update(t.Context(), s, func(cur *msg.HealthRecord) (*msg.HealthRecord, uint64, error) {
		return nil, 0, Keep("seven")
	}); err == nil {
		t.Error("Keep with a reply of the wrong type succeeded")
	}
}
