package httpapi

import (
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
)

// The user's sessions and grants (Logto's routes/account/sessions.ts and grants.ts),
// MFA factors (mfa-verifications.ts: list and delete) and logto-configs
// (logto-config.ts) on the Account API. Sessions and grants are grains: the routes
// call op.Sessions for the caller's own account, as the Management API's
// /api/users/:userId/sessions does (mgmt_user_sessions.go), in the same shapes.

// checkSessionAccess is Logto's order for the session and grant routes: a
// verification record (401 verification_record.permission_denied); the session field
// ReadOnly or Edit to read, Edit to revoke (400 account_center.field_not_enabled /
// field_not_editable); the urn:logto:scope:sessions scope (401 auth.unauthorized).
func (s *Server) checkSessionAccess(r *http.Request, c accountCaller, edit bool) error {
	if err := s.requireVerifiedIdentity(r, c); err != nil {
		return err
	}
	switch {
	case edit && !c.editable("session"):
		return errFieldNotEditable()
	case !edit && !c.readable("session"):
		return errFieldNotEnabled()
	}
	if !c.has(oidcflow.ScopeSessions) {
		return errScopeMissing(http.StatusUnauthorized)
	}
	if s.sessions == nil {
		return errNoActors()
	}
	return nil
}

// listMySessions is GET /api/my-account/sessions -> {sessions: [...]}, the caller's
// live sessions.
func (s *Server) listMySessions(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	if err := s.checkSessionAccess(r, c, false); err != nil {
		return 0, nil, err
	}
	out, err := s.userSessions(r.Context(), c.User.ID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// deleteMySession is DELETE /api/my-account/sessions/:sessionId
// [?revokeGrantsTarget=all|firstParty] -> 204: the session ends (the next
// prompt=none through it is login_required); with revokeGrantsTarget, the grants of
// the (first-party) clients signed in through it are revoked too. Another user's
// session is 404 oidc.invalid_session_account_id, an unknown one 404
// oidc.session_not_found.
func (s *Server) deleteMySession(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error) {
	target, err := revokeGrantsTarget(r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkSessionAccess(r, c, true); err != nil {
		return 0, nil, err
	}
	if err := s.sessions.DeleteSession(r.Context(), c.User.ID, p.ByName("sessionId"), target); err != nil {
		return 0, nil, sessionsError(err)
	}
	return http.StatusNoContent, nil, nil
}

// listMyGrants is GET /api/my-account/grants [?appType=firstParty|thirdParty] ->
// {grants: [...]}.
func (s *Server) listMyGrants(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	filter, err := appTypeFilter(r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.checkSessionAccess(r, c, false); err != nil {
		return 0, nil, err
	}
	out, err := s.userGrants(r.Context(), c.User.ID, filter)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// deleteMyGrant is DELETE /api/my-account/grants/:grantId -> 204: the grant's codes,
// opaque access tokens and refresh tokens stop working.
func (s *Server) deleteMyGrant(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error) {
	if err := s.checkSessionAccess(r, c, true); err != nil {
		return 0, nil, err
	}
	if err := s.sessions.DeleteGrant(r.Context(), c.User.ID, p.ByName("grantId")); err != nil {
		return 0, nil, sessionsError(err)
	}
	return http.StatusNoContent, nil, nil
}

// listMyMfa is GET /api/my-account/mfa-verifications: the mfa field ReadOnly or Edit
// (400 account_center.field_not_enabled), the identities scope (401
// auth.unauthorized) -> 200 the factors as the Management API lists them.
func (s *Server) listMyMfa(_ *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	if !c.readable("mfa") {
		return 0, nil, errFieldNotEnabled()
	}
	if !c.has(oidcflow.ScopeIdentities) {
		return 0, nil, errScopeMissing(http.StatusUnauthorized)
	}
	return http.StatusOK, mfaListView(c.User), nil
}

// deleteMyMfa is DELETE /api/my-account/mfa-verifications/:verificationId -> 204: a
// verification record (401), the mfa field Edit (400), the identities scope (401);
// an unknown factor is 400 verification_record.not_found.
func (s *Server) deleteMyMfa(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error) {
	if err := s.requireVerifiedIdentity(r, c); err != nil {
		return 0, nil, err
	}
	if !c.editable("mfa") {
		return 0, nil, errFieldNotEditable()
	}
	if !c.has(oidcflow.ScopeIdentities) {
		return 0, nil, errScopeMissing(http.StatusUnauthorized)
	}
	if err := s.dir.DeleteUserMfaVerification(r.Context(), c.User.ID, p.ByName("verificationId")); err != nil {
		var nf *directory.NotFoundError
		if errors.As(err, &nf) {
			return 0, nil, errVerificationRecordNotFound()
		}
		return 0, nil, mfaError(err)
	}
	return http.StatusNoContent, nil, nil
}

// logtoConfigsJSON is Logto's userLogtoConfigResponseGuard. Latch keeps whether the
// user skipped MFA enrollment (directory.User.MfaSkipped), skipMfaOnSignIn and
// passkeySignIn.skipped; mfa.enabled is unknown (left out, as Logto for users without
// it).
type logtoConfigsJSON struct {
	Mfa struct {
		Enabled         *bool `json:"enabled,omitempty"`
		Skipped         bool  `json:"skipped"`
		SkipMfaOnSignIn bool  `json:"skipMfaOnSignIn"`
	} `json:"mfa"`
	PasskeySignIn struct {
		Skipped bool `json:"skipped"`
	} `json:"passkeySignIn"`
}

func logtoConfigsView(u *directory.User) logtoConfigsJSON {
	var v logtoConfigsJSON
	v.Mfa.Skipped = u.MfaSkipped
	v.Mfa.SkipMfaOnSignIn = u.SkipMfaOnSignIn
	v.PasskeySignIn.Skipped = u.PasskeySignInSkipped
	return v
}

// checkLogtoConfigs: the identities scope (401 auth.unauthorized), then the passkey
// field's control (the mfa field's when passkey is not set): ReadOnly or Edit to read
// (400 account_center.field_not_enabled), Edit to change (field_not_editable).
func checkLogtoConfigs(c accountCaller, edit bool) error {
	if !c.has(oidcflow.ScopeIdentities) {
		return errScopeMissing(http.StatusUnauthorized)
	}
	field := "passkey"
	if _, ok := c.Center.Fields[field]; !ok {
		field = "mfa"
	}
	switch {
	case edit && !c.editable(field):
		return errFieldNotEditable()
	case !edit && !c.readable(field):
		return errFieldNotEnabled()
	}
	return nil
}

// getMyLogtoConfigs is GET /api/my-account/logto-configs.
func (s *Server) getMyLogtoConfigs(_ *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	if err := checkLogtoConfigs(c, false); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, logtoConfigsView(c.User), nil
}

// logtoConfigsBody is Logto's PATCH body {mfa?: {enabled?, skipped?,
// skipMfaOnSignIn?}, passkeySignIn?: {skipped?}}. Latch stores mfa.skipped,
// skipMfaOnSignIn and passkeySignIn.skipped; mfa.enabled set to true (a value it cannot
// keep) is refused rather than silently dropped.
type logtoConfigsBody struct {
	Mfa *struct {
		Enabled         *bool `json:"enabled"`
		Skipped         *bool `json:"skipped"`
		SkipMfaOnSignIn *bool `json:"skipMfaOnSignIn"`
	} `json:"mfa"`
	PasskeySignIn *struct {
		Skipped *bool `json:"skipped"`
	} `json:"passkeySignIn"`
}

// patchMyLogtoConfigs is PATCH /api/my-account/logto-configs -> 200 the configs.
func (s *Server) patchMyLogtoConfigs(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b logtoConfigsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := checkLogtoConfigs(c, true); err != nil {
		return 0, nil, err
	}
	isTrue := func(p *bool) bool { return p != nil && *p }
	if b.Mfa != nil && isTrue(b.Mfa.Enabled) {
		return 0, nil, invalidInput("`mfa.enabled` is not supported")
	}
	u, err := s.applyLogtoConfigs(r.Context(), c.User, b) // mgmt_users.go
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, logtoConfigsView(u), nil
}
