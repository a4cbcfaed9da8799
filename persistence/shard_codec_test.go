package persistence

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

func seedEntries() [][]byte {
	now := time.Unix(1_900_000_000, 123)
	return [][]byte{
		encodeShardEntry(nil, &shardEntry{Op: shardOpBatch, Now: now, Muts: []shardMutation{
			{Mutation: Mutation{Kind: "grant", Key: "g1", Expect: 3, Value: []byte("v"), ExpiresAt: now.Add(time.Hour)}},
			{Mutation: Mutation{Kind: "grant-at", Key: "g1/h", Delete: true, Expect: 1}},
			{Mutation: Mutation{Kind: "session", Key: "g1", Check: true}},
			{Mutation: Mutation{Kind: "grant-at", Key: "g1/i", Value: []byte{}, Insert: true}},
		}}),
		encodeShardEntry(nil, &shardEntry{Op: shardOpSweep, Now: now, Sweep: []sweepItem{{Kind: "refresh", Key: "f", Version: 9}}}),
		encodeShardEntry(nil, &shardEntry{Op: shardOpBatch, Now: time.Unix(0, -5)}),
	}
}

func TestShardEntryRoundTrip(t *testing.T) {
	for i, data := range seedEntries() {
		e, err := decodeShardEntry(data)
		if err != nil {
			t.Fatalf("entry %d: decode: %v", i, err)
		}
		if again := encodeShardEntry(nil, e); !bytes.Equal(again, data) {
			t.Fatalf("entry %d: encode(decode(x)) != x:\n%x\n%x", i, again, data)
		}
	}
	e, _ := decodeShardEntry(seedEntries()[0])
	if m := e.Muts[0]; m.Kind != "grant" || m.Key != "g1" || m.Expect != 3 || string(m.Value) != "v" ||
		!m.ExpiresAt.Equal(time.Unix(1_900_000_000+3600, 123)) || !e.Now.Equal(time.Unix(1_900_000_000, 123)) {
		t.Fatalf("decoded %+v at %v", m, e.Now)
	}
	if !e.Muts[1].Delete || !e.Muts[2].Check || !e.Muts[3].Insert {
		t.Fatalf("ops lost: %+v", e.Muts)
	}
}

func TestShardEntryRejects(t *testing.T) {
	valid := seedEntries()[0]
	dup := encodeShardEntry(nil, &shardEntry{Op: shardOpBatch, Muts: []shardMutation{
		{Mutation: Mutation{Kind: "k", Key: "a"}}, {Mutation: Mutation{Kind: "k", Key: "a"}}}})
	insertExpect := encodeShardEntry(nil, &shardEntry{Op: shardOpBatch, Muts: []shardMutation{
		{Mutation: Mutation{Kind: "k", Key: "a", Expect: 2, Insert: true}}}})
	deleteValue := encodeShardEntry(nil, &shardEntry{Op: shardOpBatch, Muts: []shardMutation{
		{Mutation: Mutation{Kind: "k", Key: "a", Delete: true, Value: []byte("x")}}}})
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"format", append([]byte{9}, valid[1:]...)},
		{"op", append([]byte{shardFormatV1, 7}, valid[2:]...)},
		{"truncated", valid[:len(valid)-1]},
		{"trailing", append(bytes.Clone(valid), 0)},
		{"huge count", append(bytes.Clone(valid[:10]), 0xff, 0xff, 0xff, 0xff, 0x0f)},
		{"duplicate", dup},
		{"insert with expect", insertExpect},
		{"delete with value", deleteValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if e, err := decodeShardEntry(tc.data); !errors.Is(err, ErrMalformedShardData) {
				t.Fatalf("decode = %+v, %v; want ErrMalformedShardData", e, err)
			}
		})
	}
}

// FuzzDecodeShardEntry: no input panics the decoder, and what it accepts re-encodes to
// a stable form.
func FuzzDecodeShardEntry(f *testing.F) {
	for _, s := range seedEntries() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodeShardEntry(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedShardData) {
				t.Fatalf("error %v does not wrap ErrMalformedShardData", err)
			}
			return
		}
		enc := encodeShardEntry(nil, e)
		e2, err := decodeShardEntry(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if enc2 := encodeShardEntry(nil, e2); !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable: %x != %x", enc, enc2)
		}
	})
}

func seedSnapshots() [][]byte {
	return [][]byte{
		encodeShardSnapshot(nil, &shardSnapshot{Shard: 3, Shards: 8, Applied: 42, Recs: []KindRecord{
			{Kind: "grant", Key: "g", Record: Record{Version: 2, Value: []byte("x"), ExpiresAt: time.Unix(5, 0)}},
			{Kind: "grant-at", Key: "g/h", Record: Record{Version: 1}},
		}}),
		encodeShardSnapshot(nil, &shardSnapshot{Shards: 1}),
	}
}

func TestShardSnapshotRejects(t *testing.T) {
	valid := seedSnapshots()[0]
	dup := encodeShardSnapshot(nil, &shardSnapshot{Shards: 1, Recs: []KindRecord{
		{Kind: "k", Key: "a", Record: Record{Version: 1}}, {Kind: "k", Key: "a", Record: Record{Version: 2}}}})
	zero := encodeShardSnapshot(nil, &shardSnapshot{Shards: 1, Recs: []KindRecord{{Kind: "k", Key: "a"}}})
	for name, data := range map[string][]byte{
		"empty": nil, "format": append([]byte{2}, valid[1:]...), "truncated": valid[:len(valid)-2],
		"trailing": append(bytes.Clone(valid), 1), "duplicate": dup, "version 0": zero,
	} {
		if s, err := decodeShardSnapshot(data); !errors.Is(err, ErrMalformedShardData) {
			t.Errorf("%s: decode = %+v, %v; want ErrMalformedShardData", name, s, err)
		}
	}
}

// FuzzDecodeShardSnapshot: as FuzzDecodeShardEntry, for snapshots.
func FuzzDecodeShardSnapshot(f *testing.F) {
	for _, s := range seedSnapshots() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := decodeShardSnapshot(data)
		if err != nil {
			if !errors.Is(err, ErrMalformedShardData) {
				t.Fatalf("error %v does not wrap ErrMalformedShardData", err)
			}
			return
		}
		enc := encodeShardSnapshot(nil, s)
		s2, err := decodeShardSnapshot(enc)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if enc2 := encodeShardSnapshot(nil, s2); !bytes.Equal(enc, enc2) {
			t.Fatalf("unstable: %x != %x", enc, enc2)
		}
	})
}

// FuzzShardMachineApply: whatever an entry holds, Apply answers a ShardResult, never
// panics, and records the entry's index (refused entries included).
func FuzzShardMachineApply(f *testing.F) {
	for _, s := range seedEntries() {
		f.Add(s)
	}
	st, err := OpenPebble(PebbleConfig{Dir: "/db", FS: vfs.NewMem(), NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	m, err := NewShardMachine(ShardMachineConfig{Store: st, Shard: 0, Shards: 1, Kinds: []string{"grant", "grant-at", "session", "refresh"}})
	if err != nil {
		f.Fatal(err)
	}
	var index uint64
	f.Fuzz(func(t *testing.T, data []byte) {
		index++
		res, ok := m.Apply(index, data).(ShardResult)
		if !ok {
			t.Fatalf("Apply answered %T", res)
		}
		if got := m.AppliedIndex(); got != index {
			t.Fatalf("applied index %d after entry %d (%v)", got, index, res.Err)
		}
	})
}
