package actors

import (
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

// maxCachedAccessTokens bounds the access tokens a grant activation keeps in memory.
// The grain is the only writer of its token records (it stores, and on revocation
// deletes, each of them; the sweeper only removes expired ones), so what it wrote or
// read lately can answer lookups (/oidc/me, introspection) without a store read. A
// client keeps using its newest token, so a few per grant cover the traffic.
const maxCachedAccessTokens = 8

// cachedAccessToken is a token record as stored, with its store version.
type cachedAccessToken struct {
	at      *msg.AccessTokenRecord
	version uint64
}

// accessTokenCache holds the recently stored or read token records of one grant
// activation. Used from the grain's goroutine only.
type accessTokenCache map[string]cachedAccessToken

// remember keeps at (version as stored) and drops one other entry when full, the
// expired first, else any.
func (c *accessTokenCache) remember(at *msg.AccessTokenRecord, version uint64, now time.Time) {
	if *c == nil {
		*c = make(accessTokenCache, maxCachedAccessTokens)
	}
	if _, ok := (*c)[at.GetHash()]; !ok && len(*c) >= maxCachedAccessTokens {
		victim := ""
		for h, e := range *c {
			victim = h
			if !now.Before(msTime(e.at.GetExpiresAtMs())) {
				break
			}
		}
		delete(*c, victim)
	}
	(*c)[at.GetHash()] = cachedAccessToken{at: at, version: version}
}

// putAccessToken stores at (issued now and valid the access token lifetime when not given, never
// past the grant's expiry) as its own durable record.
func (g *grantGrain) putAccessToken(cur *msg.GrantRecord, at *msg.AccessTokenRecord, now time.Time) error {
	at = proto.Clone(at).(*msg.AccessTokenRecord)
	if at.IssuedAtMs == 0 {
		at.IssuedAtMs = now.UnixMilli()
	}
	if at.ExpiresAtMs == 0 {
		at.ExpiresAtMs = now.Add(g.env.life.AccessToken).UnixMilli()
	}
	if exp := cur.GetExpiresAtMs(); exp != 0 {
		at.ExpiresAtMs = min(at.ExpiresAtMs, exp)
	}
	b, err := proto.Marshal(at)
	if err != nil {
		return err
	}
	ctx, cancel := g.budgetCtx()
	defer cancel()
	key := accessTokenKey(g.key, at.GetHash())
	// The key holds SHA-256 of a fresh 256-bit secret: no record can be there yet, so
	// the write skips the read that would prove it (persistence.Insert).
	version, err := persistence.Insert(ctx, g.env.store, GrantAccessTokenKind, key, b, msTime(at.GetExpiresAtMs()))
	if errors.Is(err, persistence.ErrConflict) {
		return nil // the same token hash stored twice: already there
	}
	if err != nil {
		return err
	}
	g.tokens.remember(at, version, now)
	return nil
}

// getAccessToken reads the live token with hash, or reports found=false.
func (g *grantGrain) getAccessToken(hash string, now time.Time) (*msg.AccessTokenRecord, uint64, bool, error) {
	if e, ok := g.tokens[hash]; ok {
		if !now.Before(msTime(e.at.GetExpiresAtMs())) {
			return nil, 0, false, nil
		}
		return e.at, e.version, true, nil
	}
	ctx, cancel := g.budgetCtx()
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
	g.tokens.remember(&at, rec.Version, now)
	return &at, rec.Version, true, nil
}

// deleteAccessToken removes the token record (version from getAccessToken).
func (g *grantGrain) deleteAccessToken(hash string, version uint64) error {
	ctx, cancel := g.budgetCtx()
	defer cancel()
	delete(g.tokens, hash)
	err := g.env.store.Delete(ctx, GrantAccessTokenKind, accessTokenKey(g.key, hash), version)
	if errors.Is(err, persistence.ErrConflict) || errors.Is(err, persistence.ErrNotFound) {
		return nil
	}
	return err
}
