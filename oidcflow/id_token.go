package oidcflow

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// IDToken is what an ID token is minted from (OIDC Core 2, 3.1.3.6).
type IDToken struct {
	Issuer   string
	Subject  string
	Audience string // the client_id
	Now      time.Time
	// TTL is the client's ID token lifetime (Logto's idTokenTtl, default 3600 s).
	TTL time.Duration
	// AuthTime is when the user authenticated (unix seconds); 0 omits the claim.
	AuthTime int64
	// AMR are the RFC 8176 authentication method references ("pwd", "otp", "mfa");
	// empty omits the claim (OIDC Core 2).
	AMR   []string
	Nonce string
	// SID is the per-client session id (OIDC Back-Channel Logout 2.1), "" omits it.
	SID string
	// AccessToken, when set, is hashed into at_hash with the signing algorithm's hash.
	AccessToken string
	// Alg is the JWS algorithm the token is signed with (it picks at_hash's hash).
	Alg string
	// Claims are the user claims for the granted scopes (UserClaims). They cannot
	// override the registered claims above.
	Claims map[string]any
}

// registeredIDClaims are set by MintIDToken and never taken from Claims.
var registeredIDClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "amr", "nonce", "at_hash", "sid"}

// IDTokenClaims returns the claims of t as a JSON object.
func IDTokenClaims(t IDToken) ([]byte, error) {
	if t.Issuer == "" || t.Subject == "" || t.Audience == "" || t.TTL <= 0 {
		return nil, errors.New("oidcflow: ID token needs iss, sub, aud and a positive TTL")
	}
	c := make(map[string]any, len(t.Claims)+len(registeredIDClaims))
	for k, v := range t.Claims {
		c[k] = v
	}
	iat := t.Now.Unix()
	c["iss"] = t.Issuer
	c["sub"] = t.Subject
	c["aud"] = t.Audience
	c["iat"] = iat
	c["exp"] = iat + int64(t.TTL/time.Second)
	for _, k := range []string{"auth_time", "amr", "nonce", "at_hash", "sid"} {
		delete(c, k)
	}
	if t.AuthTime > 0 {
		c["auth_time"] = t.AuthTime
	}
	if len(t.AMR) > 0 {
		c["amr"] = t.AMR
	}
	if t.Nonce != "" {
		c["nonce"] = t.Nonce
	}
	if t.SID != "" {
		c["sid"] = t.SID
	}
	if t.AccessToken != "" {
		h, err := TokenHash(t.Alg, t.AccessToken)
		if err != nil {
			return nil, err
		}
		c["at_hash"] = h
	}
	return json.Marshal(c)
}

// MintIDToken signs t as a JWT with typ JWT.
func MintIDToken(t IDToken, signer Signer) (string, error) {
	claims, err := IDTokenClaims(t)
	if err != nil {
		return "", err
	}
	return signer.Sign(TypIDToken, claims)
}

// TokenHash is OIDC Core 3.1.3.6's at_hash (and 3.3.2.11's c_hash): the base64url of
// the left-most half of the hash of the token's ASCII octets, with the hash of the
// JWS algorithm (SHA-256 for ES256 and RS256, SHA-384 for ES384).
func TokenHash(alg, token string) (string, error) {
	var sum []byte
	switch alg {
	case AlgES256, AlgRS256:
		s := sha256.Sum256([]byte(token))
		sum = s[:]
	case AlgES384:
		s := sha512.Sum384([]byte(token))
		sum = s[:]
	default:
		return "", fmt.Errorf("oidcflow: no token hash for alg %q", alg)
	}
	return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2]), nil
}

// IDTokenHint is what an id_token_hint tells the end-session endpoint (OIDC RP-Initiated
// Logout 1.0, 2): whose token it was and for which client.
type IDTokenHint struct {
	Subject   string
	Audiences []string
	SID       string
}

// Verifier checks a compact JWS against the provider's keys; *KeyRing implements it.
type Verifier interface {
	Verify(token string) (payload []byte, typ string, err error)
}

var _ Verifier = (*KeyRing)(nil)

// ParseIDTokenHint verifies an id_token_hint signed by one of the provider's keys and
// issued by issuer. Expiry is not checked: RP-Initiated Logout 1.0 2 lets the OP accept
// an expired ID token as a hint.
func ParseIDTokenHint(token, issuer string, v Verifier) (IDTokenHint, error) {
	payload, typ, err := v.Verify(token)
	if err != nil {
		return IDTokenHint{}, err
	}
	if typ != "" && typ != TypIDToken {
		return IDTokenHint{}, errors.New("oidcflow: id_token_hint is not an ID token")
	}
	var c struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
		SID string          `json:"sid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return IDTokenHint{}, errors.New("oidcflow: id_token_hint claims are malformed")
	}
	if c.Iss != issuer || c.Sub == "" {
		return IDTokenHint{}, errors.New("oidcflow: id_token_hint was not issued here")
	}
	h := IDTokenHint{Subject: c.Sub, SID: c.SID}
	var one string
	if json.Unmarshal(c.Aud, &one) == nil {
		h.Audiences = []string{one}
	} else if json.Unmarshal(c.Aud, &h.Audiences) != nil {
		return IDTokenHint{}, errors.New("oidcflow: id_token_hint aud is malformed")
	}
	if len(h.Audiences) == 0 {
		return IDTokenHint{}, errors.New("oidcflow: id_token_hint has no audience")
	}
	return h, nil
}
