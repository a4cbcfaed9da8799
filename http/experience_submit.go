package httpapi

import (
	"context"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"
)

// amrPassword is the RFC 8176 authentication method reference of a password sign-in.
const amrPassword = "pwd"

// postSubmit is POST /api/experience/submit: finish the interaction ->
// {"redirectTo": "<issuer>/auth/<uid>"}, where /oidc/auth resumes the authorization
// request.
func (x *experience) postSubmit(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, err := interactionUID(r)
	if err != nil {
		return 0, nil, err
	}
	redirectTo, err := x.submit(r.Context(), uid)
	if err != nil {
		return 0, nil, err
	}
	if redirectTo == "" { // ForgotPassword: the password was replaced
		return http.StatusNoContent, nil, nil
	}
	return http.StatusOK, map[string]string{"redirectTo": redirectTo}, nil
}

// submit marks the interaction signed in (login time now, amr ["pwd"] or the code's
// method, plus the second factor's). A ForgotPassword interaction instead replaces the
// password and answers "" (no redirect). As in Logto, an
// interaction without an identified user is 404 session.identifier_not_found; the user
// is checked again (deleted or suspended since identification).
func (x *experience) submit(ctx context.Context, uid string) (string, error) {
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return "", grainError(err)
	}
	noteStep(ctx).interaction(uid, rec) // audit log (mgmt_logs_emit.go)
	if rec.Event == "" {
		return "", apiErr(http.StatusNotFound, "session.interaction_not_found", msgInteractionNotFound)
	}
	user, ok := x.s.dir.User(rec.AccountID)
	if rec.AccountID == "" || !ok {
		return "", apiErr(http.StatusNotFound, "session.identifier_not_found", msgIdentifierNotFound)
	}
	if user.IsSuspended {
		return "", apiErr(http.StatusUnauthorized, "user.suspended", msgUserSuspended)
	}
	if rec.Event == eventForgotPassword { // experience_forgot_password.go: 204, not signed in
		return "", x.submitForgotPassword(ctx, uid, rec, user)
	}
	mfa, err := x.mfaAMR(rec, user) // experience_mfa.go: 403/422 until MFA is satisfied
	if err != nil {
		return "", err
	}
	// Signed in now, on the Interaction grain's clock.
	amr := []string{firstFactorAMR(rec)} // experience_passwordless.go
	for _, m := range mfa {
		if !slices.Contains(amr, m) {
			amr = append(amr, m)
		}
	}
	if _, err := x.s.browser.Interactions.Submit(ctx, uid, amr); err != nil {
		return "", grainError(err)
	}
	x.noteSignIn(ctx, user.ID) // lastSignInAt (experience_profile.go)
	return x.s.browser.Issuer + "/auth/" + uid, nil
}
