package httpapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// signUpEmailOrPhone is Logto's AlternativeSignUpIdentifier.EmailOrPhone: either one.
const signUpEmailOrPhone = "emailOrPhone"

// register is POST /api/experience/identification on a Register interaction (Logto's
// ExperienceInteraction.createUser). With a verificationId, the email or phone that
// code record proved joins the interaction's profile first (stageCodeIdentifier). Then
// the profile must hold what the sign-up settings ask: each sign-up identifier
// (username, a verified email or phone) and a password when signUp.password is set;
// otherwise 422 user.missing_profile with data.missingProfile, and the client stages
// the rest (POST /api/experience/profile) and calls identification again without a
// verificationId. The user is created with the verified address as its primary email
// (or phone) and identified.
func (x *experience) register(ctx context.Context, uid string, rec *op.Interaction, verificationID string) error {
	if rec.AccountID != "" {
		return nil // already created: a retried request
	}
	up := x.s.dir.SignInExperience().SignUp()
	if verificationID != "" {
		if err := x.stageCodeIdentifier(ctx, uid, rec, verificationID, up); err != nil {
			return err
		}
		var err error
		if rec, err = x.s.browser.Interactions.Interaction(ctx, uid); err != nil {
			return grainError(err)
		}
	}
	email, phone := stagedCodeIdentifiers(rec)
	var missing []string
	need := func(id string) bool { return slices.Contains(up.Identifiers, id) }
	if need(identifierUsername) && rec.ProfileUsername == "" {
		missing = append(missing, identifierUsername)
	}
	if need(identifierEmail) && email == "" {
		missing = append(missing, identifierEmail)
	}
	if need(identifierPhone) && phone == "" {
		missing = append(missing, identifierPhone)
	}
	if need(signUpEmailOrPhone) && email == "" && phone == "" {
		missing = append(missing, signUpEmailOrPhone)
	}
	if up.Password && rec.ProfilePasswordHash == "" {
		missing = append(missing, "password")
	}
	if len(missing) > 0 {
		e := apiErr(http.StatusUnprocessableEntity, "user.missing_profile", msgMissingProfile)
		e.Data = map[string]any{"missingProfile": missing}
		return e
	}
	if rec.ProfileUsername == "" && email == "" && phone == "" {
		return errSignUpMethodOff() // nothing to sign in with later
	}
	in := directory.NewUser{Username: nonEmpty(rec.ProfileUsername), PrimaryEmail: nonEmpty(email), PrimaryPhone: nonEmpty(phone)}
	var user *directory.User
	var err error
	if rec.ProfilePasswordHash != "" {
		user, err = x.s.dir.CreateUserWithPasswordHash(ctx, in, rec.ProfilePasswordHash)
	} else {
		user, err = x.s.dir.CreateUser(ctx, in)
	}
	if err != nil {
		return mgmtError(err) // taken meanwhile: 422 user.username_already_in_use, ...
	}
	noteStep(ctx).user(user.ID) // audit log (mgmt_logs_emit.go)
	if _, err := x.s.browser.Steps.Identify(ctx, uid, "", user.ID); err != nil {
		return grainError(err)
	}
	return nil
}

// stageCodeIdentifier adds the email or phone a verified code record proved to the
// Register profile: the sign-up settings must list that identifier with verify on (422
// user.sign_up_method_not_enabled), no account may have it (422
// user.email_already_in_use / user.phone_already_in_use), and the record is spent and
// kept in the Interaction grain (a code verification with no user).
func (x *experience) stageCodeIdentifier(ctx context.Context, uid string, rec *op.Interaction, verificationID string, up directory.SignUp) error {
	if slices.ContainsFunc(rec.Verifications, func(v op.Verification) bool {
		return v.ID == verificationID && isCodeVerification(v.Type) && v.UserID == ""
	}) {
		return nil // staged by an earlier call
	}
	ident, err := x.codeRecord(ctx, uid, verificationID)
	if err != nil {
		return err
	}
	noteStep(ctx).verification(identifierJSON{Type: ident.Type, Value: ident.Value}, verificationID)
	if !up.Verify || !(slices.Contains(up.Identifiers, ident.Type) || slices.Contains(up.Identifiers, signUpEmailOrPhone)) {
		return errSignUpMethodOff()
	}
	if _, taken := x.userByCodeIdentifier(ident); taken {
		return errIdentifierInUse(ident.Type)
	}
	if _, err := x.useCodeRecord(ctx, uid, verificationID); err != nil {
		return err
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: verificationID, Type: codeVerificationType(ident.Type),
		IdentifierType: ident.Type, IdentifierValue: ident.Value,
	}); err != nil {
		return grainError(err)
	}
	return nil
}

// stagedCodeIdentifiers returns the verified email and phone of a Register profile.
func stagedCodeIdentifiers(rec *op.Interaction) (email, phone string) {
	for _, v := range rec.Verifications {
		if v.UserID != "" {
			continue
		}
		switch v.Type {
		case verificationEmailCode:
			email = v.IdentifierValue
		case verificationPhoneCode:
			phone = v.IdentifierValue
		}
	}
	return email, phone
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
