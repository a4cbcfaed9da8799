package oidcflow

import "time"

// Refresh-token rotation, as Logto decides it (packages/core/src/oidc/init.ts and
// oidc/defaults.ts, which keep node-oidc-provider's defaults behind the app setting):
//
//	rotateRefreshToken: (ctx) => {
//	  // Directly return false only when `rotateRefreshToken` has been explicitly set to `false`.
//	  if (!(client?.metadata().rotateRefreshToken ?? customClientMetadataDefault.rotateRefreshToken)) {
//	    return false;
//	  }
//	  return defaults.rotateRefreshToken(ctx);
//	},
//
// with node-oidc-provider's default:
//
//	// cap the maximum amount of time a refresh token can be
//	// rotated for up to 1 year, afterwards its TTL is final
//	if (refreshToken.totalLifetime() >= 365.25 * 24 * 60 * 60) return false;
//	// rotate non sender-constrained public client refresh tokens
//	if (client.clientAuthMethod === 'none' && !refreshToken.isSenderConstrained()) return true;
//	// rotate if the token is nearing expiration (it's beyond 70% of its lifetime)
//	return refreshToken.ttlPercentagePassed() >= 70;
//
// and the TTL of the rotated token (ttl.RefreshToken, Logto's defaults.refreshTokenTtl):
//
//	if (ctx.oidc.entities.RotatedRefreshToken && client.applicationType === 'web' &&
//	    client.clientAuthMethod === 'none' && !token.isSenderConstrained()) {
//	  // Non-Sender Constrained SPA RefreshTokens do not have infinite expiration through rotation
//	  return ctx.oidc.entities.RotatedRefreshToken.remainingTTL;
//	}
//	... otherwise refreshTokenTtlInDays * 1 day (default 14)
//
// Latch has no sender-constrained tokens (DPoP and mTLS are off, as in Logto), and the
// public clients (token_endpoint_auth_method "none") are the SPA and Native apps.
// OAuth 2.0 Security BCP (RFC 9700) 4.14.2: "Refresh token rotation: the authorization
// server issues a new refresh token with every access token refresh response. The
// previous refresh token is invalidated".

// App types as Logto names them (ApplicationType); only the public ones matter here.
const (
	rotationAppSPA    = "SPA"
	rotationAppNative = "Native"
)

const (
	// RefreshRotationMaxLifetime is node-oidc-provider's cap on rotation: once a family
	// (the first token's iat, "iiat") is this old, its TTL is final.
	RefreshRotationMaxLifetime = time.Duration(365.25 * 24 * float64(time.Hour))
	// DefaultRefreshTokenTTL is Logto's refreshTokenTtlInDays default (14).
	DefaultRefreshTokenTTL = 14 * 24 * time.Hour
	// refreshRotationPercent: a confidential client's token rotates once this much of
	// its TTL has passed.
	refreshRotationPercent = 70
)

// RefreshRotationInput is what the rotation rule looks at when a refresh token is used.
type RefreshRotationInput struct {
	// AppType is the client's Logto application type: "SPA", "Native", "Traditional".
	// Any type other than SPA and Native is treated as a confidential client.
	AppType string
	// RotateSetting is the app's rotateRefreshToken (Logto's default is true).
	RotateSetting bool
	// FamilyCreatedAt is when the family's first token was issued (iiat).
	FamilyCreatedAt time.Time
	// TokenIssuedAt and TokenExpiresAt bound the presented token.
	TokenIssuedAt, TokenExpiresAt time.Time
	// GrantExpiresAt bounds the whole family (the 180-day grant); zero means no bound.
	GrantExpiresAt time.Time
	Now            time.Time
	// TTL is the app's refreshTokenTtlInDays as a duration; zero or less means
	// DefaultRefreshTokenTTL.
	TTL time.Duration
}

// RefreshRotationDecision says whether to rotate and when the token the client uses
// next expires.
type RefreshRotationDecision struct {
	Rotate        bool
	NextExpiresAt time.Time
}

// RefreshRotation decides the rotation of a presented, unexpired refresh token with
// Logto's rules (see the top of this file):
//
//   - no rotation when the app's rotateRefreshToken is off;
//   - no rotation once the family's total lifetime is >= 1 year (365.25 days);
//   - otherwise always for public clients (SPA, Native);
//   - otherwise (confidential clients) when >= 70 % of the token's TTL has elapsed.
//
// A rotated token gets a fresh TTL (Now + TTL), except for SPAs, whose successor keeps
// the remaining TTL (NextExpiresAt = TokenExpiresAt). A token that is not rotated keeps
// its expiry. The result never exceeds GrantExpiresAt. RefreshRotation is pure: the
// clock is in.Now.
func RefreshRotation(in RefreshRotationInput) RefreshRotationDecision {
	ttl := in.TTL
	if ttl <= 0 {
		ttl = DefaultRefreshTokenTTL
	}
	d := RefreshRotationDecision{Rotate: rotates(in), NextExpiresAt: in.TokenExpiresAt}
	if d.Rotate && in.AppType != rotationAppSPA {
		d.NextExpiresAt = in.Now.Add(ttl)
	}
	if !in.GrantExpiresAt.IsZero() && d.NextExpiresAt.After(in.GrantExpiresAt) {
		d.NextExpiresAt = in.GrantExpiresAt
	}
	return d
}

func rotates(in RefreshRotationInput) bool {
	switch {
	case !in.RotateSetting:
		return false
	case in.Now.Sub(in.FamilyCreatedAt) >= RefreshRotationMaxLifetime:
		return false
	case in.AppType == rotationAppSPA || in.AppType == rotationAppNative:
		return true
	}
	// node-oidc-provider's ttlPercentagePassed() >= 70, i.e.
	// floor(100 * (now - iat) / (exp - iat)) >= 70, which is 100 * elapsed >= 70 * ttl.
	life := in.TokenExpiresAt.Sub(in.TokenIssuedAt)
	if life <= 0 {
		return true // a token without a lifetime counts as fully elapsed
	}
	elapsed := in.Now.Sub(in.TokenIssuedAt)
	// In milliseconds, so the products cannot overflow for any realistic TTL.
	return 100*elapsed.Milliseconds() >= refreshRotationPercent*life.Milliseconds()
}
