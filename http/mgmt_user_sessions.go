package httpapi

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
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
// The lists come from the account index (see account_index.go); entries whose session
// ended or whose grant was revoked are dropped from it as they are found.

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

// isLoginRequired: the Session grain's answer for an absent or expired session.
func isLoginRequired(err error) bool {
	e, ok := oauth.From(err)
	return err != nil && ok && e.Code == oauth.CodeLoginRequired
}

// errNoActors answers the routes when this node has no grains (Management API tests).
func errNoActors() *APIError {
	return apiErr(http.StatusServiceUnavailable, "oidc.provider_error", "Sessions are not available on this node.")
}

func (s *Server) listUserSessions(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.actors == nil {
		return 0, nil, errNoActors()
	}
	ctx, userID := r.Context(), p.ByName("userId")
	sessions, err := s.actors.AccountSessions(ctx, userID)
	if err != nil {
		return 0, nil, err
	}
	offline, err := s.offlineGrants(ctx, userID)
	if err != nil {
		return 0, nil, err
	}
	out := userSessionsJSON{Sessions: make([]userSessionJSON, 0, len(sessions))}
	for _, ss := range sessions {
		out.Sessions = append(out.Sessions, sessionView(ss.ID, ss.Record, offline))
	}
	return http.StatusOK, out, nil
}

func (s *Server) getUserSession(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.actors == nil {
		return 0, nil, errNoActors()
	}
	ctx, userID, id := r.Context(), p.ByName("userId"), p.ByName("sessionId")
	rec, err := s.userSession(ctx, userID, id)
	if err != nil {
		if ae, ok := err.(*APIError); ok && ae.Code == errSessionOfAnotherAccount().Code {
			err = errOIDCSessionNotFound() // Logto's GET answers the same for both
		}
		return 0, nil, err
	}
	offline, err := s.offlineGrants(ctx, userID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, sessionView(id, rec, offline), nil
}

// deleteUserSession ends the session; with revokeGrantsTarget=all (or firstParty) it
// also revokes the grants of (the first-party) clients signed in through it, as Logto.
// Its clients with a backchannelLogoutUri get a back-channel logout, as for an
// RP-initiated logout (Back-Channel Logout 1.0, 2: the OP tells RPs when the End-User's
// OP session ends); Logto does not send one here.
func (s *Server) deleteUserSession(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.actors == nil {
		return 0, nil, errNoActors()
	}
	policy := revokeNone
	switch r.URL.Query().Get("revokeGrantsTarget") {
	case "":
	case "all":
		policy = revokeAll
	case "firstParty":
		policy = revokeFirstParty
	default:
		return 0, nil, invalidInput("`revokeGrantsTarget` must be `all` or `firstParty`")
	}
	ctx, userID, id := r.Context(), p.ByName("userId"), p.ByName("sessionId")
	if _, err := s.userSession(ctx, userID, id); err != nil {
		return 0, nil, err
	}
	rec, err := s.actors.RevokeSession(ctx, id)
	switch {
	case isLoginRequired(err):
		return http.StatusNoContent, nil, nil // ended meanwhile
	case err != nil:
		return 0, nil, err
	}
	if err := s.sessionEnded(ctx, id, rec, policy); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// userSession reads session id and checks it is userID's.
func (s *Server) userSession(ctx context.Context, userID, id string) (*msg.SessionRecord, error) {
	rec, err := s.actors.PeekSession(ctx, id)
	switch {
	case isLoginRequired(err):
		return nil, errOIDCSessionNotFound()
	case err != nil:
		return nil, err
	case rec.GetAccountId() != userID:
		return nil, errSessionOfAnotherAccount()
	}
	return rec, nil
}

// offlineGrants returns the ids of userID's live grants that hold offline_access (their
// authorizations persist logout).
func (s *Server) offlineGrants(ctx context.Context, userID string) (map[string]bool, error) {
	grants, err := s.actors.AccountGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(grants))
	for _, g := range grants {
		out[g.ID] = slices.Contains(g.Record.GetScopes(), oidcflow.ScopeOfflineAccess)
	}
	return out, nil
}

func sessionView(id string, rec *msg.SessionRecord, offline map[string]bool) userSessionJSON {
	account := rec.GetAccountId()
	v := userSessionJSON{
		Payload: sessionPayloadJSON{
			Exp:            rec.GetExpiresAtMs() / 1000,
			Iat:            rec.GetCreatedAtMs() / 1000,
			JTI:            id,
			UID:            id,
			Kind:           "Session",
			LoginTs:        rec.GetLoginAtMs() / 1000,
			AccountID:      account,
			Amr:            rec.GetAmr(),
			Authorizations: map[string]sessionAuthorizationJSON{},
		},
		AccountID: &account,
		ExpiresAt: rec.GetExpiresAtMs(),
	}
	for _, cl := range rec.GetClients() {
		v.Payload.Authorizations[cl.GetClientId()] = sessionAuthorizationJSON{
			SID: cl.GetSid(), GrantID: cl.GetGrantId(), PersistsLogout: offline[cl.GetGrantId()],
		}
	}
	if cls := rec.GetClients(); len(cls) > 0 {
		first := cls[0].GetClientId() // the application the session was started from
		v.ClientID = &first
	}
	return v
}

func (s *Server) listUserGrants(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.actors == nil {
		return 0, nil, errNoActors()
	}
	appType := r.URL.Query().Get("appType")
	switch appType {
	case "", "firstParty", "thirdParty":
	default:
		return 0, nil, invalidInput("`appType` must be `firstParty` or `thirdParty`")
	}
	grants, err := s.actors.AccountGrants(r.Context(), p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	out := userGrantsJSON{Grants: make([]userGrantJSON, 0, len(grants))}
	for _, g := range grants {
		if appType != "" {
			app, ok := s.dir.Application(g.Record.GetClientId())
			if !ok || app.IsThirdParty != (appType == "thirdParty") {
				continue
			}
		}
		out.Grants = append(out.Grants, s.grantView(g))
	}
	return http.StatusOK, out, nil
}

// deleteUserGrant revokes the grant (its codes, opaque access tokens and refresh
// families) and removes it from the session it was made in, so the client's next
// authorization there starts a new grant (Logto's revokeUserGrantById and
// removeUserSessionAuthorizationByGrantId).
func (s *Server) deleteUserGrant(r *http.Request, p httprouter.Params) (int, any, error) {
	if s.actors == nil {
		return 0, nil, errNoActors()
	}
	ctx, userID, id := r.Context(), p.ByName("userId"), p.ByName("grantId")
	g, err := s.actors.CheckGrant(ctx, id)
	switch {
	case errors.Is(err, oauth.InvalidGrant("")):
		return 0, nil, errGrantNotFound()
	case err != nil:
		return 0, nil, err
	case g.GetAccountId() != userID:
		return 0, nil, errGrantNotFound()
	}
	if err := s.actors.RevokeGrant(ctx, id); err != nil {
		return 0, nil, err
	}
	if err := s.actors.ForgetSessionGrant(ctx, g.GetSessionId(), id); err != nil {
		return 0, nil, err
	}
	if err := s.actors.ForgetAccount(ctx, userID, &msg.AccountForget{GrantIds: []string{id}}); err != nil {
		s.log.Warn("updating the account index failed", "err", err)
	}
	return http.StatusNoContent, nil, nil
}

// grantView splits the grant's scopes as node-oidc-provider's Grant does: the scopes
// defined on each granted API resource under resources[indicator], the rest under
// openid.scope.
func (s *Server) grantView(g actors.AccountGrant) userGrantJSON {
	rec := g.Record
	scopes := rec.GetScopes()
	resources := map[string]string{}
	claimed := map[string]bool{}
	for _, ind := range rec.GetResources() {
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
			Exp: rec.GetExpiresAtMs() / 1000, Iat: rec.GetCreatedAtMs() / 1000, JTI: g.ID, Kind: "Grant",
			ClientID: rec.GetClientId(), AccountID: rec.GetAccountId(),
		},
		ExpiresAt: rec.GetExpiresAtMs(),
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
// Management API answers: every session ends (its clients with a backchannelLogoutUri
// get a back-channel logout), every grant is revoked with its codes and opaque access
// tokens, every refresh family is revoked. Logto revokes the refresh tokens on
// suspension; Latch revokes everything, so the tokens stay dead if the user is later
// restored. New sign-ins are refused by the suspended flag (or the user's absence)
// itself. A failure answers 500 (every step is idempotent: the caller may retry).
func (s *Server) revokeAccount(ctx context.Context, userID string) error {
	if s.actors == nil {
		return nil
	}
	ended, err := s.actors.RevokeAccount(ctx, userID)
	for _, e := range ended {
		// Grants are revoked already; this queues the back-channel logouts.
		err = errors.Join(err, s.sessionEnded(ctx, e.ID, e.Record, revokeNone))
	}
	if err != nil {
		s.log.Error("revoking a suspended or deleted user's sessions and tokens failed", "user", userID, "err", err)
		return apiErr(http.StatusInternalServerError, "oidc.failed_to_revoke_grant", "Failed to revoke the user's sessions and grants; retry the request.")
	}
	return nil
}
