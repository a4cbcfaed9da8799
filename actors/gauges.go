package actors

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/persistence"
)

// GrantContents counts what live grants hold at now: authorization codes not yet
// redeemed and unexpired, and unexpired opaque access tokens. Codes and tokens live
// inside their grant's record (pruned on every write to it, gone with it when it
// expires), so this is their live-count gauge. It decodes every grant: call it for a
// gauge, not per request.
func GrantContents(ctx context.Context, store persistence.Store, now time.Time) (codes, accessTokens int, err error) {
	nowMs := now.UnixMilli()
	err = store.Scan(ctx, GrantKindName, func(key string, rec persistence.Record) error {
		var g msg.GrantRecord
		if err := proto.Unmarshal(rec.Value, &g); err != nil {
			return fmt.Errorf("actors: decode grant %s: %w", key, err)
		}
		for _, c := range g.GetCodes() {
			if !c.GetRedeemed() && c.GetExpiresAtMs() > nowMs {
				codes++
			}
		}
		return nil
	})
	if err != nil {
		return codes, 0, err
	}
	// Opaque access tokens are records of their own, with their expiry as TTL: Scan
	// sees only live ones.
	err = store.Scan(ctx, GrantAccessTokenKind, func(string, persistence.Record) error {
		accessTokens++
		return nil
	})
	return codes, accessTokens, err
}
