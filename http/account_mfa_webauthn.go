package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// A WebAuthn credential for the Account API (Logto's /api/verifications/web-authn/
// registration and /verify, then POST /api/my-account/mfa-verifications {type:
// "WebAuthn", newIdentifierVerificationRecordId}). The ceremony is the Experience
// API's (experience_mfa_webauthn.go: relying party, user, payload); its state lives in
// a pending directory verification record instead of an interaction, so any node can
// finish it. A proven registration record binds a credential; it never proves the
// user's identity (requireVerifiedIdentity refuses it).

// verificationTypeWebAuthn is Logto's VerificationType.WebAuthn.
const verificationTypeWebAuthn = "WebAuthn"

// webAuthnRecordData is a registration record's data: the session while pending, the
// credential (id base64url, the library's record) once proven.
type webAuthnRecordData struct {
	Session      *webauthn.SessionData `json:"session,omitempty"`
	CredentialID string                `json:"credentialId,omitempty"`
	Credential   json.RawMessage       `json:"credential,omitempty"`
}

// postMyWebAuthnRegistration is POST /api/verifications/web-authn/registration -> 200
// {verificationRecordId, registrationOptions, expiresAt}: the options for
// navigator.credentials.create, excluding the user's credentials.
func (s *Server) postMyWebAuthnRegistration(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	rp, err := (&experience{s: s}).relyingParty()
	if err != nil {
		return 0, nil, err
	}
	wu := newWebAuthnUser(c.User)
	var exclude []protocol.CredentialDescriptor
	for _, cred := range wu.creds {
		exclude = append(exclude, cred.Descriptor())
	}
	creation, session, err := rp.BeginRegistration(wu, webauthn.WithExclusions(exclude))
	if err != nil {
		return 0, nil, err
	}
	data, err := json.Marshal(webAuthnRecordData{Session: session})
	if err != nil {
		return 0, nil, err
	}
	rec, id, err := s.dir.CreatePendingVerificationRecord(r.Context(), c.User.ID, verificationTypeWebAuthn, data)
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, map[string]any{
		"verificationRecordId": id, "registrationOptions": creation.Response,
		"expiresAt": time.UnixMilli(rec.ExpiresAt).UTC().Format("2006-01-02T15:04:05.000Z"),
	}, nil
}

// myWebAuthnVerifyBody is Logto's {verificationRecordId, payload}.
type myWebAuthnVerifyBody struct {
	VerificationRecordID string          `json:"verificationRecordId"`
	Payload              json.RawMessage `json:"payload"`
}

// postMyWebAuthnRegistrationVerify is POST /api/verifications/web-authn/registration/
// verify: check the new credential against the record's session (attestation,
// challenge, origin, RP ID) -> 200 {verificationRecordId}. An unknown, expired,
// another user's or already proven record is 400 verification_record.not_found; a
// credential that does not verify is 400 session.mfa.webauthn_verification_failed.
func (s *Server) postMyWebAuthnRegistrationVerify(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b myWebAuthnVerifyBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.VerificationRecordID == "" {
		return 0, nil, invalidInput("`verificationRecordId` is required")
	}
	payload, err := webAuthnBody{Payload: b.Payload}.publicKeyCredential()
	if err != nil {
		return 0, nil, err
	}
	rec, err := s.dir.VerificationRecordOfType(b.VerificationRecordID, c.User.ID, verificationTypeWebAuthn)
	var data webAuthnRecordData
	if err != nil || rec.Verified || json.Unmarshal(rec.Data, &data) != nil || data.Session == nil {
		return 0, nil, errVerificationRecordNotFound()
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(payload)
	if err != nil {
		return 0, nil, errWebAuthnFailed()
	}
	rp, err := (&experience{s: s}).relyingParty()
	if err != nil {
		return 0, nil, err
	}
	cred, err := rp.CreateCredential(newWebAuthnUser(c.User), *data.Session, parsed)
	if err != nil {
		return 0, nil, errWebAuthnFailed()
	}
	// As the Experience API: the record keeps what assertions need.
	cred.Attestation = webauthn.CredentialAttestation{}
	raw, err := json.Marshal(cred)
	if err != nil {
		return 0, nil, err
	}
	proven, err := json.Marshal(webAuthnRecordData{CredentialID: base64.RawURLEncoding.EncodeToString(cred.ID), Credential: raw})
	if err != nil {
		return 0, nil, err
	}
	if err := s.dir.UpdateVerificationRecord(r.Context(), rec, proven); err != nil {
		return 0, nil, errVerificationRecordNotFound() // proven (or swept) meanwhile
	}
	return http.StatusOK, map[string]string{"verificationRecordId": b.VerificationRecordID}, nil
}

// bindMyWebAuthn binds the credential of a proven registration record and spends the
// record (400 verification_record.not_found when it is not one; 422
// user.webauthn_already_in_use for a credential the user has).
func (s *Server) bindMyWebAuthn(r *http.Request, c accountCaller, recordID string, name *string) error {
	rec, err := s.dir.VerificationRecordOfType(recordID, c.User.ID, verificationTypeWebAuthn)
	var data webAuthnRecordData
	if err != nil || !rec.Verified || json.Unmarshal(rec.Data, &data) != nil || data.CredentialID == "" {
		return errVerificationRecordNotFound()
	}
	if err := s.dir.DeleteVerificationRecord(r.Context(), rec); err != nil {
		return errVerificationRecordNotFound() // spent by a concurrent binding
	}
	v := directory.MfaVerification{Type: directory.MfaWebAuthn, CredentialID: data.CredentialID, Credential: data.Credential}
	if name != nil {
		v.Name = *name
	}
	if _, err := s.dir.AddUserMfaVerification(r.Context(), c.User.ID, v); err != nil {
		return mfaError(err)
	}
	return nil
}

// myMfaNameBody is Logto's {name}.
type myMfaNameBody struct {
	Name *string `json:"name"`
}

// patchMyMfaName is PATCH /api/my-account/mfa-verifications/:verificationId/name
// {name}: rename one of the user's WebAuthn credentials. A verification record (401),
// the mfa field Edit (400), the identities scope (401); a factor that is not one of
// the user's WebAuthn credentials is 400 verification_record.not_found. 200.
func (s *Server) patchMyMfaName(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error) {
	var b myMfaNameBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Name == nil {
		return 0, nil, invalidInput("`name` is required")
	}
	if err := s.checkMfaEdit(r, c, "mfa"); err != nil {
		return 0, nil, err
	}
	errNotFound := errVerificationRecordNotFound()
	id := p.ByName("verificationId")
	_, err := s.dir.UpdateUser(r.Context(), c.User.ID, func(u *directory.User) error {
		for i := range u.MfaVerifications {
			if v := &u.MfaVerifications[i]; v.ID == id && v.Type == directory.MfaWebAuthn {
				v.Name = *b.Name
				return nil
			}
		}
		return errNotFound
	})
	if errors.Is(err, errNotFound) {
		return 0, nil, errNotFound
	}
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, nil, nil
}
