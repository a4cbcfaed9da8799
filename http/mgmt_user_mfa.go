package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// A user's MFA factors on the Management API (Logto's
// routes/admin-user/mfa-verifications.ts). Key material is returned once, by POST;
// GET shows id, type, createdAt, lastUsedAt and the unused backup codes' count.
func (s *Server) userMfaRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/users/:userId/mfa-verifications", s.listUserMfa},
		{"POST", "/api/users/:userId/mfa-verifications", s.createUserMfa},
		{"DELETE", "/api/users/:userId/mfa-verifications/:verificationId", s.deleteUserMfa},
	}
}

// userMfaJSON is one item of Logto's userMfaVerificationResponseGuard.
type userMfaJSON struct {
	ID          string `json:"id"`
	CreatedAt   string `json:"createdAt"`
	Type        string `json:"type"`
	Name        string `json:"name,omitempty"`
	LastUsedAt  string `json:"lastUsedAt,omitempty"`
	RemainCodes *int   `json:"remainCodes,omitempty"`
}

// isoMillis formats unix ms as JavaScript's Date.toISOString does.
func isoMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}

func (s *Server) listUserMfa(_ *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, mfaListView(u), nil
}

// mfaListView is Logto's transpileUserMfaVerifications: the factors without key
// material (GET /api/users/:userId/mfa-verifications and the Account API's
// GET /api/my-account/mfa-verifications).
func mfaListView(u *directory.User) []userMfaJSON {
	out := make([]userMfaJSON, 0, len(u.MfaVerifications))
	for i := range u.MfaVerifications {
		v := &u.MfaVerifications[i]
		j := userMfaJSON{ID: v.ID, CreatedAt: isoMillis(v.CreatedAt), Type: v.Type, Name: v.Name}
		if v.LastUsedAt != 0 {
			j.LastUsedAt = isoMillis(v.LastUsedAt)
		}
		if v.Type == directory.MfaBackupCode {
			n := v.RemainingCodes()
			j.RemainCodes = &n
		}
		out = append(out, j)
	}
	return out
}

// createUserMfaBody is {type: "Totp", secret?} or {type: "BackupCode", codes?}.
type createUserMfaBody struct {
	Type   string    `json:"type"`
	Secret *string   `json:"secret"`
	Codes  *[]string `json:"codes"`
}

// createUserMfa is POST /api/users/:userId/mfa-verifications: add a TOTP (a new
// secret, or the one given) -> {type, secret, secretQrCode}, or a backup code set (new
// codes, or the ones given) -> {type, codes}. Logto's rules: one TOTP
// (422 user.totp_already_in_use), one live backup code set
// (422 user.backup_code_already_in_use), never backup codes alone
// (422 session.mfa.backup_code_can_not_be_alone).
func (s *Server) createUserMfa(r *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	var body createUserMfaBody
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	switch body.Type {
	case directory.MfaTotp:
		if _, ok := u.Totp(); ok {
			return 0, nil, mfaError(directory.ErrTotpInUse)
		}
		issuer, account := (&experience{s: s}).totpIssuer(), userDisplayName(u)
		var key *directory.TotpKey
		if body.Secret != nil {
			if key, err = directory.TotpKeyFor(*body.Secret, issuer, account); err != nil {
				return 0, nil, apiErr(http.StatusUnprocessableEntity, "user.totp_secret_invalid", "Invalid TOTP secret supplied.")
			}
		} else if key, err = directory.NewTotpKey(s.rand, issuer, account); err != nil {
			return 0, nil, err
		}
		qr, err := totpQRCode(key) // account_mfa.go
		if err != nil {
			return 0, nil, err
		}
		if _, err := s.dir.AddUserMfaVerification(r.Context(), u.ID, directory.MfaVerification{Type: directory.MfaTotp, Key: key.Secret}); err != nil {
			return 0, nil, userMfaError(err)
		}
		return http.StatusOK, map[string]string{
			"type": directory.MfaTotp, "secret": key.Secret,
			"secretQrCode": qr,
		}, nil
	case directory.MfaBackupCode:
		var codes []string
		if body.Codes != nil {
			codes = *body.Codes
			if !validBackupCodeSet(codes) { // account_mfa.go
				return 0, nil, errWrongBackupCodeFormat()
			}
		} else if codes, err = directory.NewBackupCodes(s.rand); err != nil {
			return 0, nil, err
		}
		hashed, err := directory.HashBackupCodes(s.rand, codes)
		if err != nil {
			return 0, nil, err
		}
		if _, err := s.dir.AddUserMfaVerification(r.Context(), u.ID, directory.MfaVerification{Type: directory.MfaBackupCode, Codes: hashed}); err != nil {
			return 0, nil, userMfaError(err)
		}
		return http.StatusOK, map[string]any{"type": directory.MfaBackupCode, "codes": codes}, nil
	case "":
		return 0, nil, invalidInput("`type` is required")
	}
	return 0, nil, invalidInput("`type` must be one of Totp, BackupCode")
}

func errWrongBackupCodeFormat() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "user.wrong_backup_code_format", "Backup code format is invalid.")
}

// deleteUserMfa is DELETE /api/users/:userId/mfa-verifications/:verificationId -> 204;
// an unknown verification is 404 entity.not_found.
func (s *Server) deleteUserMfa(r *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	if err := s.dir.DeleteUserMfaVerification(r.Context(), u.ID, p.ByName("verificationId")); err != nil {
		return 0, nil, userMfaError(err)
	}
	return http.StatusNoContent, nil, nil
}

// userMfaError: a missing verification (or a user deleted meanwhile) is Logto's 404
// entity.not_found; MFA rules keep their codes.
func userMfaError(err error) error {
	var nf *directory.NotFoundError
	if errors.As(err, &nf) {
		return apiErr(http.StatusNotFound, "entity.not_found", "Entity not found.")
	}
	return mfaError(err)
}
