package httpapi

import (
	"context"

	"github.com/latchid/latch/actors"
)

// trackFamily records a new refresh family in the account index (kind "account"), so
// the Management API can list it and suspension or deletion can revoke it. Sessions and
// grants are told to the index by the Session grain that records them; this last
// caller (the code exchange, oidc_token_code.go) goes once the Grant grain creates the
// family and tells the index itself.
//
// A failure is logged, never returned: the index is a hint.
func (s *Server) trackFamily(ctx context.Context, accountID, familyID, grantID, clientID string, grantExpiresAtMs int64) {
	if err := s.actors.TrackFamily(ctx, accountID, familyID, grantID, clientID, grantExpiresAtMs); err != nil {
		s.log.Warn("updating the account index failed", "account", accountID, "err", err)
	}
}

// newSecret is a fresh token secret, for oidc_token_user.go until its flow moves to op.
func (s *Server) newSecret() (string, error) {
	_, secret, err := actors.NewToken(s.rand)
	return secret, err
}
