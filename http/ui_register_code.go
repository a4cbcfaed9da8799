package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/op"
)

// The verification-code pages of the sign-in flow, server-rendered and working without
// JavaScript (ui/code.html): register with an email or phone (GET /register when the
// sign-up settings ask for one), sign in with a code (/sign-in/code) and forgot
// password (/forgot-password). Each is two posts to its own path:
//
//	step=send    identifier            -> PUT /api/experience + send the code; the page
//	                                      asks for the code (the record id in a hidden field)
//	step=verify  code (+ password ...) -> verify, identification (+ profile), submit;
//	                                      303 to redirectTo (or an MFA page), or the page
//	                                      again with the error
//
// The steps are the Experience API's own (experience_passwordless.go,
// experience_register.go, experience_forgot_password.go).
const (
	pathSignInCode     = "/sign-in/code"
	pathForgotPassword = "/forgot-password"

	modeRegisterCode   = "register-code"
	modeSignInCode     = "sign-in-code"
	modeForgotPassword = "forgot-password"
)

// codePageData is what ui/code.html renders.
type codePageData struct {
	Mode, Title, Action, AppName string
	// Step is "identifier" (ask for the email or phone), "code" or "done" (password changed).
	Step                 string
	Error                string
	Identifier, Username string
	IdentifierLabel      string
	VerificationID       string
	NeedUsername         bool
	NeedPassword         bool
	Assets, Version      string
	Brand                uiBrand // ui_brand.go
}

// routesCodeUI registers the sign-in-by-code and forgot-password pages and their posts
// (the register page is /register: ui_routes.go and serveRegisterPost).
func (x *experience) routesCodeUI(r *routeTable, g postGuard) {
	for path, mode := range map[string]string{pathSignInCode: modeSignInCode, pathForgotPassword: modeForgotPassword} {
		r.GET(path, func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) { x.serveCodePage(w, req, mode) })
		r.POST(path, g.form(x.postCodeForm(mode)))
	}
}

// registerByCode reports whether sign-up asks for an email or phone (verified by code).
func (x *experience) registerByCode() bool {
	up := x.s.dir.SignInExperience().SignUp()
	return slices.ContainsFunc(up.Identifiers, func(id string) bool {
		return id == identifierEmail || id == identifierPhone || id == signUpEmailOrPhone
	})
}

// serveRegisterPost is POST /register: the code form when sign-up asks for an email or
// phone, else the username form (ui_form.go).
func (x *experience) serveRegisterPost(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
	if x.registerByCode() {
		x.postCodeForm(modeRegisterCode)(w, r, p)
		return
	}
	x.serveRegisterForm(w, r, p)
}

// codeEvent is the interaction event of a page mode.
func codeEvent(mode string) string {
	switch mode {
	case modeRegisterCode:
		return eventRegister
	case modeForgotPassword:
		return eventForgotPassword
	}
	return eventSignIn
}

// codeTypesAllowed reports which identifier types the mode accepts under the settings.
func (x *experience) codeTypesAllowed(mode string) (email, phone bool) {
	switch mode {
	case modeRegisterCode:
		up := x.s.dir.SignInExperience().SignUp()
		either := slices.Contains(up.Identifiers, signUpEmailOrPhone)
		return up.Verify && (either || slices.Contains(up.Identifiers, identifierEmail)),
			up.Verify && (either || slices.Contains(up.Identifiers, identifierPhone))
	case modeForgotPassword:
		return x.forgotPasswordAllows(identifierEmail), x.forgotPasswordAllows(identifierPhone)
	}
	return x.signInAllows(identifierEmail, false), x.signInAllows(identifierPhone, false)
}

// basePage fills what every step of a mode shows.
func (x *experience) basePage(mode string) codePageData {
	d := codePageData{Mode: mode, Step: "identifier", Assets: pathUIAssets, Version: uiPages.version}
	switch mode {
	case modeRegisterCode:
		d.Title, d.Action = "Create your account", pathRegister
		up := x.s.dir.SignInExperience().SignUp()
		d.NeedUsername = slices.Contains(up.Identifiers, identifierUsername)
		d.NeedPassword = up.Password
	case modeForgotPassword:
		d.Title, d.Action, d.NeedPassword = "Reset your password", pathForgotPassword, true
	default:
		d.Title, d.Action = "Sign in with a code", pathSignInCode
	}
	switch email, phone := x.codeTypesAllowed(mode); {
	case email && phone:
		d.IdentifierLabel = "Email or phone number"
	case phone:
		d.IdentifierLabel = "Phone number"
	default:
		d.IdentifierLabel = "Email"
	}
	return d
}

// serveCodePage is the GET of a code page: the identifier step, or the no-interaction
// page without a live interaction.
func (x *experience) serveCodePage(w http.ResponseWriter, r *http.Request, mode string) {
	uid, err := interactionUID(r)
	if err != nil {
		x.s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction})
		return
	}
	d := x.basePage(mode)
	rec, err := x.s.browser.Interactions.Interaction(r.Context(), uid)
	switch {
	case err == nil:
		if app, ok := x.s.dir.Application(rec.Request.ClientID); ok {
			d.AppName = app.Name
		}
	case isNotFound(grainError(err)):
		x.s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction, Error: "it may have expired"})
		return
	}
	x.renderCodePage(w, http.StatusOK, d)
}

func (x *experience) renderCodePage(w http.ResponseWriter, status int, d codePageData) {
	d.Brand = x.s.brand(d.AppName)
	var buf bytes.Buffer
	if err := uiPages.tmpl.ExecuteTemplate(&buf, "code-page", d); err != nil {
		x.s.log.Error("code page: template failed", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// postCodeForm handles both steps of a code page.
func (x *experience) postCodeForm(mode string) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		d := x.basePage(mode)
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
		if err := r.ParseForm(); err != nil {
			d.Error = "The form could not be read. Please try again."
			x.renderCodePage(w, http.StatusBadRequest, d)
			return
		}
		uid, err := interactionUID(r)
		if err != nil {
			x.s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction})
			return
		}
		ctx := r.Context()
		d.Identifier = strings.TrimSpace(r.PostForm.Get("identifier"))
		var redirectTo string
		if r.PostForm.Get("step") == "verify" {
			d.Step = "code"
			d.VerificationID = r.PostForm.Get("verification-id")
			d.Username = strings.TrimSpace(r.PostForm.Get("username"))
			redirectTo, err = x.verifyCodeForm(ctx, uid, mode, d, r.PostForm.Get("code"),
				r.PostForm.Get("password"), r.PostForm.Get("confirm-password"))
			if err == nil && redirectTo == "" {
				d.Step = "done"
				x.renderCodePage(w, http.StatusOK, d)
				return
			}
		} else {
			var vid string
			vid, err = x.sendCodeForm(ctx, r, uid, mode, d.Identifier)
			if err == nil {
				d.Step, d.VerificationID = "code", vid
				x.renderCodePage(w, http.StatusOK, d)
				return
			}
		}
		ae := x.formOutcome(w, r, redirectTo, err, "code form", mode)
		if ae == nil {
			return
		}
		d.Error = ae.Message
		if ae.Code == "user.user_not_exist" && mode == modeSignInCode {
			d.Error = "No account uses this email or phone number. Create one from the sign-in page."
		}
		x.renderCodePage(w, ae.Status, d)
	}
}

// formIdentifier reads the typed email or phone: an @ makes it an email.
func formIdentifier(v string) (passcode.Identifier, error) {
	typ := identifierPhone
	if strings.Contains(v, "@") {
		typ = identifierEmail
	}
	if v == "" {
		return passcode.Identifier{}, invalidInput("Enter your email or phone number.")
	}
	return codeIdentifier(identifierJSON{Type: typ, Value: v})
}

// sendCodeForm starts the mode's event afresh and sends a code.
func (x *experience) sendCodeForm(ctx context.Context, r *http.Request, uid, mode, value string) (string, error) {
	ident, err := formIdentifier(value)
	if err != nil {
		return "", err
	}
	email, phone := x.codeTypesAllowed(mode)
	if ident.Type == passcode.Email && !email || ident.Type == passcode.Phone && !phone {
		switch mode {
		case modeRegisterCode:
			return "", errSignUpMethodOff()
		case modeForgotPassword:
			return "", apiErr(http.StatusForbidden, "session.forgot_password_not_enabled", msgForgotPasswordOff)
		}
		return "", errSignInMethodOff()
	}
	if err := x.begin(ctx, uid, codeEvent(mode)); err != nil {
		return "", err
	}
	sent, err := x.s.codes.Send(ctx, passcode.Request{
		Binding: experienceBinding(uid), Identifier: ident, UsageType: codeEvent(mode),
		Source: requestSource(r), TTL: experienceCodeTTL,
	})
	if err != nil {
		return "", codeError(err, errVerificationSessionNotFound())
	}
	return sent.ID, nil
}

// verifyCodeForm checks the code and runs the mode's remaining steps; "" with no error
// means the password was reset.
func (x *experience) verifyCodeForm(ctx context.Context, uid, mode string, d codePageData, code, password, confirm string) (string, error) {
	ident, err := formIdentifier(d.Identifier)
	if err != nil {
		return "", err
	}
	if d.VerificationID == "" || len(d.VerificationID) > 128 {
		return "", errVerificationSessionNotFound()
	}
	if d.NeedPassword && password != confirm {
		return "", invalidInput("The passwords do not match.")
	}
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return "", grainError(err)
	}
	if rec.Event != codeEvent(mode) {
		return "", errVerificationSessionNotFound() // another page started over meanwhile
	}
	// A re-post after a later step failed (a weak password, say) keeps the code proven.
	proven := slices.ContainsFunc(rec.Verifications, func(v op.Verification) bool { return v.ID == d.VerificationID })
	if !proven {
		if got, err := x.s.VerifiedIdentifier(ctx, uid, d.VerificationID); err != nil || got != ident {
			body := experienceCodeVerifyBody{Identifier: identifierJSON{Type: ident.Type, Value: ident.Value},
				VerificationID: d.VerificationID, Code: strings.TrimSpace(code)}
			if _, err := body.check(); err != nil {
				return "", err
			}
			if err := x.s.codes.Verify(ctx, experienceBinding(uid), d.VerificationID, ident, body.Code); err != nil {
				return "", codeError(err, errVerificationSessionNotFound())
			}
		}
	}
	switch mode {
	case modeRegisterCode:
		if d.NeedUsername && rec.ProfileUsername != d.Username {
			if err := x.setProfile(ctx, uid, profileBody{Type: identifierUsername, Value: d.Username}); err != nil {
				return "", err
			}
		}
		if d.NeedPassword && (password != "" || rec.ProfilePasswordHash == "") {
			if err := x.setProfile(ctx, uid, profileBody{Type: "password", Value: password}); err != nil {
				return "", err
			}
		}
		if rec, err = x.s.browser.Interactions.Interaction(ctx, uid); err != nil {
			return "", grainError(err)
		}
		if err := x.register(ctx, uid, rec, d.VerificationID); err != nil {
			return "", err
		}
	case modeForgotPassword:
		if err := x.identify(ctx, uid, rec, d.VerificationID); err != nil {
			return "", err
		}
		if rec, err = x.s.browser.Interactions.Interaction(ctx, uid); err != nil {
			return "", grainError(err)
		}
		if err := x.stageNewPassword(ctx, uid, rec, password); err != nil {
			return "", err
		}
	default:
		if err := x.identify(ctx, uid, rec, d.VerificationID); err != nil {
			return "", err
		}
	}
	return x.submit(ctx, uid)
}
