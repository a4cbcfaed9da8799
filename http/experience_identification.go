package httpapi

import (
	"context"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/op"
)

// identificationBody is Logto's IdentificationApiPayload. linkSocialIdentity is
// accepted and ignored (no social sign-in yet).
type identificationBody struct {
	VerificationID     string `json:"verificationId"`
	LinkSocialIdentity bool   `json:"linkSocialIdentity"`
}

// postIdentification is POST /api/experience/identification. SignIn: identify the user
// a verification proved -> 204. Register: create the user from the staged profile and
// identify it -> 201, as Logto answers when it creates a user.
func (x *experience) postIdentification(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body identificationBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if rec.Event == eventRegister {
		if err := x.register(r.Context(), uid, rec, body.VerificationID); err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, nil, nil
	}
	if err := x.identify(r.Context(), uid, rec, body.VerificationID); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// identify makes the account that verification proved the interaction's user (SignIn,
// ForgotPassword): a password verification, or a verified code record.
func (x *experience) identify(ctx context.Context, uid string, rec *op.Interaction, verificationID string) error {
	if verificationID == "" {
		return invalidInput("verificationId is missing")
	}
	var ver *op.Verification
	for i := range rec.Verifications {
		if rec.Verifications[i].ID == verificationID {
			ver = &rec.Verifications[i]
			break
		}
	}
	if ver == nil {
		// Not a record of the grain: an email or phone code record (experience_passwordless.go).
		return x.identifyByCode(ctx, uid, rec, verificationID)
	}
	if !(ver.Type == verificationPassword || isCodeVerification(ver.Type)) || ver.UserID == "" || ver.VerifiedAt.IsZero() {
		return apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
	}
	if ver.Type == verificationPassword {
		// The settings' sign-in methods (Logto's guardSignInVerificationMethod); a
		// password does not reset a password.
		if rec.Event == eventForgotPassword {
			return apiErr(http.StatusBadRequest, "session.not_supported_for_forgot_password", msgNotForForgot)
		}
		if !x.signInAllows(ver.IdentifierType, true) {
			return errSignInMethodOff()
		}
	}
	user, ok := x.s.dir.User(ver.UserID)
	if !ok {
		return apiErr(http.StatusNotFound, "user.user_not_exist",
			fmt.Sprintf("User with %s does not exist.", ver.IdentifierValue))
	}
	noteStep(ctx).user(user.ID) // audit log (mgmt_logs_emit.go)
	if user.IsSuspended {
		return apiErr(http.StatusUnauthorized, "user.suspended", msgUserSuspended)
	}
	switch acc := rec.AccountID; {
	case acc == user.ID:
		return nil
	case acc != "":
		return apiErr(http.StatusConflict, "session.identity_conflict", msgIdentityConflict)
	}
	if _, err := x.s.browser.Steps.Identify(ctx, uid, verificationID, ""); err != nil {
		return grainError(err)
	}
	return nil
}
