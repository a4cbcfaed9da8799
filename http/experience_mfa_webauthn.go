package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/op"
)

// WebAuthn (passkeys, security keys) as a second factor, with
// github.com/go-webauthn/webauthn: Logto's web-authn-verification.ts routes. The
// ceremony's session data (challenge, user, allowed credentials) waits in the
// interaction's verification record between the two calls:
//
//	WebAuthn "reg:<session JSON>"                       registration begun
//	         "proven:<credential id>:<credential JSON>" registration verified (bound by profile/mfa)
//	         "auth:<session JSON>"                      authentication begun
//	         "ok"                                       an assertion of a bound credential verified
//
// The relying party is the endpoint: its host name is the RP ID, its origin the only
// origin accepted.
const (
	verificationWebAuthn = directory.MfaWebAuthn

	webAuthnStateRegistration   = "reg:"
	webAuthnStateAuthentication = "auth:"
)

const msgWebAuthnFailed = "WebAuthn verification failed."

func (x *experience) routesWebAuthn(r *routeTable, g postGuard) {
	r.POST("/api/experience/verification/web-authn/registration", g.json(x.api(x.postWebAuthnRegistration)))
	r.POST("/api/experience/verification/web-authn/registration/verify", g.json(x.api(x.postWebAuthnRegistrationVerify)))
	r.POST("/api/experience/verification/web-authn/authentication", g.json(x.api(x.postWebAuthnAuthentication)))
	r.POST("/api/experience/verification/web-authn/authentication/verify", g.json(x.api(x.postWebAuthnAuthenticationVerify)))
}

func errWebAuthnFailed() *APIError {
	return apiErr(http.StatusBadRequest, "session.mfa.webauthn_verification_failed", msgWebAuthnFailed)
}

// relyingParty is the WebAuthn relying party of the endpoint.
func (x *experience) relyingParty() (*webauthn.WebAuthn, error) {
	u, err := url.Parse(x.s.endpoint)
	if err != nil {
		return nil, err
	}
	return webauthn.New(&webauthn.Config{
		RPID: u.Hostname(), RPDisplayName: u.Hostname(), RPOrigins: []string{normalizeOrigin(x.s.endpoint)},
	})
}

// webAuthnUser is a directory user as the WebAuthn library sees it: the user handle is
// the user id (as Logto's).
type webAuthnUser struct {
	u     *directory.User
	creds []webauthn.Credential
}

func newWebAuthnUser(u *directory.User) webAuthnUser {
	w := webAuthnUser{u: u}
	for _, v := range u.MfaVerifications {
		if v.Type != directory.MfaWebAuthn {
			continue
		}
		var c webauthn.Credential
		if json.Unmarshal(v.Credential, &c) == nil {
			w.creds = append(w.creds, c)
		}
	}
	return w
}

func (w webAuthnUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w webAuthnUser) WebAuthnName() string                       { return userDisplayName(w.u) }
func (w webAuthnUser) WebAuthnDisplayName() string                { return userDisplayName(w.u) }
func (w webAuthnUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

var _ webauthn.User = webAuthnUser{}

// webAuthnBody is Logto's web-authn verify body: {verificationId, payload}, the payload
// being the browser's PublicKeyCredential as JSON (Logto's client sends type
// "WebAuthn" where the browser says "public-key").
type webAuthnBody struct {
	VerificationID string          `json:"verificationId"`
	Payload        json.RawMessage `json:"payload"`
}

// publicKeyCredential returns the payload with type "public-key", as the library parses it.
func (b webAuthnBody) publicKeyCredential() ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b.Payload, &m); err != nil || m == nil {
		return nil, invalidInput("`payload` must be a PublicKeyCredential object")
	}
	m["type"] = json.RawMessage(`"public-key"`)
	return json.Marshal(m)
}

// postWebAuthnRegistration is POST .../web-authn/registration: the options for the
// browser's navigator.credentials.create -> {verificationId, registrationOptions}.
func (x *experience) postWebAuthnRegistration(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	user, err := x.identifiedUser(rec)
	if err != nil {
		return 0, nil, err
	}
	if !x.mfaSettings().enabled(directory.MfaWebAuthn) {
		return 0, nil, errMfaFactorNotEnabled()
	}
	rp, err := x.relyingParty()
	if err != nil {
		return 0, nil, err
	}
	wu := newWebAuthnUser(user)
	var exclude []protocol.CredentialDescriptor
	for _, c := range wu.creds {
		exclude = append(exclude, c.Descriptor())
	}
	creation, session, err := rp.BeginRegistration(wu, webauthn.WithExclusions(exclude))
	if err != nil {
		return 0, nil, err
	}
	id, err := x.webAuthnStep(r.Context(), uid, "", user.ID, webAuthnStateRegistration, session)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"verificationId": id, "registrationOptions": creation.Response}, nil
}

// webAuthnStep records a ceremony's session data under id (a new id when empty).
func (x *experience) webAuthnStep(ctx context.Context, uid, id, userID, state string, session *webauthn.SessionData) (string, error) {
	raw, err := json.Marshal(session)
	if err != nil {
		return "", err
	}
	if id == "" {
		if id, err = op.RandomID(x.s.rand); err != nil {
			return "", err
		}
	}
	if _, err := x.s.browser.Steps.AddVerification(ctx, uid, op.Verification{
		ID: id, Type: verificationWebAuthn, UserID: userID, IdentifierValue: state + string(raw),
	}); err != nil {
		return "", grainError(err)
	}
	return id, nil
}

// webAuthnSession reads the session data of a begun ceremony.
func webAuthnSession(v *op.Verification, state string) (webauthn.SessionData, error) {
	var s webauthn.SessionData
	raw, ok := strings.CutPrefix(v.IdentifierValue, state)
	if !ok || json.Unmarshal([]byte(raw), &s) != nil {
		return s, apiErr(http.StatusBadRequest, "session.verification_failed", msgVerificationFailed)
	}
	return s, nil
}

// webAuthnVerify is what both verify steps read before their check: the interaction,
// its identified user, the begun ceremony's record and session data, and the
// credential the browser sent.
type webAuthnVerify struct {
	uid     string
	user    *directory.User
	v       *op.Verification
	session webauthn.SessionData
	payload []byte
}

// webAuthnVerifyRequest loads the interaction and decodes a verify body for a ceremony
// begun in state (webAuthnStateRegistration or webAuthnStateAuthentication).
func (x *experience) webAuthnVerifyRequest(r *http.Request, state string) (webAuthnVerify, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return webAuthnVerify{}, err
	}
	user, err := x.identifiedUser(rec)
	if err != nil {
		return webAuthnVerify{}, err
	}
	var body webAuthnBody
	if err := decodeBody(r, &body); err != nil {
		return webAuthnVerify{}, err
	}
	v, err := findMfaRecord(rec, verificationWebAuthn, body.VerificationID, user.ID)
	if err != nil {
		return webAuthnVerify{}, err
	}
	session, err := webAuthnSession(v, state)
	if err != nil {
		return webAuthnVerify{}, err
	}
	payload, err := body.publicKeyCredential()
	if err != nil {
		return webAuthnVerify{}, err
	}
	return webAuthnVerify{uid: uid, user: user, v: v, session: session, payload: payload}, nil
}

// postWebAuthnRegistrationVerify is POST .../web-authn/registration/verify: check the
// new credential (attestation, challenge, origin, RP ID) -> {verificationId}; bind it
// with POST /profile/mfa {type: "WebAuthn"}.
func (x *experience) postWebAuthnRegistrationVerify(r *http.Request, _ httprouter.Params) (int, any, error) {
	c, err := x.webAuthnVerifyRequest(r, webAuthnStateRegistration)
	if err != nil {
		return 0, nil, err
	}
	uid, user, v, session, payload := c.uid, c.user, c.v, c.session, c.payload
	parsed, err := protocol.ParseCredentialCreationResponseBytes(payload)
	if err != nil {
		return 0, nil, errWebAuthnFailed()
	}
	rp, err := x.relyingParty()
	if err != nil {
		return 0, nil, err
	}
	cred, err := rp.CreateCredential(newWebAuthnUser(user), session, parsed)
	if err != nil {
		return 0, nil, errWebAuthnFailed()
	}
	// The attestation statement (certificates) served its purpose; the record keeps
	// what assertions need: id, public key, flags, sign count.
	cred.Attestation = webauthn.CredentialAttestation{}
	raw, err := json.Marshal(cred)
	if err != nil {
		return 0, nil, err
	}
	next := *v
	next.IdentifierValue = mfaStateProven + base64.RawURLEncoding.EncodeToString(cred.ID) + ":" + string(raw)
	next.VerifiedAt = x.s.now()
	if _, err := x.s.browser.Steps.AddVerification(r.Context(), uid, next); err != nil {
		return 0, nil, grainError(err)
	}
	return http.StatusOK, map[string]string{"verificationId": v.ID}, nil
}

// webAuthnProven splits a verified registration's state into credential id and record.
func webAuthnProven(v *op.Verification) (string, json.RawMessage, bool) {
	rest, ok := strings.CutPrefix(v.IdentifierValue, mfaStateProven)
	if !ok {
		return "", nil, false
	}
	id, raw, ok := strings.Cut(rest, ":")
	return id, json.RawMessage(raw), ok && id != ""
}

// postWebAuthnAuthentication is POST .../web-authn/authentication: the options for
// navigator.credentials.get over the user's credentials -> {verificationId,
// authenticationOptions}.
func (x *experience) postWebAuthnAuthentication(r *http.Request, _ httprouter.Params) (int, any, error) {
	uid, rec, err := x.load(r.Context(), r, true)
	if err != nil {
		return 0, nil, err
	}
	user, err := x.identifiedUser(rec)
	if err != nil {
		return 0, nil, err
	}
	wu := newWebAuthnUser(user)
	if len(wu.creds) == 0 {
		return 0, nil, errMfaFactorNotEnabled()
	}
	rp, err := x.relyingParty()
	if err != nil {
		return 0, nil, err
	}
	assertion, session, err := rp.BeginLogin(wu)
	if err != nil {
		return 0, nil, err
	}
	id, err := x.webAuthnStep(r.Context(), uid, "", user.ID, webAuthnStateAuthentication, session)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"verificationId": id, "authenticationOptions": assertion.Response}, nil
}

// postWebAuthnAuthenticationVerify is POST .../web-authn/authentication/verify: check
// the assertion (signature by a bound credential over this challenge, origin, RP ID,
// sign count) -> {verificationId}. The challenge is spent either way.
func (x *experience) postWebAuthnAuthenticationVerify(r *http.Request, _ httprouter.Params) (int, any, error) {
	c, err := x.webAuthnVerifyRequest(r, webAuthnStateAuthentication)
	if err != nil {
		return 0, nil, err
	}
	uid, user, v, session, payload := c.uid, c.user, c.v, c.session, c.payload
	// One assertion per challenge: the session data is gone before the check.
	spent := *v
	spent.IdentifierValue = "spent"
	if _, err := x.s.browser.Steps.AddVerification(r.Context(), uid, spent); err != nil {
		return 0, nil, grainError(err)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(payload)
	if err != nil {
		return 0, nil, errWebAuthnFailed()
	}
	rp, err := x.relyingParty()
	if err != nil {
		return 0, nil, err
	}
	cred, err := rp.ValidateLogin(newWebAuthnUser(user), session, parsed)
	if err != nil || cred.Authenticator.CloneWarning {
		return 0, nil, errWebAuthnFailed()
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return 0, nil, err
	}
	if err := x.s.dir.UseWebAuthnCredential(r.Context(), user.ID, base64.RawURLEncoding.EncodeToString(cred.ID), raw); err != nil {
		return 0, nil, mfaError(err)
	}
	done := *v
	done.IdentifierValue = mfaStateOK
	if _, err := x.s.browser.Steps.AddVerification(r.Context(), uid, done); err != nil {
		return 0, nil, grainError(err)
	}
	return http.StatusOK, map[string]string{"verificationId": v.ID}, nil
}
