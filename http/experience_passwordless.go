package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// Email and phone verification codes as a first factor (Logto's
// EmailVerificationCode / PhoneVerificationCode verification records): passwordless
// sign-in, registration by a verified email or phone (experience_register.go) and
// forgot password (experience_forgot_password.go).
//
// The code itself lives in a passcode record bound to the interaction
// (experience_verification_code.go). Identification reads what that record proved,
// checks the sign-in experience settings, then spends the record (passcode.Codes.Use:
// one flow per code) and copies the proof into the Interaction grain as a verification
// of type EmailVerificationCode or PhoneVerificationCode, so a retried identification
// and submit (amr) see it.
const (
	verificationEmailCode = "EmailVerificationCode"
	verificationPhoneCode = "PhoneVerificationCode"
)

// RFC 8176 methods of a code sign-in: "otp" for an emailed code, "sms" for a texted one.
const amrSMS = "sms"

// Logto's phrases for the codes these flows answer.
const (
	msgSignInMethodOff  = "Sign-in method is not enabled."
	msgSignUpMethodOff  = "Sign-up method is not enabled."
	msgUserNotExist     = "User does not exist."
	msgEmailInUse       = "This email is associated with an existing account."
	msgPhoneInUse       = "This phone number is associated with an existing account."
	msgNotForForgot     = "This operation is not supported for forgot password."
	msgSamePassword     = "Your new password can not be the same as your current password."
	msgNewPasswordFirst = "You must set a new password before submitting."
)

func codeVerificationType(identType string) string {
	if identType == passcode.Phone {
		return verificationPhoneCode
	}
	return verificationEmailCode
}

func isCodeVerification(typ string) bool {
	return typ == verificationEmailCode || typ == verificationPhoneCode
}

func errSignInMethodOff() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "user.sign_in_method_not_enabled", msgSignInMethodOff)
}

func errSignUpMethodOff() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "user.sign_up_method_not_enabled", msgSignUpMethodOff)
}

// signInAllows reports whether the settings' sign-in methods allow identifier with a
// password (password true) or a verification code (password false): Logto's
// SignInExperienceValidator.guardSignInVerificationMethod.
func (x *experience) signInAllows(identifier string, password bool) bool {
	return slices.ContainsFunc(x.s.dir.SignInExperience().SignIn().Methods, func(m directory.SignInMethod) bool {
		return m.Identifier == identifier && ((password && m.Password) || (!password && m.VerificationCode))
	})
}

// signInByCodeOffered reports whether some sign-in method takes a verification code
// (the sign-in page then offers "sign in with a code").
func (x *experience) signInByCodeOffered() bool {
	return x.signInAllows(identifierEmail, false) || x.signInAllows(identifierPhone, false)
}

// forgotPasswordAllows reports whether a password may be reset by a code sent to
// identifier: a connector of that channel is configured, and the settings'
// forgotPasswordMethods (when set) list the method. An empty list means every channel
// that can deliver a code, as Logto did before the setting existed.
func (x *experience) forgotPasswordAllows(identifier string) bool {
	channel, method := connectors.Email, verificationEmailCode
	if identifier == identifierPhone {
		channel, method = connectors.SMS, verificationPhoneCode
	}
	if x.s.conns == nil {
		return false
	}
	if _, _, ok := x.s.conns.Configured(channel); !ok {
		return false
	}
	var methods []string
	_ = json.Unmarshal(x.s.dir.SignInExperience().Fields["forgotPasswordMethods"], &methods)
	return len(methods) == 0 || slices.Contains(methods, method)
}

// forgotPasswordOffered reports whether any forgot-password method is available.
func (x *experience) forgotPasswordOffered() bool {
	return x.forgotPasswordAllows(identifierEmail) || x.forgotPasswordAllows(identifierPhone)
}

// codeRecord returns what the interaction's code record verificationID proved, without
// spending it. A record of another interaction, or none, is 404
// session.verification_session_not_found; one whose code was not verified (or that was
// used already) is 400 session.verification_failed.
func (x *experience) codeRecord(ctx context.Context, uid, verificationID string) (passcode.Identifier, error) {
	ident, err := x.s.VerifiedIdentifier(ctx, uid, verificationID)
	return ident, experienceCodeRecordError(err)
}

// useCodeRecord spends the record (one flow per code); a concurrent use loses.
func (x *experience) useCodeRecord(ctx context.Context, uid, verificationID string) (passcode.Identifier, error) {
	ident, err := x.s.codes.Use(ctx, experienceBinding(uid), verificationID)
	return ident, experienceCodeRecordError(err)
}

// experienceCodeRecordError maps a spent, unknown or unverified code record to the
// Experience API's errors.
func experienceCodeRecordError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, passcode.ErrRecordNotFound):
		return errVerificationSessionNotFound()
	case errors.Is(err, passcode.ErrNotVerified):
		return apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
	}
	return err
}

// userByCodeIdentifier finds the account an email or phone names.
func (x *experience) userByCodeIdentifier(ident passcode.Identifier) (*directory.User, bool) {
	if ident.Type == passcode.Phone {
		return x.s.dir.UserByPhone(ident.Value)
	}
	return x.s.dir.UserByEmail(ident.Value)
}

// identifyByCode identifies the user a verified code record names (SignIn by code,
// ForgotPassword), as Logto's identifyExistingUser with a code verification: the
// settings must allow the method (422 user.sign_in_method_not_enabled, or 403
// session.forgot_password_not_enabled), the account must exist (404
// user.user_not_exist: the record stays usable, so the client may switch to Register
// with it) and not be suspended; the record is then spent.
func (x *experience) identifyByCode(ctx context.Context, uid string, rec *op.Interaction, verificationID string) error {
	ident, err := x.codeRecord(ctx, uid, verificationID)
	if err != nil {
		return err
	}
	noteStep(ctx).verification(identifierJSON{Type: ident.Type, Value: ident.Value}, verificationID)
	switch rec.Event {
	case eventSignIn:
		if !x.signInAllows(ident.Type, false) {
			return errSignInMethodOff()
		}
	case eventForgotPassword:
		if !x.forgotPasswordAllows(ident.Type) {
			return apiErr(http.StatusForbidden, "session.forgot_password_not_enabled", msgForgotPasswordOff)
		}
	}
	user, ok := x.userByCodeIdentifier(ident)
	if !ok {
		return apiErr(http.StatusNotFound, "user.user_not_exist", msgUserNotExist)
	}
	noteStep(ctx).user(user.ID)
	if user.IsSuspended {
		return apiErr(http.StatusUnauthorized, "user.suspended", msgUserSuspended)
	}
	if rec.AccountID != "" && rec.AccountID != user.ID {
		return apiErr(http.StatusConflict, "session.identity_conflict", msgIdentityConflict)
	}
	if _, err := x.useCodeRecord(ctx, uid, verificationID); err != nil {
		return err
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: verificationID, Type: codeVerificationType(ident.Type), UserID: user.ID,
		IdentifierType: ident.Type, IdentifierValue: ident.Value,
	}); err != nil {
		return grainError(err)
	}
	if _, err := x.s.browser.Steps.Identify(ctx, uid, verificationID, ""); err != nil {
		return grainError(err)
	}
	return nil
}

// firstFactorAMR is the RFC 8176 method of the proof that identified the user: "pwd"
// for a password, "otp" for an emailed code, "sms" for a texted one. A code counts when
// it identified this user (SignIn), or made the account (Register: a code record with
// no user).
func firstFactorAMR(rec *op.Interaction) string {
	for _, v := range rec.Verifications {
		if v.UserID != rec.AccountID && !(v.UserID == "" && rec.Event == eventRegister) {
			continue
		}
		switch v.Type {
		case verificationEmailCode:
			return amrOTP
		case verificationPhoneCode:
			return amrSMS
		}
	}
	return amrPassword
}

// errIdentifierInUse is Logto's answer to registering an email or phone that an
// account already has.
func errIdentifierInUse(identType string) *APIError {
	if identType == passcode.Phone {
		return apiErr(http.StatusUnprocessableEntity, "user.phone_already_in_use", msgPhoneInUse)
	}
	return apiErr(http.StatusUnprocessableEntity, "user.email_already_in_use", msgEmailInUse)
}

// guardEvent validates an interaction event and applies the settings, as Logto's
// SignInExperienceValidator.guardInteractionEvent: signInMode "Register" refuses
// SignIn and "SignIn" refuses Register (403 auth.forbidden); ForgotPassword needs a
// forgot-password method (403 session.forgot_password_not_enabled).
func (x *experience) guardEvent(event string) error {
	if err := interactionEvent(event); err != nil {
		return err
	}
	var mode string
	_ = json.Unmarshal(x.s.dir.SignInExperience().Fields["signInMode"], &mode)
	switch {
	case event == eventSignIn && mode == eventRegister, event == eventRegister && mode == eventSignIn:
		return apiErr(http.StatusForbidden, "auth.forbidden", "Forbidden.")
	case event == eventForgotPassword && !x.forgotPasswordOffered():
		return apiErr(http.StatusForbidden, "session.forgot_password_not_enabled", msgForgotPasswordOff)
	}
	return nil
}
