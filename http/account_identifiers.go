package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
)

// The user's primary email and phone on the Account API (Logto's
// routes/account/email-and-phone.ts). A new address is proven by a verification-code
// record of the caller (POST /api/verifications/verification-code, then .../verify)
// whose identifier is that address: its id is newIdentifierVerificationRecordId. The
// record is spent by the change, so one code changes one address once.

// identifierField describes one of the two routes' identifier.
type identifierField struct {
	field     string // account center field and scope: email | phone
	scope     string
	kind      string // identifierEmail | identifierPhone
	bodyKey   string // email | phone
	signUp    string // sign-up identifier name
	other     string // the other sign-up identifier
	required  string // Logto's code when it is the only sign-up identifier
	get       func(*directory.User) *string
	set       func(*directory.User, *string)
	byAddress func(*directory.Directory, string) (*directory.User, bool)
}

var (
	emailField = identifierField{field: "email", scope: oidcflow.ScopeEmail, kind: identifierEmail, bodyKey: "email",
		signUp: "email", other: "phone", required: "user.email_required",
		get:       func(u *directory.User) *string { return u.PrimaryEmail },
		set:       func(u *directory.User, v *string) { u.PrimaryEmail = v },
		byAddress: (*directory.Directory).UserByEmail}
	phoneField = identifierField{field: "phone", scope: oidcflow.ScopePhone, kind: identifierPhone, bodyKey: "phone",
		signUp: "phone", other: "email", required: "user.phone_required",
		get:       func(u *directory.User) *string { return u.PrimaryPhone },
		set:       func(u *directory.User, v *string) { u.PrimaryPhone = v },
		byAddress: (*directory.Directory).UserByPhone}
)

// newIdentifierBody is {email | phone, newIdentifierVerificationRecordId}.
type newIdentifierBody struct {
	Email                             *string `json:"email"`
	Phone                             *string `json:"phone"`
	NewIdentifierVerificationRecordID *string `json:"newIdentifierVerificationRecordId"`
}

func (s *Server) postMyPrimaryEmail(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	return s.setMyIdentifier(r, c, emailField)
}

func (s *Server) postMyPrimaryPhone(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	return s.setMyIdentifier(r, c, phoneField)
}

func (s *Server) deleteMyPrimaryEmail(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	return s.deleteMyIdentifier(r, c, emailField)
}

func (s *Server) deleteMyPrimaryPhone(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	return s.deleteMyIdentifier(r, c, phoneField)
}

// checkIdentifierChange is what both routes check first, in Logto's order: a
// verification record (401 verification_record.permission_denied), the field's Edit
// control (400 account_center.field_not_editable), the scope (400 auth.unauthorized).
func (s *Server) checkIdentifierChange(r *http.Request, c accountCaller, f identifierField) error {
	if err := s.requireVerifiedIdentity(r, c); err != nil {
		return err
	}
	if !c.editable(f.field) {
		return errFieldNotEditable()
	}
	if !c.has(f.scope) {
		return errScopeMissing(http.StatusBadRequest)
	}
	return nil
}

// setMyIdentifier is POST /api/my-account/primary-email (primary-phone): 204 once the
// new address, proven by the verification-code record, is the user's. A record that
// is not the caller's, not verified, already used or for another address is 400
// verification_record.not_found; an address another user has is 422
// user.email_already_in_use (user.phone_already_in_use).
func (s *Server) setMyIdentifier(r *http.Request, c accountCaller, f identifierField) (int, any, error) {
	var b newIdentifierBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	value := b.Email
	if f.kind == identifierPhone {
		value = b.Phone
	}
	if value == nil {
		return 0, nil, invalidInput("`" + f.bodyKey + "` is required")
	}
	if b.NewIdentifierVerificationRecordID == nil {
		return 0, nil, invalidInput("`newIdentifierVerificationRecordId` is required")
	}
	want, err := codeIdentifier(identifierJSON{Type: f.kind, Value: *value})
	if err != nil {
		return 0, nil, invalidInput("`" + f.bodyKey + "` is invalid")
	}
	if err := s.checkIdentifierChange(r, c, f); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	binding, id := accountBinding(c.User.ID), *b.NewIdentifierVerificationRecordID
	got, err := s.codes.VerifiedIdentifier(ctx, binding, id)
	if err != nil {
		return 0, nil, codeRecordError(err)
	}
	if got != want {
		return 0, nil, errVerificationRecordNotFound()
	}
	if other, ok := f.byAddress(s.dir, want.Value); ok && other.ID != c.User.ID {
		return 0, nil, userError(&directory.ConflictError{Entity: directory.EntityUser, Field: primaryFieldName(f), Value: want.Value})
	}
	if _, err := s.codes.Use(ctx, binding, id); err != nil {
		return 0, nil, codeRecordError(err) // spent by a concurrent change
	}
	stored := strings.TrimSpace(*value)
	if f.kind == identifierPhone {
		stored = want.Value
	}
	if _, err := s.dir.UpdateUser(ctx, c.User.ID, func(u *directory.User) error {
		f.set(u, &stored)
		return nil
	}); err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusNoContent, nil, nil
}

// primaryFieldName is the directory's name of f's user field.
func primaryFieldName(f identifierField) string {
	if f.kind == identifierPhone {
		return "primaryPhone"
	}
	return "primaryEmail"
}

// codeRecordError maps a verification-code record that cannot prove the new address
// to Logto's 400 verification_record.not_found.
func codeRecordError(err error) error {
	if errors.Is(err, passcode.ErrRecordNotFound) || errors.Is(err, passcode.ErrNotVerified) {
		return errVerificationRecordNotFound()
	}
	return err
}

// deleteMyIdentifier is DELETE /api/my-account/primary-email (primary-phone) -> 204.
// When the sign-up experience requires the identifier, it may go only if the other
// one is also a sign-up identifier (else 400 user.email_required /
// user.phone_required) and the user has it (else 400 user.email_or_phone_required).
func (s *Server) deleteMyIdentifier(r *http.Request, c accountCaller, f identifierField) (int, any, error) {
	if err := s.checkIdentifierChange(r, c, f); err != nil {
		return 0, nil, err
	}
	ids := s.dir.SignInExperience().SignUp().Identifiers
	if slices.Contains(ids, f.signUp) {
		if !slices.Contains(ids, f.other) {
			return 0, nil, apiErr(http.StatusBadRequest, f.required, "The "+f.field+" is required for sign-up and cannot be removed.")
		}
		other := phoneField
		if f.kind == identifierPhone {
			other = emailField
		}
		if other.get(c.User) == nil {
			return 0, nil, apiErr(http.StatusBadRequest, "user.email_or_phone_required", "You need to keep an email address or a phone number.")
		}
	}
	if _, err := s.dir.UpdateUser(r.Context(), c.User.ID, func(u *directory.User) error {
		f.set(u, nil)
		return nil
	}); err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusNoContent, nil, nil
}
