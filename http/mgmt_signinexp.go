package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// getSignInExp is GET /api/sign-in-exp: the settings, Logto's defaults until the
// first change.
func (s *Server) getSignInExp(*http.Request, httprouter.Params) (int, any, error) {
	return http.StatusOK, s.dir.SignInExperience(), nil
}

// patchSignInExp is PATCH /api/sign-in-exp: top-level fields replace the stored ones,
// validated with Logto's rules and error codes (directory.UpdateSignInExperience).
func (s *Server) patchSignInExp(r *http.Request, _ httprouter.Params) (int, any, error) {
	var patch map[string]json.RawMessage
	if err := decodeBody(r, &patch); err != nil {
		return 0, nil, err
	}
	// Latch has no email/SMS connectors yet: verification-code identifiers are not
	// refused for want of one (nil skips Logto's enabled_connector_not_found check).
	sie, err := s.dir.UpdateSignInExperience(r.Context(), patch, nil)
	if err != nil {
		return 0, nil, signInExpError(err)
	}
	return http.StatusOK, sie, nil
}

func signInExpError(err error) error {
	var se *directory.SignInExperienceError
	if errors.As(err, &se) {
		e := apiErr(http.StatusBadRequest, se.Code, se.Message)
		if se.Data != nil {
			e.Data = se.Data
		}
		return e
	}
	return err
}

// wellKnownSignInExp is GET /api/.well-known/sign-in-exp, public: what the sign-in UI
// needs, in Logto's FullSignInExperience shape (the settings without the private
// fields, plus the connectors and forgot-password availability). Latch has no social,
// SSO or email/SMS connectors yet, so those lists are empty.
func (s *Server) wellKnownSignInExp(*http.Request, httprouter.Params) (int, any, error) {
	sie := s.dir.SignInExperience()
	out := make(map[string]any, len(sie.Fields)+8)
	for k, v := range sie.Fields {
		out[k] = v
	}
	for _, private := range []string{"emailBlocklistPolicy", "forgotPasswordMethods", "trustedDevice"} {
		delete(out, private)
	}
	out["socialConnectors"] = []any{}
	out["ssoConnectors"] = []any{}
	out["forgotPassword"] = map[string]bool{"email": false, "phone": false}
	out["isDevelopmentTenant"] = false
	out["customProfileFields"] = []any{}
	out["customProfileFieldCatalog"] = []any{}
	return http.StatusOK, out, nil
}

// checkPasswordBody is POST /api/sign-in-exp/default/check-password.
type checkPasswordBody struct {
	Password *string `json:"password"`
	UserID   *string `json:"userId"`
}

// checkPassword answers {"result": true}, or 400 {"result": false, "issues": [...]}
// with the rules the password breaks (Logto's shape). Without userId and with a
// policy that rejects user information, 400 request.invalid_input, as Logto.
func (s *Server) checkPassword(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b checkPasswordBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Password == nil {
		return 0, nil, invalidInput("`password` is required")
	}
	var info *directory.PasswordUserInfo
	if b.UserID != nil && *b.UserID != "" {
		u, err := s.findUser(*b.UserID)
		if err != nil {
			return 0, nil, err
		}
		info = &directory.PasswordUserInfo{Name: deref(u.Name), Username: deref(u.Username),
			Email: deref(u.PrimaryEmail), PhoneNumber: deref(u.PrimaryPhone)}
	}
	issues, err := s.passwordIssues(r.Context(), *b.Password, info)
	if err != nil {
		return 0, nil, err
	}
	if len(issues) > 0 {
		return http.StatusBadRequest, map[string]any{"result": false, "issues": issues}, nil
	}
	return http.StatusOK, map[string]any{"result": true}, nil
}

// passwordIssues checks password against the sign-in experience's policy.
func (s *Server) passwordIssues(ctx context.Context, password string, info *directory.PasswordUserInfo) ([]directory.PasswordIssue, error) {
	issues, err := s.dir.SignInExperience().PasswordPolicy().Check(ctx, password, info, s.breach)
	if errors.Is(err, directory.ErrUserInfoRequired) {
		return nil, apiErr(http.StatusBadRequest, "request.invalid_input", "Input is invalid. "+err.Error())
	}
	return issues, err
}

// enforcePasswordPolicy is where a password is set (Experience API registration and
// password reset): 422 password.rejected with the issues as data, as Logto's
// PasswordValidator. The user's own information is checked only when the policy asks
// (info may be empty, never nil).
func (s *Server) enforcePasswordPolicy(ctx context.Context, password string, info directory.PasswordUserInfo) error {
	issues, err := s.passwordIssues(ctx, password, &info)
	if err != nil {
		return err
	}
	if len(issues) > 0 {
		// Logto's phrase, plus the reasons, so a page can show the message as is.
		msg := msgPasswordRejected
		for _, is := range issues {
			msg += " " + passwordIssueText(is)
		}
		e := apiErr(http.StatusUnprocessableEntity, "password.rejected", msg)
		e.Data = issues
		return e
	}
	return nil
}

// passwordIssueText is an English sentence for an issue (Logto's
// password_rejected phrases).
func passwordIssueText(is directory.PasswordIssue) string {
	switch is.Code {
	case "password_rejected.too_short":
		return fmt.Sprintf("It must be at least %v characters long.", is.Interpolation["min"])
	case "password_rejected.too_long":
		return fmt.Sprintf("It must be at most %v characters long.", is.Interpolation["max"])
	case "password_rejected.character_types":
		return fmt.Sprintf("It must contain at least %v kinds of characters (lower-case and upper-case letters, digits, symbols).", is.Interpolation["min"])
	case "password_rejected.unsupported_characters":
		return "It contains an unsupported character (use letters, digits and symbols, no spaces)."
	case "password_rejected.pwned":
		return "It is a commonly used or breached password."
	case "password_rejected.restricted.repetition":
		return "It is mostly repeated characters."
	case "password_rejected.restricted.sequence":
		return "It is mostly a sequence of characters."
	case "password_rejected.restricted.user_info":
		return "It is mostly made of your personal information."
	case "password_rejected.restricted.words":
		return "It is mostly made of a forbidden word."
	}
	return ""
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// pathWellKnownSignInExp is public: the sign-in UI reads it before anyone signs in.
const pathWellKnownSignInExp = "/api/.well-known/sign-in-exp"

// public serves an unauthenticated /api route with Logto's JSON and error shapes.
func (s *Server) public(h apiHandler) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		s.serveAPI(w, r, p, h)
	}
}
