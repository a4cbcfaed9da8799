package actors

import (
	"context"
	"errors"
	"net"
	"net/rpc"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/actors/actorstest"
	"github.com/latchid/latch/persistence"
	"github.com/latchid/latch/persistence/persistencetest"
)

// Member processes of a test share the parent's store over net/rpc, which simulates
// replication: whatever one member wrote, the survivor reads after it died.

// StoreService serves a persistence.Store over net/rpc.
type StoreService struct{ s persistence.Store }

// StoreArgs are the arguments of every StoreService method.
type StoreArgs struct {
	Kind, Key string
	Expect    uint64
	Value     []byte
	ExpiresAt time.Time
	Muts      []persistence.Mutation // Apply
}

// StoreReply is the result of every StoreService method.
type StoreReply struct {
	Rec     persistence.Record
	Version uint64
	Keys    []string
	Recs    []persistence.Record
	N       int
	Vers    []uint64 // Apply
	Code    string   // "not_found", "conflict", "closed", "other" or ""
	Msg     string
}

func (r *StoreReply) setErr(err error) {
	switch {
	case err == nil:
	case errors.Is(err, persistence.ErrNotFound):
		r.Code = "not_found"
	case errors.Is(err, persistence.ErrConflict):
		r.Code = "conflict"
	case errors.Is(err, persistence.ErrClosed):
		r.Code = "closed"
	default:
		r.Code, r.Msg = "other", err.Error()
	}
}

func (r *StoreReply) err() error {
	switch r.Code {
	case "":
		return nil
	case "not_found":
		return persistence.ErrNotFound
	case "conflict":
		return persistence.ErrConflict
	case "closed":
		return persistence.ErrClosed
	}
	return errors.New(r.Msg)
}

func (ss *StoreService) Get(a StoreArgs, r *StoreReply) error {
	rec, err := ss.s.Get(context.Background(), a.Kind, a.Key)
	r.Rec = rec
	r.setErr(err)
	return nil
}

func (ss *StoreService) Put(a StoreArgs, r *StoreReply) error {
	v, err := ss.s.Put(context.Background(), a.Kind, a.Key, a.Expect, a.Value, a.ExpiresAt)
	r.Version = v
	r.setErr(err)
	return nil
}

func (ss *StoreService) Delete(a StoreArgs, r *StoreReply) error {
	r.setErr(ss.s.Delete(context.Background(), a.Kind, a.Key, a.Expect))
	return nil
}

func (ss *StoreService) Scan(a StoreArgs, r *StoreReply) error {
	r.setErr(ss.s.Scan(context.Background(), a.Kind, func(key string, rec persistence.Record) error {
		r.Keys = append(r.Keys, key)
		r.Recs = append(r.Recs, rec)
		return nil
	}))
	return nil
}

func (ss *StoreService) Apply(a StoreArgs, r *StoreReply) error {
	v, err := ss.s.Apply(context.Background(), a.Muts)
	r.Vers = v
	r.setErr(err)
	return nil
}

func (ss *StoreService) Sweep(_ StoreArgs, r *StoreReply) error {
	n, err := ss.s.SweepExpired(context.Background())
	r.N = n
	r.setErr(err)
	return nil
}

// serveStore serves s on a loopback port until the test ends and returns the address.
func serveStore(t *testing.T, s persistence.Store) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer()
	if err := srv.RegisterName("Store", &StoreService{s: s}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed at the end of the test
			}
			go srv.ServeConn(conn)
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().String()
}

// remoteStore is a persistence.Store served by serveStore in another process.
type remoteStore struct {
	c      *rpc.Client
	closed atomic.Bool
}

var _ persistence.Store = (*remoteStore)(nil)

func dialStore(addr string) (*remoteStore, error) {
	c, err := rpc.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &remoteStore{c: c}, nil
}

func (s *remoteStore) call(ctx context.Context, method string, a StoreArgs) (*StoreReply, error) {
	if s.closed.Load() {
		return nil, persistence.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var r StoreReply
	call := s.c.Go("Store."+method, a, &r, make(chan *rpc.Call, 1))
	select {
	case <-call.Done:
		if errors.Is(call.Error, rpc.ErrShutdown) || (call.Error != nil && s.closed.Load()) {
			return nil, persistence.ErrClosed
		}
		if call.Error != nil {
			return nil, call.Error
		}
		return &r, r.err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *remoteStore) Get(ctx context.Context, kind, key string) (persistence.Record, error) {
	r, err := s.call(ctx, "Get", StoreArgs{Kind: kind, Key: key})
	if err != nil {
		return persistence.Record{}, err
	}
	return r.Rec, nil
}

func (s *remoteStore) Put(ctx context.Context, kind, key string, expect uint64, value []byte, expiresAt time.Time) (uint64, error) {
	r, err := s.call(ctx, "Put", StoreArgs{Kind: kind, Key: key, Expect: expect, Value: value, ExpiresAt: expiresAt})
	if err != nil {
		return 0, err
	}
	return r.Version, nil
}

func (s *remoteStore) Delete(ctx context.Context, kind, key string, expect uint64) error {
	_, err := s.call(ctx, "Delete", StoreArgs{Kind: kind, Key: key, Expect: expect})
	return err
}

func (s *remoteStore) Scan(ctx context.Context, kind string, fn func(key string, rec persistence.Record) error) error {
	r, err := s.call(ctx, "Scan", StoreArgs{Kind: kind})
	if err != nil {
		return err
	}
	for i, k := range r.Keys {
		if err := fn(k, r.Recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func (s *remoteStore) Apply(ctx context.Context, muts []persistence.Mutation) ([]uint64, error) {
	r, err := s.call(ctx, "Apply", StoreArgs{Muts: muts})
	if err != nil {
		return nil, err
	}
	return r.Vers, nil
}

func (s *remoteStore) SweepExpired(ctx context.Context) (int, error) {
	r, err := s.call(ctx, "Sweep", StoreArgs{})
	if err != nil {
		return 0, err
	}
	return r.N, nil
}

func (s *remoteStore) Close() error {
	s.closed.Store(true)
	if err := s.c.Close(); err != nil {
		return persistence.ErrClosed
	}
	return nil
}

// TestRemoteStoreConformance checks the test-only RPC shim against the store contract,
// so a failover test that reads through it tests the grains, not the shim.
func TestRemoteStoreConformance(t *testing.T) {
	persistencetest.Run(t, func(t *testing.T, now func() time.Time) persistence.Store {
		mem := actorstest.NewMemStore()
		mem.Now = now
		rs, err := dialStore(serveStore(t, mem))
		if err != nil {
			t.Fatal(err)
		}
		return rs
	})
}
