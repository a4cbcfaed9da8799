package persistence

import (
	"bytes"
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func TestShardRecordKeyLayout(t *testing.T) {
	k, err := shardRecordKey(5, "grant", "g1/h")
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte("\x00s\x00\x00\x00\x05grant\x00g1/h"); !bytes.Equal(k, want) {
		t.Fatalf("shardRecordKey = %q, want %q", k, want)
	}
	kind, key, err := splitShardRecordKey(k)
	if err != nil || kind != "grant" || key != "g1/h" {
		t.Fatalf("splitShardRecordKey = %q, %q, %v", kind, key, err)
	}
	for _, bad := range []string{"", "grant\x00k", "\x00s\x00\x00\x00\x05", "\x00s\x00\x00\x00\x05grant", "\x00s\x00\x00\x00\x05grant\x00", "\x00s\x00\x00\x00\x05\x00k"} {
		if _, _, err := splitShardRecordKey([]byte(bad)); err == nil {
			t.Errorf("splitShardRecordKey(%q) succeeded", bad)
		}
	}
	for _, c := range []struct {
		shard uint32
		kind  string
		key   string
	}{{0, "", "k"}, {0, "a\x00b", "k"}, {0, "grant", ""}} {
		if _, err := shardRecordKey(c.shard, c.kind, c.key); err == nil {
			t.Errorf("shardRecordKey(%d, %q, %q) succeeded", c.shard, c.kind, c.key)
		}
	}
	// Every shard's range lies above the previous one's and below the next one's.
	for _, sh := range []uint32{0, 1, 255, 256, math.MaxUint32 - 1, math.MaxUint32} {
		lo, hi := shardPrefix(sh), shardUpper(sh)
		if bytes.Compare(lo, hi) >= 0 {
			t.Errorf("shard %d: range [%q, %q) is empty", sh, lo, hi)
		}
		if k, _ := shardRecordKey(sh, "\xff", "\xff"); bytes.Compare(k, hi) >= 0 {
			t.Errorf("shard %d: %q is not below the upper bound %q", sh, k, hi)
		}
		if sh > 0 {
			if prev := shardUpper(sh - 1); bytes.Compare(prev, lo) > 0 {
				t.Errorf("shard %d starts below the end of shard %d", sh, sh-1)
			}
		}
	}
	// No plain-layout key (kinds are non-empty and NUL-free) sorts inside a shard range.
	plain, _ := recordKey("\x01", "k")
	if bytes.Compare(plain, shardUpper(math.MaxUint32)) < 0 {
		t.Fatalf("plain key %q sorts inside the shard layout", plain)
	}
}

// A ShardMachine writes its shard's records in the shard key layout, and only there;
// PebbleStore's own methods keep the plain layout, and the two do not see each other.
func TestShardMachineWritesShardLayout(t *testing.T) {
	ctx := context.Background()
	st, err := OpenPebble(PebbleConfig{Dir: "/db", FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const shards = 8
	kinds := []string{"grant", "grant-at"}
	shard := ShardOf("grant", "g1", shards)
	m, err := NewShardMachine(ShardMachineConfig{Store: st, Shard: shard, Shards: shards, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	// A plain-layout record of the same kind and key, as a single node writes it.
	if _, err := st.Put(ctx, "grant", "g1", 0, []byte("plain"), time.Time{}); err != nil {
		t.Fatal(err)
	}
	entry := encodeShardEntry(nil, &shardEntry{Op: shardOpBatch, Now: time.Unix(1, 0), Muts: []shardMutation{
		{Mutation: Mutation{Kind: "grant", Key: "g1", Value: []byte("sharded")}},
		{Mutation: Mutation{Kind: "grant-at", Key: "g1/h", Value: []byte("at")}},
	}})
	if res := m.Apply(1, entry).(ShardResult); res.Err != nil {
		t.Fatalf("Apply: %v", res.Err)
	}
	var got []string
	it, err := st.db.NewIter(&pebble.IterOptions{LowerBound: shardPrefix(shard), UpperBound: shardUpper(shard)})
	if err != nil {
		t.Fatal(err)
	}
	for valid := it.First(); valid; valid = it.Next() {
		got = append(got, string(it.Key()))
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	want := []string{"\x00s\x00\x00\x00" + string(rune(shard)) + "grant\x00g1", "\x00s\x00\x00\x00" + string(rune(shard)) + "grant-at\x00g1/h"}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("shard %d range holds %q, want %q", shard, got, want)
	}
	if rec, err := st.Get(ctx, "grant", "g1"); err != nil || string(rec.Value) != "plain" {
		t.Fatalf("plain Get after the shard write: %+v, %v", rec, err)
	}
	if _, err := st.Get(ctx, "grant-at", "g1/h"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("plain Get of a shard-only record: %v, want ErrNotFound", err)
	}
	if rec, err := st.getInShard(ctx, shard, "grant", "g1"); err != nil || string(rec.Value) != "sharded" {
		t.Fatalf("getInShard: %+v, %v", rec, err)
	}
	// Restore replaces the shard's range only: the plain record stays.
	if err := m.Restore(mustSnapshot(t, m)); err != nil {
		t.Fatal(err)
	}
	snap, err := decodeShardSnapshot(mustSnapshot(t, m))
	if err != nil || len(snap.Recs) != 2 || snap.Applied != 1 {
		t.Fatalf("snapshot: %+v, %v", snap, err)
	}
	if rec, err := st.Get(ctx, "grant", "g1"); err != nil || string(rec.Value) != "plain" {
		t.Fatalf("plain Get after Restore: %+v, %v", rec, err)
	}
}

func mustSnapshot(t *testing.T, m *ShardMachine) []byte {
	t.Helper()
	b, err := m.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
