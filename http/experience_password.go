package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// passwordVerificationBody is Logto's PasswordVerificationPayload.
type passwordVerificationBody struct {
	Identifier identifierJSON `json:"identifier"`
	Password   string         `json:"password"`
}

// Logto's SignInIdentifier values accepted as a password identifier.
const (
	identifierUsername = "username"
	identifierEmail    = "email"
	identifierPhone    = "phone"
)

// postPasswordVerification is POST /api/experience/verification/password: check a
// password for an identifier and record a Password verification -> {verificationId}.
func (x *experience) postPasswordVerification(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, _, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body passwordVerificationBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	id, err := x.verifyPassword(r.Context(), uid, body.Identifier, body.Password)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"verificationId": id}, nil
}

// verifyPassword checks password for the identifier and records the verification on the
// interaction uid, returning its id.
//
// A wrong password and an unknown identifier give the same answer (422
// session.invalid_credentials) after the same work: one Argon2id verification either
// way (directory.SpendPasswordHash for an unknown identifier, as for a user without a
// password). A suspended account is told apart (401 user.suspended) only after its
// password was proven. Failures are throttled per identifier (passwordThrottle): a
// locked identifier gets 429 session.verification_blocked_too_many_attempts without a
// password check, whatever the password.
func (x *experience) verifyPassword(ctx context.Context, uid string, ident identifierJSON, password string) (string, error) {
	idType, value, err := normalizeIdentifier(ident)
	if err != nil {
		return "", err
	}
	if password == "" {
		return "", invalidInput("`password` is required")
	}
	noteStep(ctx).verification(ident, "") // audit log (mgmt_logs_emit.go)
	key := throttleKey(idType, value)
	ok, until := x.throttle.attempt(ctx, key)
	if !ok {
		return "", errTooManyAttempts(until.Sub(x.s.now()))
	}

	var user *directory.User
	if u, found := x.lookupIdentifier(idType, value); found {
		user, err = x.s.dir.VerifyUserPassword(u.ID, password)
	} else {
		x.s.dir.SpendPasswordHash(password)
		err = directory.ErrInvalidCredentials
	}
	if err != nil {
		// ErrInvalidCredentials, or the user was deleted since the lookup: the same
		// answer either way. The attempt stays charged.
		x.throttle.failed(ctx, key)
		return "", errInvalidCredentials()
	}
	x.throttle.succeeded(ctx, key)
	x.s.dir.UpgradePasswordHash(ctx, user, password) // an imported digest becomes Argon2id
	if user.IsSuspended {
		return "", apiErr(http.StatusUnauthorized, "user.suspended", msgUserSuspended)
	}

	verificationID, err := op.RandomID(x.s.rand)
	if err != nil {
		return "", err
	}
	// Verified now, on the Interaction grain's clock.
	_, err = x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID:              verificationID,
		Type:            verificationPassword,
		UserID:          user.ID,
		IdentifierType:  idType,
		IdentifierValue: ident.Value,
	})
	if err != nil {
		return "", grainError(err)
	}
	noteStep(ctx).user(user.ID)
	noteStep(ctx).verification(ident, verificationID)
	return verificationID, nil
}

// normalizeIdentifier validates a Logto InteractionIdentifier and returns its type and
// the value as the directory indexes it (emails compare case-insensitively, phone
// numbers are digits).
func normalizeIdentifier(ident identifierJSON) (idType, value string, err error) {
	value = strings.TrimSpace(ident.Value)
	if value == "" {
		return "", "", invalidInput("`identifier.value` is required")
	}
	if len(value) > 128 {
		return "", "", errInvalidCredentials()
	}
	switch ident.Type {
	case identifierUsername:
		return ident.Type, value, nil
	case identifierPhone:
		return ident.Type, strings.TrimPrefix(value, "+"), nil // stored as digits only
	case identifierEmail:
		return ident.Type, strings.ToLower(value), nil
	case "":
		return "", "", invalidInput("`identifier.type` is required")
	}
	return "", "", invalidInput("`identifier.type` must be one of username, email, phone")
}

// lookupIdentifier finds the user an identifier names (a local directory read).
func (x *experience) lookupIdentifier(idType, value string) (*directory.User, bool) {
	switch idType {
	case identifierUsername:
		return x.s.dir.UserByUsername(value)
	case identifierEmail:
		return x.s.dir.UserByEmail(value)
	case identifierPhone:
		return x.s.dir.UserByPhone(value)
	}
	return nil, false
}

func errInvalidCredentials() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "session.invalid_credentials", msgInvalidCredentials)
}

// errTooManyAttempts is Logto's Sentinel answer, with HTTP 429 (Logto answers 400) and
// the wait in data.retryAfterSeconds.
func errTooManyAttempts(wait time.Duration) *APIError {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	mins := (secs + 59) / 60
	when := fmt.Sprintf("in %d minutes", mins)
	if mins == 1 {
		when = "in 1 minute"
	}
	e := apiErr(http.StatusTooManyRequests, "session.verification_blocked_too_many_attempts", fmt.Sprintf(msgTooManyAttemptsFormat, when))
	e.Data = map[string]int{"retryAfterSeconds": secs}
	return e
}
