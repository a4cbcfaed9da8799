package persistence_test

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchid/latch/persistence"
)

var errStop = errors.New("page full")

// TestShardedStoreScanShard: a shard's live records of one kind, in key order, page by
// page after the last key seen, without other shards', other kinds' or expired records.
func TestShardedStoreScanShard(t *testing.T) {
	const shards = 4
	var clock atomic.Int64
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	r := newReplicas(t, 1, shards, hotKinds, now)
	s := newSharded(t, r, shards, hotKinds, now)
	ctx := t.Context()
	want := map[uint32][]string{}
	for i := range 60 {
		key := fmt.Sprintf("k%02d", i)
		exp := t0.Add(time.Hour)
		if i%10 == 0 {
			exp = t0.Add(time.Minute) // expired by the time of the scan
		} else {
			sh := s.ShardOf("outbox", key)
			want[sh] = append(want[sh], key)
		}
		if _, err := s.Put(ctx, "outbox", key, 0, []byte("v"+key), exp); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put(ctx, "session", key, 0, []byte("other kind"), exp); err != nil {
			t.Fatal(err)
		}
	}
	clock.Store(t0.Add(10 * time.Minute).UnixNano())
	total := 0
	for sh := range uint32(shards) {
		var got []string
		after := ""
		for {
			var page []string
			err := s.ScanShard(ctx, sh, "outbox", after, func(key string, rec persistence.Record) error {
				if string(rec.Value) != "v"+key || rec.Version == 0 || !rec.ExpiresAt.Equal(t0.Add(time.Hour)) {
					t.Errorf("shard %d: %s = %+v", sh, key, rec)
				}
				page = append(page, key)
				if len(page) == 4 {
					return errStop
				}
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				t.Fatal(err)
			}
			got = append(got, page...)
			if len(page) < 4 {
				break
			}
			after = page[len(page)-1]
		}
		total += len(got)
		slices.Sort(want[sh])
		if !slices.Equal(got, want[sh]) {
			t.Errorf("shard %d: scanned %v, want %v", sh, got, want[sh])
		}
	}
	if total != 54 {
		t.Errorf("scanned %d live records, want 54", total)
	}
	if err := s.ScanShard(ctx, 0, "not-sharded", "", func(string, persistence.Record) error { return nil }); err == nil {
		t.Error("a scan of a kind that is not sharded succeeded")
	}
	if err := s.ScanShard(ctx, shards, "outbox", "", func(string, persistence.Record) error { return nil }); err == nil {
		t.Error("a scan of a shard out of range succeeded")
	}
}
