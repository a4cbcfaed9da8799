package oidcflow

import (
	"encoding/json"
	"errors"
	"time"
)

// BackchannelLogoutEvent is the member of a logout token's events claim (OIDC
// Back-Channel Logout 1.0, 2.4: "the JSON object MUST contain the member name
// http://schemas.openid.net/event/backchannel-logout").
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutTokenTTL is exp - iat of a logout token. Back-Channel Logout 1.0, 2.4: "The
// expiration time ... it is RECOMMENDED that it be no more than two minutes"; Logto
// (node-oidc-provider) issues 120 s.
const LogoutTokenTTL = 120 * time.Second

// LogoutToken is what a logout token is minted from (Back-Channel Logout 1.0, 2.4).
type LogoutToken struct {
	Issuer string
	// Audience is the client_id of the RP the token is sent to.
	Audience string
	// Subject is the account; SID the session id the RP got in its ID token (the sid
	// claim). 2.4: "A Logout Token MUST contain either a sub or a sid Claim, and MAY
	// contain both"; an empty one is omitted.
	Subject string
	SID     string
	// JTI must be unique per token: a fresh one for every delivery attempt.
	JTI string
	Now time.Time
}

// logoutClaims is the wire form. Back-Channel Logout 1.0, 2.4: "A Logout Token MUST NOT
// contain a nonce Claim", so the type has none.
type logoutClaims struct {
	Iss    string                    `json:"iss"`
	Aud    string                    `json:"aud"`
	Iat    int64                     `json:"iat"`
	Exp    int64                     `json:"exp"`
	JTI    string                    `json:"jti"`
	Sub    string                    `json:"sub,omitempty"`
	SID    string                    `json:"sid,omitempty"`
	Events map[string]map[string]any `json:"events"`
}

// LogoutTokenClaims returns the claims of t as a JSON object: iss, aud, iat, exp (iat +
// LogoutTokenTTL), jti, sub and/or sid, and events {BackchannelLogoutEvent: {}}.
func LogoutTokenClaims(t LogoutToken) ([]byte, error) {
	switch {
	case t.Issuer == "" || t.Audience == "" || t.JTI == "":
		return nil, errors.New("oidcflow: logout token needs iss, aud and jti")
	case t.Subject == "" && t.SID == "":
		return nil, errors.New("oidcflow: logout token needs sub or sid")
	}
	iat := t.Now.Unix()
	return json.Marshal(logoutClaims{
		Iss: t.Issuer, Aud: t.Audience, Iat: iat, Exp: iat + int64(LogoutTokenTTL/time.Second),
		JTI: t.JTI, Sub: t.Subject, SID: t.SID,
		Events: map[string]map[string]any{BackchannelLogoutEvent: {}},
	})
}

// MintLogoutToken signs t as a JWT with typ logout+jwt (Back-Channel Logout 1.0, 2.4:
// "explicitly typed ... logout+jwt", so it cannot be confused with an ID token).
func MintLogoutToken(t LogoutToken, signer Signer) (string, error) {
	claims, err := LogoutTokenClaims(t)
	if err != nil {
		return "", err
	}
	return signer.Sign(TypLogoutToken, claims)
}
