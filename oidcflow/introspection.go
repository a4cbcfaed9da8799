package oidcflow

import (
	"encoding/json"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

// Token type hints (RFC 7009 2.1 and RFC 7662 2.1, the IANA "OAuth Token Type Hints"
// registry). node-oidc-provider also accepts the RFC 8693 3 token type URIs as hints;
// so does Latch. Any other value is ignored (RFC 7009 2.1: the server "MAY ignore this
// parameter, particularly if it is able to detect the token type automatically").
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"

	hintAccessTokenURI  = "urn:ietf:params:oauth:token-type:access_token"
	hintRefreshTokenURI = "urn:ietf:params:oauth:token-type:refresh_token"
)

// HintsRefreshToken reports whether a token_type_hint names a refresh token, so the
// server looks the token up as one first. A hint only orders the lookups; it is never
// trusted to exclude the other kinds.
func HintsRefreshToken(hint string) bool {
	return hint == HintRefreshToken || hint == hintRefreshTokenURI
}

// TokenTypeBearer is the RFC 6749 5.1 token type of every Latch access token. RFC 7662
// 2.2's token_type is "as defined in Section 5.1 of OAuth 2.0": node-oidc-provider (and
// so Logto) answers "Bearer" for access tokens and omits token_type for refresh
// tokens, which have no RFC 6749 5.1 type.
const TokenTypeBearer = "Bearer"

// Introspection is RFC 7662 2.2's introspection response. An inactive token is
// {"active": false} and nothing else: "the authorization server ... SHOULD NOT include
// any additional information about an inactive token".
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Sub       string `json:"sub,omitempty"`
	Exp       int64  `json:"exp,omitempty"`
	Iat       int64  `json:"iat,omitempty"`
	Aud       string `json:"aud,omitempty"`
	Iss       string `json:"iss,omitempty"`
	JTI       string `json:"jti,omitempty"`
	Sid       string `json:"sid,omitempty"`
	TokenType string `json:"token_type,omitempty"`
}

// TokenVerifier verifies a compact JWS signed by one of the provider's keys and returns
// its payload and typ header; *KeyRing implements it.
type TokenVerifier interface {
	Verify(token string) (payload []byte, typ string, err error)
}

var _ TokenVerifier = (*KeyRing)(nil)

// VerifyAccessToken checks a JWT access token this provider issued (RFC 9068 4): a
// signature by one of the ring's keys with its algorithm, typ "at+jwt" (so an ID token
// or a logout token is never taken for an access token), iss = issuer, exp after now,
// and the client_id and sub every Latch access token carries. The audience is not
// checked: that is the resource server's rule, not the issuer's. Any failure is
// invalid_token.
func VerifyAccessToken(v TokenVerifier, token, issuer string, now time.Time) (AccessTokenClaims, error) {
	invalid := oauth.InvalidToken("access token is invalid or expired")
	payload, typ, err := v.Verify(token)
	if err != nil || typ != TypAccessToken {
		return AccessTokenClaims{}, invalid
	}
	var c AccessTokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return AccessTokenClaims{}, invalid
	}
	if c.Iss != issuer || c.EXP <= now.Unix() || c.ClientID == "" || c.Sub == "" {
		return AccessTokenClaims{}, invalid
	}
	return c, nil
}
