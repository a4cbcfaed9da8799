package persistence_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchid/latch/persistence"
)

// scanAll returns kind's records as key -> record.
func scanAll(t *testing.T, s persistence.Store, kind string) map[string]persistence.Record {
	t.Helper()
	out := map[string]persistence.Record{}
	err := s.Scan(t.Context(), kind, func(key string, rec persistence.Record) error {
		out[key] = rec
		return nil
	})
	if err != nil {
		t.Fatalf("Scan %s: %v", kind, err)
	}
	return out
}

func TestPebbleReplaceKinds(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openPebble(t, persistence.PebbleConfig{Dir: dir})
	put := func(kind, key string, n int) {
		t.Helper()
		var v uint64
		for range n {
			var err error
			if v, err = s.Put(ctx, kind, key, v, []byte(kind+"/"+key), time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	put("app", "old", 1)
	put("app", "kept-key", 3)
	put("idx", "x", 1)
	put("session", "s1", 2)   // not replaced
	put("ap", "neighbour", 1) // a kind that is a prefix of a replaced one
	put("appx", "neighbour", 1)

	recs := []persistence.KindRecord{
		{Kind: "app", Key: "kept-key", Record: persistence.Record{Version: 7, Value: []byte("new")}},
		{Kind: "app", Key: "fresh", Record: persistence.Record{Version: 2, Value: []byte{}}},
		{Kind: "empty-now", Key: "k", Record: persistence.Record{Version: 1, Value: []byte("v")}},
	}
	if err := s.ReplaceKinds(ctx, []string{"app", "idx", "empty-now"}, recs); err != nil {
		t.Fatalf("ReplaceKinds: %v", err)
	}

	apps := scanAll(t, s, "app")
	if len(apps) != 2 || apps["kept-key"].Version != 7 || string(apps["kept-key"].Value) != "new" || apps["fresh"].Version != 2 {
		t.Fatalf("app after replace = %+v", apps)
	}
	if idx := scanAll(t, s, "idx"); len(idx) != 0 {
		t.Fatalf("idx after replace = %+v, want empty", idx)
	}
	for _, kind := range []string{"session", "ap", "appx"} {
		if got := scanAll(t, s, kind); len(got) != 1 {
			t.Fatalf("%s after replace = %+v: a kind not replaced was touched", kind, got)
		}
	}
	if rec, err := s.Get(ctx, "session", "s1"); err != nil || rec.Version != 2 {
		t.Fatalf("session/s1 = %+v, %v", rec, err)
	}
	// Conditional writes continue from the replaced versions.
	if _, err := s.Put(ctx, "app", "kept-key", 3, []byte("stale"), time.Time{}); !errors.Is(err, persistence.ErrConflict) {
		t.Fatalf("Put at the pre-replace version: %v, want ErrConflict", err)
	}
	if v, err := s.Put(ctx, "app", "kept-key", 7, []byte("next"), time.Time{}); err != nil || v != 8 {
		t.Fatalf("Put at the replaced version = %d, %v", v, err)
	}

	// Durable: the replacement survives reopening.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openPebble(t, persistence.PebbleConfig{Dir: dir})
	if apps := scanAll(t, s2, "app"); len(apps) != 2 || apps["kept-key"].Version != 8 {
		t.Fatalf("app after reopen = %+v", apps)
	}
	if got := scanAll(t, s2, "idx"); len(got) != 0 {
		t.Fatalf("idx after reopen = %+v", got)
	}
}

func TestPebbleReplaceKindsRejects(t *testing.T) {
	s := openPebble(t, persistence.PebbleConfig{Dir: t.TempDir()})
	ctx := t.Context()
	if _, err := s.Put(ctx, "app", "a", 0, []byte("v"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	rec := func(kind, key string, v uint64) persistence.KindRecord {
		return persistence.KindRecord{Kind: kind, Key: key, Record: persistence.Record{Version: v}}
	}
	tests := []struct {
		name  string
		kinds []string
		recs  []persistence.KindRecord
	}{
		{"kind not listed", []string{"app"}, []persistence.KindRecord{rec("user", "u", 1)}},
		{"empty key", []string{"app"}, []persistence.KindRecord{rec("app", "", 1)}},
		{"version 0", []string{"app"}, []persistence.KindRecord{rec("app", "b", 0)}},
		{"twice", []string{"app"}, []persistence.KindRecord{rec("app", "b", 1), rec("app", "b", 2)}},
		{"bad kind", []string{"a\x00b"}, nil},
		{"empty kind", []string{""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.ReplaceKinds(ctx, tc.kinds, tc.recs); err == nil {
				t.Fatal("ReplaceKinds accepted a malformed call")
			}
			if got := scanAll(t, s, "app"); len(got) != 1 {
				t.Fatalf("a rejected call wrote: app = %+v", got)
			}
		})
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.ReplaceKinds(cctx, []string{"app"}, nil); err == nil {
		t.Fatal("ReplaceKinds ran with a cancelled context")
	}
	if got := scanAll(t, s, "app"); len(got) != 1 {
		t.Fatalf("a cancelled call wrote: app = %+v", got)
	}
}
