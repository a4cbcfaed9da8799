package httpapi

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/directory"
)

// Verification codes by email or SMS (connectors/passcode) on the three APIs that
// send them, each with Logto's shapes:
//
//   - Experience API: POST /api/experience/verification/verification-code
//     ({identifier, interactionEvent} -> {verificationId}) and .../verify
//     ({identifier, verificationId, code} -> {verificationId}); the record is bound to
//     the interaction (the _interaction cookie).
//   - Management API: POST /api/verification-codes ({email} | {phone} -> 204) and
//     .../verify ({email | phone, verificationCode} -> 204); one record per identifier
//     (mgmt_verification_code.go).
//   - Account API: POST /api/verifications/verification-code ({identifier} -> 201
//     {verificationRecordId, expiresAt}) and .../verify; the record is bound to the
//     user (account_verification_code.go).
//
// The flows built on them (register, passwordless sign-in, forgot password, email
// change) read what a record proved with VerifiedIdentifier.

// Record bindings: who may verify and use a record.
func experienceBinding(uid string) string { return "experience:" + uid }
func accountBinding(userID string) string { return "account:" + userID }

const managementBinding = "management"

// experienceCodeTTL is how long an Experience API verification record stays usable:
// the Interaction's lifetime (its code is valid passcode.CodeTTL of it).
const experienceCodeTTL = time.Hour

// initConnectors builds the connector Registry and the verification codes.
func (s *Server) initConnectors(cfg Config) error {
	s.conns = cfg.Connectors
	if s.conns == nil {
		reg, err := connectors.New(connectors.Config{Directory: cfg.Directory, Now: cfg.Now, Logger: s.log})
		if err != nil {
			return err
		}
		s.conns = reg
	}
	store := cfg.VerificationCodes
	if store == nil {
		store = passcode.NewMemoryStore(cfg.Now)
	}
	codes, err := passcode.New(passcode.Config{Store: store, Sender: s.conns, Now: cfg.Now, Rand: cfg.Rand, Logger: s.log})
	if err != nil {
		return err
	}
	s.codes = codes
	return nil
}

// VerifiedIdentifier returns the email address or phone number that the Experience
// API verification record verificationID proved by code within the interaction uid,
// for the register, passwordless and forgot-password flows. A record that does not
// exist (or belongs to another interaction), or whose code was not verified, is an
// error.
func (s *Server) VerifiedIdentifier(ctx context.Context, uid, verificationID string) (passcode.Identifier, error) {
	return s.codes.VerifiedIdentifier(ctx, experienceBinding(uid), verificationID)
}

// routesVerificationCodes registers the Experience and Account API code routes (the
// Management API's are in managementRoutes).
func (s *Server) routesVerificationCodes(r *routeTable) {
	if s.browser != nil {
		g := newPostGuard(s.endpoint)
		r.POST("/api/experience/verification/verification-code", g.json(s.noStoreAPI(s.postExperienceVerificationCode)))
		r.POST("/api/experience/verification/verification-code/verify", g.json(s.noStoreAPI(s.verifyExperienceVerificationCode)))
	}
	if s.op != nil {
		r.POST("/api/verifications/verification-code", noStoreHandle(s.account(s.postAccountVerificationCode)))
		r.POST("/api/verifications/verification-code/verify", noStoreHandle(s.account(s.verifyAccountVerificationCode)))
	}
}

func (s *Server) noStoreAPI(h apiHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		w.Header().Set("Cache-Control", "no-store")
		s.serveAPI(w, r, p, h)
	}
}

// codeIdentifier validates Logto's verificationCodeIdentifierGuard ({type: email |
// phone, value}) and normalizes the value as the directory stores it: emails
// lower-cased, phones as digits (directory.NormalizePhone).
func codeIdentifier(ident identifierJSON) (passcode.Identifier, error) {
	v := strings.TrimSpace(ident.Value)
	switch ident.Type {
	case identifierEmail:
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v || len(v) > 254 {
			return passcode.Identifier{}, invalidInput("`identifier.value` must be an email address")
		}
		return passcode.Identifier{Type: passcode.Email, Value: strings.ToLower(v)}, nil
	case identifierPhone:
		p, err := codePhone(v)
		if err != nil {
			return passcode.Identifier{}, invalidInput("`identifier.value` must be a phone number")
		}
		return passcode.Identifier{Type: passcode.Phone, Value: p}, nil
	case "":
		return passcode.Identifier{}, invalidInput("`identifier.type` is required")
	}
	return passcode.Identifier{}, invalidInput("`identifier.type` must be email or phone")
}

// codePhone accepts a phone number written with +, spaces, dashes or parentheses and
// returns its stored form.
func codePhone(v string) (string, error) {
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
			return -1
		}
		return 'x'
	}, v)
	if len(digits) < 5 || len(digits) > 20 || strings.ContainsRune(digits, 'x') {
		return "", errors.New("not a phone number")
	}
	return directory.NormalizePhone(digits), nil
}

// Logto's English phrases for the verification-code errors.
var codePhrases = map[string]string{
	passcode.CodeNotFound:      "Verification code not found. Please send verification code first.",
	passcode.CodeEmailMismatch: "Email mismatch. Please request a new verification code.",
	passcode.CodePhoneMismatch: "Phone mismatch. Please request a new verification code.",
	passcode.CodeExpired:       "Verification code has expired. Please request a new verification code.",
	passcode.CodeExceedMaxTry:  "Verification code retries limitation exceeded. Please request a new verification code.",
	passcode.CodeMismatch:      "Invalid verification code.",
	passcode.CodeRateLimited:   "Too many messages were sent to this recipient or from this address. Please try again later.",
}

// codeError answers a passcode or connector failure; notFound is the API's answer to
// passcode.ErrRecordNotFound.
func codeError(err error, notFound *APIError) error {
	var pe *passcode.Error
	switch {
	case errors.Is(err, passcode.ErrRecordNotFound):
		return notFound
	case errors.As(err, &pe):
		status := http.StatusBadRequest
		e := apiErr(status, pe.Code, codePhrases[pe.Code])
		if pe.Code == passcode.CodeRateLimited {
			secs := max(1, int(math.Ceil(pe.RetryAfter.Seconds())))
			e.Status = http.StatusTooManyRequests
			e.RetryAfter = strconv.Itoa(secs)
			e.Data = map[string]int{"retryAfterSeconds": secs}
		}
		return e
	}
	return connectorError(err, true)
}

func errVerificationSessionNotFound() *APIError {
	return apiErr(http.StatusNotFound, "session.verification_session_not_found", msgVerificationNotFound)
}

// experienceCodeBody is the send body.
type experienceCodeBody struct {
	Identifier       identifierJSON `json:"identifier"`
	InteractionEvent string         `json:"interactionEvent"`
}

// postExperienceVerificationCode sends a code for the interaction's event (its
// template: SignIn, Register or ForgotPassword) and returns the record's id.
func (s *Server) postExperienceVerificationCode(r *http.Request, _ httprouter.Params) (int, any, error) {
	ctx := r.Context()
	uid, _, err := (&experience{s: s}).load(ctx, r, true)
	if err != nil {
		return 0, nil, err
	}
	var b experienceCodeBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ident, err := codeIdentifier(b.Identifier)
	if err != nil {
		return 0, nil, err
	}
	switch b.InteractionEvent {
	case eventSignIn, eventRegister, eventForgotPassword:
	case "":
		return 0, nil, invalidInput("`interactionEvent` is required")
	default:
		return 0, nil, invalidInput("`interactionEvent` must be one of SignIn, Register, ForgotPassword")
	}
	sent, err := s.codes.Send(ctx, passcode.Request{
		Binding: experienceBinding(uid), Identifier: ident, UsageType: b.InteractionEvent,
		Source: requestSource(r), TTL: experienceCodeTTL,
	})
	if err != nil {
		return 0, nil, codeError(err, errVerificationSessionNotFound())
	}
	return http.StatusOK, map[string]string{"verificationId": sent.ID}, nil
}

// experienceCodeVerifyBody is the verify body.
type experienceCodeVerifyBody struct {
	Identifier     identifierJSON `json:"identifier"`
	VerificationID string         `json:"verificationId"`
	Code           string         `json:"code"`
}

func (b experienceCodeVerifyBody) check() (passcode.Identifier, error) {
	ident, err := codeIdentifier(b.Identifier)
	if err != nil {
		return ident, err
	}
	if b.VerificationID == "" {
		return ident, invalidInput("`verificationId` is required")
	}
	if b.Code == "" {
		return ident, apiErr(http.StatusBadRequest, passcode.CodeNotFound, codePhrases[passcode.CodeNotFound])
	}
	if len(b.Code) > 64 {
		return ident, apiErr(http.StatusBadRequest, passcode.CodeMismatch, codePhrases[passcode.CodeMismatch])
	}
	return ident, nil
}

// verifyExperienceVerificationCode checks the code of a record of this interaction.
func (s *Server) verifyExperienceVerificationCode(r *http.Request, _ httprouter.Params) (int, any, error) {
	ctx := r.Context()
	uid, _, err := (&experience{s: s}).load(ctx, r, true)
	if err != nil {
		return 0, nil, err
	}
	var b experienceCodeVerifyBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	ident, err := b.check()
	if err != nil {
		return 0, nil, err
	}
	if err := s.codes.Verify(ctx, experienceBinding(uid), b.VerificationID, ident, b.Code); err != nil {
		return 0, nil, codeError(err, errVerificationSessionNotFound())
	}
	return http.StatusOK, map[string]string{"verificationId": b.VerificationID}, nil
}
