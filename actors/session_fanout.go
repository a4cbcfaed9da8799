package actors

import (
	"errors"
	"slices"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// The Session grain's cross-grain effects (DESIGN.md "The grain contract"): decided here,
// carried by grain-to-grain messages. The Session grain waits on the Grant and Account
// grains it tells, never the other way round, so no grain waits on another in a cycle;
// it waits so that what a logout revoked is refused as soon as the logout is answered,
// and a new sign-in is listed by the Management API as soon as it is answered. A target
// that cannot be reached within the message's budget is told again later (Peers.tell).

// track tells the account index of the session (its current expiry) and, when cl is
// not nil, of the grant of a client just added to it.
func (g *sessionGrain) track(rec *msg.SessionRecord, cl *msg.SessionClient) {
	t := &msg.AccountTrack{Sessions: []*msg.AccountEntry{{
		Id: g.key, ExpiresAtMs: rec.GetExpiresAtMs(), CreatedAtMs: rec.GetCreatedAtMs(),
	}}}
	if cl != nil {
		// The grant's own expiry is the Grant grain's; the index keeps Lifetimes.Grant
		// from now (the account grain's default), which the grant never outlives.
		t.Grants = []*msg.AccountEntry{{Id: cl.GetGrantId(), ClientId: cl.GetClientId(), ParentId: g.key}}
	}
	g.notify(AccountKindName, rec.GetAccountId(), t)
}

// fanOut is what ending the session means for its clients, decided by the grain once
// the session is deleted:
//
//  1. the grants that revoke selects are revoked (GrantRevoke: with their codes, opaque
//     access tokens and refresh families). GRANT_REVOCATION_ONLINE keeps the grants that
//     hold offline_access, whose refresh tokens survive logout as Logto documents
//     (node-oidc-provider drops every grant whose authorization does not persist
//     logout); keep names clients whose grants are kept whatever the policy;
//  2. the account index forgets the session and the revoked grants.
//
// Back-channel logout is not sent from here: its outbox is package outbox, which the
// grains do not reach; the caller queues it from the clients of the ended session.
func (g *sessionGrain) fanOut(rec *msg.SessionRecord, revoke msg.GrantRevocation, keep []string) {
	forget := &msg.AccountForget{SessionIds: []string{g.key}}
	if revoke != msg.GrantRevocation_GRANT_REVOCATION_NONE {
		var targets []string
		for _, cl := range rec.GetClients() {
			if id := cl.GetGrantId(); id != "" && !slices.Contains(keep, cl.GetClientId()) && !slices.Contains(targets, id) {
				targets = append(targets, id)
			}
		}
		revoked := make([]bool, len(targets))
		var wg sync.WaitGroup
		for i, id := range targets {
			wg.Go(func() {
				revoked[i] = g.revokeGrant(id, revoke == msg.GrantRevocation_GRANT_REVOCATION_ONLINE)
			})
		}
		wg.Wait()
		for i, id := range targets {
			if revoked[i] {
				forget.GrantIds = append(forget.GrantIds, id)
			}
		}
	}
	g.notify(AccountKindName, rec.GetAccountId(), forget)
}

// revokeGrant revokes grant id, unless keepOffline and the grant holds offline_access;
// it reports whether the grant is gone (revoked now, or already revoked or expired).
func (g *sessionGrain) revokeGrant(id string, keepOffline bool) bool {
	if keepOffline {
		ctx, cancel := g.budgetCtx()
		gr, err := peerCall[*msg.GrantRecord](ctx, g.env.peers, GrantKindName, id, &msg.GrantCheck{})
		cancel()
		switch {
		case errors.Is(err, oauth.InvalidGrant("")):
			return true // revoked or expired already
		case err != nil:
			// Whether it persists logout is unknown: it is kept rather than cutting off
			// an offline client; its tokens still end with the grant.
			g.logger.Error("logout: checking a grant of the session failed; it is kept", "grant", id, "error", err)
			return false
		case slices.Contains(gr.GetScopes(), oidcflow.ScopeOfflineAccess):
			return false // offline_access survives logout
		}
	}
	g.notify(GrantKindName, id, &msg.GrantRevoke{})
	return true
}

// notify sends m to kind/key and waits for its answer within the message's budget; a target it
// cannot reach is told again later, retrying (Peers.tell). A decision of the target (a
// Failure) is logged.
func (g *sessionGrain) notify(kind, key string, m proto.Message) {
	if key == "" {
		return
	}
	ctx, cancel := g.budgetCtx()
	_, err := peerCall[*msg.Ack](ctx, g.env.peers, kind, key, m)
	cancel()
	var oe *oauth.Error
	switch {
	case err == nil:
	case errors.As(err, &oe):
		g.logger.Warn("peer grain refused message", "to", kind+"/"+key, "message", proto.MessageName(m), "error", err)
	default:
		g.env.peers.tell(g.logger, kind, key, m)
	}
}
