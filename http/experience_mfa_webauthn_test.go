package httpapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
	"github.com/go-webauthn/webauthn/webauthn"
)

// softAuthenticator is a platform authenticator in software: an ES256 key pair, a
// credential id and a sign counter; "none" attestation.
type softAuthenticator struct {
	t       *testing.T
	key     *ecdsa.PrivateKey
	credID  []byte
	counter uint32
	rpID    string
	origin  string
}

func newSoftAuthenticator(t *testing.T, rpID, origin string) *softAuthenticator {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	return &softAuthenticator{t: t, key: key, credID: id, rpID: rpID, origin: origin}
}

var b64 = base64.RawURLEncoding

func (a *softAuthenticator) clientData(typ, challenge string) []byte {
	raw, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.origin, "crossOrigin": false})
	return raw
}

// authData is rpIdHash | flags | signCount (| attested credential data).
func (a *softAuthenticator) authData(flags byte, attested []byte) []byte {
	h := sha256.Sum256([]byte(a.rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, a.counter)
	return append(out, attested...)
}

// create answers navigator.credentials.create (Logto's payload: type "WebAuthn").
func (a *softAuthenticator) create(challenge string) map[string]any {
	a.t.Helper()
	pub := a.key.PublicKey
	x, y := make([]byte, 32), make([]byte, 32)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: x, YCoord: y,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	attested := make([]byte, 16) // AAGUID
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(a.credID)))
	attested = append(append(attested, a.credID...), cose...)
	a.counter++
	obj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": a.authData(0x01|0x04|0x40, attested)})
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "WebAuthn",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", challenge)),
			"attestationObject": b64.EncodeToString(obj), "transports": []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	}
}

// get answers navigator.credentials.get, signed with key (the authenticator's own
// unless a forger's is given).
func (a *softAuthenticator) get(challenge, userHandle string, key *ecdsa.PrivateKey) map[string]any {
	a.t.Helper()
	a.counter++
	cd := a.clientData("webauthn.get", challenge)
	ad := a.authData(0x01|0x04, nil)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(slices.Clone(ad), h[:]...))
	if key == nil {
		key = a.key
	}
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	return map[string]any{
		"id": b64.EncodeToString(a.credID), "rawId": b64.EncodeToString(a.credID), "type": "WebAuthn",
		"response": map[string]any{
			"clientDataJSON": b64.EncodeToString(cd), "authenticatorData": b64.EncodeToString(ad),
			"signature": b64.EncodeToString(sig), "userHandle": b64.EncodeToString([]byte(userHandle)),
		},
		"clientExtensionResults": map[string]any{},
	}
}

// webAuthnOptions is the part of the ceremony options the authenticator reads.
type webAuthnOptions struct {
	VerificationID      string
	RegistrationOptions struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	AuthenticationOptions struct {
		Challenge        string `json:"challenge"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	}
}

func TestExperienceMfaWebAuthn(t *testing.T) {
	e := newExpEnv(t)
	setMfa(t, e.dir, "Mandatory", "WebAuthn", "BackupCode")
	auth := newSoftAuthenticator(t, "localhost", "http://localhost:3001")
	e.identified(false)

	var reg webAuthnOptions
	e.must("POST", "/api/experience/verification/web-authn/registration", nil, http.StatusOK, &reg)
	if reg.RegistrationOptions.RP.ID != "localhost" || reg.RegistrationOptions.Challenge == "" ||
		reg.RegistrationOptions.User.ID != b64.EncodeToString([]byte(e.user.ID)) {
		t.Fatalf("registration options = %+v", reg)
	}
	// A credential for another origin is refused.
	other := newSoftAuthenticator(t, "localhost", "http://evil.example")
	e.wantError("POST", "/api/experience/verification/web-authn/registration/verify",
		map[string]any{"verificationId": reg.VerificationID, "payload": other.create(reg.RegistrationOptions.Challenge)},
		http.StatusBadRequest, "session.mfa.webauthn_verification_failed")
	e.must("POST", "/api/experience/verification/web-authn/registration/verify",
		map[string]any{"verificationId": reg.VerificationID, "payload": auth.create(reg.RegistrationOptions.Challenge)}, http.StatusOK, nil)
	// Registered but not bound: no second factor yet.
	e.wantError("POST", "/api/experience/submit", nil, http.StatusUnprocessableEntity, "user.missing_mfa")
	e.must("POST", "/api/experience/profile/mfa", map[string]string{"type": "WebAuthn", "verificationId": reg.VerificationID}, http.StatusNoContent, nil)
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	if got := e.amr(); !slices.Equal(got, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("amr = %v", got)
	}

	// Sign in again with the key.
	e.identified(true)
	e.wantError("POST", "/api/experience/submit", nil, http.StatusForbidden, "session.mfa.require_mfa_verification")
	var login webAuthnOptions
	e.must("POST", "/api/experience/verification/web-authn/authentication", nil, http.StatusOK, &login)
	if c := login.AuthenticationOptions.AllowCredentials; len(c) != 1 || c[0].ID != b64.EncodeToString(auth.credID) {
		t.Fatalf("allowCredentials = %+v", c)
	}
	forger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	e.wantError("POST", "/api/experience/verification/web-authn/authentication/verify",
		map[string]any{"verificationId": login.VerificationID, "payload": auth.get(login.AuthenticationOptions.Challenge, e.user.ID, forger)},
		http.StatusBadRequest, "session.mfa.webauthn_verification_failed")
	// The challenge was spent by the failed attempt: a new one is needed.
	e.wantError("POST", "/api/experience/verification/web-authn/authentication/verify",
		map[string]any{"verificationId": login.VerificationID, "payload": auth.get(login.AuthenticationOptions.Challenge, e.user.ID, nil)},
		http.StatusBadRequest, "session.verification_failed")
	e.must("POST", "/api/experience/verification/web-authn/authentication", nil, http.StatusOK, &login)
	assertion := auth.get(login.AuthenticationOptions.Challenge, e.user.ID, nil)
	e.must("POST", "/api/experience/verification/web-authn/authentication/verify",
		map[string]any{"verificationId": login.VerificationID, "payload": assertion}, http.StatusOK, nil)
	e.must("POST", "/api/experience/submit", nil, http.StatusOK, nil)
	if got := e.amr(); !slices.Equal(got, []string{"pwd", "hwk", "mfa"}) {
		t.Fatalf("amr = %v", got)
	}

	// A replayed assertion (an old challenge) is refused.
	e.identified(true)
	var again webAuthnOptions
	e.must("POST", "/api/experience/verification/web-authn/authentication", nil, http.StatusOK, &again)
	e.wantError("POST", "/api/experience/verification/web-authn/authentication/verify",
		map[string]any{"verificationId": again.VerificationID, "payload": assertion},
		http.StatusBadRequest, "session.mfa.webauthn_verification_failed")
	e.wantError("POST", "/api/experience/submit", nil, http.StatusForbidden, "session.mfa.require_mfa_verification")

	u, _ := e.dir.User(e.user.ID)
	if f := u.MfaFactors(); !slices.Equal(f, []string{"WebAuthn"}) || u.MfaVerifications[0].LastUsedAt == 0 {
		t.Fatalf("user factors = %v %+v", f, u.MfaVerifications)
	}
	var stored webauthn.Credential
	if err := json.Unmarshal(u.MfaVerifications[0].Credential, &stored); err != nil || stored.Authenticator.SignCount < 3 {
		t.Fatalf("stored credential: sign count %d (%v)", stored.Authenticator.SignCount, err)
	}
}
