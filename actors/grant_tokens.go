package actors

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/persistence"
)

// GrantAccessTokenKind is the store kind of opaque access tokens. Each token is its own
// record, keyed "<grant id>/<hash>", with the token's expiry as the record's TTL, and is
// written and read only by its grant's grain. Keeping tokens out of the grant record
// keeps that record small however many tokens a grant issues (a grant that issued
// hundreds of tokens used to rewrite and fsync all of them on every change, and had to
// evict valid ones past a bound), and lets the sweeper bound their storage.
const GrantAccessTokenKind = "grant-at"

func accessTokenKey(grantID, hash string) string { return grantID + "/" + hash }

// putAccessToken stores at (issued now and valid AccessTokenTTL when not given, never
// past the grant's expiry) as its own durable record.
func (g *grantGrain) putAccessToken(cur *msg.GrantRecord, at *msg.AccessTokenRecord, now time.Time) error {
	at = proto.Clone(at).(*msg.AccessTokenRecord)
	if at.IssuedAtMs == 0 {
		at.IssuedAtMs = now.UnixMilli()
	}
	if at.ExpiresAtMs == 0 {
		at.ExpiresAtMs = now.Add(AccessTokenTTL).UnixMilli()
	}
	if exp := cur.GetExpiresAtMs(); exp != 0 {
		at.ExpiresAtMs = min(at.ExpiresAtMs, exp)
	}
	b, err := proto.Marshal(at)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	key := accessTokenKey(g.key, at.GetHash())
	if _, err := g.env.store.Put(ctx, GrantAccessTokenKind, key, 0, b, msTime(at.GetExpiresAtMs())); err != nil {
		if errors.Is(err, persistence.ErrConflict) {
			return nil // the same token hash stored twice: already there
		}
		return err
	}
	return nil
}

// getAccessToken reads the live token with hash, or reports found=false.
func (g *grantGrain) getAccessToken(hash string, now time.Time) (*msg.AccessTokenRecord, uint64, bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	rec, err := g.env.store.Get(ctx, GrantAccessTokenKind, accessTokenKey(g.key, hash))
	if errors.Is(err, persistence.ErrNotFound) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	var at msg.AccessTokenRecord
	if err := proto.Unmarshal(rec.Value, &at); err != nil {
		return nil, 0, false, err
	}
	if !hashesEqual(at.GetHash(), hash) || !now.Before(msTime(at.GetExpiresAtMs())) {
		return nil, 0, false, nil
	}
	return &at, rec.Version, true, nil
}

// deleteAccessToken removes the token record (version from getAccessToken).
func (g *grantGrain) deleteAccessToken(hash string, version uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	err := g.env.store.Delete(ctx, GrantAccessTokenKind, accessTokenKey(g.key, hash), version)
	if errors.Is(err, persistence.ErrConflict) || errors.Is(err, persistence.ErrNotFound) {
		return nil
	}
	return err
}
