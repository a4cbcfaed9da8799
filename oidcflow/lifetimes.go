package oidcflow

import "time"

// Lifetimes is the one lifetime policy of Latch: every default TTL of a token, code,
// interaction, session and grant, and the refresh-token reuse window, in one value that
// is built once (DefaultLifetimes) and injected where it is needed (op's flows, the
// grains). Per-application and per-resource settings (Logto's idTokenTtl,
// refreshTokenTtlInDays, a resource's accessTokenTtl) override the defaults through the
// methods below; Logto's rotation rules live in RefreshRotation.
//
// dex's refresh policy object is the model: one struct, no duplicated constants.
type Lifetimes struct {
	// AccessToken is the default access token lifetime (Logto: 3600 s), for JWTs of a
	// resource without its own accessTokenTtl and for opaque tokens.
	AccessToken time.Duration
	// IDToken is the default ID token lifetime (Logto idTokenTtl default: 3600 s).
	IDToken time.Duration
	// RefreshToken is the default refresh token lifetime (Logto refreshTokenTtlInDays
	// default: 14 days).
	RefreshToken time.Duration
	// Code is an authorization code's lifetime (node-oidc-provider: 60 s).
	Code time.Duration
	// Interaction is a pending sign-in's lifetime (node-oidc-provider: 1 h).
	Interaction time.Duration
	// Session is the OP browser session's lifetime (node-oidc-provider: 14 days),
	// extended by each sign-in through it.
	Session time.Duration
	// Grant is a grant's lifetime (node-oidc-provider: 180 days); it bounds its refresh
	// families.
	Grant time.Duration
	// RefreshReuse is how long a consumed refresh token still answers with its
	// successor instead of counting as reuse (Logto PR #1617: 3 s).
	RefreshReuse time.Duration
}

// DefaultLifetimes are Logto's defaults.
func DefaultLifetimes() Lifetimes {
	return Lifetimes{
		AccessToken:  time.Hour,
		IDToken:      time.Hour,
		RefreshToken: DefaultRefreshTokenTTL,
		Code:         60 * time.Second,
		Interaction:  time.Hour,
		Session:      14 * 24 * time.Hour,
		Grant:        180 * 24 * time.Hour,
		RefreshReuse: 3 * time.Second,
	}
}

// AccessTokenFor is the lifetime of an access token for a resource whose own setting
// is resourceTTLSeconds (0 or less: the default).
func (l Lifetimes) AccessTokenFor(resourceTTLSeconds int) time.Duration {
	if resourceTTLSeconds > 0 {
		return time.Duration(resourceTTLSeconds) * time.Second
	}
	return l.AccessToken
}

// IDTokenFor is an app's ID token lifetime from its idTokenTtl (seconds; 0 or less: the
// default).
func (l Lifetimes) IDTokenFor(appTTLSeconds int) time.Duration {
	if appTTLSeconds > 0 {
		return time.Duration(appTTLSeconds) * time.Second
	}
	return l.IDToken
}

// RefreshTokenFor is an app's refresh token lifetime from its refreshTokenTtlInDays
// (0 or less: the default).
func (l Lifetimes) RefreshTokenFor(appTTLDays int) time.Duration {
	if appTTLDays > 0 {
		return time.Duration(appTTLDays) * 24 * time.Hour
	}
	return l.RefreshToken
}
