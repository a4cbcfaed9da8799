// Package oauth is the leaf of the protocol: the OAuth 2.0 / OIDC error type with its
// registered codes, and the grant and response type names.
package oauth

import (
	"errors"
	"net/http"
)

// Error is a protocol error as RFC 6749 5.2 / 4.1.2.1, RFC 6750 3.1, OIDC Core 3.1.2.6,
// RFC 7009 2.2.1, RFC 7662 and RFC 8707 register them. It is a value: build it with the
// constructors below and compare with errors.Is, which matches on Code.
type Error struct {
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
	// Status is the HTTP status a direct (non-redirect) response carries.
	Status int `json:"-"`
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

// Is matches any *Error with the same Code, so errors.Is(err, oauth.InvalidGrant(""))
// asks "is this an invalid_grant?".
func (e *Error) Is(target error) bool {
	var t *Error
	if !errors.As(target, &t) {
		return false
	}
	return t.Code == e.Code
}

// Registered codes.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeInvalidClient           = "invalid_client"
	CodeInvalidGrant            = "invalid_grant"
	CodeUnauthorizedClient      = "unauthorized_client"
	CodeUnsupportedGrantType    = "unsupported_grant_type"
	CodeInvalidScope            = "invalid_scope"
	CodeInvalidTarget           = "invalid_target"
	CodeAccessDenied            = "access_denied"
	CodeUnsupportedResponseType = "unsupported_response_type"
	CodeServerError             = "server_error"
	CodeTemporarilyUnavailable  = "temporarily_unavailable"
	CodeLoginRequired           = "login_required"
	CodeConsentRequired         = "consent_required"
	CodeInvalidToken            = "invalid_token"
	CodeInsufficientScope       = "insufficient_scope"
	CodeUnsupportedTokenType    = "unsupported_token_type"
)

func newErr(code string, status int, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: status}
}

// InvalidRequest: RFC 6749 5.2, malformed, missing or repeated parameter.
func InvalidRequest(desc string) *Error {
	return newErr(CodeInvalidRequest, http.StatusBadRequest, desc)
}

// InvalidClient: RFC 6749 5.2, client authentication failed (401 with WWW-Authenticate).
func InvalidClient(desc string) *Error {
	return newErr(CodeInvalidClient, http.StatusUnauthorized, desc)
}

// InvalidGrant: RFC 6749 5.2.
func InvalidGrant(desc string) *Error { return newErr(CodeInvalidGrant, http.StatusBadRequest, desc) }

// UnauthorizedClient: RFC 6749 5.2, the client may not use this grant type.
func UnauthorizedClient(desc string) *Error {
	return newErr(CodeUnauthorizedClient, http.StatusBadRequest, desc)
}

// UnsupportedGrantType: RFC 6749 5.2.
func UnsupportedGrantType(desc string) *Error {
	return newErr(CodeUnsupportedGrantType, http.StatusBadRequest, desc)
}

// InvalidScope: RFC 6749 5.2.
func InvalidScope(desc string) *Error { return newErr(CodeInvalidScope, http.StatusBadRequest, desc) }

// InvalidTarget: RFC 8707 2, the requested resource is invalid or unknown.
func InvalidTarget(desc string) *Error { return newErr(CodeInvalidTarget, http.StatusBadRequest, desc) }

// AccessDenied: RFC 6749 4.1.2.1.
func AccessDenied(desc string) *Error { return newErr(CodeAccessDenied, http.StatusForbidden, desc) }

// InvalidToken: RFC 6750 3.1.
func InvalidToken(desc string) *Error { return newErr(CodeInvalidToken, http.StatusUnauthorized, desc) }

// InsufficientScope: RFC 6750 3.1.
func InsufficientScope(desc string) *Error {
	return newErr(CodeInsufficientScope, http.StatusForbidden, desc)
}

// ServerError hides the cause; log it, never show it.
func ServerError() *Error {
	return newErr(CodeServerError, http.StatusInternalServerError, "internal server error")
}

// TemporarilyUnavailable: RFC 6749 4.1.2.1, also used when a deadline expires in the cluster.
func TemporarilyUnavailable(desc string) *Error {
	return newErr(CodeTemporarilyUnavailable, http.StatusServiceUnavailable, desc)
}

// From returns err as *Error, or ServerError when err is not a protocol error.
func From(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return ServerError(), false
}

// Grant types.
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	// GrantTokenExchange is RFC 8693 2.1's grant type.
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
)
