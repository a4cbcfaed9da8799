package actors

import (
	"context"
	"encoding/base64"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Token introspection (RFC 7662) and revocation (RFC 7009) by the token a client holds.
// Each request is one grain call to the grain the token names.

// Lengths of what NewToken and the HTTP edge's random ids produce: 16 and 32 random
// bytes, unpadded base64url.
var (
	issuedKeyLen    = base64.RawURLEncoding.EncodedLen(tokenKeyBytes)
	issuedSecretLen = base64.RawURLEncoding.EncodedLen(tokenSecretBytes)
)

// SplitIssuedToken is SplitToken for a token Latch issued ("<grain key>.<secret>" with a
// 16-byte key and a 32-byte secret, both unpadded base64url): anything else cannot be
// one of its codes, opaque access tokens or refresh tokens, so callers that only
// inspect (introspection, revocation) answer it without activating a grain.
func SplitIssuedToken(tok string) (key, secret string, ok bool) {
	key, secret, ok = SplitToken(tok)
	if !ok || len(key) != issuedKeyLen || len(secret) != issuedSecretLen || !base64URL(key) || !base64URL(secret) {
		return "", "", false
	}
	return key, secret, true
}

// base64URL reports whether s uses only the unpadded base64url alphabet (RFC 4648 5).
func base64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// InspectRefreshToken returns the family of an active refresh token by the grain's
// clock: the family's current token, unexpired, not revoked, its
// grant alive. Otherwise invalid_grant; temporarily_unavailable (503) when the grant
// could not be checked. It writes nothing and never rotates.
func (c *Client) InspectRefreshToken(ctx context.Context, familyID, secret string) (*msg.RefreshFamilyRecord, error) {
	if familyID == "" {
		return nil, oauth.InvalidGrant("refresh token is not active")
	}
	return Call[*msg.RefreshFamilyRecord](ctx, c.node, RefreshKindName, familyID,
		&msg.RefreshFamilyInspect{Secret: secret})
}

// RevokeRefreshToken revokes the family of a refresh token issued to clientID (the
// current token or a consumed one the family remembers). The reply says whether the
// token was found, whose it is and whether it was revoked; the grant is not revoked
// here (RevokeGrant with the reply's GrantId does that).
func (c *Client) RevokeRefreshToken(ctx context.Context, familyID, secret, clientID string) (*msg.TokenRevoked, error) {
	if familyID == "" {
		return &msg.TokenRevoked{}, nil
	}
	return Call[*msg.TokenRevoked](ctx, c.node, RefreshKindName, familyID,
		&msg.RefreshFamilyRevokeToken{Secret: secret, ClientId: clientID})
}

// RevokeAccessToken drops one opaque access token of the grant when it was issued to
// clientID; the grant and its other tokens stay. The reply says whether the token was
// found, whose it is and whether it was revoked.
func (c *Client) RevokeAccessToken(ctx context.Context, grantID, secret, clientID string) (*msg.TokenRevoked, error) {
	if grantID == "" {
		return &msg.TokenRevoked{}, nil
	}
	return Call[*msg.TokenRevoked](ctx, c.node, GrantKindName, grantID,
		&msg.GrantRevokeAccessToken{Secret: secret, ClientId: clientID})
}
