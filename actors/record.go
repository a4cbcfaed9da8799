// Package actors holds Latch's grains (virtual actors placed by package cluster) and
// the pieces they share: the grain contract (State, Update), the typed grain call
// (Call) and the OAuth error carried across members (Failure).
package actors

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/persistence"
)

// MaxConflicts bounds how many times Update re-decides after a version conflict before
// it gives up: a conflict means another activation of the same key wrote meanwhile,
// which only happens briefly while members disagree on the key's owner.
const MaxConflicts = 3

// State is a grain's whole persisted state, one record kind/key -> {version,
// expiresAt, bytes} (DESIGN.md "The grain contract"): activation loads it (absent means
// new), and every mutation goes through Update, which writes with expect = the loaded
// version and reloads and re-decides on a conflict.
//
// A State belongs to one grain activation and is used from the grain's goroutine only:
// it is not safe for concurrent use.
type State[T proto.Message] struct {
	store     persistence.Store
	kind, key string

	// Expiry returns when a next state expires; nil means never. Set it before the
	// first Update.
	Expiry func(next T) time.Time
	// Now is the clock that decides whether the loaded state has expired; nil means
	// time.Now.
	Now func() time.Time
	// Fence, when set, is asked before each write; an error aborts the write and is
	// returned. A grain sets it to refuse writes once its member no longer serves it
	// (grainBase.fence).
	Fence func() error

	cur       T
	version   uint64
	expiresAt time.Time
	loaded    bool
}

// NewState returns the not yet loaded state of kind/key in store.
func NewState[T proto.Message](store persistence.Store, kind, key string) *State[T] {
	return &State[T]{store: store, kind: kind, key: key, cur: newMessage[T]()}
}

// Load reads the record; an absent or expired record is an empty T at version 0.
func (s *State[T]) Load(ctx context.Context) error {
	rec, err := s.store.Get(ctx, s.kind, s.key)
	switch {
	case errors.Is(err, persistence.ErrNotFound):
		s.set(newMessage[T](), 0, time.Time{})
		return nil
	case err != nil:
		return fmt.Errorf("load %s/%s: %w", s.kind, s.key, err)
	}
	next := newMessage[T]()
	if err := proto.Unmarshal(rec.Value, next); err != nil {
		return fmt.Errorf("load %s/%s: decode version %d: %w", s.kind, s.key, rec.Version, err)
	}
	s.set(next, rec.Version, rec.ExpiresAt)
	return nil
}

func (s *State[T]) set(cur T, version uint64, expiresAt time.Time) {
	s.cur, s.version, s.expiresAt, s.loaded = cur, version, expiresAt, true
}

// Loaded reports whether the record has been loaded (or written) already, so that
// Read needs no store call.
func (s *State[T]) Loaded() bool { return s.loaded }

// Current returns the state as last loaded or written; an empty T when the record does
// not exist. Treat it as read-only: mutate only inside Update.
func (s *State[T]) Current() T { return s.cur }

// Version returns the record's version; 0 means the record does not exist.
func (s *State[T]) Version() uint64 { return s.version }

// Exists reports whether the record exists.
func (s *State[T]) Exists() bool { return s.version != 0 }

// ExpiresAt returns when the record expires; the zero time means never.
func (s *State[T]) ExpiresAt() time.Time { return s.expiresAt }

func (s *State[T]) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Read returns the state as of now without writing: it loads the record first if no
// Load or Update has yet, and returns an empty T when the record is absent or has
// expired at now. Treat the result as read-only.
func (s *State[T]) Read(ctx context.Context, now time.Time) (T, error) {
	if !s.loaded {
		if err := s.Load(ctx); err != nil {
			var zero T
			return zero, err
		}
	}
	if !s.expiresAt.IsZero() && !now.Before(s.expiresAt) {
		return newMessage[T](), nil
	}
	return s.cur, nil
}

// kept is the error a decision returns through Keep.
type kept struct{ reply any }

func (k *kept) Error() string { return "actors: state kept unchanged" }

// Keep is what a decide function returns as its error when the state stays as it is:
// Update writes nothing and returns reply (which must be of decide's reply type) with a
// nil error. Use it for requests that turn out to change nothing (revoking what is
// already revoked, a refresh token presented again within its reuse window), so they
// cost no write.
func Keep(reply any) error { return &kept{reply: reply} }

// Update runs one mutation of s under the grain contract:
//
//  1. decide receives a copy of the current state (an empty T when the record is
//     absent or has expired) and returns the next state and the reply;
//  2. the next state is written with expect = the current version, and Update returns
//     only after the write returned, so the reply is sent after the state is durable;
//  3. on persistence.ErrConflict (another activation wrote meanwhile) the state is
//     reloaded and decide runs again on it, up to MaxConflicts times.
//
// decide may modify and return its argument. Returning Keep(reply) writes nothing and
// returns reply. Returning another error aborts: nothing is written and Update returns
// that error (a decision that must both write and fail, such
// as revoking a replayed code, returns the failure as its reply instead). Returning a
// nil next state deletes the record. decide must not block and may run more than once.
func Update[T proto.Message, R any](ctx context.Context, s *State[T], decide func(cur T) (next T, reply R, err error)) (R, error) {
	var zero R
	if !s.loaded {
		if err := s.Load(ctx); err != nil {
			return zero, err
		}
	}
	for attempt := 0; ; attempt++ {
		if !s.expiresAt.IsZero() && !s.now().Before(s.expiresAt) {
			// Expired: the store treats it as absent, so the next write expects 0.
			s.set(newMessage[T](), 0, time.Time{})
		}
		next, reply, err := decide(proto.Clone(s.cur).(T))
		if k, ok := err.(*kept); ok {
			r, ok := k.reply.(R)
			if !ok && k.reply != nil {
				return zero, fmt.Errorf("update %s/%s: Keep reply %T is not a %T", s.kind, s.key, k.reply, zero)
			}
			return r, nil
		}
		if err != nil {
			return zero, err
		}
		err = s.write(ctx, next)
		if err == nil {
			return reply, nil
		}
		if !errors.Is(err, persistence.ErrConflict) {
			return zero, err
		}
		if attempt+1 >= MaxConflicts {
			return zero, fmt.Errorf("update %s/%s: still conflicting after %d attempts: %w", s.kind, s.key, MaxConflicts, err)
		}
		if err := s.Load(ctx); err != nil {
			return zero, err
		}
	}
}

// write stores next (or deletes the record when next is nil) with expect = the current
// version and, on success only, makes it the current state.
func (s *State[T]) write(ctx context.Context, next T) error {
	if s.Fence != nil {
		if err := s.Fence(); err != nil {
			return err
		}
	}
	if !next.ProtoReflect().IsValid() { // a nil message: delete
		if s.version == 0 {
			return nil // nothing we know of to delete
		}
		if err := s.store.Delete(ctx, s.kind, s.key, s.version); err != nil {
			return fmt.Errorf("delete %s/%s at version %d: %w", s.kind, s.key, s.version, err)
		}
		s.set(newMessage[T](), 0, time.Time{})
		return nil
	}
	buf := marshalBuffers.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= maxPooledMarshalBuffer {
			marshalBuffers.Put(buf)
		}
	}()
	value, err := proto.MarshalOptions{Deterministic: true}.MarshalAppend((*buf)[:0], next)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", s.kind, s.key, err)
	}
	*buf = value
	var expiresAt time.Time
	if s.Expiry != nil {
		expiresAt = s.Expiry(next)
	}
	version, err := s.store.Put(ctx, s.kind, s.key, s.version, value, expiresAt)
	if err != nil {
		return fmt.Errorf("write %s/%s at version %d: %w", s.kind, s.key, s.version, err)
	}
	s.set(next, version, expiresAt)
	return nil
}

// marshalBuffers holds the buffers records are encoded into for a write: the store does
// not keep a Put's value, so the buffer is free again once Put returns.
var marshalBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledMarshalBuffer is the largest buffer kept for reuse.
const maxPooledMarshalBuffer = 64 << 10

// newMessage returns a new empty T (T is a generated message pointer type).
func newMessage[T proto.Message]() T {
	var zero T
	return zero.ProtoReflect().Type().New().Interface().(T)
}
