package httpapi

import (
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/directory"
)

// Verification record types of a code (Logto's VerificationType).
const (
	verificationTypeEmailCode = "EmailVerificationCode"
	verificationTypePhoneCode = "PhoneVerificationCode"
)

func errVerificationRecordNotFound() *APIError {
	return apiErr(http.StatusBadRequest, "verification_record.not_found", "Verification record not found.")
}

// accountCodeBody is Logto's body for POST /api/verifications/verification-code.
type accountCodeBody struct {
	Identifier identifierJSON `json:"identifier"`
}

// postAccountVerificationCode sends a code to an email address or phone number for
// the caller (Logto's verification routes: the SignIn template) and returns the
// record: 201 {verificationRecordId, expiresAt}, valid
// directory.VerificationRecordTTL.
func (s *Server) postAccountVerificationCode(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b accountCodeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ident, err := codeIdentifier(b.Identifier)
	if err != nil {
		return 0, nil, err
	}
	sent, err := s.codes.Send(r.Context(), passcode.Request{
		Binding: accountBinding(c.User.ID), Identifier: ident, UsageType: connectors.UsageSignIn,
		Source: requestSource(r), TTL: directory.VerificationRecordTTL,
	})
	if err != nil {
		return 0, nil, codeError(err, errVerificationRecordNotFound())
	}
	return http.StatusCreated, map[string]string{
		"verificationRecordId": sent.ID,
		"expiresAt":            sent.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z"),
	}, nil
}

// verifyAccountVerificationCode checks the code of one of the caller's records -> 200
// {verificationRecordId}. When the identifier is the caller's primary email or phone,
// the verified record also proves the caller's identity (as Logto associates the
// record with the user): its id becomes a verification record the
// logto-verification-id header accepts, for the rest of its lifetime.
func (s *Server) verifyAccountVerificationCode(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b experienceCodeVerifyBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ident, err := b.check()
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	if err := s.codes.Verify(ctx, accountBinding(c.User.ID), b.VerificationID, ident, b.Code); err != nil {
		return 0, nil, codeError(err, errVerificationRecordNotFound())
	}
	if u, ok := s.dir.User(c.User.ID); ok && isPrimaryIdentifier(u, ident) {
		typ := verificationTypeEmailCode
		if ident.Type == passcode.Phone {
			typ = verificationTypePhoneCode
		}
		if _, _, err := s.dir.StoreVerificationRecord(ctx, b.VerificationID, u.ID, typ); err != nil {
			return 0, nil, mgmtError(err)
		}
	}
	return http.StatusOK, map[string]string{"verificationRecordId": b.VerificationID}, nil
}

// isPrimaryIdentifier reports whether ident is u's primary email or phone.
func isPrimaryIdentifier(u *directory.User, ident passcode.Identifier) bool {
	switch ident.Type {
	case passcode.Email:
		return u.PrimaryEmail != nil && strings.EqualFold(*u.PrimaryEmail, ident.Value)
	case passcode.Phone:
		return u.PrimaryPhone != nil && directory.NormalizePhone(*u.PrimaryPhone) == ident.Value
	}
	return false
}
