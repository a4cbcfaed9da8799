package oidcflow

import (
	"encoding/json"
	"net/url"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

// Signer signs JWT claims with the current key; *KeyRing implements it.
type Signer interface {
	Sign(typ string, claims []byte) (string, error)
}

var _ Signer = (*KeyRing)(nil)

// AccessTokenClaims are the claims of a JWT access token (RFC 9068 2.2), as Logto issues
// them.
type AccessTokenClaims struct {
	JTI            string `json:"jti"`
	Sub            string `json:"sub"`
	IAT            int64  `json:"iat"`
	EXP            int64  `json:"exp"`
	Scope          string `json:"scope,omitempty"`
	ClientID       string `json:"client_id"`
	Iss            string `json:"iss"`
	Aud            string `json:"aud"`
	OrganizationID string `json:"organization_id,omitempty"`
	// GrantID is Latch's private claim naming the grant a user access token was issued
	// from, so introspection can tell the token is active only while its grant is
	// (RFC 7662 2.2 leaves "active" to the server). Client-credentials tokens have no
	// grant and no gid. Resource servers ignore it (RFC 7519 4.3: private claim).
	GrantID string `json:"gid,omitempty"`
	// Act is RFC 8693 4.1's actor claim of a token-exchange token issued with an
	// actor_token (Logto's act: {sub: <actor's account id>}).
	Act *ActorClaim `json:"act,omitempty"`
}

// ActorClaim is RFC 8693 4.1's act claim.
type ActorClaim struct {
	Sub string `json:"sub"`
}

// TokenResponse is RFC 6749 5.1's successful token response.
type TokenResponse struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	TokenType    string `json:"token_type"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	// IssuedTokenType is RFC 8693 2.2.1's issued_token_type (token exchange only).
	IssuedTokenType string `json:"issued_token_type,omitempty"`
	// ScopeAlways writes scope even when it is empty (a client_credentials organization
	// token, as Logto's "scope-always-present").
	ScopeAlways bool `json:"-"`
	// UserID is the user the tokens speak for (empty for a client's own token): never
	// encoded; the token endpoint's audit log records it.
	UserID string `json:"-"`
}

// Body is what the token endpoint encodes as JSON: the response, with an empty scope
// only when ScopeAlways. (Not a MarshalJSON: encoding/json re-scans what a marshaler
// returns, which cost every token response about 8 us.)
func (r TokenResponse) Body() any {
	if r.ScopeAlways && r.Scope == "" {
		return struct {
			TokenResponse
			Scope string `json:"scope"`
		}{r, ""}
	}
	return r
}

// ClientCredentialsRequest is a decoded RFC 6749 4.4.2 request for an authenticated
// client.
type ClientCredentialsRequest struct {
	// Resource is the single RFC 8707 resource indicator; "" only for an organization
	// token (ClientCredentialsGrant.OrganizationID).
	Resource string
	// Scopes is nil when the scope parameter was omitted.
	Scopes []string
}

// DecodeClientCredentials reads the grant's parameters from a parsed form.
func DecodeClientCredentials(form url.Values) (ClientCredentialsRequest, error) {
	var req ClientCredentialsRequest
	res := form["resource"]
	switch len(res) {
	case 0:
		return req, oauth.InvalidTarget("a resource indicator is required for client_credentials")
	case 1:
	default:
		return req, oauth.InvalidTarget("only one resource indicator is supported for client_credentials")
	}
	if err := ValidResourceIndicator(res[0]); err != nil {
		return req, err
	}
	req.Resource = res[0]
	scopes, err := ParseScope(form.Get("scope"))
	if err != nil {
		return req, err
	}
	req.Scopes = scopes
	return req, nil
}

// ValidResourceIndicator applies RFC 8707 2: an absolute URI without a fragment.
func ValidResourceIndicator(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.RawFragment != "" {
		return oauth.InvalidTarget("resource must be an absolute URI without a fragment")
	}
	return nil
}

// ClientCredentialsGrant is everything the grant decides from: the request, and what the
// directory says the client holds on the resource.
type ClientCredentialsGrant struct {
	Issuer   string
	ClientID string
	Request  ClientCredentialsRequest
	// TTL is the resource's access token TTL.
	TTL time.Duration
	// Granted are the scope names the client's M2M roles grant on the resource.
	Granted []string
	Now     time.Time
	// JTI is a fresh random token id.
	JTI string
	// OrganizationID is the organization_id parameter (Logto RFC 0006) of a client
	// that is a member of the organization. Without a resource, the token is an
	// organization token: aud urn:logto:organization:<id>, scope =
	// OrganizationTokenScopes(Granted, requested), the TTL OrganizationTokenTTL; with
	// one, the resource's token carries the claim organization_id.
	OrganizationID string
}

// IssueClientCredentials decides the scope and mints the JWT access token. As Logto does,
// the scope is the requested scopes the client holds: others are dropped, not refused,
// and an omitted scope parameter gives no scope. An organization token always carries
// scope (in the response and the JWT), empty when none is granted, as Logto's.
func IssueClientCredentials(g ClientCredentialsGrant, signer Signer) (TokenResponse, error) {
	scopes := Intersect(g.Request.Scopes, g.Granted)
	aud, orgClaim, ttlDur := g.Request.Resource, g.OrganizationID, g.TTL
	orgToken := g.OrganizationID != "" && g.Request.Resource == ""
	if orgToken {
		aud, orgClaim, ttlDur = OrganizationURN(g.OrganizationID), "", OrganizationTokenTTL
		scopes = OrganizationTokenScopes(g.Granted, g.Request.Scopes)
	}
	scope := FormatScope(scopes)
	iat := g.Now.Unix()
	ttl := int64(ttlDur / time.Second)
	at := AccessTokenClaims{
		JTI:            g.JTI,
		Sub:            g.ClientID,
		IAT:            iat,
		EXP:            iat + ttl,
		Scope:          scope,
		ClientID:       g.ClientID,
		Iss:            g.Issuer,
		Aud:            aud,
		OrganizationID: orgClaim,
	}
	var claims []byte
	var err error
	if orgToken {
		claims, err = json.Marshal(scopedClaims{AccessTokenClaims: at, Scope: scope})
	} else {
		claims, err = json.Marshal(at)
	}
	if err != nil {
		return TokenResponse{}, err
	}
	token, err := signer.Sign(TypAccessToken, claims)
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: token, ExpiresIn: ttl, TokenType: "Bearer", Scope: scope, ScopeAlways: orgToken}, nil
}

// scopedClaims are access token claims whose scope is present even when empty (the
// outer Scope shadows the embedded omitempty one).
type scopedClaims struct {
	AccessTokenClaims
	Scope string `json:"scope"`
}

// Intersect returns the elements of want that are in have, in want's order.
func Intersect(want, have []string) []string {
	out := make([]string, 0, len(want))
	for _, w := range want {
		for _, h := range have {
			if w == h {
				out = append(out, w)
				break
			}
		}
	}
	return out
}
