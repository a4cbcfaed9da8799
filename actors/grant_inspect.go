package actors

import (
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
	now := g.clock()
	h := HashSecret(m.GetSecret())
	cur, err := g.read(now)
	if err != nil {
		return g.reply(nil, err)
	}
	if cur.GetClientId() == "" || cur.GetRevoked() {
		return &msg.TokenRevoked{}
	}
	_, version, ok, err := g.getAccessToken(h, now)
	if err != nil {
		return g.reply(nil, err)
	}
	if !ok {
		return &msg.TokenRevoked{}
	}
	out := &msg.TokenRevoked{Found: true, ClientId: cur.GetClientId(), GrantId: g.key}
	if m.GetClientId() != cur.GetClientId() {
		return out
	}
	if err := g.deleteAccessToken(h, version); err != nil {
		return g.reply(nil, err)
	}
	out.Revoked = true
	return out
}
