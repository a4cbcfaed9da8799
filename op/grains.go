package op

import (
	"context"
	"time"
)

// The state the token flows keep lives in grains (DESIGN.md "Two kinds of state"); op
// reaches it through the small interfaces below, in op's own domain types. Package
// actors implements them (actors/op_tokens.go) and owns every proto conversion.
//
// Tokens are passed whole ("<grain key>.<secret>"): how a token names its grain is the
// implementation's business. A token that cannot be one of Latch's, or that is unknown,
// expired or revoked, is an *oauth.Error with code invalid_grant (codes, refresh tokens,
// grants) or invalid_token (opaque access tokens); any other error (server_error,
// temporarily_unavailable, an unreachable grain) means "could not find out" and must
// never be taken for "inactive".

// Grants is the Grant grains (one per account x client x browser session).
type Grants interface {
	// ExchangeCode redeems an authorization code in one call: the grant checks client,
	// redirect_uri, PKCE and the account, marks the code used (a replay revokes the
	// grant), creates the refresh family when one is due, stores the opaque access token
	// when no resource was asked for, and updates the account index.
	ExchangeCode(ctx context.Context, x CodeExchange) (CodeExchanged, error)
	// CheckGrant returns the grant if it is alive at now.
	CheckGrant(ctx context.Context, grantID string) (Grant, error)
	// RevokeGrant revokes the grant and everything issued from it. Idempotent.
	RevokeGrant(ctx context.Context, grantID string) error
}

// AccessTokens is the opaque access tokens a grant holds (for /oidc/me, introspection
// and revocation).
type AccessTokens interface {
	// LookupAccessToken returns a live opaque access token and its grant at now.
	LookupAccessToken(ctx context.Context, token string) (AccessToken, error)
	// RevokeAccessToken drops one opaque access token when it was issued to clientID.
	RevokeAccessToken(ctx context.Context, token, clientID string) (Revocation, error)
}

// RefreshFamilies is the RefreshFamily grains (one per original refresh token).
type RefreshFamilies interface {
	// UseRefreshToken presents a refresh token: the family decides rotation, the reuse
	// window, reuse detection and the account's suspension, and stores the opaque access
	// token when asked to.
	UseRefreshToken(ctx context.Context, u RefreshUse) (RefreshUsed, error)
	// InspectRefreshToken returns the family of an active refresh token at now; it
	// never rotates.
	InspectRefreshToken(ctx context.Context, token string) (RefreshFamily, error)
	// RevokeRefreshToken revokes the family of a refresh token issued to clientID.
	RevokeRefreshToken(ctx context.Context, token, clientID string) (Revocation, error)
}

// Grant is what a grant says about itself.
type Grant struct {
	ID        string
	AccountID string
	ClientID  string
	Scopes    []string
	ExpiresAt time.Time
}

// CodeExchange is an authorization code presented by an authenticated client, with the
// policy the grant applies when it is good.
type CodeExchange struct {
	Code         string
	ClientID     string
	RedirectURI  string
	CodeVerifier string
	// Resource is the requested resource's indicator: it must be one of the code's. ""
	// means no resource, so the grant stores an opaque access token.
	Resource string
	// Refresh is the refresh-token policy of the client; nil: the client may not use
	// the refresh_token grant, so no family is created.
	Refresh *RefreshPolicy
}

// RefreshPolicy is how a client's refresh tokens behave (Logto's customClientMetadata).
type RefreshPolicy struct {
	// AppType is Logto's application type ("SPA", "Native", "Traditional"), for the
	// rotation rules.
	AppType string
	// Always is alwaysIssueRefreshToken for a web-type client: a refresh token even
	// without offline_access (oidcflow.IssuesRefreshToken).
	Always bool
	// TTL is the client's refresh token lifetime.
	TTL time.Duration
	// Rotate is rotateRefreshToken.
	Rotate bool
}

// CodeExchanged is what a redeemed code gives.
type CodeExchanged struct {
	GrantID   string
	AccountID string
	// Scopes and Resources are what the user granted with the code.
	Scopes    []string
	Resources []string
	Nonce     string
	Sid       string
	AuthTime  int64
	// AMR are the RFC 8176 methods of the sign-in.
	AMR []string
	// RefreshToken is the new family's first token; "" when none was due.
	RefreshToken string
	// FamilyID names the new family ("" without one).
	FamilyID string
	// AccessToken is the opaque access token ("" when a resource was asked for).
	AccessToken AccessTokenIssued
}

// AccessTokenIssued is a new opaque access token as a token response carries it.
type AccessTokenIssued struct {
	Token     string
	Scopes    []string
	ExpiresAt time.Time
}

// AccessToken is a live opaque access token and the grant it belongs to.
type AccessToken struct {
	Grant     Grant
	Scopes    []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// RefreshUse is a refresh token presented by an authenticated client.
type RefreshUse struct {
	Token    string
	ClientID string
	// Resource is a requested resource indicator ("" for none): it must be one of the
	// family's.
	Resource string
	// Scopes narrow the family's (never widen them); nil keeps them.
	Scopes []string
	// OpaqueAccessToken asks the family's grant to store a new opaque access token.
	OpaqueAccessToken bool
	// OrganizationID, when set, asks for a token of the organization (Logto RFC 0001):
	// before it rotates, the family refuses unless its scopes hold
	// urn:logto:scope:organizations (insufficient_scope) and OrganizationAccess lets
	// its account in (access_denied).
	OrganizationID string
}

// RefreshUsed is the outcome of a good refresh.
type RefreshUsed struct {
	Family RefreshFamily
	// Scopes are the scopes of this refresh: the requested ones, else the family's.
	Scopes []string
	// RefreshToken is what the client must present next (the same token when it did
	// not rotate).
	RefreshToken string
	// AccessToken is set when OpaqueAccessToken was asked for.
	AccessToken AccessTokenIssued
}

// RefreshFamily is what a refresh family says about itself and its current token.
type RefreshFamily struct {
	ID        string
	GrantID   string
	ClientID  string
	AccountID string
	Scopes    []string
	Resources []string
	Sid       string
	AuthTime  int64
	// AMR are the RFC 8176 methods of the sign-in.
	AMR       []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Revocation is what revoking a token found.
type Revocation struct {
	// Found: the token is one of Latch's and live.
	Found bool
	// Revoked: it was the requesting client's and is revoked now.
	Revoked bool
	// GrantID is the token's grant.
	GrantID string
}
