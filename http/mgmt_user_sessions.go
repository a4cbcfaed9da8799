package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
)

// A user's sessions and grants in the Management API, in Logto's shapes (core
// routes/admin-user/session.ts and grants.ts; schemas types/user-sessions.ts):
//
//	GET    /api/users/:userId/sessions                  {"sessions": [session...]}
//	GET    /api/users/:userId/sessions/:sessionId       session
//	DELETE /api/users/:userId/sessions/:sessionId       ?revokeGrantsTarget=all|firstParty -> 204
//	GET    /api/users/:userId/grants                    ?appType=firstParty|thirdParty -> {"grants": [grant...]}
//	DELETE /api/users/:userId/grants/:grantId           204
//
// A session is node-oidc-provider's Session payload (exp, iat, jti, uid, kind,
// loginTs, accountId, authorizations by client id with sid, grantId and persistsLogout)
// plus Logto's extension (lastSubmission, clientId, accountId) and expiresAt in ms. A
// grant is {id, payload: {exp, iat, jti, kind, clientId, accountId, openid: {scope},
// resources: {indicator: scope}}, expiresAt}. Like Logto, the lists do not check that
// the user exists; an unknown user simply has none.
//
// The routes decode, call op.Sessions and encode; the lists come from the account index,
// whose entries for ended sessions and revoked grants are dropped as they are found.

type userSessionsJSON struct {
	Sessions []userSessionJSON `json:"sessions"`
}

type userSessionJSON struct {
	Payload        sessionPayloadJSON `json:"payload"`
	LastSubmission any                `json:"lastSubmission"`
	ClientID       *string            `json:"clientId"`
	AccountID      *string            `json:"accountId"`
	ExpiresAt      int64              `json:"expiresAt"`
}

type sessionPayloadJSON struct {
	Exp            int64                               `json:"exp"`
	Iat            int64                               `json:"iat"`
	JTI            string                              `json:"jti"`
	UID            string                              `json:"uid"`
	Kind           string                              `json:"kind"`
	LoginTs        int64                               `json:"loginTs"`
	AccountID      string                              `json:"accountId"`
	Amr            []string                            `json:"amr,omitempty"`
	Authorizations map[string]sessionAuthorizationJSON `json:"authorizations"`
}

type sessionAuthorizationJSON struct {
	SID            string `json:"sid"`
	GrantID        string `json:"grantId"`
	PersistsLogout bool   `json:"persistsLogout,omitempty"`
}

type userGrantsJSON struct {
	Grants []userGrantJSON `json:"grants"`
}

type userGrantJSON struct {
	ID        string           `json:"id"`
	Payload   grantPayloadJSON `json:"payload"`
	ExpiresAt int64            `json:"expiresAt"`
}

type grantPayloadJSON struct {
	Exp       int64             `json:"exp"`
	Iat       int64             `json:"iat"`
	JTI       string            `json:"jti"`
	Kind      string            `json:"kind"`
	ClientID  string            `json:"clientId"`
	AccountID string            `json:"accountId"`
	OpenID    *grantOpenIDJSON  `json:"openid,omitempty"`
	Resources map[string]string `json:"resources,omitempty"`
}

type grantOpenIDJSON struct {
	Scope string `json:"scope"`
}

// Logto's error codes of these routes.
func errOIDCSessionNotFound() *APIError {
	return apiErr(http.StatusNotFound, "oidc.session_not_found", "Session not found.")
}

func errSessionOfAnotherAccount() *APIError {
	return apiErr(http.StatusNotFound, "oidc.invalid_session_account_id", "The session does not belong to this user.")
}

func errGrantNotFound() *APIError {
	return apiErr(http.StatusNotFound, "oidc.invalid_grant", "Grant not found.")
}

// errNoActors answers the routes when this node has no grains (Management API tests).
func errNoActors() *APIError {
	return apiErr(http.StatusServiceUnavailable, "oidc.provider_error", "Sessions are not available on this node.")
}

// sessionsError maps op.Sessions' errors to Logto's.
func sessionsError(err error) error {
	switch {
	case errors.Is(err, op.ErrSessionNotFound):
		return errOIDCSessionNotFound()
	case errors.Is(err, op.ErrSessionOfAnotherAccount):
		return errSessionOfAnotherAccount()
	case errors.Is(err, op.ErrGrantNotFound):
		return errGrantNotFound()
	}
	return err
}

// revokeGrantsTarget reads DELETE .../sessions/:sessionId's ?revokeGrantsTarget
// (none, all or firstParty), for the Management and the Account API alike.
func revokeGrantsTarget(r *http.Request) (op.SessionGrantTarget, error) {
	switch r.URL.Query().Get("revokeGrantsTarget") {
	case "":
		return op.TargetNone, nil
	case "all":
		return op.TargetAll, nil
	case "firstParty":
		return op.TargetFirstParty, nil
	}
	return op.TargetNone, invalidInput("`revokeGrantsTarget` must be `all` or `firstParty`")
}

// appTypeFilter reads GET .../grants' ?appType (any, firstParty or thirdParty).
func appTypeFilter(r *http.Request) (op.AppFilter, error) {
	switch r.URL.Query().Get("appType") {
	case "":
		return op.AnyApp, nil
	case "firstParty":
		return op.FirstPartyApps, nil
	case "thirdParty":
		return op.ThirdPartyApps, nil
	}
	return op.AnyApp, invalidInput("`appType` must be `firstParty` or `thirdParty`")
}

// userSessions is the user's live sessions in Logto's {sessions: [...]} shape.
func (s *Server) userSessions(ctx context.Context, userID string) (userSessionsJSON, error) {
	sessions, err := s.sessions.ListSessions(ctx, userID)
	if err != nil {
		return userSessionsJSON{}, sessionsError(err)
	}
	out := userSessionsJSON{Sessions: make([]userSessionJSON, 0, len(sessions))}
	for i := range sessions {
		out.Sessions = append(out.Sessions, sessionView(&sessions[i]))
	}
	return out, nil
}

// userGrants is the user's grants to the apps filter selects, in Logto's
// {grants: [...]} shape.
func (s *Server) userGrants(ctx context.Context, userID string, filter op.AppFilter) (userGrantsJSON, error) {
	grants, err := s.sessions.ListGrants(ctx, userID, filter)
	if err != nil {
		return userGrantsJSON{}, sessionsError(err)
	}
	out := userGrantsJSON{Grants: make([]userGrantJSON, 0, len(grants))}
	for i := range grants {
		out.Grants = append(out.Grants, s.grantView(&grants[i]))
	}
	return out, nil
}

func (s *Server) listUserSessions(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.sessions == nil {
		return 0, nil, errNoActors()
	}
	out, err := s.userSessions(r.Context(), p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

func (s *Server) getUserSession(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.sessions == nil {
		return 0, nil, errNoActors()
	}
	sess, err := s.sessions.GetSession(r.Context(), p.ByName("userId"), p.ByName("sessionId"))
	if err != nil {
		return 0, nil, sessionsError(err)
	}
	return http.StatusOK, sessionView(sess), nil
}

// deleteUserSession ends the session; with revokeGrantsTarget=all (or firstParty) it
// also revokes the grants of (the first-party) clients signed in through it, as Logto.
func (s *Server) deleteUserSession(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.sessions == nil {
		return 0, nil, errNoActors()
	}
	target, err := revokeGrantsTarget(r)
	if err != nil {
		return 0, nil, err
	}
	if err := s.sessions.DeleteSession(r.Context(), p.ByName("userId"), p.ByName("sessionId"), target); err != nil {
		return 0, nil, sessionsError(err)
	}
	return http.StatusNoContent, nil, nil
}

func sessionView(sess *op.Session) userSessionJSON {
	account := sess.AccountID
	v := userSessionJSON{
		Payload: sessionPayloadJSON{
			Exp:            sess.ExpiresAt.Unix(),
			Iat:            sess.CreatedAt.Unix(),
			JTI:            sess.ID,
			UID:            sess.ID,
			Kind:           "Session",
			LoginTs:        sess.LoginAt.Unix(),
			AccountID:      account,
			Amr:            sess.AMR,
			Authorizations: map[string]sessionAuthorizationJSON{},
		},
		AccountID: &account,
		ExpiresAt: sess.ExpiresAt.UnixMilli(),
	}
	for _, cl := range sess.Clients {
		v.Payload.Authorizations[cl.ClientID] = sessionAuthorizationJSON{
			SID: cl.SID, GrantID: cl.GrantID, PersistsLogout: cl.PersistsLogout,
		}
	}
	if len(sess.Clients) > 0 {
		first := sess.Clients[0].ClientID // the application the session was started from
		v.ClientID = &first
	}
	return v
}

func (s *Server) listUserGrants(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.sessions == nil {
		return 0, nil, errNoActors()
	}
	filter, err := appTypeFilter(r)
	if err != nil {
		return 0, nil, err
	}
	out, err := s.userGrants(r.Context(), p.ByName("userId"), filter)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, out, nil
}

// deleteUserGrant revokes the grant (its codes, opaque access tokens and refresh
// families) and removes it from the session it was made in.
func (s *Server) deleteUserGrant(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.sessions == nil {
		return 0, nil, errNoActors()
	}
	if err := s.sessions.DeleteGrant(r.Context(), p.ByName("userId"), p.ByName("grantId")); err != nil {
		return 0, nil, sessionsError(err)
	}
	return http.StatusNoContent, nil, nil
}

// grantView splits the grant's scopes as node-oidc-provider's Grant does: the scopes
// defined on each granted API resource under resources[indicator], the rest under
// openid.scope.
func (s *Server) grantView(g *op.UserGrant) userGrantJSON {
	scopes := g.Scopes
	resources := map[string]string{}
	claimed := map[string]bool{}
	for _, ind := range g.Resources {
		res, ok := s.dir.ResourceByIndicator(ind)
		if !ok {
			continue
		}
		defined, _ := s.dir.ResourceScopes(res.ID)
		var granted []string
		for _, sc := range defined {
			if slices.Contains(scopes, sc.Name) {
				granted = append(granted, sc.Name)
				claimed[sc.Name] = true
			}
		}
		slices.Sort(granted)
		resources[ind] = oidcflow.FormatScope(granted)
	}
	var openid []string
	for _, sc := range scopes {
		if !claimed[sc] {
			openid = append(openid, sc)
		}
	}
	v := userGrantJSON{
		ID: g.ID,
		Payload: grantPayloadJSON{
			Exp: g.ExpiresAt.Unix(), Iat: g.CreatedAt.Unix(), JTI: g.ID, Kind: "Grant",
			ClientID: g.ClientID, AccountID: g.AccountID,
		},
		ExpiresAt: g.ExpiresAt.UnixMilli(),
	}
	if len(openid) > 0 {
		v.Payload.OpenID = &grantOpenIDJSON{Scope: oidcflow.FormatScope(openid)}
	}
	if len(resources) > 0 {
		v.Payload.Resources = resources
	}
	return v
}

// revokeAccount is what suspending or deleting a user does to what they hold, before the
// Management API answers (op.Sessions.RevokeAccount). A failure answers 500 (every step
// is idempotent: the caller may retry).
func (s *Server) revokeAccount(ctx context.Context, userID string) error {
	if s.sessions == nil {
		return nil
	}
	if err := s.sessions.RevokeAccount(ctx, userID); err != nil {
		s.log.Error("revoking a suspended or deleted user's sessions and tokens failed", "user", userID, "err", err)
		return apiErr(http.StatusInternalServerError, "oidc.failed_to_revoke_grant", "Failed to revoke the user's sessions and grants; retry the request.")
	}
	return nil
}
