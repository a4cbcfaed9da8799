package op

import (
	"encoding/json"

	"github.com/latchid/latch/oidcflow"
)

// ClaimsCustomizer adds claims to a JWT access token before it is signed (Logto's
// custom JWT, extraTokenClaims). It returns the extra claims (nil: none) or an error
// the token request fails with: an *oauth.Error (access_denied when the script
// denies access, invalid_request when it fails and blocks issuance). It runs on the
// token request's goroutine and must bound its own running time.
type ClaimsCustomizer interface {
	CustomizeAccessToken(req CustomClaimsRequest) (map[string]any, error)
}

// CustomClaimsRequest is what a customizer learns of the token being minted.
type CustomClaimsRequest struct {
	// ClientCredentials: a client_credentials token (Logto's ClientCredentials kind);
	// else a user's access token (AccessToken kind).
	ClientCredentials bool
	// GrantType is the token request's grant_type (Logto's gty).
	GrantType string
	ClientID  string
	// UserID is the token's subject for a user's access token; "" otherwise.
	UserID string
	// GrantID is the grant a user's token is issued from ("" for none).
	GrantID string
	// OrganizationID is the organization the token is issued for ("" for none).
	OrganizationID string
	// Claims are the claims about to be signed; read only.
	Claims map[string]any
}

// reservedClaims are never set by a customizer, present or not: the registered JWT
// claims (RFC 7519 4.1, RFC 9068 2.2) and the ones node-oidc-provider writes after
// the extra claims (client_id, scope, cnf), plus Latch's private gid (introspection
// ties a token to its grant by it) and RFC 8693's act.
var reservedClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"client_id": true, "scope": true, "cnf": true, "gid": true, "act": true, "organization_id": true,
}

// customizingSigner signs JWT access tokens with the customizer's claims merged in;
// every other token type passes through.
type customizingSigner struct {
	next oidcflow.Signer
	c    ClaimsCustomizer
	req  CustomClaimsRequest
}

// Sign merges the extra claims without overwriting any claim the token has or any
// reserved one, then signs.
func (s customizingSigner) Sign(typ string, claims []byte) (string, error) {
	if typ != oidcflow.TypAccessToken {
		return s.next.Sign(typ, claims)
	}
	var m map[string]any
	if err := json.Unmarshal(claims, &m); err != nil {
		return "", err
	}
	req := s.req
	req.Claims = m
	extra, err := s.c.CustomizeAccessToken(req)
	if err != nil {
		return "", err
	}
	if len(extra) == 0 {
		return s.next.Sign(typ, claims)
	}
	for k, v := range extra {
		if _, taken := m[k]; taken || reservedClaims[k] {
			continue
		}
		m[k] = v
	}
	merged, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	return s.next.Sign(typ, merged)
}

// accessTokenSigner is the signer of the access token req describes: p.keys, with
// the claims customizer in front when one is configured.
func (p *Provider) accessTokenSigner(req CustomClaimsRequest) oidcflow.Signer {
	if p.claims == nil {
		return p.keys
	}
	return customizingSigner{next: p.keys, c: p.claims, req: req}
}
