package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
)

// kindSignInExp holds Logto's sign_in_experiences row: one record, key "default"
// (Logto keeps one per tenant, id "default"). Its value is the whole JSON object as
// the Management API returns it, so features Latch does not implement (captcha,
// custom CSS, social targets...) are kept and returned as given.
const (
	kindSignInExp = "sign-in-exp"
	signInExpKey  = "default"
)

// SignInExperience is the sign-in experience settings: a JSON object with Logto's
// fields (sign_in_experiences in @logto/schemas). Fields is shared once published
// and must not be mutated.
type SignInExperience struct {
	Fields  map[string]json.RawMessage
	Version uint64
}

// MarshalJSON writes the settings object.
func (s *SignInExperience) MarshalJSON() ([]byte, error) { return json.Marshal(s.Fields) }

// Sign-in identifiers (Logto's SignInIdentifier).
const (
	IdentifierUsername = "username"
	IdentifierEmail    = "email"
	IdentifierPhone    = "phone"
)

// SignInMethod is one item of signIn.methods.
type SignInMethod struct {
	Identifier        string `json:"identifier"`
	Password          bool   `json:"password"`
	VerificationCode  bool   `json:"verificationCode"`
	IsPasswordPrimary bool   `json:"isPasswordPrimary"`
}

// SignIn is the signIn field.
type SignIn struct {
	Methods []SignInMethod `json:"methods"`
}

// SignUp is the signUp field (secondaryIdentifiers are kept in the raw object).
type SignUp struct {
	Identifiers []string `json:"identifiers"`
	Password    bool     `json:"password"`
	Verify      bool     `json:"verify"`
}

// MFA is the mfa field: the factors users may enroll and the prompt policy.
type MFA struct {
	Factors []string `json:"factors"`
	Policy  string   `json:"policy"`
}

// Logto's MfaFactor and MfaPolicy values.
var (
	mfaFactors  = []string{"Totp", "WebAuthn", "BackupCode", "EmailVerificationCode", "PhoneVerificationCode"}
	mfaPolicies = []string{"UserControlled", "Mandatory", "PromptOnlyAtSignIn", "PromptAtSignInAndSignUp", "NoPrompt",
		"PromptAtSignInAndSignUpMandatory", "PromptOnlyAtSignInMandatory"}
	signInModes = []string{"SignIn", "Register", "SignInAndRegister"}
)

// defaultSignInExperience is Logto's seed for an OSS tenant
// (createDefaultSignInExperience(_, isCloud=false)) with its table's column defaults.
const defaultSignInExperience = `{
  "tenantId": "default",
  "id": "default",
  "color": {"primaryColor": "#6139F6", "isDarkModeEnabled": false, "darkPrimaryColor": "#8768F8"},
  "branding": {"logoUrl": "https://logto.io/logo.svg", "darkLogoUrl": "https://logto.io/logo-dark.svg"},
  "hideLogtoBranding": false,
  "languageInfo": {"autoDetect": true, "fallbackLanguage": "en"},
  "termsOfUseUrl": null,
  "privacyPolicyUrl": null,
  "agreeToTermsPolicy": "Automatic",
  "signIn": {"methods": [{"identifier": "username", "password": true, "verificationCode": false, "isPasswordPrimary": true}]},
  "signUp": {"identifiers": ["username"], "password": true, "verify": false},
  "socialSignIn": {},
  "socialSignInConnectorTargets": [],
  "signInMode": "SignInAndRegister",
  "customCss": null,
  "customContent": {},
  "customUiAssets": null,
  "customUiCsp": {},
  "passwordPolicy": {},
  "mfa": {"factors": [], "policy": "UserControlled"},
  "adaptiveMfa": {},
  "singleSignOnEnabled": false,
  "supportEmail": null,
  "supportWebsiteUrl": null,
  "unknownSessionRedirectUrl": null,
  "captchaPolicy": {},
  "sentinelPolicy": {},
  "emailBlocklistPolicy": {},
  "emailAllowlistPolicy": {},
  "verificationCodePolicy": {},
  "forgotPasswordMethods": [],
  "passkeySignIn": {},
  "signUpProfileFields": null,
  "passwordExpiration": {},
  "usernamePolicy": {"caseSensitive": true, "minLength": 1, "maxLength": 128,
    "allowedChars": {"lowercase": true, "uppercase": true, "numbers": true, "underscore": true}}
}`

// SignInExperienceError is a settings change Logto refuses: its error code
// ("sign_in_experiences.passwordless_requires_verify", "guard.invalid_input"...), a
// message, and Data (e.g. the connector type) when Logto sends one. Status is 400.
type SignInExperienceError struct {
	Code    string
	Message string
	Data    map[string]any
}

func (e *SignInExperienceError) Error() string { return e.Code + ": " + e.Message }

func sieErr(code, msg string) *SignInExperienceError {
	return &SignInExperienceError{Code: code, Message: msg}
}

// SignInExperience returns the settings: the stored record, or Logto's defaults (at
// version 0) before the first change.
func (d *Directory) SignInExperience() *SignInExperience {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.signInExpLocked()
}

func (d *Directory) signInExpLocked() *SignInExperience {
	if d.st.sie != nil {
		return d.st.sie
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(defaultSignInExperience), &m); err != nil {
		panic("directory: default sign-in experience: " + err.Error()) // a constant
	}
	return &SignInExperience{Fields: m}
}

// SignIn decodes signIn (zero when malformed: stored settings were validated).
func (s *SignInExperience) SignIn() SignIn {
	var v SignIn
	_ = json.Unmarshal(s.Fields["signIn"], &v)
	return v
}

// SignUp decodes signUp.
func (s *SignInExperience) SignUp() SignUp {
	var v SignUp
	_ = json.Unmarshal(s.Fields["signUp"], &v)
	return v
}

// MFA decodes mfa.
func (s *SignInExperience) MFA() MFA {
	var v MFA
	_ = json.Unmarshal(s.Fields["mfa"], &v)
	return v
}

// PasswordPolicy is the policy with Logto's defaults filled in.
func (s *SignInExperience) PasswordPolicy() PasswordPolicy {
	var p partialPasswordPolicy
	_ = json.Unmarshal(s.Fields["passwordPolicy"], &p)
	full, _ := p.full()
	return full
}

// ConnectorAvailability reports whether an email and an SMS connector are
// configured; Logto refuses verification-code identifiers without one. nil skips
// those checks (Latch has no connectors yet).
type ConnectorAvailability func() (email, sms bool)

// UpdateSignInExperience is Logto's PATCH /sign-in-exp: each top-level field of patch
// replaces the stored one; the result is validated as Logto's sign-in experience
// library does (sign-up, sign-in, MFA rules, with its error codes) and written in one
// batch. Fields Latch does not know are kept as given.
func (d *Directory) UpdateSignInExperience(ctx context.Context, patch map[string]json.RawMessage, connectors ConnectorAvailability) (*SignInExperience, error) {
	for _, k := range []string{"id", "tenantId"} {
		delete(patch, k)
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		cur := d.signInExpLocked()
		next := make(map[string]json.RawMessage, len(cur.Fields)+len(patch))
		for k, v := range cur.Fields {
			next[k] = v
		}
		for k, v := range patch {
			next[k] = v
		}
		if err := validateSignInExperience(next, patch, connectors); err != nil {
			return err
		}
		b.put(kindSignInExp, signInExpKey, cur.Version, next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.signInExpLocked(), nil
}

// validateSignInExperience checks the merged settings next; patch says which fields
// changed (Logto validates signUp, signIn and mfa only when the request carries them,
// each against the others' effective values).
func validateSignInExperience(next, patch map[string]json.RawMessage, connectors ConnectorAvailability) error {
	strict := func(field string, v any) error {
		raw := next[field]
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(v); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			return sieErr("guard.invalid_input", fmt.Sprintf("`%s` is invalid", field))
		}
		return nil
	}
	var signUp SignUp
	var signIn SignIn
	var mfa MFA
	var pp partialPasswordPolicy
	if err := strict("signUp", &signUp); err != nil {
		return err
	}
	if err := strict("signIn", &signIn); err != nil {
		return err
	}
	if err := strict("mfa", &mfa); err != nil {
		return err
	}
	if err := strict("passwordPolicy", &pp); err != nil {
		return err
	}
	if _, err := pp.full(); err != nil {
		return sieErr("guard.invalid_input", err.Error())
	}
	identifiers := []string{IdentifierUsername, IdentifierEmail, IdentifierPhone}
	for _, id := range signUp.Identifiers {
		if !slices.Contains(identifiers, id) {
			return sieErr("guard.invalid_input", "`signUp.identifiers` has an unknown identifier "+id)
		}
	}
	for _, m := range signIn.Methods {
		if !slices.Contains(identifiers, m.Identifier) {
			return sieErr("guard.invalid_input", "`signIn.methods` has an unknown identifier "+m.Identifier)
		}
	}
	for _, f := range mfa.Factors {
		if !slices.Contains(mfaFactors, f) {
			return sieErr("guard.invalid_input", "`mfa.factors` has an unknown factor "+f)
		}
	}
	if !slices.Contains(mfaPolicies, mfa.Policy) {
		return sieErr("guard.invalid_input", "`mfa.policy` is invalid")
	}
	if raw, ok := patch["signInMode"]; ok {
		var mode string
		if json.Unmarshal(raw, &mode) != nil || !slices.Contains(signInModes, mode) {
			return sieErr("guard.invalid_input", "`signInMode` must be SignIn, Register or SignInAndRegister")
		}
	}
	for _, f := range []string{"termsOfUseUrl", "privacyPolicyUrl", "supportWebsiteUrl", "unknownSessionRedirectUrl", "supportEmail"} {
		raw, ok := patch[f]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return sieErr("guard.invalid_input", "`"+f+"` must be a string or null")
		}
		if v == "" {
			continue
		}
		if f == "supportEmail" {
			if _, err := mail.ParseAddress(v); err != nil {
				return sieErr("guard.invalid_input", "`supportEmail` must be an email address")
			}
		} else if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
			return sieErr("guard.invalid_input", "`"+f+"` must be a URL")
		}
	}
	if raw, ok := patch["color"]; ok {
		if err := validateColor(raw); err != nil {
			return err
		}
	}
	if raw, ok := patch["branding"]; ok {
		if err := validateBranding(raw); err != nil {
			return err
		}
	}
	if _, ok := patch["signUp"]; ok {
		if err := validateSignUp(signUp, connectors); err != nil {
			return err
		}
	}
	if _, ok := patch["signIn"]; ok {
		if err := validateSignIn(signIn, signUp, mfa, connectors); err != nil {
			return err
		}
	}
	if _, ok := patch["mfa"]; ok {
		if err := validateMFA(mfa, signIn); err != nil {
			return err
		}
	}
	return nil
}

// hexColor is Logto's hexColorRegEx (core-kit).
var hexColor = regexp.MustCompile(`^#[\da-fA-F]{3}([\da-fA-F]{3})?$`)

// validateColor is Logto's colorGuard: primaryColor and darkPrimaryColor hex colours,
// isDarkModeEnabled a boolean; every member is required.
func validateColor(raw json.RawMessage) error {
	var c struct {
		PrimaryColor      *string `json:"primaryColor"`
		IsDarkModeEnabled *bool   `json:"isDarkModeEnabled"`
		DarkPrimaryColor  *string `json:"darkPrimaryColor"`
	}
	if json.Unmarshal(raw, &c) != nil || c.PrimaryColor == nil || c.IsDarkModeEnabled == nil || c.DarkPrimaryColor == nil {
		return sieErr("guard.invalid_input", "`color` needs primaryColor, isDarkModeEnabled and darkPrimaryColor")
	}
	if !hexColor.MatchString(*c.PrimaryColor) || !hexColor.MatchString(*c.DarkPrimaryColor) {
		return sieErr("guard.invalid_input", "`color` colours must be #rgb or #rrggbb")
	}
	return nil
}

// validateBranding is Logto's brandingGuard: logoUrl, darkLogoUrl, favicon and
// darkFavicon, each optional, each a URL (absolute, with a host; http(s) or data:
// for an inline image, which the pages' CSP allows).
func validateBranding(raw json.RawMessage) error {
	var b map[string]*string
	if json.Unmarshal(raw, &b) != nil {
		return sieErr("guard.invalid_input", "`branding` must be an object")
	}
	for k, v := range b {
		switch k {
		case "logoUrl", "darkLogoUrl", "favicon", "darkFavicon":
		default:
			continue // Logto's guard strips unknown members
		}
		if v == nil {
			return sieErr("guard.invalid_input", "`branding."+k+"` must be a URL")
		}
		u, err := url.Parse(*v)
		ok := err == nil && ((u.Scheme == "https" || u.Scheme == "http") && u.Host != "" || u.Scheme == "data")
		if !ok {
			return sieErr("guard.invalid_input", "`branding."+k+"` must be a URL")
		}
	}
	return nil
}

// validateSignUp is Logto's validateSignUp (libraries/sign-in-experience/sign-up.ts).
func validateSignUp(s SignUp, connectors ConnectorAvailability) error {
	seen := map[string]bool{}
	for _, id := range s.Identifiers {
		if seen[id] {
			return sieErr("sign_in_experiences.duplicated_sign_up_identifiers", "Duplicate sign-up identifiers detected.")
		}
		seen[id] = true
	}
	if (seen[IdentifierEmail] || seen[IdentifierPhone]) && !s.Verify {
		return sieErr("sign_in_experiences.passwordless_requires_verify", "Must enable verify for email/phone sign up identifier.")
	}
	return checkConnectors(seen[IdentifierEmail], seen[IdentifierPhone], connectors)
}

// validateSignIn is Logto's validateSignIn (sign-in.ts).
func validateSignIn(in SignIn, up SignUp, mfa MFA, connectors ConnectorAvailability) error {
	var emailCode, phoneCode bool
	for _, m := range in.Methods {
		emailCode = emailCode || (m.VerificationCode && m.Identifier == IdentifierEmail)
		phoneCode = phoneCode || (m.VerificationCode && m.Identifier == IdentifierPhone)
	}
	if err := checkConnectors(emailCode, phoneCode, connectors); err != nil {
		return err
	}
	for _, m := range in.Methods {
		if !m.Password && !m.VerificationCode {
			return sieErr("sign_in_experiences.at_least_one_authentication_factor", "You have to select at least one authentication factor.")
		}
	}
	if up.Verify && !up.Password {
		for _, m := range in.Methods {
			if !m.VerificationCode && m.Identifier != IdentifierUsername {
				return sieErr("sign_in_experiences.code_sign_in_must_be_enabled", "Verification code sign in must be enabled when set a password is not required in sign up.")
			}
		}
	}
	if emailCode && slices.Contains(mfa.Factors, "EmailVerificationCode") {
		return sieErr("sign_in_experiences.email_verification_code_cannot_be_used_for_sign_in", "Email verification code cannot be used for sign-in when it is enabled for MFA.")
	}
	if phoneCode && slices.Contains(mfa.Factors, "PhoneVerificationCode") {
		return sieErr("sign_in_experiences.phone_verification_code_cannot_be_used_for_sign_in", "SMS verification code cannot be used for sign-in when it is enabled for MFA.")
	}
	return nil
}

// validateMFA is Logto's validateMfa (mfa.ts).
func validateMFA(m MFA, in SignIn) error {
	seen := map[string]bool{}
	for _, f := range m.Factors {
		if seen[f] {
			return sieErr("sign_in_experiences.duplicated_mfa_factors", "Duplicated MFA factors.")
		}
		seen[f] = true
	}
	if seen["BackupCode"] && len(m.Factors) == 1 {
		return sieErr("sign_in_experiences.backup_code_cannot_be_enabled_alone", "Backup code cannot be enabled alone.")
	}
	for _, meth := range in.Methods {
		if !meth.VerificationCode {
			continue
		}
		if meth.Identifier == IdentifierEmail && seen["EmailVerificationCode"] {
			return sieErr("sign_in_experiences.email_verification_code_cannot_be_used_for_mfa", "Email verification code cannot be used for MFA when email verification is enabled for sign-in.")
		}
		if meth.Identifier == IdentifierPhone && seen["PhoneVerificationCode"] {
			return sieErr("sign_in_experiences.phone_verification_code_cannot_be_used_for_mfa", "SMS verification code cannot be used for MFA when SMS verification is enabled for sign-in.")
		}
	}
	return nil
}

func checkConnectors(needEmail, needSMS bool, connectors ConnectorAvailability) error {
	if connectors == nil {
		return nil
	}
	email, sms := connectors()
	if needEmail && !email {
		e := sieErr("sign_in_experiences.enabled_connector_not_found", "Enabled Email connector not found.")
		e.Data = map[string]any{"type": "Email"}
		return e
	}
	if needSMS && !sms {
		e := sieErr("sign_in_experiences.enabled_connector_not_found", "Enabled Sms connector not found.")
		e.Data = map[string]any{"type": "Sms"}
		return e
	}
	return nil
}

// ---- state (callers hold wmu and mu) ----

// applySignInExp publishes a record of this file's kind; handled is false for any
// other kind.
func (d *Directory) applySignInExp(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	if kind != kindSignInExp {
		return false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(rec, &m); err != nil {
		return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
	}
	d.st.sie = &SignInExperience{Fields: m, Version: version}
	return true, nil
}

// removeSignInExp unpublishes it; false for any other kind.
func (d *Directory) removeSignInExp(kind string) bool {
	if kind != kindSignInExp {
		return false
	}
	d.st.sie = nil
	return true
}
