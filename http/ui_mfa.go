package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// The MFA pages of the sign-in flow, server-rendered and working without JavaScript:
// the sign-in form (and its script) sends the browser here when submit answers
// session.mfa.require_mfa_verification (verify) or user.missing_mfa (enroll). Every
// post runs the Experience API steps (experience_mfa.go) and then submit, and ends in
// a 303 to redirectTo, or the page again with the error.
const (
	pathMfaVerify       = "/mfa-verification"
	pathMfaVerifyTotp   = "/mfa-verification/totp"
	pathMfaVerifyBackup = "/mfa-verification/backup-code"
	pathMfaVerifyKey    = "/mfa-verification/web-authn"
	pathMfaBind         = "/mfa-binding"
	pathMfaBindTotp     = "/mfa-binding/totp"
	pathMfaBindBackup   = "/mfa-binding/backup-code"
	pathMfaBindKey      = "/mfa-binding/web-authn"
	pathMfaSkip         = "/mfa-binding/skip"
)

// MFA page modes (templates in ui/mfa.html).
const (
	modeMfaVerifyTotp   = "verify-totp"
	modeMfaVerifyBackup = "verify-backup-code"
	modeMfaBindTotp     = "bind-totp"
	modeMfaBackupCodes  = "backup-codes"
	modeMfaVerifyKey    = "webauthn-verify"
	modeMfaBindKey      = "webauthn-bind"
)

// mfaPageData is what ui/mfa.html renders.
type mfaPageData struct {
	Mode, Title, Error string
	// Enrollment: the new secret, its otpauth URI and QR code (a data: URL), and the
	// verification that holds it.
	Secret         string
	URI            template.URL
	QRCode         template.URL
	VerificationID string
	Codes          []string
	Skippable      bool
	// Verification: the other factors the user can switch to.
	HasTotp, HasWebAuthn, HasBackupCode bool
	// Enrollment: the other factor the settings offer.
	TotpEnabled, WebAuthnEnabled bool
	// Script: the page loads mfa-webauthn.js (WebAuthn needs JavaScript).
	Script          bool
	Assets, Version string
	Brand           uiBrand // ui_brand.go
}

// routesMfaUI registers the MFA pages (GET) and their form posts (g.form).
func (x *experience) routesMfaUI(r *routeTable, g postGuard) {
	for path, h := range map[string]httprouter.Handle{
		pathMfaVerify:       x.serveMfaVerify,
		pathMfaVerifyTotp:   x.serveMfaVerifyPage(modeMfaVerifyTotp),
		pathMfaVerifyBackup: x.serveMfaVerifyPage(modeMfaVerifyBackup),
		pathMfaVerifyKey:    x.serveMfaVerifyPage(modeMfaVerifyKey),
		pathMfaBind:         x.serveMfaBind,
		pathMfaBindTotp:     x.serveMfaBindTotp,
		pathMfaBindKey:      x.serveMfaBindKey,
	} {
		r.GET(path, h)
	}
	r.POST(pathMfaVerifyTotp, g.form(x.postMfaVerifyForm(modeMfaVerifyTotp)))
	r.POST(pathMfaVerifyBackup, g.form(x.postMfaVerifyForm(modeMfaVerifyBackup)))
	r.POST(pathMfaBindTotp, g.form(x.formDataHooked(x.postMfaBindTotpForm)))
	r.POST(pathMfaBindBackup, g.form(x.formDataHooked(x.postMfaBindBackupForm)))
	r.POST(pathMfaSkip, g.form(x.postMfaSkipForm))
}

// mfaRedirect is the MFA page for an error of submit, "" for any other error.
func mfaRedirect(err error) string {
	var ae *APIError
	if !errors.As(err, &ae) {
		return ""
	}
	switch ae.Code {
	case "session.mfa.require_mfa_verification":
		return pathMfaVerify
	case "user.missing_mfa":
		return pathMfaBind
	}
	return ""
}

// uiInteraction loads the started interaction and its identified user for an MFA page;
// without them it renders the sign-in page's no-interaction answer and returns false.
func (x *experience) uiInteraction(w http.ResponseWriter, r *http.Request) (string, *op.Interaction, *directory.User, bool) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err == nil {
		var user *directory.User
		if user, err = x.identifiedUser(rec); err == nil {
			return uid, rec, user, true
		}
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.Code == "user.suspended" {
		x.s.renderPage(w, ae.Status, pageData{Mode: modeNoInteraction, Error: ae.Message})
	} else if errors.As(err, &ae) || isNotFound(err) {
		x.s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction, Error: "it may have expired"})
	} else {
		x.uiFailed(w, err)
	}
	return "", nil, nil, false
}

func (x *experience) uiFailed(w http.ResponseWriter, err error) {
	x.s.log.Error("mfa page failed", "err", err)
	x.s.renderPage(w, http.StatusInternalServerError, pageData{Mode: modeNoInteraction, Error: "something went wrong"})
}

// renderMfaPage writes an MFA page with the sign-in pages' security headers.
func (x *experience) renderMfaPage(w http.ResponseWriter, status int, data mfaPageData) {
	switch data.Mode {
	case modeMfaBindTotp:
		data.Title = "Set up an authenticator app"
	case modeMfaBackupCodes:
		data.Title = "Save your backup codes"
	case modeMfaVerifyBackup:
		data.Title = "Use a backup code"
	case modeMfaBindKey:
		data.Title = "Add a security key or passkey"
	default:
		data.Title = "Verify your identity"
	}
	data.Script = data.Mode == modeMfaVerifyKey || data.Mode == modeMfaBindKey
	data.Assets, data.Version = pathUIAssets, uiPages.version
	data.Brand = x.s.brand("")
	var buf bytes.Buffer
	if err := uiPages.tmpl.ExecuteTemplate(&buf, "mfa-page", data); err != nil {
		x.s.log.Error("mfa page: template failed", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorPage turns a step's error into the status and message a page shows.
func (x *experience) errorPage(err error) (int, string) {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return ae.Status, ae.Message
	case errors.Is(err, directory.ErrUnavailable):
		ae = errDirectoryUnavailable()
		return ae.Status, ae.Message
	}
	x.s.log.Error("mfa form failed", "err", err)
	return http.StatusInternalServerError, "Something went wrong. Please try again."
}

// verifyPageData is a verification page for user.
func (x *experience) verifyPageData(mode string, user *directory.User) mfaPageData {
	d := mfaPageData{Mode: mode}
	for _, f := range x.userFactors(user, x.mfaSettings()) {
		switch {
		case f == directory.MfaTotp && mode != modeMfaVerifyTotp:
			d.HasTotp = true
		case f == directory.MfaWebAuthn && mode != modeMfaVerifyKey:
			d.HasWebAuthn = true
		case f == directory.MfaBackupCode && mode != modeMfaVerifyBackup:
			d.HasBackupCode = true
		}
	}
	return d
}

// serveMfaVerify is GET /mfa-verification: the page of the user's first factor.
func (x *experience) serveMfaVerify(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	_, _, user, ok := x.uiInteraction(w, r)
	if !ok {
		return
	}
	to := pathMfaVerifyTotp
	switch f := x.userFactors(user, x.mfaSettings()); {
	case slices.Contains(f, directory.MfaTotp):
	case slices.Contains(f, directory.MfaWebAuthn):
		to = pathMfaVerifyKey
	case slices.Contains(f, directory.MfaBackupCode):
		to = pathMfaVerifyBackup
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (x *experience) serveMfaVerifyPage(mode string) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		_, _, user, ok := x.uiInteraction(w, r)
		if !ok {
			return
		}
		x.renderMfaPage(w, http.StatusOK, x.verifyPageData(mode, user))
	}
}

// postMfaVerifyForm is POST /mfa-verification/totp and /backup-code: verify the code,
// then submit.
func (x *experience) postMfaVerifyForm(mode string) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		code, ok := x.formField(w, r, "code")
		if !ok {
			return
		}
		uid, rec, user, ok := x.uiInteraction(w, r)
		if !ok {
			return
		}
		var err error
		if mode == modeMfaVerifyTotp {
			_, err = x.verifyTotp(r.Context(), uid, rec, code, "")
		} else {
			_, err = x.verifyBackupCode(r.Context(), uid, rec, code)
		}
		if err == nil {
			x.submitForm(w, r, uid)
			return
		}
		status, msg := x.errorPage(err)
		d := x.verifyPageData(mode, user)
		d.Error = msg
		x.renderMfaPage(w, status, d)
	}
}

// formField parses a small form and returns one field; a malformed form is a 400 page.
func (x *experience) formField(w http.ResponseWriter, r *http.Request, name string) (string, bool) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		x.s.renderPage(w, http.StatusBadRequest, pageData{Mode: modeNoInteraction, Error: "the form could not be read"})
		return "", false
	}
	return strings.TrimSpace(r.PostForm.Get(name)), true
}

// submitForm submits the interaction and redirects to redirectTo; when MFA is still
// due it redirects to the MFA page; any other error is rendered.
func (x *experience) submitForm(w http.ResponseWriter, r *http.Request, uid string) {
	redirectTo, err := x.submit(r.Context(), uid)
	if err == nil {
		http.Redirect(w, r, redirectTo, http.StatusSeeOther)
		return
	}
	if to := mfaRedirect(err); to != "" {
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	status, msg := x.errorPage(err)
	x.s.renderPage(w, status, pageData{Mode: modeSignIn, Error: msg})
}

// serveMfaBind is GET /mfa-binding: enrollment starts with a TOTP, or a WebAuthn key
// when TOTP is not offered (backup codes cannot be the only factor).
func (x *experience) serveMfaBind(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	m := x.mfaSettings()
	to := pathMfaBindTotp
	if !m.enabled(directory.MfaTotp) && m.enabled(directory.MfaWebAuthn) {
		to = pathMfaBindKey
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// serveMfaBindKey is GET /mfa-binding/web-authn: the page whose script registers a
// security key or passkey and binds it.
func (x *experience) serveMfaBindKey(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	_, rec, _, ok := x.uiInteraction(w, r)
	if !ok {
		return
	}
	m := x.mfaSettings()
	d := mfaPageData{Mode: modeMfaBindKey, TotpEnabled: m.enabled(directory.MfaTotp), Skippable: x.skippable(rec)}
	status := http.StatusOK
	if !m.enabled(directory.MfaWebAuthn) {
		status, d.Error = http.StatusBadRequest, msgMfaFactorNotEnabled
	}
	x.renderMfaPage(w, status, d)
}

// serveMfaBindTotp is GET /mfa-binding/totp: a new secret for the user, shown as key,
// otpauth URI and QR code.
func (x *experience) serveMfaBindTotp(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	uid, rec, _, ok := x.uiInteraction(w, r)
	if !ok {
		return
	}
	sec, err := x.newTotpSecret(r.Context(), uid, rec)
	if err != nil {
		status, msg := x.errorPage(err)
		x.renderMfaPage(w, status, mfaPageData{Mode: modeMfaBindTotp, Error: msg, Skippable: x.skippable(rec),
			WebAuthnEnabled: x.mfaSettings().enabled(directory.MfaWebAuthn)})
		return
	}
	x.renderMfaPage(w, http.StatusOK, mfaPageData{
		Mode: modeMfaBindTotp, Secret: sec.Secret, URI: template.URL(sec.uri), QRCode: template.URL(sec.SecretQrCode),
		VerificationID: sec.VerificationID, Skippable: x.skippable(rec),
		WebAuthnEnabled: x.mfaSettings().enabled(directory.MfaWebAuthn),
	})
}

// skippable reports whether the policy lets the person skip enrollment.
func (x *experience) skippable(rec *op.Interaction) bool {
	m := x.mfaSettings()
	return !m.mandatory(rec.Event) && m.prompts(rec.Event)
}

// postMfaBindTotpForm is POST /mfa-binding/totp: prove the new secret with a code and
// bind it; then show backup codes once when that factor is enabled, else submit.
func (x *experience) postMfaBindTotpForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	code, ok := x.formField(w, r, "code")
	if !ok {
		return
	}
	vid := r.PostForm.Get("verificationId")
	uid, rec, user, ok := x.uiInteraction(w, r)
	if !ok {
		return
	}
	err := x.bindTotp(r.Context(), uid, rec, vid, code)
	if err != nil {
		status, msg := x.errorPage(err)
		d := mfaPageData{Mode: modeMfaBindTotp, Error: msg, VerificationID: vid, Skippable: x.skippable(rec)}
		if v, ferr := findMfaRecord(rec, verificationTotp, vid, user.ID); ferr == nil {
			if secret, ok := strings.CutPrefix(v.IdentifierValue, mfaStateNew); ok {
				x.fillTotpKey(&d, secret, user)
			}
		}
		x.renderMfaPage(w, status, d)
		return
	}
	if !x.mfaSettings().enabled(directory.MfaBackupCode) {
		x.submitForm(w, r, uid)
		return
	}
	rec, err = x.s.browser.Interactions.Interaction(r.Context(), uid)
	if err != nil {
		x.uiFailed(w, grainError(err))
		return
	}
	id, codes, err := x.generateBackupCodes(r.Context(), uid, rec)
	if err != nil {
		x.uiFailed(w, err)
		return
	}
	x.renderMfaPage(w, http.StatusOK, mfaPageData{Mode: modeMfaBackupCodes, Codes: codes, VerificationID: id})
}

// bindTotp is the enrollment's two API steps: totp/verify with the new secret's id,
// then profile/mfa.
func (x *experience) bindTotp(ctx context.Context, uid string, rec *op.Interaction, vid, code string) error {
	if vid == "" {
		return invalidInput("The form is incomplete. Please start again.")
	}
	if _, err := x.verifyTotp(ctx, uid, rec, code, vid); err != nil {
		return err
	}
	rec, err := x.s.browser.Interactions.Interaction(ctx, uid)
	if err != nil {
		return grainError(err)
	}
	return x.bindMfa(ctx, rec, bindMfaBody{Type: directory.MfaTotp, VerificationID: vid})
}

// fillTotpKey puts a pending secret back on the enrollment page after a wrong code.
func (x *experience) fillTotpKey(d *mfaPageData, secret string, user *directory.User) {
	key, err := directory.TotpKeyFor(secret, x.totpIssuer(), userDisplayName(user))
	if err != nil {
		return
	}
	d.Secret, d.URI = key.Secret, template.URL(key.URI)
	if png, err := key.QRCodePNG(200); err == nil {
		d.QRCode = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
	}
}

// postMfaBindBackupForm is POST /mfa-binding/backup-code: bind the codes shown, then
// submit.
func (x *experience) postMfaBindBackupForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	vid, ok := x.formField(w, r, "verificationId")
	if !ok {
		return
	}
	uid, rec, _, ok := x.uiInteraction(w, r)
	if !ok {
		return
	}
	if err := x.bindMfa(r.Context(), rec, bindMfaBody{Type: directory.MfaBackupCode, VerificationID: vid}); err != nil {
		status, msg := x.errorPage(err)
		x.renderMfaPage(w, status, mfaPageData{Mode: modeMfaBackupCodes, Error: msg, VerificationID: vid})
		return
	}
	x.submitForm(w, r, uid)
}

// postMfaSkipForm is POST /mfa-binding/skip: decline enrollment, then submit.
func (x *experience) postMfaSkipForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if _, ok := x.formField(w, r, "_"); !ok {
		return
	}
	uid, rec, _, ok := x.uiInteraction(w, r)
	if !ok {
		return
	}
	if err := x.skipMfa(r.Context(), uid, rec); err != nil {
		status, msg := x.errorPage(err)
		x.renderMfaPage(w, status, mfaPageData{Mode: modeMfaBindTotp, Error: msg})
		return
	}
	x.submitForm(w, r, uid)
}
