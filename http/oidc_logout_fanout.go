package httpapi

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/outbox"
)

// LogoutQueue takes back-channel logouts for delivery; *outbox.Worker implements it.
// Enqueue must return only once the logouts are durable, and must not wait for their
// delivery.
type LogoutQueue interface {
	Enqueue(ctx context.Context, logouts ...outbox.Logout) error
}

var _ LogoutQueue = (*outbox.Worker)(nil)

// fanoutTimeout bounds what sessionEnded does after a session ended.
const fanoutTimeout = 10 * time.Second

// grantRevocation says which grants of an ended session's clients are revoked.
type grantRevocation int

const (
	// revokeNone keeps every grant (Logto's DELETE session without revokeGrantsTarget).
	revokeNone grantRevocation = iota
	// revokeOnline revokes the grants without offline_access: what an RP-initiated
	// logout does in Logto (node-oidc-provider's end_session drops every grant whose
	// authorization does not persist logout, i.e. lacks offline_access).
	revokeOnline
	// revokeFirstParty revokes the grants of first-party clients.
	revokeFirstParty
	// revokeAll revokes every grant.
	revokeAll
)

// sessionEnded does what ending the OP session id (whose last state was rec) means for
// its clients, before the caller answers:
//
//  1. the grants the policy selects are revoked, with their codes, opaque access tokens
//     and refresh families (synchronously: a token of a revoked grant is refused as soon
//     as the logout is answered);
//  2. every client with a backchannelLogoutUri gets a back-channel logout (OIDC
//     Back-Channel Logout 1.0, 2.5), queued durably in the outbox; delivery happens
//     later and never holds up the caller;
//  3. the account index forgets the session and the revoked grants.
//
// Failures are logged and returned, joined; the session is gone whatever happens.
func (s *Server) sessionEnded(ctx context.Context, id string, rec *msg.SessionRecord, policy grantRevocation) error {
	if rec == nil {
		return nil
	}
	// The session has ended: finish what follows even if the browser goes away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fanoutTimeout)
	defer cancel()
	clients := rec.GetClients()
	revoked := make([]string, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, cl := range clients {
		if cl.GetGrantId() == "" || policy == revokeNone {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.revokeSessionGrant(ctx, cl, policy)
			if ok {
				revoked[i] = cl.GetGrantId()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	err := errors.Join(errs...)
	if err != nil {
		s.log.Error("logout: revoking the session's grants failed", "session", id, "err", err)
	}
	if qerr := s.backchannelLogout(ctx, rec.GetAccountId(), clients); qerr != nil {
		s.log.Error("logout: queueing back-channel logouts failed", "session", id, "err", qerr)
		err = errors.Join(err, qerr)
	}
	forget := &msg.AccountForget{SessionIds: []string{id}}
	for _, g := range revoked {
		if g != "" {
			forget.GrantIds = append(forget.GrantIds, g)
		}
	}
	if ferr := s.actors.ForgetAccount(ctx, rec.GetAccountId(), forget); ferr != nil {
		s.log.Warn("logout: updating the account index failed", "err", ferr)
	}
	return err
}

// revokeSessionGrant revokes cl's grant when policy selects it; it reports whether it
// did.
func (s *Server) revokeSessionGrant(ctx context.Context, cl *msg.SessionClient, policy grantRevocation) (bool, error) {
	switch policy {
	case revokeOnline:
		g, err := s.actors.CheckGrant(ctx, cl.GetGrantId())
		switch {
		case errors.Is(err, oauth.InvalidGrant("")):
			return false, nil // revoked or expired already
		case err != nil:
			return false, err
		case slices.Contains(g.GetScopes(), oidcflow.ScopeOfflineAccess):
			return false, nil // offline_access survives logout
		}
	case revokeFirstParty:
		if app, ok := s.dir.Application(cl.GetClientId()); ok && app.IsThirdParty {
			return false, nil
		}
	}
	if err := s.actors.RevokeGrant(ctx, cl.GetGrantId()); err != nil {
		return false, err
	}
	return true, nil
}

// backchannelLogout queues a logout token for every client that registered a
// backchannel_logout_uri (Back-Channel Logout 1.0, 2.2 and 2.5). The token carries sub
// and the sid the client got in its ID token: 2.4 makes sid OPTIONAL unless the client
// registered backchannel_logout_session_required, in which case it is REQUIRED; Latch
// always has one per client and always sends it (node-oidc-provider sends it only when
// required), so a client may key its logout on either.
func (s *Server) backchannelLogout(ctx context.Context, accountID string, clients []*msg.SessionClient) error {
	var logouts []outbox.Logout
	for _, cl := range clients {
		app, ok := s.dir.Application(cl.GetClientId())
		if !ok || app.OIDCClientMetadata.BackchannelLogoutURI == "" {
			continue
		}
		logouts = append(logouts, backchannelLogoutFor(s.issuer, app, accountID, cl.GetSid()))
	}
	if len(logouts) == 0 {
		return nil
	}
	if s.logouts == nil {
		s.log.Warn("back-channel logout is not configured on this node; skipping", "clients", len(logouts))
		return nil
	}
	return s.logouts.Enqueue(ctx, logouts...)
}

func backchannelLogoutFor(issuer string, app *directory.Application, accountID, sid string) outbox.Logout {
	return outbox.Logout{
		ClientID: app.ID,
		URI:      app.OIDCClientMetadata.BackchannelLogoutURI,
		Issuer:   issuer,
		Subject:  accountID,
		SID:      sid,
	}
}
