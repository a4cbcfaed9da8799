package actors

import (
	"net/http"

	"github.com/latchid/latch/oidcflow/oauth"
)

// Errors of the Interaction grain use Logto's error codes ("<domain>.<reason>") in
// oauth.Error.Code, with Logto's status and message, because the HTTP layer passes them
// through as Experience API errors ({"code", "message"}). They never reach an OAuth
// client. The other grains answer registered OAuth codes only.
func logtoError(code string, status int, message string) *oauth.Error {
	return &oauth.Error{Code: code, Description: message, Status: status}
}

// Logto error codes the Interaction grain answers.
const (
	CodeSessionNotFound               = "session.not_found"
	CodeInteractionNotFound           = "session.interaction_not_found"
	CodeVerificationSessionNotFound   = "session.verification_session_not_found"
	CodeIdentifierNotFound            = "session.identifier_not_found"
	CodeInteractionNotSubmitted       = "session.interaction_not_submitted"
	CodeIdentityConflict              = "session.identity_conflict"
	CodeNotSupportedForForgotPassword = "session.not_supported_for_forgot_password"
	CodeUserNotExist                  = "user.user_not_exist"
	CodeGuardInvalidInput             = "guard.invalid_input"
)

func errSessionNotFound() *oauth.Error {
	return logtoError(CodeSessionNotFound, http.StatusNotFound, "Session not found. Please go back and sign in again.")
}

func errInvalidInput(message string) *oauth.Error {
	return logtoError(CodeGuardInvalidInput, http.StatusBadRequest, message)
}

// errLoginRequired is the Session grain's answer for an absent, expired or
// mismatching session: OIDC Core 3.1.2.6 login_required. It is normally delivered by
// redirect (prompt=none), so its status only matters for direct responses: 400, like
// every other OAuth error response (RFC 6749 5.2).
func errLoginRequired(desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeLoginRequired, Description: desc, Status: http.StatusBadRequest}
}

// errExists answers a Create whose key is taken: the caller generated a colliding
// random id (or retried a create that succeeded).
func errExists(what string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeInvalidRequest, Description: what + " already exists", Status: http.StatusConflict}
}
