package actors

import (
	"context"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/op"
)

var _ op.ExchangeGrants = (*Tokens)(nil)

// IssueExchangeAccessToken stores the opaque access token of a token exchange (RFC
// 8693) in a new grant of its own, tracked in the account's index: GrantEnsure creates the grant (expiring with the
// token, so it outlives it by nothing), then GrantCheck stores the token, both on the
// one grain x.GrantID names. op drew the grant id and the secret; only the secret's
// hash is stored.
func (t *Tokens) IssueExchangeAccessToken(ctx context.Context, x op.ExchangeAccessToken) (op.AccessTokenIssued, error) {
	// The account index first: it is a hint (an entry whose grant never came to be is
	// pruned when listed), and a grant it does not name would escape the user's
	// grant revocation.
	if err := t.c.TrackAccount(ctx, x.AccountID, &msg.AccountTrack{Grants: []*msg.AccountEntry{{
		Id: x.GrantID, ExpiresAtMs: ms(x.ExpiresAt), CreatedAtMs: ms(x.IssuedAt), ClientId: x.ClientID,
	}}}); err != nil {
		return op.AccessTokenIssued{}, err
	}
	if _, err := t.c.EnsureGrant(ctx, x.GrantID, &msg.GrantEnsure{
		AccountId: x.AccountID, ClientId: x.ClientID, Scopes: x.Scopes, ExpiresAtMs: ms(x.ExpiresAt),
	}); err != nil {
		return op.AccessTokenIssued{}, err
	}
	at := &msg.AccessTokenRecord{Hash: HashSecret(x.Secret), Scopes: x.Scopes, ExpiresAtMs: ms(x.ExpiresAt)}
	if _, err := Call[*msg.GrantRecord](ctx, t.c.node, GrantKindName, x.GrantID, &msg.GrantCheck{AccessToken: at}); err != nil {
		return op.AccessTokenIssued{}, err
	}
	return issuedAccessToken(x.GrantID, x.Secret, at), nil
}
