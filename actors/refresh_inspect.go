package actors

import (
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow/oauth"
)

// inspect answers whether the presented secret is the family's active refresh token,
// for RFC 7662 introspection: the current token only (a consumed token is inactive even
// within the reuse window: the window exists for concurrent refreshes, not to keep
// the old token alive), unexpired, the family not revoked, and its grant alive and
// still the family's (GrantCheck, the same blocking request use makes).
//
// It writes nothing: a family whose grant turned out dead is revoked by the next use,
// not here. Inactive is invalid_grant; an unreachable grant is temporarily_unavailable,
// which the caller must not mistake for "inactive".
func (g *refreshGrain) inspect(m *msg.RefreshFamilyInspect) proto.Message {
	now := g.clock()
	cur, err := g.read(now)
	if err != nil {
		return g.reply(nil, err)
	}
	if cur.GetCurrentHash() == "" || cur.GetRevoked() ||
		!hashesEqual(cur.GetCurrentHash(), HashSecret(m.GetSecret())) ||
		!now.Before(msTime(cur.GetCurrentExpiresAtMs())) {
		return g.reply(nil, oauth.InvalidGrant("refresh token is not active"))
	}
	if err := <-g.checkGrant(cur, nil); err != nil {
		return g.reply(nil, err)
	}
	return familyView(cur)
}

// revokeToken revokes the family by one of its tokens (RFC 7009 2.1), when it was
// issued to the requesting client: the current token, unexpired, or a consumed token
// the family still remembers (its holder asks for the family's end, which presenting it
// at the token endpoint would cause anyway). Revoking is idempotent: a revoked family,
// an unknown or an expired token is found=false and writes nothing; a token of another
// client is reported (found=true, revoked=false) and not revoked.
//
// Revoking a refresh token revokes its grant too (node-oidc-provider's revocation
// action with the default revokeGrantPolicy). The grant is told here, fire-and-forget
// with retries, so it happens even if the caller goes away; the caller also revokes it
// (RevokeGrant with the reply's grant_id) and waits, so that what the grant holds is
// dead before the revocation response. The second revocation writes nothing.
func (g *refreshGrain) revokeToken(m *msg.RefreshFamilyRevokeToken) proto.Message {
	now := g.clock()
	hash := HashSecret(m.GetSecret())
	res, err := g.update(func(cur *msg.RefreshFamilyRecord) (*msg.RefreshFamilyRecord, proto.Message, error) {
		kind, _ := classify(cur, hash, now)
		if cur.GetCurrentHash() == "" || cur.GetRevoked() || kind == tokenUnknown ||
			(kind == tokenCurrent && !now.Before(msTime(cur.GetCurrentExpiresAtMs()))) {
			return nil, nil, Keep(&msg.TokenRevoked{})
		}
		out := &msg.TokenRevoked{Found: true, ClientId: cur.GetClientId(), GrantId: cur.GetGrantId()}
		if m.GetClientId() != cur.GetClientId() {
			return nil, nil, Keep(out)
		}
		scrubFamily(cur, now, g.env.life.RefreshReuse)
		revokeFamily(cur)
		out.Revoked = true
		return cur, out, nil
	})
	if r, ok := res.(*msg.TokenRevoked); ok && err == nil && r.GetRevoked() {
		g.env.peers.tell(g.logger, GrantKindName, r.GetGrantId(), &msg.GrantRevoke{})
	}
	return g.reply(res, err)
}
