package httpapi

import (
	"encoding/base64"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
)

// The user's own MFA factors through the Account API (Logto's
// routes/account/mfa-verifications.ts). The client draws a TOTP secret or a backup
// code set (generate: nothing is stored), shows it to the user, then binds it with a
// fresh verification record (POST /mfa-verifications). The TOTP and backup code logic
// is the directory's (directory/mfa.go, mfa_totp.go), shared with the Experience and
// Management APIs.

// routesMyAccountMfa registers the Account API's MFA routes beyond the list and delete
// of account_sessions.go (called by routesMyAccount).
func (s *Server) routesMyAccountMfa(r *routeTable, h func(accountHandler) httprouter.Handle) {
	r.POST("/api/my-account/mfa-verifications", h(s.postMyMfa))
	r.PUT("/api/my-account/mfa-verifications/totp", h(s.putMyTotp))
	r.POST("/api/my-account/mfa-verifications/totp-secret/generate", h(s.postMyTotpSecret))
	r.POST("/api/my-account/mfa-verifications/backup-codes/generate", h(s.postMyBackupCodes))
	r.GET("/api/my-account/mfa-verifications/backup-codes", h(s.getMyBackupCodes))
	r.PATCH("/api/my-account/mfa-verifications/:verificationId/name", h(s.patchMyMfaName))
	r.GET("/api/my-account/mfa-settings", h(s.getMyMfaSettings))
	r.PATCH("/api/my-account/mfa-settings", h(s.patchMyMfaSettings))
	r.POST("/api/verifications/web-authn/registration", h(s.postMyWebAuthnRegistration))
	r.POST("/api/verifications/web-authn/registration/verify", h(s.postMyWebAuthnRegistrationVerify))
}

// checkMfaEdit is Logto's order of checks for a change of the user's factors: a
// verification record (401 verification_record.permission_denied), the mfa field Edit
// (400 account_center.field_not_editable), the identities scope (401
// auth.unauthorized).
func (s *Server) checkMfaEdit(r *http.Request, c accountCaller, field string) error {
	if err := s.requireVerifiedIdentity(r, c); err != nil {
		return err
	}
	if !c.editable(field) {
		return errFieldNotEditable()
	}
	if !c.has(oidcflow.ScopeIdentities) {
		return errScopeMissing(http.StatusUnauthorized)
	}
	return nil
}

// mfaFactorEnabled is Logto's check of the sign-in experience: the factor must be
// among its MFA factors (400 session.mfa.mfa_factor_not_enabled).
func (s *Server) mfaFactorEnabled(factor string) error {
	if !(&experience{s: s}).mfaSettings().enabled(factor) {
		return errMfaFactorNotEnabled()
	}
	return nil
}

// validBackupCodeSet is Logto's validateBackupCodes: at least one code, each of the
// backup code shape, no repeats (and not absurdly many).
func validBackupCodeSet(codes []string) bool {
	if len(codes) == 0 || len(codes) > directory.BackupCodeCount*10 {
		return false
	}
	seen := make(map[string]bool, len(codes))
	for _, c := range codes {
		if !directory.ValidBackupCode(c) || seen[c] {
			return false
		}
		seen[c] = true
	}
	return true
}

// provenTotp is Logto's validateTotpSecret then validateTotpToken: secret must be a
// TOTP secret (400 user.totp_secret_invalid) and code, when required or given, its
// code now (400 session.mfa.invalid_totp_code). It returns the step the code matched
// (0 without a code).
func (s *Server) provenTotp(secret, code string, required bool) (int64, error) {
	if !directory.ValidTotpSecret(secret) {
		return 0, apiErr(http.StatusBadRequest, "user.totp_secret_invalid", "Invalid TOTP secret supplied.")
	}
	if code == "" && !required {
		return 0, nil
	}
	step, ok := directory.MatchTotp(secret, code, s.now())
	if !ok {
		return 0, mfaError(directory.ErrInvalidTotp)
	}
	return step, nil
}

// myMfaBody is Logto's discriminated union: {type: "Totp", secret, code?},
// {type: "BackupCode", codes} or {type: "WebAuthn", newIdentifierVerificationRecordId,
// name?}.
type myMfaBody struct {
	Type                              string    `json:"type"`
	Secret                            *string   `json:"secret"`
	Code                              string    `json:"code"`
	Codes                             *[]string `json:"codes"`
	NewIdentifierVerificationRecordID *string   `json:"newIdentifierVerificationRecordId"`
	Name                              *string   `json:"name"`
}

// postMyMfa is POST /api/my-account/mfa-verifications: bind a TOTP secret (proven by
// its code when one is given; one TOTP per user, 422 user.totp_already_in_use) or a
// backup code set (422 user.backup_code_already_in_use while one has unused codes,
// session.mfa.backup_code_can_not_be_alone, user.wrong_backup_code_format) drawn by
// the generate routes, or a WebAuthn credential proven by a registration record
// (account_mfa_webauthn.go). 204.
func (s *Server) postMyMfa(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b myMfaBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	switch b.Type {
	case directory.MfaTotp:
		if b.Secret == nil {
			return 0, nil, invalidInput("`secret` is required")
		}
	case directory.MfaBackupCode:
		if b.Codes == nil {
			return 0, nil, invalidInput("`codes` is required")
		}
	case directory.MfaWebAuthn:
		if b.NewIdentifierVerificationRecordID == nil {
			return 0, nil, invalidInput("`newIdentifierVerificationRecordId` is required")
		}
	case "":
		return 0, nil, invalidInput("`type` is required")
	default:
		return 0, nil, invalidInput("`type` must be one of Totp, BackupCode, WebAuthn")
	}
	field := "mfa"
	if _, ok := c.Center.Fields["passkey"]; ok && b.Type == directory.MfaWebAuthn {
		field = "passkey" // Logto: fields.passkey ?? fields.mfa for WebAuthn
	}
	if err := s.checkMfaEdit(r, c, field); err != nil {
		return 0, nil, err
	}
	if err := s.mfaFactorEnabled(b.Type); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	switch b.Type {
	case directory.MfaTotp:
		if _, ok := c.User.Totp(); ok {
			return 0, nil, mfaError(directory.ErrTotpInUse)
		}
		step, err := s.provenTotp(*b.Secret, b.Code, false)
		if err != nil {
			return 0, nil, err
		}
		if _, err := s.dir.AddUserMfaVerification(ctx, c.User.ID, directory.MfaVerification{
			Type: directory.MfaTotp, Key: *b.Secret, LastStep: step,
		}); err != nil {
			return 0, nil, mfaError(err)
		}
	case directory.MfaBackupCode:
		if !validBackupCodeSet(*b.Codes) {
			return 0, nil, errWrongBackupCodeFormat()
		}
		hashed, err := directory.HashBackupCodes(s.rand, *b.Codes)
		if err != nil {
			return 0, nil, err
		}
		if _, err := s.dir.AddUserMfaVerification(ctx, c.User.ID, directory.MfaVerification{
			Type: directory.MfaBackupCode, Codes: hashed,
		}); err != nil {
			return 0, nil, mfaError(err)
		}
	case directory.MfaWebAuthn:
		if err := s.bindMyWebAuthn(r, c, *b.NewIdentifierVerificationRecordID, b.Name); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusNoContent, nil, nil
}

// myTotpBody is Logto's body of PUT /mfa-verifications/totp.
type myTotpBody struct {
	Secret *string `json:"secret"`
	Code   *string `json:"code"`
}

// putMyTotp is PUT /api/my-account/mfa-verifications/totp {secret, code}: bind the
// secret, proven by its code, replacing the user's TOTP if they have one. 204.
func (s *Server) putMyTotp(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b myTotpBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Secret == nil || b.Code == nil {
		return 0, nil, invalidInput("`secret` and `code` are required")
	}
	if err := s.checkMfaEdit(r, c, "mfa"); err != nil {
		return 0, nil, err
	}
	if err := s.mfaFactorEnabled(directory.MfaTotp); err != nil {
		return 0, nil, err
	}
	step, err := s.provenTotp(*b.Secret, *b.Code, true)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.dir.PutUserTotp(r.Context(), c.User.ID, *b.Secret, step); err != nil {
		return 0, nil, mfaError(err)
	}
	return http.StatusNoContent, nil, nil
}

// postMyTotpSecret is POST /api/my-account/mfa-verifications/totp-secret/generate ->
// 200 {secret}: a new TOTP secret, not stored (the client binds it with POST
// /mfa-verifications). Latch adds secretQrCode (a PNG data URL of the otpauth URI),
// as the Experience API's totp/secret.
func (s *Server) postMyTotpSecret(_ *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	key, err := directory.NewTotpKey(s.rand, (&experience{s: s}).totpIssuer(), userDisplayName(c.User))
	if err != nil {
		return 0, nil, err
	}
	out := map[string]string{"secret": key.Secret}
	if qr, err := totpQRCode(key); err == nil {
		out["secretQrCode"] = qr
	}
	return http.StatusOK, out, nil
}

// postMyBackupCodes is POST /api/my-account/mfa-verifications/backup-codes/generate
// -> 200 {codes}: a new set of backup codes, not stored (bound by POST
// /mfa-verifications).
func (s *Server) postMyBackupCodes(_ *http.Request, _ httprouter.Params, _ accountCaller) (int, any, error) {
	codes, err := directory.NewBackupCodes(s.rand)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"codes": codes}, nil
}

// myBackupCodeJSON is one item of GET /mfa-verifications/backup-codes. Latch keeps
// backup codes hashed (directory.BackupCode), so unlike Logto it cannot show a code
// again: code is null, usedAt says whether it was spent.
type myBackupCodeJSON struct {
	Code   *string `json:"code"`
	UsedAt *string `json:"usedAt"`
}

// getMyBackupCodes is GET /api/my-account/mfa-verifications/backup-codes: a
// verification record (401), the identities scope (401); no backup code set is 404
// verification_record.not_found. 200 {codes: [{code, usedAt}]}.
func (s *Server) getMyBackupCodes(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	if err := s.requireVerifiedIdentity(r, c); err != nil {
		return 0, nil, err
	}
	if !c.has(oidcflow.ScopeIdentities) {
		return 0, nil, errScopeMissing(http.StatusUnauthorized)
	}
	for i := range c.User.MfaVerifications {
		v := &c.User.MfaVerifications[i]
		if v.Type != directory.MfaBackupCode {
			continue
		}
		out := make([]myBackupCodeJSON, len(v.Codes))
		for j, bc := range v.Codes {
			if bc.UsedAt != 0 {
				at := isoMillis(bc.UsedAt)
				out[j].UsedAt = &at
			}
		}
		return http.StatusOK, map[string]any{"codes": out}, nil
	}
	return 0, nil, apiErr(http.StatusNotFound, "verification_record.not_found", "Verification record not found.")
}

// totpQRCode renders key's otpauth URI as a PNG data URL (Logto's secretQrCode).
func totpQRCode(key *directory.TotpKey) (string, error) {
	png, err := key.QRCodePNG(200)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// myMfaSettingsJSON is Logto's userMfaSettingsResponseGuard.
type myMfaSettingsJSON struct {
	SkipMfaOnSignIn bool `json:"skipMfaOnSignIn"`
}

// getMyMfaSettings is GET /api/my-account/mfa-settings: the identities scope (401),
// the mfa field ReadOnly or Edit (400 account_center.field_not_enabled) -> 200
// {skipMfaOnSignIn}.
func (s *Server) getMyMfaSettings(_ *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	if !c.has(oidcflow.ScopeIdentities) {
		return 0, nil, errScopeMissing(http.StatusUnauthorized)
	}
	if !c.readable("mfa") {
		return 0, nil, errFieldNotEnabled()
	}
	return http.StatusOK, myMfaSettingsJSON{SkipMfaOnSignIn: c.User.SkipMfaOnSignIn}, nil
}

// myMfaSettingsBody is Logto's {skipMfaOnSignIn: boolean}.
type myMfaSettingsBody struct {
	SkipMfaOnSignIn *bool `json:"skipMfaOnSignIn"`
}

// patchMyMfaSettings is PATCH /api/my-account/mfa-settings {skipMfaOnSignIn}: a
// verification record (401), the identities scope (401), the mfa field Edit (400).
// With skipMfaOnSignIn the sign-in does not ask for the user's factors unless the
// policy is mandatory (experience_mfa.go mfaAMR). 200 {skipMfaOnSignIn}.
func (s *Server) patchMyMfaSettings(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b myMfaSettingsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.SkipMfaOnSignIn == nil {
		return 0, nil, invalidInput("`skipMfaOnSignIn` must be a boolean")
	}
	if err := s.requireVerifiedIdentity(r, c); err != nil {
		return 0, nil, err
	}
	if !c.has(oidcflow.ScopeIdentities) {
		return 0, nil, errScopeMissing(http.StatusUnauthorized)
	}
	if !c.editable("mfa") {
		return 0, nil, errFieldNotEditable()
	}
	u, err := s.dir.UpdateUser(r.Context(), c.User.ID, func(u *directory.User) error {
		u.SkipMfaOnSignIn = *b.SkipMfaOnSignIn
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, myMfaSettingsJSON{SkipMfaOnSignIn: u.SkipMfaOnSignIn}, nil
}
