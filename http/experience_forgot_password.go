package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// Forgot password on the Experience API (Logto's profile-routes.ts PUT
// /profile/password and ExperienceInteraction.submit for ForgotPassword):
//
//	PUT  /api/experience                        {"interactionEvent": "ForgotPassword"}
//	POST /api/experience/verification/verification-code (+ /verify)
//	POST /api/experience/identification         {"verificationId"}  (the code record)
//	PUT  /api/experience/profile/password       {"password"}
//	POST /api/experience/submit                 -> 204, the password is replaced
//
// The new password is checked against the password policy and hashed when it is
// staged; submit writes the hash. The user is not signed in: the interaction starts
// over and the person signs in with the new password.

type newPasswordBody struct {
	Password string `json:"password"`
}

// putProfilePassword is PUT /api/experience/profile/password.
func (x *experience) putProfilePassword(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body newPasswordBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if err := x.stageNewPassword(r.Context(), uid, rec, body.Password); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// stageNewPassword checks and hashes the new password of a ForgotPassword interaction:
// 400 session.invalid_interaction_type for another event, 404
// session.identifier_not_found before identification, 422 password.rejected by the
// policy (with the user's own information), 422 user.same_password for the current one.
func (x *experience) stageNewPassword(ctx context.Context, uid string, rec *op.Interaction, password string) error {
	if rec.Event != eventForgotPassword {
		return apiErr(http.StatusBadRequest, "session.invalid_interaction_type", msgInvalidInteraction)
	}
	user, ok := x.s.dir.User(rec.AccountID)
	if rec.AccountID == "" || !ok {
		return apiErr(http.StatusNotFound, "session.identifier_not_found", msgIdentifierNotFound)
	}
	if password == "" {
		return invalidInput("`password` is required")
	}
	info := directory.PasswordUserInfo{}
	if user.Username != nil {
		info.Username = *user.Username
	}
	if user.PrimaryEmail != nil {
		info.Email = *user.PrimaryEmail
	}
	if user.PrimaryPhone != nil {
		info.PhoneNumber = *user.PrimaryPhone
	}
	if user.Name != nil {
		info.Name = *user.Name
	}
	if err := x.s.enforcePasswordPolicy(ctx, password, info); err != nil {
		return err
	}
	if user.HasPassword() {
		if _, err := x.s.dir.VerifyUserPassword(user.ID, password); err == nil {
			return apiErr(http.StatusUnprocessableEntity, "user.same_password", msgSamePassword)
		} else if !errors.Is(err, directory.ErrInvalidCredentials) {
			return mgmtError(err)
		}
	}
	hash, err := x.s.dir.HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := x.s.browser.Steps.SetProfile(ctx, uid, "", hash); err != nil {
		return grainError(err)
	}
	return nil
}

// submitForgotPassword writes the staged password (422
// user.new_password_required_in_profile without one) and starts the interaction over,
// as Logto clears its interaction storage.
func (x *experience) submitForgotPassword(ctx context.Context, uid string, rec *op.Interaction, user *directory.User) error {
	if rec.ProfilePasswordHash == "" {
		return apiErr(http.StatusUnprocessableEntity, "user.new_password_required_in_profile", msgNewPasswordFirst)
	}
	if _, err := x.s.dir.SetUserPasswordHash(ctx, user.ID, rec.ProfilePasswordHash); err != nil {
		return mgmtError(err)
	}
	noteStep(ctx).userDataUpdated(user.ID) // User.Data.Updated (experience_profile.go)
	if _, err := x.s.browser.Steps.SetEvent(ctx, uid, eventSignIn, true); err != nil {
		return grainError(err)
	}
	return nil
}
