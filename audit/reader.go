package audit

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/latchid/latch/persistence"
)

// ErrNotFound is Reader.Get's answer for an unknown, malformed or expired id.
var ErrNotFound = errors.New("audit: log not found")

// Reader reads audit logs back from the store the Writer writes to.
type Reader struct {
	Store persistence.Store
}

// Query filters Reader.List; zero fields do not filter.
type Query struct {
	UserID, ApplicationID string
	// Key is an exact log key (Logto's logKey).
	Key string
	// KeyPrefix keeps the keys that start with it (Logto's includeKeyPrefix).
	KeyPrefix string
	// HookID keeps a webhook's delivery logs (payload.hookId).
	HookID string
	// Since and Until bound createdAt: Since <= createdAt < Until.
	Since, Until time.Time
}

func (q Query) match(l *Log) bool {
	return (q.UserID == "" || l.Payload.UserID == q.UserID) &&
		(q.ApplicationID == "" || l.Payload.ApplicationID == q.ApplicationID) &&
		(q.Key == "" || l.Key == q.Key) &&
		(q.KeyPrefix == "" || strings.HasPrefix(l.Key, q.KeyPrefix)) &&
		(q.HookID == "" || l.Payload.HookID == q.HookID) &&
		(q.Since.IsZero() || l.CreatedAt >= q.Since.UnixMilli()) &&
		(q.Until.IsZero() || l.CreatedAt < q.Until.UnixMilli())
}

// List returns the live logs matching q, newest first (ties by id, descending). It
// scans every retained log of the store: its cost grows with the retention and the
// traffic, which is fine for an operator's occasional query, not for a hot path.
func (r Reader) List(ctx context.Context, q Query) ([]Log, error) {
	var out []Log
	err := r.Store.Scan(ctx, Kind, func(_ string, rec persistence.Record) error {
		logs, err := decodeRecord(rec.Value)
		if err != nil {
			return nil // not ours to judge: skip an undecodable record
		}
		for i := range logs {
			if q.match(&logs[i]) {
				out = append(out, logs[i])
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Log) int {
		if c := cmp.Compare(b.CreatedAt, a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// Get returns the log with id. The id names its batch ("<batch id>-<n>"), so this is
// one keyed read, not a scan: the batch's record (or, written by an earlier release,
// the entry's own record "<batch id>/<id>").
func (r Reader) Get(ctx context.Context, id string) (Log, error) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || len(id) > 64 || strings.ContainsAny(id, "/.") {
		return Log{}, ErrNotFound
	}
	rec, err := r.Store.Get(ctx, Kind, id[:i])
	if errors.Is(err, persistence.ErrNotFound) {
		rec, err = r.Store.Get(ctx, Kind, id[:i]+"/"+id)
	}
	if errors.Is(err, persistence.ErrNotFound) {
		return Log{}, ErrNotFound
	}
	if err != nil {
		return Log{}, err
	}
	logs, err := decodeRecord(rec.Value)
	if err != nil {
		return Log{}, err
	}
	for _, l := range logs {
		if l.ID == id {
			return l, nil
		}
	}
	return Log{}, ErrNotFound
}
