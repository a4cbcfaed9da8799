package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
	"github.com/latchid/latch/persistence"
)

// MFA on the Experience API (Logto's verification-routes/totp-verification.ts,
// backup-code-verification.ts and profile-routes /profile/mfa, mfa-skipped), and the
// rule submit applies (Logto's ExperienceInteraction guardMfaVerificationStatus and
// assertUserMandatoryMfaFulfilled).
//
// An MFA proof is a verification record of the Interaction grain, like a password's:
// type Totp, BackupCode or WebAuthn (experience_mfa_webauthn.go), the identified user,
// and its state in IdentifierValue (never shown by GET /api/experience/interaction,
// which shows identifiers only with an identifier type):
//
//	Totp       "new:<secret>"           a new secret, not yet proven (totp/secret)
//	           "proven:<secret>:<step>" the new secret proven by a code of step (totp/verify);
//	                                    a second factor only once bound (the user's key)
//	           "ok"                     the user's TOTP proven (totp/verify without id)
//	BackupCode "new:<hash>,<hash>..."   a generated set, hashed (backup-code/generate)
//	           "ok"                     one of the user's codes spent (backup-code/verify)
//	MfaSkipped                          the person chose to skip enrollment (mfa-skipped)
//
// The user's factors themselves (secret, hashed codes, last step) live in the
// directory (directory/mfa.go); binding writes them there at once.
const (
	verificationTotp       = directory.MfaTotp
	verificationBackupCode = directory.MfaBackupCode
	verificationMfaSkipped = "MfaSkipped"

	mfaStateNew    = "new:"
	mfaStateProven = "proven:"
	mfaStateOK     = "ok"
)

// RFC 8176 methods added when a second factor was used: "otp" for a TOTP or backup
// code, "hwk" for a WebAuthn key, and "mfa".
const (
	amrOTP = "otp"
	amrHWK = "hwk"
	amrMFA = "mfa"
)

// Logto's MfaPolicy values.
const (
	mfaPolicyMandatory               = "Mandatory"
	mfaPolicyUserControlled          = "UserControlled"
	mfaPolicyPromptAtSignInAndSignUp = "PromptAtSignInAndSignUp"
	mfaPolicyPromptOnlyAtSignIn      = "PromptOnlyAtSignIn"
	mfaPolicyNoPrompt                = "NoPrompt"
)

// Logto's phrases for the MFA codes.
const (
	msgRequireMfaVerification = "Mfa verification is required to sign in."
	msgMissingMfa             = "You need to bind additional MFA before signing-in."
	msgMfaFactorNotEnabled    = "MFA factor is not enabled."
	msgMfaNotSkippable        = "The MFA policy does not allow skipping MFA binding."
)

// routesMfa registers the MFA routes of the Experience API (g: same-origin JSON posts).
func (x *experience) routesMfa(r *routeTable, g postGuard) {
	r.POST("/api/experience/verification/totp/secret", g.json(x.api(x.postTotpSecret)))
	r.POST("/api/experience/verification/totp/verify", g.json(x.api(x.postTotpVerify)))
	r.POST("/api/experience/verification/backup-code/generate", g.json(x.api(x.postBackupCodeGenerate)))
	r.POST("/api/experience/verification/backup-code/verify", g.json(x.api(x.postBackupCodeVerify)))
	r.POST("/api/experience/profile/mfa", g.json(x.api(x.dataHooked(x.postProfileMfa))))
	r.POST("/api/experience/profile/mfa/mfa-skipped", g.json(x.api(x.postMfaSkipped)))
	x.routesWebAuthn(r, g) // experience_mfa_webauthn.go
	x.routesMfaUI(r, g)    // ui_mfa.go
}

// mfaSettings is the sign-in experience's MFA policy with the factors Latch can offer
// (Totp, WebAuthn, BackupCode) among those enabled.
type mfaSettings struct {
	policy  string
	factors []string
}

func (x *experience) mfaSettings() mfaSettings {
	m := x.s.dir.SignInExperience().MFA()
	s := mfaSettings{policy: m.Policy}
	for _, f := range []string{directory.MfaTotp, directory.MfaWebAuthn, directory.MfaBackupCode} {
		if slices.Contains(m.Factors, f) {
			s.factors = append(s.factors, f)
		}
	}
	return s
}

func (m mfaSettings) enabled(f string) bool { return slices.Contains(m.factors, f) }

// mandatory reports whether the policy makes enrollment compulsory for event.
func (m mfaSettings) mandatory(event string) bool {
	switch m.policy {
	case mfaPolicyMandatory, "PromptAtSignInAndSignUpMandatory":
		return true
	case "PromptOnlyAtSignInMandatory":
		return event == eventSignIn
	}
	return false
}

// prompts reports whether the policy asks a user without MFA to enroll (skippable).
func (m mfaSettings) prompts(event string) bool {
	switch m.policy {
	case mfaPolicyUserControlled, mfaPolicyPromptAtSignInAndSignUp:
		return true
	case mfaPolicyPromptOnlyAtSignIn:
		return event == eventSignIn
	}
	return false
}

// identifiedUser is the interaction's user for an MFA step: Logto answers 400
// session.identifier_not_found before identification.
func (x *experience) identifiedUser(rec *op.Interaction) (*directory.User, error) {
	u, ok := x.s.dir.User(rec.AccountID)
	if rec.AccountID == "" || !ok {
		return nil, apiErr(http.StatusBadRequest, "session.identifier_not_found", msgIdentifierNotFound)
	}
	if u.IsSuspended {
		return nil, apiErr(http.StatusUnauthorized, "user.suspended", msgUserSuspended)
	}
	return u, nil
}

func errMfaFactorNotEnabled() *APIError {
	return apiErr(http.StatusBadRequest, "session.mfa.mfa_factor_not_enabled", msgMfaFactorNotEnabled)
}

// mfaError maps the directory's MFA errors (and a lost race on the user record, which
// means another request spent the code first) to Logto's.
func mfaError(err error) error {
	var me *directory.MfaError
	switch {
	case errors.As(err, &me):
		return apiErr(me.Status, me.Code, me.Message)
	case errors.Is(err, persistence.ErrConflict):
		return apiErr(http.StatusBadRequest, directory.ErrInvalidTotp.Code, directory.ErrInvalidTotp.Message)
	}
	return mgmtError(err)
}

// findMfaRecord returns the interaction's verification of typ with id for user.
func findMfaRecord(rec *op.Interaction, typ, id, userID string) (*op.Verification, error) {
	for i := range rec.Verifications {
		v := &rec.Verifications[i]
		if v.ID == id && v.Type == typ && v.UserID == userID {
			return v, nil
		}
	}
	return nil, apiErr(http.StatusNotFound, "session.verification_session_not_found", msgVerificationNotFound)
}

// mfaVerified reports whether the interaction holds a proven second factor of user.
func mfaVerified(rec *op.Interaction, user *directory.User) bool {
	return len(verifiedFactors(rec, user)) > 0
}

// verifiedFactors lists the factor types of user proven in the interaction: an
// enrolled factor proven here, or a new TOTP secret or WebAuthn credential proven here
// and bound (the user's key is that secret, or the user has that credential). A new one
// that was not bound proves nothing: anyone with the password could make one.
func verifiedFactors(rec *op.Interaction, user *directory.User) []string {
	var out []string
	for _, v := range rec.Verifications {
		if v.UserID != user.ID || !isMfaRecord(v.Type) || slices.Contains(out, v.Type) {
			continue
		}
		if v.IdentifierValue == mfaStateOK {
			out = append(out, v.Type)
			continue
		}
		rest, ok := strings.CutPrefix(v.IdentifierValue, mfaStateProven)
		if !ok {
			continue
		}
		switch v.Type {
		case verificationTotp:
			secret, _, _ := strings.Cut(rest, ":")
			if t, has := user.Totp(); has && t.Key == secret {
				out = append(out, v.Type)
			}
		case verificationWebAuthn:
			if id, _, ok := webAuthnProven(&v); ok {
				if _, has := user.WebAuthnCredential(id); has {
					out = append(out, v.Type)
				}
			}
		}
	}
	return out
}

func isMfaRecord(typ string) bool {
	return typ == verificationTotp || typ == verificationBackupCode || typ == verificationWebAuthn
}

// mfaRecordVerified is the "verified" flag GET /api/experience/interaction shows for an
// MFA record; ok is false for other records.
func mfaRecordVerified(v op.Verification) (verified, ok bool) {
	if isMfaRecord(v.Type) {
		return v.IdentifierValue == mfaStateOK || strings.HasPrefix(v.IdentifierValue, mfaStateProven), true
	}
	return false, false
}

// ---- TOTP ----

// postTotpSecret is POST /api/experience/verification/totp/secret: a new TOTP secret
// for the identified user -> {verificationId, secret, secretQrCode}.
func (x *experience) postTotpSecret(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	out, err := x.newTotpSecret(r.Context(), uid, rec)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

type totpSecretJSON struct {
	VerificationID string `json:"verificationId"`
	Secret         string `json:"secret"`
	SecretQrCode   string `json:"secretQrCode"`
	// uri is the otpauth:// URI (the sign-in page shows it as a link).
	uri string
}

func (x *experience) newTotpSecret(ctx context.Context, uid string, rec *op.Interaction) (*totpSecretJSON, error) {
	user, err := x.identifiedUser(rec)
	if err != nil {
		return nil, err
	}
	if !x.mfaSettings().enabled(directory.MfaTotp) {
		return nil, errMfaFactorNotEnabled()
	}
	if _, ok := user.Totp(); ok {
		return nil, apiErr(directory.ErrTotpInUse.Status, directory.ErrTotpInUse.Code, directory.ErrTotpInUse.Message)
	}
	key, err := directory.NewTotpKey(x.s.rand, x.totpIssuer(), userDisplayName(user))
	if err != nil {
		return nil, err
	}
	png, err := key.QRCodePNG(200)
	if err != nil {
		return nil, err
	}
	id, err := op.RandomID(x.s.rand)
	if err != nil {
		return nil, err
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: id, Type: verificationTotp, UserID: user.ID, IdentifierValue: mfaStateNew + key.Secret,
	}); err != nil {
		return nil, grainError(err)
	}
	return &totpSecretJSON{
		VerificationID: id, Secret: key.Secret,
		SecretQrCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png),
		uri:          key.URI,
	}, nil
}

// totpIssuer names the service in authenticator apps: the endpoint's host name, as
// Logto uses the request's.
func (x *experience) totpIssuer() string {
	if u, err := url.Parse(x.s.endpoint); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "Latch"
}

// userDisplayName is Logto's getUserDisplayName: username, email, phone or name.
func userDisplayName(u *directory.User) string {
	for _, p := range []*string{u.Username, u.PrimaryEmail, u.PrimaryPhone, u.Name} {
		if p != nil && *p != "" {
			return *p
		}
	}
	return "Unnamed User"
}

// totpVerifyBody is Logto's TotpVerificationVerifyPayload.
type totpVerifyBody struct {
	Code           string `json:"code"`
	VerificationID string `json:"verificationId"`
}

// postTotpVerify is POST /api/experience/verification/totp/verify: with verificationId,
// prove a new secret from totp/secret; without, the user's enrolled TOTP ->
// {verificationId}. A wrong code is 400 session.mfa.invalid_totp_code; failures are
// throttled per user and source like passwords.
func (x *experience) postTotpVerify(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body totpVerifyBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	id, err := x.verifyTotp(r.Context(), uid, rec, body.Code, body.VerificationID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"verificationId": id}, nil
}

func (x *experience) verifyTotp(ctx context.Context, uid string, rec *op.Interaction, code, verificationID string) (string, error) {
	user, err := x.identifiedUser(rec)
	if err != nil {
		return "", err
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return "", invalidInput("`code` is required")
	}
	return x.throttled(ctx, user.ID, func() (string, error) {
		if verificationID != "" {
			v, err := findMfaRecord(rec, verificationTotp, verificationID, user.ID)
			if err != nil {
				return "", err
			}
			secret, ok := strings.CutPrefix(v.IdentifierValue, mfaStateNew)
			if !ok {
				return "", apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
			}
			step, ok := directory.MatchTotp(secret, code, x.s.now())
			if !ok {
				return "", mfaError(directory.ErrInvalidTotp)
			}
			next := *v
			next.IdentifierValue = mfaStateProven + secret + ":" + strconv.FormatInt(step, 10)
			next.VerifiedAt = x.s.now()
			if _, err := x.s.browser.Steps.AddVerification(ctx, uid, next); err != nil {
				return "", grainError(err)
			}
			return v.ID, nil
		}
		if err := x.s.dir.UseTotp(ctx, user.ID, code); err != nil {
			return "", mfaError(err)
		}
		return x.addMfaProof(ctx, uid, verificationTotp, user.ID)
	})
}

// throttled runs an MFA code check under the sign-in throttle, keyed by the user (and
// the source): a 6-digit code would otherwise fall to a few hundred thousand guesses.
func (x *experience) throttled(ctx context.Context, userID string, check func() (string, error)) (string, error) {
	key := throttleKey("mfa", userID)
	ok, until := x.throttle.attempt(ctx, key)
	if !ok {
		return "", errTooManyAttempts(until.Sub(x.s.now()))
	}
	id, err := check()
	var ae *APIError
	if err != nil && errors.As(err, &ae) && (ae.Code == directory.ErrInvalidTotp.Code || ae.Code == directory.ErrInvalidBackup.Code) {
		x.throttle.failed(ctx, key)
		return "", err
	}
	x.throttle.succeeded(ctx, key)
	return id, err
}

// addMfaProof records that the user proved an enrolled factor of typ.
func (x *experience) addMfaProof(ctx context.Context, uid, typ, userID string) (string, error) {
	id, err := op.RandomID(x.s.rand)
	if err != nil {
		return "", err
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: id, Type: typ, UserID: userID, IdentifierValue: mfaStateOK,
	}); err != nil {
		return "", grainError(err)
	}
	return id, nil
}

// ---- Backup codes ----

// postBackupCodeGenerate is POST /api/experience/verification/backup-code/generate:
// a new set of backup codes, bound by POST /profile/mfa -> {verificationId, codes}.
// The interaction keeps only their hashes.
func (x *experience) postBackupCodeGenerate(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	id, codes, err := x.generateBackupCodes(r.Context(), uid, rec)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"verificationId": id, "codes": codes}, nil
}

func (x *experience) generateBackupCodes(ctx context.Context, uid string, rec *op.Interaction) (string, []string, error) {
	user, err := x.identifiedUser(rec)
	if err != nil {
		return "", nil, err
	}
	if !x.mfaSettings().enabled(directory.MfaBackupCode) {
		return "", nil, errMfaFactorNotEnabled()
	}
	codes, err := directory.NewBackupCodes(x.s.rand)
	if err != nil {
		return "", nil, err
	}
	hashed, err := directory.HashBackupCodes(x.s.rand, codes)
	if err != nil {
		return "", nil, err
	}
	hashes := make([]string, len(hashed))
	for i, h := range hashed {
		hashes[i] = h.Hash
	}
	id, err := op.RandomID(x.s.rand)
	if err != nil {
		return "", nil, err
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: id, Type: verificationBackupCode, UserID: user.ID, IdentifierValue: mfaStateNew + strings.Join(hashes, ","),
	}); err != nil {
		return "", nil, grainError(err)
	}
	return id, codes, nil
}

// postBackupCodeVerify is POST /api/experience/verification/backup-code/verify:
// spend one of the user's backup codes -> {verificationId}; a wrong or spent code is
// 400 session.mfa.invalid_backup_code.
func (x *experience) postBackupCodeVerify(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Code string `json:"code"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	id, err := x.verifyBackupCode(r.Context(), uid, rec, body.Code)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]string{"verificationId": id}, nil
}

func (x *experience) verifyBackupCode(ctx context.Context, uid string, rec *op.Interaction, code string) (string, error) {
	user, err := x.identifiedUser(rec)
	if err != nil {
		return "", err
	}
	code = strings.ToLower(strings.TrimSpace(code))
	if code == "" {
		return "", invalidInput("`code` is required")
	}
	return x.throttled(ctx, user.ID, func() (string, error) {
		if !directory.ValidBackupCode(code) {
			return "", mfaError(directory.ErrInvalidBackup)
		}
		if err := x.s.dir.UseBackupCode(ctx, user.ID, code); err != nil {
			if errors.Is(err, persistence.ErrConflict) {
				return "", mfaError(directory.ErrInvalidBackup)
			}
			return "", mfaError(err)
		}
		return x.addMfaProof(ctx, uid, verificationBackupCode, user.ID)
	})
}

// ---- Profile: bind, skip ----

// bindMfaBody is Logto's bindMfaPayload: {type, verificationId}.
type bindMfaBody struct {
	Type           string `json:"type"`
	VerificationID string `json:"verificationId"`
}

// postProfileMfa is POST /api/experience/profile/mfa: bind the factor a verification
// proved (a verified new TOTP secret, a generated backup code set) to the user -> 204.
// A user who already has a factor must have proven one in this interaction first.
func (x *experience) postProfileMfa(r *http.Request, _ httprouter.Params) (int, any, error) {
	_, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	var body bindMfaBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if err := x.bindMfa(r.Context(), rec, body); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (x *experience) bindMfa(ctx context.Context, rec *op.Interaction, body bindMfaBody) error {
	user, err := x.identifiedUser(rec)
	if err != nil {
		return err
	}
	switch body.Type {
	case directory.MfaTotp, directory.MfaBackupCode, directory.MfaWebAuthn:
	default:
		return invalidInput("`type` must be one of Totp, WebAuthn, BackupCode")
	}
	if !x.mfaSettings().enabled(body.Type) {
		return errMfaFactorNotEnabled()
	}
	if body.VerificationID == "" {
		return invalidInput("`verificationId` is required")
	}
	v, err := findMfaRecord(rec, body.Type, body.VerificationID, user.ID)
	if err != nil {
		return err
	}
	if user.HasMfa() && !mfaVerified(rec, user) {
		return x.errRequireMfa(user)
	}
	f := directory.MfaVerification{Type: body.Type}
	switch body.Type {
	case directory.MfaTotp:
		rest, ok := strings.CutPrefix(v.IdentifierValue, mfaStateProven)
		secret, stepText, _ := strings.Cut(rest, ":")
		step, err := strconv.ParseInt(stepText, 10, 64)
		if !ok || err != nil {
			return apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
		}
		f.Key, f.LastStep = secret, step
	case directory.MfaWebAuthn:
		id, raw, ok := webAuthnProven(v)
		if !ok {
			return apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
		}
		f.CredentialID, f.Credential = id, raw
	case directory.MfaBackupCode:
		list, ok := strings.CutPrefix(v.IdentifierValue, mfaStateNew)
		if !ok {
			return apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
		}
		for _, h := range strings.Split(list, ",") {
			f.Codes = append(f.Codes, directory.BackupCode{Hash: h})
		}
	}
	if _, err := x.s.dir.AddUserMfaVerification(ctx, user.ID, f); err != nil {
		return mfaError(err)
	}
	if rec.Event == eventSignIn { // a registration's factors are the new user's (User.Created)
		noteStep(ctx).userDataUpdatedIn(rec, user.ID) // User.Data.Updated (experience_profile.go)
	}
	return nil
}

// postMfaSkipped is POST /api/experience/profile/mfa/mfa-skipped: the person declines
// enrollment where the policy prompts (not where it is mandatory: 422
// session.mfa.mfa_policy_not_user_controlled) -> 204. Kept on the user, as Logto keeps
// it in logtoConfig, so later sign-ins do not prompt again.
func (x *experience) postMfaSkipped(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	if err := x.skipMfa(r.Context(), uid, rec); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

func (x *experience) skipMfa(ctx context.Context, uid string, rec *op.Interaction) error {
	user, err := x.identifiedUser(rec)
	if err != nil {
		return err
	}
	if x.mfaSettings().mandatory(rec.Event) {
		return apiErr(http.StatusUnprocessableEntity, "session.mfa.mfa_policy_not_user_controlled", msgMfaNotSkippable)
	}
	id, err := op.RandomID(x.s.rand)
	if err != nil {
		return err
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: id, Type: verificationMfaSkipped, UserID: user.ID,
	}); err != nil {
		return grainError(err)
	}
	if !user.MfaSkipped {
		if err := x.s.dir.SetUserMfaSkipped(ctx, user.ID); err != nil {
			return mgmtError(err)
		}
	}
	return nil
}

// ---- Submit ----

// mfaAMR applies the MFA rules at submit and returns the methods to add to amr:
//   - a user with an enabled factor must have proven one in this interaction (403
//     session.mfa.require_mfa_verification, data.availableFactors);
//   - a user with none must enroll when the policy is mandatory (422 user.missing_mfa,
//     data.availableFactors), or when it prompts and the user has not skipped
//     (data.skippable: true).
//
// A proven factor adds "otp" (TOTP, backup code) or "hwk" (WebAuthn), and "mfa".
func (x *experience) mfaAMR(rec *op.Interaction, user *directory.User) ([]string, error) {
	if proven := verifiedFactors(rec, user); len(proven) > 0 {
		var amr []string
		for _, f := range proven {
			m := amrOTP
			if f == verificationWebAuthn {
				m = amrHWK
			}
			if !slices.Contains(amr, m) {
				amr = append(amr, m)
			}
		}
		return append(amr, amrMFA), nil
	}
	m := x.mfaSettings()
	if len(m.factors) == 0 || rec.Event == eventForgotPassword {
		return nil, nil
	}
	if have := x.userFactors(user, m); len(have) > 0 {
		// Logto's isMfaRequired: skipMfaOnSignIn under a policy that allows skipping.
		if user.SkipMfaOnSignIn && rec.Event == eventSignIn && !m.mandatory(eventSignIn) {
			return nil, nil
		}
		return nil, x.errRequireMfa(user)
	}
	skipped := user.MfaSkipped || slices.ContainsFunc(rec.Verifications, func(v op.Verification) bool {
		return v.Type == verificationMfaSkipped && v.UserID == user.ID
	})
	switch {
	case m.mandatory(rec.Event):
		e := apiErr(http.StatusUnprocessableEntity, "user.missing_mfa", msgMissingMfa)
		e.Data = map[string]any{"availableFactors": m.factors}
		return nil, e
	case m.prompts(rec.Event) && !skipped:
		e := apiErr(http.StatusUnprocessableEntity, "user.missing_mfa", msgMissingMfa)
		e.Data = map[string]any{"availableFactors": m.factors, "skippable": true}
		return nil, e
	}
	return nil, nil
}

// userFactors are the user's usable factors that the settings enable.
func (x *experience) userFactors(user *directory.User, m mfaSettings) []string {
	var out []string
	for _, f := range user.MfaFactors() {
		if m.enabled(f) {
			out = append(out, f)
		}
	}
	return out
}

func (x *experience) errRequireMfa(user *directory.User) *APIError {
	e := apiErr(http.StatusForbidden, "session.mfa.require_mfa_verification", msgRequireMfaVerification)
	have := x.userFactors(user, x.mfaSettings())
	if len(have) == 0 {
		have = user.MfaFactors()
	}
	e.Data = map[string]any{"availableFactors": have}
	return e
}
