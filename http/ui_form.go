package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// maxFormBody bounds a sign-in form post.
const maxFormBody = 16 << 10

// serveSignInForm is POST /sign-in, the JavaScript-free fallback of the sign-in page:
// the same Experience API steps as its script, run server-side, then 303 to redirectTo
// (or the page again with the error). Cross-site posts carry no _interaction cookie
// (SameSite=Lax) and get the no-interaction page.
func (x *experience) serveSignInForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	x.serveForm(w, r, modeSignIn, func(ctx context.Context, uid string, form formValues) (string, error) {
		return x.signIn(ctx, uid, form.identifier, form.password)
	})
}

// serveRegisterForm is POST /register, the JavaScript-free fallback of the register page.
func (x *experience) serveRegisterForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	x.serveForm(w, r, modeRegister, func(ctx context.Context, uid string, form formValues) (string, error) {
		if form.password != form.confirm {
			return "", apiErr(http.StatusBadRequest, "guard.invalid_input", "The passwords do not match.")
		}
		return x.registerAndSubmit(ctx, uid, form.identifier, form.password)
	})
}

type formValues struct {
	identifier, password, confirm string
}

func (x *experience) serveForm(w http.ResponseWriter, r *http.Request, mode string,
	steps func(ctx context.Context, uid string, form formValues) (string, error)) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		x.s.renderPage(w, http.StatusBadRequest, pageData{Mode: mode, Error: "The form could not be read. Please try again."})
		return
	}
	form := formValues{
		identifier: strings.TrimSpace(r.PostForm.Get("identifier")),
		password:   r.PostForm.Get("password"),
		confirm:    r.PostForm.Get("confirm-password"),
	}
	if mode == modeRegister {
		form.identifier = strings.TrimSpace(r.PostForm.Get("username"))
	}
	uid, err := interactionUID(r)
	if err != nil {
		x.s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction})
		return
	}
	redirectTo, err := steps(r.Context(), uid, form)
	ae := x.formOutcome(w, r, redirectTo, err, "sign-in form", mode)
	if ae == nil {
		return
	}
	x.s.renderPage(w, ae.Status, pageData{Mode: mode, Error: ae.Message, Identifier: form.identifier})
}

// formOutcome answers a page form whose steps returned (redirectTo, err): on to
// redirectTo, the expired-interaction page, or the second factor's page (ui_mfa.go),
// and nil. Any other error comes back as the APIError to show on the form again; one
// that is not already in Logto's shape is logged under what, never shown.
func (x *experience) formOutcome(w http.ResponseWriter, r *http.Request, redirectTo string, err error, what, mode string) *APIError {
	if err == nil {
		http.Redirect(w, r, redirectTo, http.StatusSeeOther)
		return nil
	}
	if isNotFound(err) {
		x.s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction, Error: "it may have expired"})
		return nil
	}
	if to := mfaRedirect(err); to != "" {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	}
	var ae *APIError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, directory.ErrUnavailable):
		x.s.log.Warn(what+": directory write not replicated", "mode", mode, "err", err)
		ae = errDirectoryUnavailable()
	default:
		x.s.log.Error(what+" failed", "mode", mode, "err", err)
		ae = apiErr(http.StatusInternalServerError, "unknown", "Something went wrong. Please try again.")
	}
	return ae
}

// signIn runs the sign-in steps of the page's script: PUT /api/experience (SignIn),
// password verification, identification, submit.
func (x *experience) signIn(ctx context.Context, uid, identifier, password string) (string, error) {
	if identifier == "" || password == "" {
		return "", invalidInput("Enter your username or email and your password.")
	}
	if err := x.begin(ctx, uid, eventSignIn); err != nil {
		return "", err
	}
	vid, err := x.verifyPassword(ctx, uid, identifierJSON{Type: guessIdentifierType(identifier), Value: identifier}, password)
	if err != nil {
		return "", err
	}
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return "", grainError(err)
	}
	if err := x.identify(ctx, uid, rec, vid); err != nil {
		return "", err
	}
	return x.submit(ctx, uid)
}

// registerAndSubmit runs the register steps of the page's script: PUT /api/experience
// (Register), profile username, profile password, identification, submit.
func (x *experience) registerAndSubmit(ctx context.Context, uid, username, password string) (string, error) {
	if username == "" || password == "" {
		return "", invalidInput("Choose a username and a password.")
	}
	if err := x.begin(ctx, uid, eventRegister); err != nil {
		return "", err
	}
	if err := x.setProfile(ctx, uid, profileBody{Type: identifierUsername, Value: username}); err != nil {
		return "", err
	}
	if err := x.setProfile(ctx, uid, profileBody{Type: "password", Value: password}); err != nil {
		return "", err
	}
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return "", grainError(err)
	}
	if err := x.register(ctx, uid, rec, ""); err != nil {
		return "", err
	}
	return x.submit(ctx, uid)
}

var phoneLike = regexp.MustCompile(`^\+?[0-9]+$`)

// guessIdentifierType is the page script's rule: an email has an @, a phone number is
// digits, anything else is a username.
func guessIdentifierType(v string) string {
	switch {
	case strings.Contains(v, "@"):
		return identifierEmail
	case phoneLike.MatchString(v):
		return identifierPhone
	}
	return identifierUsername
}
