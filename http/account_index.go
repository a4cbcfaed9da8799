package httpapi

import (
	"context"
	"time"

	"github.com/latchid/latch/actors/msg"
)

// The account index (actors' kind "account") learns of sessions, grants and refresh
// families here, as the browser flow and the code exchange create them, so the
// Management API can list them and suspension or deletion can revoke them all.
//
// Tracking failures are logged, never returned: the index is a hint. Whatever it
// misses, a suspended or deleted account is still refused wherever its session or its
// tokens are used (liveSession, activeUser).

// trackGrant records a new grant of sess and the session itself (whose expiry
// AddSessionClient has just extended).
func (s *Server) trackGrant(ctx context.Context, sess *browserSession, grantID, clientID string, now time.Time) {
	s.trackAccount(ctx, sess.rec.GetAccountId(), &msg.AccountTrack{
		Sessions: []*msg.AccountEntry{{
			Id: sess.id, ExpiresAtMs: sess.rec.GetExpiresAtMs(), CreatedAtMs: sess.rec.GetCreatedAtMs(),
		}},
		Grants: []*msg.AccountEntry{{
			Id: grantID, ExpiresAtMs: now.Add(grantTTL).UnixMilli(), CreatedAtMs: now.UnixMilli(),
			ClientId: clientID, ParentId: sess.id,
		}},
	})
}

// trackFamily records a new refresh family, bounded by its grant's expiry.
func (s *Server) trackFamily(ctx context.Context, accountID, familyID, grantID, clientID string, grantExpiresAtMs int64) {
	s.trackAccount(ctx, accountID, &msg.AccountTrack{Families: []*msg.AccountEntry{{
		Id: familyID, ExpiresAtMs: grantExpiresAtMs, CreatedAtMs: s.now().UnixMilli(),
		ClientId: clientID, ParentId: grantID,
	}}})
}

func (s *Server) trackAccount(ctx context.Context, accountID string, t *msg.AccountTrack) {
	if err := s.actors.TrackAccount(ctx, accountID, t); err != nil {
		s.log.Warn("updating the account index failed", "account", accountID, "err", err)
	}
}
