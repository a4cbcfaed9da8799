package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"unicode"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// Logto's interaction events (@logto/schemas InteractionEvent).
const (
	eventSignIn         = "SignIn"
	eventRegister       = "Register"
	eventForgotPassword = "ForgotPassword"
)

// verificationPassword is Logto's VerificationType.Password.
const verificationPassword = "Password"

// experience serves Logto's Experience API (Logto RFC 0004, "interaction API v2") over
// the Interaction grain (op.Interactions, op.InteractionSteps). Every route reads the interaction uid from the _interaction
// cookie that /oidc/auth set; the interaction's state lives in the grain, so any node
// can serve any step. The only state held here is the password throttle.
//
// The steps are methods that know nothing of HTTP and return an *APIError in Logto's
// shape; the JSON routes (experience_*.go) and the JavaScript-free form posts
// (ui_form.go) both call them.
type experience struct {
	s        *Server
	throttle *passwordThrottle
}

// routesExperience registers the Experience API and, because they share its password
// throttle, the sign-in pages' JavaScript-free form posts (ui_form.go). Without
// op.Browser (Management API tests) nothing is registered.
func (s *Server) routesExperience(r *routeTable) {
	if s.browser == nil {
		return
	}
	x := &experience{s: s, throttle: newPasswordThrottle(s.now, defaultThrottle, s.throttleStore, s.log)}
	if s.metrics != nil {
		x.throttle.onLockout = s.metrics.Lockout
	}
	g := newPostGuard(s.endpoint) // formguard.go: same-origin, JSON / form bodies only
	r.PUT("/api/experience", g.json(x.api(x.logged("Update", x.putExperience))))
	r.PUT("/api/experience/interaction-event", g.json(x.api(x.logged("Update", x.putInteractionEvent))))
	r.GET("/api/experience/interaction", x.api(x.getInteraction))
	r.POST("/api/experience/verification/password", g.json(x.api(x.logged("Verification.Password.Submit", x.postPasswordVerification))))
	r.POST("/api/experience/identification", g.json(x.api(x.logged("Identifier.Submit", x.postIdentification))))
	r.POST("/api/experience/profile", g.json(x.api(x.logged("Profile.Update", x.postProfile))))
	r.PUT("/api/experience/profile/password", g.json(x.api(x.logged("Profile.Update", x.putProfilePassword))))
	r.POST("/api/experience/submit", g.json(x.api(x.logged("Submit", x.dataHooked(x.hooked(x.postSubmit))))))
	x.routesMfa(r, g) // experience_mfa.go

	r.POST(pathSignIn, g.form(x.serveSignInForm))
	r.POST(pathRegister, g.form(x.serveRegisterPost)) // ui_register_code.go: by code or username
	x.routesCodeUI(r, g)                              // ui_register_code.go
}

// api wraps an Experience API endpoint: its answers are never cached (they carry
// per-interaction state and verification ids).
func (x *experience) api(h apiHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		w.Header().Set("Cache-Control", "no-store")
		x.s.serveAPI(w, r, p, h)
	}
}

// maxInteractionUID bounds the cookie value used as a grain key; uids that /oidc/auth
// issues are far shorter.
const maxInteractionUID = 128

// interactionUID returns the interaction uid from the _interaction cookie. A missing or
// malformed cookie is Logto's session.not_found (400, as oidc-provider's
// SessionNotFound); an unknown or expired uid is the grain's session.not_found (404).
func interactionUID(r *http.Request) (string, error) {
	uid := cookie(r, cookieInteraction)
	if uid == "" || len(uid) > maxInteractionUID || strings.IndexFunc(uid, notUIDRune) >= 0 {
		return "", errSessionNotFound(http.StatusBadRequest)
	}
	return uid, nil
}

func notUIDRune(c rune) bool {
	return c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_' || c == '.')
}

// load returns the interaction named by the request's cookie. With started set, an
// interaction whose event was never set (PUT /api/experience not called yet) is 404
// session.interaction_not_found, as Logto answers when its interaction storage is empty.
func (x *experience) load(ctx context.Context, r *http.Request, started bool) (string, *op.Interaction, error) {
	uid, err := interactionUID(r)
	if err != nil {
		return "", nil, err
	}
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return "", nil, grainError(err)
	}
	if started && rec.Event == "" {
		return "", nil, apiErr(http.StatusNotFound, "session.interaction_not_found", msgInteractionNotFound)
	}
	noteStep(ctx).interaction(uid, rec) // audit log (mgmt_logs_emit.go)
	return uid, rec, nil
}

// grainError turns an Interaction grain failure into an Experience API error. The grain
// answers Logto codes ("session.not_found", ...) with their status; a registered OAuth
// code means a request the grain refused (400 guard.invalid_input); anything else
// (unreachable member, deadline) is returned as is and becomes a logged 500.
func grainError(err error) error {
	var oe *oauth.Error
	if !errors.As(err, &oe) {
		return err
	}
	if strings.Contains(oe.Code, ".") {
		status := oe.Status
		if status == 0 {
			status = http.StatusBadRequest
		}
		message := logtoMessages[oe.Code]
		if message == "" {
			message = oe.Description
		}
		if message == "" {
			message = oe.Code
		}
		return apiErr(status, oe.Code, message)
	}
	if oe.Code == oauth.CodeInvalidRequest {
		return invalidInput(oe.Description)
	}
	return err
}

// Logto's English phrases (packages/phrases/src/locales/en/errors) for the codes the
// Experience API answers.
const (
	msgSessionNotFound       = "Session not found. Please go back and sign in again."
	msgInteractionNotFound   = "Interaction session not found. Please go back and start the session again."
	msgInvalidCredentials    = "Incorrect account or password. Please check your input."
	msgVerificationNotFound  = "The verification was not successful. Restart the verification flow and try again."
	msgVerificationFailed    = "The verification was not successful. Restart the verification flow and try again."
	msgIdentifierNotFound    = "User identifier not found. Please go back and sign in again."
	msgUserSuspended         = "This account is suspended."
	msgUsernameInUse         = "This username is already in use."
	msgMissingProfile        = "You need to provide additional info before signing-in."
	msgPasswordRejected      = "Password rejected. Please check if your password meets the requirements."
	msgIdentityConflict      = "Identity conflict, please go back and start the session again."
	msgInvalidInteraction    = "This operation is not supported for the current interaction."
	msgForgotPasswordOff     = "Forgot password is not enabled."
	msgTooManyAttemptsFormat = "Too many attempts in a short time. Please try again %s."
)

var logtoMessages = map[string]string{
	"session.not_found":                      msgSessionNotFound,
	"session.interaction_not_found":          msgInteractionNotFound,
	"session.verification_session_not_found": msgVerificationNotFound,
	"session.identifier_not_found":           msgIdentifierNotFound,
	"session.identity_conflict":              msgIdentityConflict,
	"user.missing_profile":                   msgMissingProfile,
	"user.suspended":                         msgUserSuspended,
}

func errSessionNotFound(status int) *APIError {
	return apiErr(status, "session.not_found", msgSessionNotFound)
}

// interactionEvent validates a Logto InteractionEvent value.
func interactionEvent(v string) error {
	switch v {
	case eventSignIn, eventRegister, eventForgotPassword:
		return nil
	case "":
		return invalidInput("`interactionEvent` is required")
	}
	return invalidInput("`interactionEvent` must be one of SignIn, Register, ForgotPassword")
}
