package actors

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// Tokens is the token side of the grains as op sees them: it implements op's Grants,
// AccessTokens and RefreshFamilies over a Client. The proto conversions between op's
// domain types and the grains' messages live here, and only here. Each method is one
// grain call, to the grain the token names ("<grain key>.<secret>"). (A type of its own
// rather than Client's methods: Client keeps its key-and-secret API for the grains'
// tests and the Management API.)
type Tokens struct {
	c *Client
}

// NewTokens wraps c.
func NewTokens(c *Client) *Tokens { return &Tokens{c: c} }

var (
	_ op.Grants          = (*Tokens)(nil)
	_ op.AccessTokens    = (*Tokens)(nil)
	_ op.RefreshFamilies = (*Tokens)(nil)
)

// ExchangeCode sends the whole code exchange to the code's grant (GrantExchangeCode).
func (t *Tokens) ExchangeCode(ctx context.Context, x op.CodeExchange) (op.CodeExchanged, error) {
	grantID, secret, ok := SplitToken(x.Code)
	if !ok {
		return op.CodeExchanged{}, oauth.InvalidGrant("invalid authorization code")
	}
	m := &msg.GrantExchangeCode{
		CodeSecret: secret, ClientId: x.ClientID, RedirectUri: x.RedirectURI, CodeVerifier: x.CodeVerifier,
		Resource: x.Resource,
		// One id per token request, the same on each send of it (see
		// CodeRecord.sealed_exchange): a re-sent exchange is not a replay.
		Attempt: rand.Text(),
	}
	if r := x.Refresh; r != nil {
		m.RefreshAllowed, m.RefreshAlways, m.AppType = true, r.Always, r.AppType
		m.RefreshTtlSeconds, m.RefreshRotate = int64(r.TTL/time.Second), r.Rotate
	}
	got, err := Call[*msg.CodeExchanged](ctx, t.c.node, GrantKindName, grantID, m)
	if err != nil {
		return op.CodeExchanged{}, err
	}
	code, grant := got.GetCode(), got.GetGrant()
	out := op.CodeExchanged{
		GrantID: grantID, AccountID: grant.GetAccountId(),
		Scopes: code.GetScopes(), Resources: code.GetResources(),
		Nonce: code.GetNonce(), Sid: code.GetSid(), AuthTime: code.GetAuthTime(),
		AMR: code.GetAmr(), FamilyID: got.GetFamilyId(),
	}
	if got.GetRefreshSecret() != "" {
		out.RefreshToken = got.GetFamilyId() + "." + got.GetRefreshSecret()
	}
	if got.GetAccessTokenSecret() != "" {
		out.AccessToken = issuedAccessToken(grantID, got.GetAccessTokenSecret(), got.GetAccessToken())
	}
	return out, nil
}

// issuedAccessToken is a new opaque access token of grantID as op sees it.
func issuedAccessToken(grantID, secret string, at *msg.AccessTokenRecord) op.AccessTokenIssued {
	return op.AccessTokenIssued{
		Token: grantID + "." + secret, Scopes: at.GetScopes(), ExpiresAt: msTime(at.GetExpiresAtMs()),
	}
}

// CheckGrant is Client.CheckGrant in op's terms (the grain decides by its own clock: now is unused).
func (t *Tokens) CheckGrant(ctx context.Context, grantID string) (op.Grant, error) {
	g, err := t.c.CheckGrant(ctx, grantID)
	if err != nil {
		return op.Grant{}, err
	}
	return grantOf(grantID, g), nil
}

func grantOf(id string, g *msg.GrantRecord) op.Grant {
	return op.Grant{
		ID: id, AccountID: g.GetAccountId(), ClientID: g.GetClientId(), Scopes: g.GetScopes(),
		ExpiresAt: msTime(g.GetExpiresAtMs()),
	}
}

// LookupAccessToken finds a live opaque access token. A token that cannot be one Latch
// issued is invalid_token without a grain call.
func (t *Tokens) LookupAccessToken(ctx context.Context, token string) (op.AccessToken, error) {
	grantID, secret, ok := SplitIssuedToken(token)
	if !ok {
		return op.AccessToken{}, oauth.InvalidToken("access token is invalid or expired")
	}
	info, err := t.c.LookupAccessToken(ctx, grantID, secret)
	if err != nil {
		return op.AccessToken{}, err
	}
	at := info.GetAccessToken()
	return op.AccessToken{
		Grant: grantOf(grantID, info.GetGrant()), Scopes: at.GetScopes(),
		IssuedAt: msTime(at.GetIssuedAtMs()), ExpiresAt: msTime(at.GetExpiresAtMs()),
	}, nil
}

// RevokeAccessToken revokes one opaque access token of clientID.
func (t *Tokens) RevokeAccessToken(ctx context.Context, token, clientID string) (op.Revocation, error) {
	grantID, secret, ok := SplitIssuedToken(token)
	if !ok {
		return op.Revocation{}, nil
	}
	return revocationOf(t.c.RevokeAccessToken(ctx, grantID, secret, clientID))
}

func revocationOf(r *msg.TokenRevoked, err error) (op.Revocation, error) {
	if err != nil {
		return op.Revocation{}, err
	}
	return op.Revocation{Found: r.GetFound(), Revoked: r.GetRevoked(), GrantID: r.GetGrantId()}, nil
}

// UseRefreshToken presents a refresh token to its family (RefreshFamilyUse).
func (t *Tokens) UseRefreshToken(ctx context.Context, u op.RefreshUse) (op.RefreshUsed, error) {
	familyID, secret, ok := SplitToken(u.Token)
	if !ok {
		return op.RefreshUsed{}, oauth.InvalidGrant("invalid refresh token")
	}
	used, err := Call[*msg.RefreshUsed](ctx, t.c.node, RefreshKindName, familyID, &msg.RefreshFamilyUse{
		Secret: secret, ClientId: u.ClientID, Resource: u.Resource, Scopes: u.Scopes,
		IssueAccessToken: u.OpaqueAccessToken, OrganizationId: u.OrganizationID,
	})
	if err != nil {
		return op.RefreshUsed{}, err
	}
	fam := used.GetFamily()
	out := op.RefreshUsed{
		Family:       familyOf(familyID, fam),
		Scopes:       used.GetScopes(),
		RefreshToken: familyID + "." + used.GetNextSecret(),
	}
	if len(out.Scopes) == 0 {
		out.Scopes = fam.GetScopes()
	}
	if used.GetAccessTokenSecret() != "" {
		out.AccessToken = issuedAccessToken(fam.GetGrantId(), used.GetAccessTokenSecret(), used.GetAccessToken())
	}
	return out, nil
}

func familyOf(id string, f *msg.RefreshFamilyRecord) op.RefreshFamily {
	return op.RefreshFamily{
		ID: id, GrantID: f.GetGrantId(), ClientID: f.GetClientId(), AccountID: f.GetAccountId(),
		Scopes: f.GetScopes(), Resources: f.GetResources(), Sid: f.GetSid(), AuthTime: f.GetAuthTime(),
		AMR: f.GetAmr(), IssuedAt: msTime(f.GetCurrentIssuedAtMs()), ExpiresAt: msTime(f.GetCurrentExpiresAtMs()),
	}
}

// InspectRefreshToken returns the family of an active refresh token. A token that
// cannot be one Latch issued is invalid_grant without a grain call.
func (t *Tokens) InspectRefreshToken(ctx context.Context, token string) (op.RefreshFamily, error) {
	familyID, secret, ok := SplitIssuedToken(token)
	if !ok {
		return op.RefreshFamily{}, oauth.InvalidGrant("refresh token is not active")
	}
	f, err := t.c.InspectRefreshToken(ctx, familyID, secret)
	if err != nil {
		return op.RefreshFamily{}, err
	}
	return familyOf(familyID, f), nil
}

// RevokeRefreshToken revokes the family of a refresh token of clientID.
func (t *Tokens) RevokeRefreshToken(ctx context.Context, token, clientID string) (op.Revocation, error) {
	familyID, secret, ok := SplitIssuedToken(token)
	if !ok {
		return op.Revocation{}, nil
	}
	return revocationOf(t.c.RevokeRefreshToken(ctx, familyID, secret, clientID))
}

// RevokeGrant revokes the grant and everything issued from it (Client.RevokeGrant).
func (t *Tokens) RevokeGrant(ctx context.Context, grantID string) error {
	return t.c.RevokeGrant(ctx, grantID)
}
