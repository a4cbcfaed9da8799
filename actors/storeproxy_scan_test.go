package actors

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/persistence"
)

// scanStore is a store whose shard 3 holds keys r000..r(n-1) of kind "audit-log".
type scanStore struct {
	persistence.Store
	n int
}

func (s scanStore) ScanShard(_ context.Context, shard uint32, kind, after string, fn func(string, persistence.Record) error) error {
	if shard != 3 || kind != "audit-log" {
		return nil
	}
	for i := range s.n {
		k := fmt.Sprintf("r%03d", i)
		if k <= after {
			continue
		}
		if err := fn(k, persistence.Record{Version: uint64(i + 1), Value: []byte(strings.Repeat("x", 10))}); err != nil {
			return err
		}
	}
	return nil
}

// TestStoreProxyScanPages: a scan op answers the shard's records after the key given,
// a page at a time (at most the limit, and MaxScanPage), with more set while records
// remain; a store that cannot scan a shard answers an error, not a panic.
func TestStoreProxyScanPages(t *testing.T) {
	st := scanStore{n: 25}
	var got []string
	after := ""
	pages := 0
	for {
		res := RunStoreOp(t.Context(), st, &msg.StoreOp{Op: "scan", Kind: "audit-log", Key: after, Shard: 3, Limit: 10})
		if res.GetError() != "" {
			t.Fatal(res.GetError())
		}
		pages++
		for _, r := range res.GetRecords() {
			got = append(got, r.GetKey())
			after = r.GetKey()
		}
		if !res.GetMore() {
			break
		}
		if len(res.GetRecords()) != 10 {
			t.Fatalf("a page with more has %d records, want the limit 10", len(res.GetRecords()))
		}
	}
	if len(got) != 25 || got[0] != "r000" || got[24] != "r024" || pages != 3 {
		t.Fatalf("scanned %d records in %d pages: %v", len(got), pages, got)
	}
	res := RunStoreOp(t.Context(), scanStore{n: MaxScanPage + 5}, &msg.StoreOp{Op: "scan", Kind: "audit-log", Shard: 3, Limit: 100000})
	if len(res.GetRecords()) != MaxScanPage || !res.GetMore() {
		t.Fatalf("a limit past MaxScanPage answered %d records (more %v)", len(res.GetRecords()), res.GetMore())
	}
	if res := RunStoreOp(t.Context(), persistence.Store(nil), &msg.StoreOp{Op: "scan", Kind: "audit-log", Shard: 3}); res.GetError() == "" {
		t.Fatal("a store without ScanShard answered no error")
	}
}
