package actors

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
)

// revokeAccessToken drops one live opaque access token (RFC 7009 2.1: "the
// authorization server invalidates the token"), when it was issued to the requesting
// client. The grant, its codes, its other access tokens and its refresh families stay:
// revoking an access token is not revoking the grant (node-oidc-provider's default
// revokeGrantPolicy keeps the grant on this route as well).
//
// An absent, expired or revoked grant, or an unknown or expired token, is found=false
// and writes nothing; so is a token of another client (found=true, revoked=false),
// which the caller answers per its policy.
func (g *grantGrain) revokeAccessToken(m *msg.GrantRevokeAccessToken) proto.Message {
	now := g.clock(m.GetNowMs())
	h := HashSecret(m.GetSecret())
	return g.reply(g.update(func(cur *msg.GrantRecord) (*msg.GrantRecord, proto.Message, error) {
		if cur.GetClientId() == "" || cur.GetRevoked() {
			return nil, nil, Keep(&msg.TokenRevoked{})
		}
		i := slices.IndexFunc(cur.AccessTokens, func(at *msg.AccessTokenRecord) bool {
			return hashesEqual(at.GetHash(), h) && now.Before(msTime(at.GetExpiresAtMs()))
		})
		if i < 0 {
			return nil, nil, Keep(&msg.TokenRevoked{})
		}
		out := &msg.TokenRevoked{Found: true, ClientId: cur.GetClientId(), GrantId: g.key}
		if m.GetClientId() != cur.GetClientId() {
			return nil, nil, Keep(out)
		}
		cur.AccessTokens = slices.Delete(cur.AccessTokens, i, i+1)
		pruneGrant(cur, now)
		out.Revoked = true
		return cur, out, nil
	}))
}
