package httpapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's koaOidcAuth and koaAccountCenter answers for the user's own API
// (/api/my-account, /api/verifications).
func errAuthHeaderMissing() *APIError {
	return apiErr(http.StatusUnauthorized, "auth.authorization_header_missing", "Authorization header is missing.")
}

func errAuthTokenType() *APIError {
	return apiErr(http.StatusUnauthorized, "auth.authorization_token_type_not_supported", "Authorization type is not supported.")
}

func errAuthUnauthorized() *APIError {
	return apiErr(http.StatusUnauthorized, "auth.unauthorized", "Unauthorized. Please check credentials and its scope.")
}

func errAccountCenterNotEnabled() *APIError {
	return apiErr(http.StatusBadRequest, "account_center.not_enabled", "Account center is not enabled.")
}

// accountCaller is the authenticated user of an Account API call.
type accountCaller struct {
	User   *directory.User
	Scopes []string
	Center *directory.AccountCenter
}

// accountHandler is an Account API endpoint; account authenticates its caller first.
type accountHandler func(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error)

// account wraps an Account API endpoint as Logto's userRouter does: koaOidcAuth (the
// bearer is the user's opaque access token from /oidc/token, checked as /oidc/me
// checks it: op.Provider.AccountToken), then koaAccountCenter (the account center
// must be enabled). Answers are never cached.
func (s *Server) account(h accountHandler) httprouter.Handle {
	serve := s.public(func(r *http.Request, p httprouter.Params) (int, any, error) {
		c, err := s.accountCaller(r)
		if err != nil {
			return 0, nil, err
		}
		return h(r, p, c)
	})
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		s.setCORS(w, r, nil) // account_cors.go
		serve(w, r, p)
	}
}

func (s *Server) accountCaller(r *http.Request) (accountCaller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return accountCaller{}, errAuthHeaderMissing()
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return accountCaller{}, errAuthTokenType()
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return accountCaller{}, errAuthUnauthorized()
	}
	u, scopes, err := s.op.AccountToken(r.Context(), tok)
	if err != nil {
		if e, ok := protocolError(err); ok && e.Status == http.StatusUnauthorized {
			return accountCaller{}, errAuthUnauthorized()
		}
		return accountCaller{}, err // server_error / temporarily_unavailable: serveAPI maps it
	}
	center := s.dir.AccountCenter()
	if !center.Enabled {
		return accountCaller{}, errAccountCenterNotEnabled()
	}
	return accountCaller{User: u, Scopes: scopes, Center: center}, nil
}

// routesAccount registers the user's own API. Without an op.Provider (Management
// API tests) nothing is registered.
func (s *Server) routesAccount(r *routeTable) {
	if s.op == nil {
		return
	}
	// The Experience API's throttle is per identifier; this one is per user id, in
	// memory (a lockout here does not lock the user's sign-in).
	t := newPasswordThrottle(s.now, defaultThrottle, nil, s.log)
	r.POST("/api/verifications/password", noStoreHandle(s.account(func(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error) {
		return s.postPasswordVerification(withSignInSource(r), t, c)
	})))
	s.routesMyAccount(r) // account_profile.go
}

// noStoreHandle marks h's answers uncacheable.
func noStoreHandle(h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) {
		w.Header().Set("Cache-Control", "no-store")
		h(w, r, p)
	}
}

// accountPasswordBody is Logto's body guard: { password: string().min(1) }.
type accountPasswordBody struct {
	Password *string `json:"password"`
}

// postPasswordVerification is POST /api/verifications/password: the caller proves
// their password and gets a verification record id, valid
// directory.VerificationRecordTTL, for the logto-verification-id header of a
// sensitive Account API call. 201 {verificationRecordId, expiresAt}; a wrong password
// (or a user without one) is 422 session.invalid_credentials; repeated failures lock
// the user's verifications for a while (429, as the Experience API).
func (s *Server) postPasswordVerification(r *http.Request, t *passwordThrottle, c accountCaller) (int, any, error) {
	var b accountPasswordBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Password == nil || *b.Password == "" {
		return 0, nil, invalidInput("`password` is required")
	}
	ctx := r.Context()
	key := throttleKey("userId", c.User.ID)
	if ok, until := t.attempt(ctx, key); !ok {
		return 0, nil, errTooManyAttempts(until.Sub(s.now()))
	}
	u, err := s.dir.VerifyUserPassword(c.User.ID, *b.Password)
	if err != nil {
		t.failed(ctx, key)
		if errors.Is(err, directory.ErrInvalidCredentials) {
			return 0, nil, errInvalidCredentials()
		}
		return 0, nil, userError(err)
	}
	t.succeeded(ctx, key)
	s.dir.UpgradePasswordHash(ctx, u, *b.Password)
	rec, id, err := s.dir.CreateVerificationRecord(ctx, u.ID, directory.VerificationTypePassword)
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusCreated, map[string]string{
		"verificationRecordId": id,
		"expiresAt":            time.UnixMilli(rec.ExpiresAt).UTC().Format("2006-01-02T15:04:05.000Z"),
	}, nil
}

// headerVerificationID carries a verification record id on a sensitive Account API
// call (Logto's logto-verification-id).
const headerVerificationID = "logto-verification-id"

func errVerificationPermissionDenied() *APIError {
	return apiErr(http.StatusUnauthorized, "verification_record.permission_denied", "Permission denied, please re-authenticate.")
}

// requireVerifiedIdentity is Logto's verifyUserSensitivePermission: a sensitive
// Account API call carries, in the logto-verification-id header, the id of a live
// verification record the caller created (POST /api/verifications/...); otherwise
// 401 verification_record.permission_denied.
func (s *Server) requireVerifiedIdentity(r *http.Request, c accountCaller) error {
	id := r.Header.Get(headerVerificationID)
	if id == "" {
		return errVerificationPermissionDenied()
	}
	rec, err := s.dir.VerificationRecordFor(id, c.User.ID)
	// A WebAuthn registration proves a new credential, not the user (account_mfa_webauthn.go).
	if err != nil || rec.Type == verificationTypeWebAuthn {
		return errVerificationPermissionDenied()
	}
	return nil
}
