package op

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Sessions is a user's sessions and grants as the Management API lists and revokes
// them (Logto's routes/admin-user/session.ts and grants.ts), and what suspending or
// deleting a user does to them. Safe for concurrent use.
type Sessions struct {
	Issuer    string
	Directory *directory.Directory
	Accounts  AccountGrains
	Grants    GrantAdmin
	// Logouts queues back-channel logouts; nil disables them (logged).
	Logouts LogoutQueue
	Logger  *slog.Logger
}

// UserGrant is a live grant: what one account granted one client in one browser session.
type UserGrant struct {
	ID        string
	AccountID string
	ClientID  string
	SessionID string
	Scopes    []string
	Resources []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// AccountGrains is the account index (kind "account") and the administrative Session
// requests (no secret is presented).
type AccountGrains interface {
	// AccountSessions returns the account's live sessions (without secrets).
	AccountSessions(ctx context.Context, accountID string) ([]Session, error)
	// AccountGrants returns the account's live grants.
	AccountGrants(ctx context.Context, accountID string) ([]UserGrant, error)
	// PeekSession reads a live session; absent or expired is login_required.
	PeekSession(ctx context.Context, id string) (*Session, error)
	// RevokeSession ends a session as SessionGrains.End does, without its secret.
	RevokeSession(ctx context.Context, id string, revoke GrantRevocation, keepClients []string) (*Session, error)
	// RevokeAccount ends every session of the account and revokes every grant and
	// refresh family it holds; it returns the sessions it ended.
	RevokeAccount(ctx context.Context, accountID string) ([]Session, error)
}

// GrantAdmin is the Grant grain as the Management API uses it.
type GrantAdmin interface {
	// CheckGrant returns the live grant; revoked, expired or absent is invalid_grant.
	CheckGrant(ctx context.Context, id string) (*UserGrant, error)
	// RevokeGrant revokes the grant with its codes, tokens and refresh families.
	RevokeGrant(ctx context.Context, id string) error
	// ForgetSessionGrant drops the grant from its session (which tells the account
	// index), so the client's next authorization there starts a new grant.
	ForgetSessionGrant(ctx context.Context, sessionID, grantID string) error
}

// Errors of the Management API's session and grant routes (Logto's
// oidc.session_not_found, oidc.invalid_session_account_id, oidc.invalid_grant).
var (
	ErrSessionNotFound         = errors.New("op: session not found")
	ErrSessionOfAnotherAccount = errors.New("op: the session does not belong to this user")
	ErrGrantNotFound           = errors.New("op: grant not found")
)

// SessionGrantTarget is the Management API's revokeGrantsTarget.
type SessionGrantTarget int

const (
	// TargetNone keeps every grant.
	TargetNone SessionGrantTarget = iota
	// TargetFirstParty revokes the grants of first-party clients.
	TargetFirstParty
	// TargetAll revokes every grant.
	TargetAll
)

// AppFilter is the Management API's appType filter of a user's grants.
type AppFilter int

const (
	AnyApp AppFilter = iota
	FirstPartyApps
	ThirdPartyApps
)

func (s *Sessions) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// ListSessions returns userID's live sessions, each client marked PersistsLogout when
// its grant holds offline_access. Like Logto, an unknown user simply has none.
func (s *Sessions) ListSessions(ctx context.Context, userID string) ([]Session, error) {
	sessions, err := s.Accounts.AccountSessions(ctx, userID)
	if err != nil {
		return nil, err
	}
	offline, err := s.offlineGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range sessions {
		markOffline(&sessions[i], offline)
	}
	return sessions, nil
}

// GetSession returns userID's session id: ErrSessionNotFound when it is absent, ended or
// another user's (Logto's GET answers the same for both).
func (s *Sessions) GetSession(ctx context.Context, userID, id string) (*Session, error) {
	sess, err := s.userSession(ctx, userID, id)
	if errors.Is(err, ErrSessionOfAnotherAccount) {
		err = ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	offline, err := s.offlineGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	markOffline(sess, offline)
	return sess, nil
}

// DeleteSession ends userID's session id; the Session grain revokes the grants target
// selects (first-party: every client but the third-party ones). Its clients with a
// backchannelLogoutUri get a back-channel logout, as for an RP-initiated logout
// (Back-Channel Logout 1.0, 2: the OP tells RPs when the End-User's OP session ends);
// Logto does not send one here. A session that ended meanwhile is no error.
func (s *Sessions) DeleteSession(ctx context.Context, userID, id string, target SessionGrantTarget) error {
	sess, err := s.userSession(ctx, userID, id)
	if err != nil {
		return err
	}
	revoke, keep := RevokeNone, []string(nil)
	switch target {
	case TargetAll:
		revoke = RevokeAll
	case TargetFirstParty:
		revoke = RevokeAll
		for _, cl := range sess.Clients {
			if app, ok := s.Directory.Application(cl.ClientID); ok && app.IsThirdParty {
				keep = append(keep, cl.ClientID)
			}
		}
	}
	ended, err := s.Accounts.RevokeSession(ctx, id, revoke, keep)
	switch {
	case isLoginRequired(err):
		return nil // ended meanwhile
	case err != nil:
		return err
	}
	return backchannelLogout(ctx, s.logouts(), ended)
}

// userSession reads session id and checks it is userID's.
func (s *Sessions) userSession(ctx context.Context, userID, id string) (*Session, error) {
	sess, err := s.Accounts.PeekSession(ctx, id)
	switch {
	case isLoginRequired(err):
		return nil, ErrSessionNotFound
	case err != nil:
		return nil, err
	case sess.AccountID != userID:
		return nil, ErrSessionOfAnotherAccount
	}
	return sess, nil
}

// ListGrants returns userID's live grants, filtered by the kind of their application.
func (s *Sessions) ListGrants(ctx context.Context, userID string, filter AppFilter) ([]UserGrant, error) {
	grants, err := s.Accounts.AccountGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	if filter == AnyApp {
		return grants, nil
	}
	return slices.DeleteFunc(grants, func(g UserGrant) bool {
		app, ok := s.Directory.Application(g.ClientID)
		return !ok || app.IsThirdParty != (filter == ThirdPartyApps)
	}), nil
}

// DeleteGrant revokes userID's grant id (its codes, opaque access tokens and refresh
// families) and removes it from the session it was made in, so the client's next
// authorization there starts a new grant (Logto's revokeUserGrantById and
// removeUserSessionAuthorizationByGrantId). ErrGrantNotFound when it is not a live
// grant of userID.
func (s *Sessions) DeleteGrant(ctx context.Context, userID, id string) error {
	g, err := s.Grants.CheckGrant(ctx, id)
	switch {
	case errors.Is(err, oauth.InvalidGrant("")):
		return ErrGrantNotFound
	case err != nil:
		return err
	case g.AccountID != userID:
		return ErrGrantNotFound
	}
	if err := s.Grants.RevokeGrant(ctx, id); err != nil {
		return err
	}
	if app, ok := s.Directory.Application(g.ClientID); ok && app.IsThirdParty {
		// The consent goes with the grant, as in node-oidc-provider, where the
		// consent is the Grant: the next authorization shows the consent page.
		if err := s.Directory.RevokeUserConsent(ctx, userID, g.ClientID); err != nil {
			return err
		}
	}
	return s.Grants.ForgetSessionGrant(ctx, g.SessionID, id)
}

// RevokeAccount is what suspending or deleting a user does to what they hold: every
// session ends (its clients with a backchannelLogoutUri get a back-channel logout),
// every grant is revoked with its codes and opaque access tokens, every refresh family
// is revoked. Logto revokes the refresh tokens on suspension; Latch revokes everything,
// so the tokens stay dead if the user is later restored. Every step is idempotent: on
// an error the caller may retry.
func (s *Sessions) RevokeAccount(ctx context.Context, userID string) error {
	ended, err := s.Accounts.RevokeAccount(ctx, userID)
	for i := range ended {
		err = errors.Join(err, backchannelLogout(ctx, s.logouts(), &ended[i]))
	}
	return err
}

// offlineGrants returns the ids of userID's live grants that hold offline_access (their
// authorizations persist logout).
func (s *Sessions) offlineGrants(ctx context.Context, userID string) (map[string]bool, error) {
	grants, err := s.Accounts.AccountGrants(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(grants))
	for _, g := range grants {
		out[g.ID] = slices.Contains(g.Scopes, oidcflow.ScopeOfflineAccess)
	}
	return out, nil
}

func markOffline(sess *Session, offline map[string]bool) {
	for i := range sess.Clients {
		sess.Clients[i].PersistsLogout = offline[sess.Clients[i].GrantID]
	}
}

func (s *Sessions) logouts() logoutSender {
	return logoutSender{dir: s.Directory, issuer: s.Issuer, queue: s.Logouts, log: s.log()}
}
