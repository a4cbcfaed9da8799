package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
)

// Logto's Management API verification codes (routes/verification-code.ts), routed
// in connectorRoutes: the Generic template, one record per identifier (a new send
// replaces the previous code), no record id on the wire.

// mgmtCodeBody is Logto's requestVerificationCodePayloadGuard ({email} | {phone})
// and verifyVerificationCodePayloadGuard (plus verificationCode).
type mgmtCodeBody struct {
	Email            *string `json:"email"`
	Phone            *string `json:"phone"`
	VerificationCode *string `json:"verificationCode"`
}

func (b mgmtCodeBody) identifier() (passcode.Identifier, error) {
	switch {
	case b.Email != nil && b.Phone == nil:
		return codeIdentifier(identifierJSON{Type: identifierEmail, Value: *b.Email})
	case b.Phone != nil && b.Email == nil:
		return codeIdentifier(identifierJSON{Type: identifierPhone, Value: *b.Phone})
	}
	return passcode.Identifier{}, invalidInput("exactly one of `email` and `phone` is required")
}

func errCodeNotFound() *APIError {
	return apiErr(http.StatusBadRequest, passcode.CodeNotFound, codePhrases[passcode.CodeNotFound])
}

func (s *Server) sendManagementVerificationCode(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b mgmtCodeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ident, err := b.identifier()
	if err != nil {
		return 0, nil, err
	}
	_, err = s.codes.Send(r.Context(), passcode.Request{
		Binding: managementBinding, Identifier: ident, UsageType: connectors.UsageGeneric,
		ID: passcode.ManagementID(ident),
		// Kept past the code's ten minutes so a late check is told "expired", as Logto
		// (whose passcode rows outlive their codes) tells it.
		TTL: time.Hour,
	})
	var pe *passcode.Error
	switch {
	case errors.As(err, &pe):
		return 0, nil, codeError(err, errCodeNotFound())
	case err != nil:
		return 0, nil, connectorError(err, false) // the caller is the operator: show details
	}
	return http.StatusNoContent, nil, nil
}

func (s *Server) verifyManagementVerificationCode(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b mgmtCodeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ident, err := b.identifier()
	if err != nil {
		return 0, nil, err
	}
	if b.VerificationCode == nil || *b.VerificationCode == "" {
		return 0, nil, invalidInput("`verificationCode` is required")
	}
	err = s.codes.Verify(r.Context(), managementBinding, passcode.ManagementID(ident), ident, *b.VerificationCode)
	if err != nil {
		return 0, nil, codeError(err, errCodeNotFound())
	}
	return http.StatusNoContent, nil, nil
}
