// Package directory holds the replicated, read-mostly entities: applications, users,
// API resources and their scopes, roles and role assignments, and signing keys. Every
// node holds all of it in memory (reads on the hot path are local map lookups) and in the
// persistence.Store. A write decides one atomic batch of conditional mutations; in a
// cluster (Replicate) the batch is an entry of the directory's Raft log, which every node
// applies in the same order through its Replica (replica.go), so every node holds the
// same records at the same versions (DESIGN.md, "Directory").
package directory

import "encoding/json"

// AppType is Logto's application type.
type AppType string

const (
	AppNative           AppType = "Native"
	AppSPA              AppType = "SPA"
	AppTraditional      AppType = "Traditional"
	AppMachineToMachine AppType = "MachineToMachine"
)

// Valid reports whether t is one of Logto's four application types.
func (t AppType) Valid() bool {
	switch t {
	case AppNative, AppSPA, AppTraditional, AppMachineToMachine:
		return true
	}
	return false
}

// Public reports whether the client cannot keep a secret (token_endpoint_auth_method
// "none"): Native and SPA apps.
func (t AppType) Public() bool { return t == AppNative || t == AppSPA }

// OIDCClientMetadata is Logto's oidcClientMetadata.
type OIDCClientMetadata struct {
	RedirectURIs                     []string `json:"redirectUris"`
	PostLogoutRedirectURIs           []string `json:"postLogoutRedirectUris"`
	BackchannelLogoutURI             string   `json:"backchannelLogoutUri,omitempty"`
	BackchannelLogoutSessionRequired bool     `json:"backchannelLogoutSessionRequired,omitempty"`
	LogoURI                          string   `json:"logoUri,omitempty"`
}

// CustomClientMetadata is Logto's customClientMetadata. Pointers distinguish "unset"
// (Logto's default applies) from an explicit value.
type CustomClientMetadata struct {
	CorsAllowedOrigins      []string `json:"corsAllowedOrigins,omitempty"`
	IDTokenTTL              *int     `json:"idTokenTtl,omitempty"`
	RefreshTokenTTLInDays   *int     `json:"refreshTokenTtlInDays,omitempty"`
	AlwaysIssueRefreshToken *bool    `json:"alwaysIssueRefreshToken,omitempty"`
	RotateRefreshToken      *bool    `json:"rotateRefreshToken,omitempty"`
	AllowTokenExchange      *bool    `json:"allowTokenExchange,omitempty"`
	// IsDeviceFlow marks a Native app that signs in with the device authorization
	// grant (RFC 8628); set on creation only (Logto).
	IsDeviceFlow *bool `json:"isDeviceFlow,omitempty"`
}

// Defaults from Logto.
const (
	DefaultIDTokenTTL            = 3600
	DefaultRefreshTokenTTLInDays = 14
	DefaultAccessTokenTTL        = 3600
)

// IDTokenTTLSeconds is the app's ID token lifetime, Logto's default when unset.
func (m CustomClientMetadata) IDTokenTTLSeconds() int {
	if m.IDTokenTTL != nil && *m.IDTokenTTL > 0 {
		return *m.IDTokenTTL
	}
	return DefaultIDTokenTTL
}

// RefreshTokenTTLDays is the app's refresh token lifetime in days, default 14.
func (m CustomClientMetadata) RefreshTokenTTLDays() int {
	if m.RefreshTokenTTLInDays != nil && *m.RefreshTokenTTLInDays > 0 {
		return *m.RefreshTokenTTLInDays
	}
	return DefaultRefreshTokenTTLInDays
}

// RotatesRefreshToken is rotateRefreshToken, default true.
func (m CustomClientMetadata) RotatesRefreshToken() bool {
	return m.RotateRefreshToken == nil || *m.RotateRefreshToken
}

// AppSecret is one client secret of an application. Only a SHA-256 hash of the secret
// is kept (secrets at rest are hashed: a leaked store or snapshot gives no working
// client secret): secrets are 32+ random characters, so a fast hash compared in
// constant time is as strong as a password hash and keeps client authentication off
// the CPU budget of the token endpoint. The value is shown once, when it is created;
// unlike Logto, GET /api/applications/:id/secrets cannot show it again.
type AppSecret struct {
	Name      string `json:"name"`
	Hash      string `json:"hash"` // hex SHA-256 of the secret
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt *int64 `json:"expiresAt,omitempty"` // ms since epoch; nil = never
}

// Application is an OAuth client.
type Application struct {
	ID                   string               `json:"id"`
	Name                 string               `json:"name"`
	Description          string               `json:"description,omitempty"`
	Type                 AppType              `json:"type"`
	Secrets              []AppSecret          `json:"secrets,omitempty"`
	OIDCClientMetadata   OIDCClientMetadata   `json:"oidcClientMetadata"`
	CustomClientMetadata CustomClientMetadata `json:"customClientMetadata"`
	CustomData           json.RawMessage      `json:"customData,omitempty"`
	IsThirdParty         bool                 `json:"isThirdParty,omitempty"`
	// SignInExperience is Logto's application-level sign-in experience (branding,
	// colors, terms links, display name) as the Management API validated it; nil when
	// none was set. Replaced whole, never edited in place.
	SignInExperience json.RawMessage `json:"signInExperience,omitempty"`
	// AppLevelAccessControlEnabled restricts sign-in to the users AccessControl allows
	// (Logto's appLevelAccessControlEnabled; app_access.go); it cannot be turned on
	// while AccessControl has no rule.
	AppLevelAccessControlEnabled bool              `json:"appLevelAccessControlEnabled,omitempty"`
	AccessControl                *AppAccessControl `json:"accessControl,omitempty"`
	CreatedAt                    int64             `json:"createdAt"`
	// Version is the entity's store version; not part of the stored value.
	Version uint64 `json:"-"`
}

// User is an end user. PasswordHash is an Argon2id PHC string and is never returned by
// any API.
type User struct {
	ID           string          `json:"id"`
	Username     *string         `json:"username"`
	PrimaryEmail *string         `json:"primaryEmail"`
	PrimaryPhone *string         `json:"primaryPhone"`
	Name         *string         `json:"name"`
	Avatar       *string         `json:"avatar"`
	Profile      json.RawMessage `json:"profile,omitempty"`
	CustomData   json.RawMessage `json:"customData,omitempty"`
	Identities   json.RawMessage `json:"identities,omitempty"`
	PasswordHash string          `json:"passwordHash,omitempty"`
	// PasswordAlgorithm is the algorithm of an imported PasswordHash (Logto's
	// passwordAlgorithm: MD5, SHA1, SHA256, Bcrypt, Argon2i, Argon2id); empty for the
	// Argon2id PHC strings Latch makes. A new password resets it.
	PasswordAlgorithm string  `json:"passwordAlgorithm,omitempty"`
	IsSuspended       bool    `json:"isSuspended"`
	ApplicationID     *string `json:"applicationId"`
	LastSignInAt      *int64  `json:"lastSignInAt"`
	// MfaVerifications are the user's MFA factors (mfa.go), key material included.
	MfaVerifications []MfaVerification `json:"mfaVerifications,omitempty"`
	// MfaSkipped: the user declined MFA enrollment when prompted (Logto keeps it in
	// logtoConfig); a prompting policy does not ask again.
	MfaSkipped bool `json:"mfaSkipped,omitempty"`
	// SkipMfaOnSignIn: the user chose not to be asked for their factors at sign-in
	// (Logto's logtoConfig mfa.skipMfaOnSignIn); a mandatory policy asks anyway.
	SkipMfaOnSignIn bool `json:"skipMfaOnSignIn,omitempty"`
	// PasskeySignInSkipped: the user declined the passkey sign-in prompt (Logto's
	// logtoConfig passkeySignIn.skipped).
	PasskeySignInSkipped bool   `json:"passkeySignInSkipped,omitempty"`
	CreatedAt            int64  `json:"createdAt"`
	UpdatedAt            int64  `json:"updatedAt"`
	Version              uint64 `json:"-"`
}

// Resource is an API resource (RFC 8707 resource indicator). Indicator is unique and
// immutable.
type Resource struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Indicator      string `json:"indicator"`
	IsDefault      bool   `json:"isDefault"`
	AccessTokenTTL int    `json:"accessTokenTtl"`
	CreatedAt      int64  `json:"createdAt"`
	Version        uint64 `json:"-"`
}

// Scope is a permission defined on a resource; Name is unique within the resource.
type Scope struct {
	ID          string `json:"id"`
	ResourceID  string `json:"resourceId"`
	Name        string `json:"name"`
	Description string `json:"description"`
	CreatedAt   int64  `json:"createdAt"`
	Version     uint64 `json:"-"`
}

// RoleType says who a role can be assigned to.
type RoleType string

const (
	RoleUser             RoleType = "User"
	RoleMachineToMachine RoleType = "MachineToMachine"
)

// Role groups scopes; User roles go to users, MachineToMachine roles to M2M apps.
type Role struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        RoleType `json:"type"`
	IsDefault   bool     `json:"isDefault"`
	ScopeIDs    []string `json:"scopeIds"`
	CreatedAt   int64    `json:"createdAt"`
	Version     uint64   `json:"-"`
}

// SigningKey is one OIDC signing key as a private JWK (JSON), with Logto's status.
type SigningKey struct {
	ID        string          `json:"id"`
	Alg       string          `json:"alg"`
	JWK       json.RawMessage `json:"jwk"`    // private JWK
	Status    string          `json:"status"` // Current | Next | Previous
	CreatedAt int64           `json:"createdAt"`
	Version   uint64          `json:"-"`
}

// Management API resource and role, as Logto OSS names them.
const (
	ManagementAPIIndicator = "https://default.logto.app/api"
	ManagementAPIScopeAll  = "all"
	ManagementAPIRoleName  = "Logto Management API access"
)
