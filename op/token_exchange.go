package op

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Token exchange (RFC 8693; Logto RFC 0005, packages/core/src/oidc/grants/token-exchange).
//
// Subject token types, as Logto's:
//   - urn:ietf:params:oauth:token-type:access_token: a subject token from POST
//     /api/subject-tokens (impersonation by an administrator), short-lived and used once;
//   - urn:logto:token-type:personal_access_token: one of the user's personal access
//     tokens, usable until it expires or is deleted.
//
// The issued token follows Logto's three branches: with organization_id and no
// resource, an organization token; with a resource, the resource's JWT (scope = the
// requested scopes the user's roles hold; with organization_id, an organization-level
// resource token); else an opaque access token (scope = the requested OIDC scopes),
// stored in a grant of its own. Only an access token is issued: no refresh token, no
// ID token (Logto's handler answers access_token, expires_in, scope, token_type; Latch
// adds RFC 8693's issued_token_type). An actor_token (an opaque access token with
// openid) puts act: {sub: <actor>} in a JWT.
//
// The exchanged JWT carries no gid: no grant backs it, it lives its TTL as Logto's.

// Token types of RFC 8693 3 and Logto.
const (
	TokenTypeAccessToken         = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypePersonalAccessToken = "urn:logto:token-type:personal_access_token"
)

// TokenExchangeRequest is RFC 8693 2.1's request.
type TokenExchangeRequest struct {
	SubjectToken     string
	SubjectTokenType string
	ActorToken       string
	ActorTokenType   string
	OrganizationID   string
	Resources        []string
	Scope            string
}

// ExchangeGrants is the optional capability of Config.Grants (found by type
// assertion) that stores the opaque access token of a token exchange: a new grant of
// the account and client, holding that one token, in the account's index (so the
// user's grants list it and revoking them reaches it).
type ExchangeGrants interface {
	IssueExchangeAccessToken(ctx context.Context, x ExchangeAccessToken) (AccessTokenIssued, error)
}

// ExchangeAccessToken is the opaque access token of a token exchange. GrantID and
// Secret are drawn by op; the grant and the token expire at ExpiresAt.
type ExchangeAccessToken struct {
	GrantID, Secret     string
	AccountID, ClientID string
	Scopes              []string
	IssuedAt, ExpiresAt time.Time
}

// TokenExchangeAllowed is Logto's grant-type rule for token exchange: the app's
// customClientMetadata.allowTokenExchange (Logto adds the grant type to the client's
// grant_types only then), never for a third-party app (checked by the caller first).
func TokenExchangeAllowed(app *directory.Application) bool {
	v := app.CustomClientMetadata.AllowTokenExchange
	return v != nil && *v
}

// TokenExchange runs the token-exchange grant for an authenticated client that may
// use it.
func (p *Provider) TokenExchange(ctx context.Context, app *directory.Application, req TokenExchangeRequest) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	if req.SubjectToken == "" {
		return none, oauth.InvalidRequest("missing required parameter 'subject_token'")
	}
	if req.SubjectTokenType == "" {
		return none, oauth.InvalidRequest("missing required parameter 'subject_token_type'")
	}
	res, err := p.requestedResource(req.Resources)
	if err != nil {
		return none, err
	}
	requested, err := oidcflow.ParseScope(req.Scope)
	if err != nil {
		return none, err
	}
	// Everything that can refuse the request is decided before a subject token is
	// used, so a refused request never costs the caller its one-use token.
	userID, err := p.exchangeSubject(req)
	if err != nil {
		return none, err
	}
	user, ok := p.activeUser(userID)
	if !ok {
		return none, oauth.InvalidGrant("subject token invalid (referenced account not found)")
	}
	if err := checkAppAccess(p.dir, app.ID, user.ID); err != nil {
		return none, err // app_access.go
	}
	org := req.OrganizationID
	if org != "" {
		if err := OrganizationAccess(p.dir)(org, user.ID); err != nil {
			return none, err
		}
	}
	act, err := p.exchangeActor(ctx, req)
	if err != nil {
		return none, err
	}
	opaque := res == nil && org == ""
	var xg ExchangeGrants
	if opaque {
		if xg, ok = p.grants.(ExchangeGrants); !ok {
			return none, oauth.InvalidTarget("this node cannot store opaque access tokens; ask for a resource")
		}
	}
	if req.SubjectTokenType == TokenTypeAccessToken {
		if _, err := p.dir.ConsumeSubjectToken(ctx, req.SubjectToken); err != nil {
			return none, subjectTokenError(err)
		}
	}
	now := p.now()
	resp := oidcflow.TokenResponse{TokenType: "Bearer", IssuedTokenType: TokenTypeAccessToken, UserID: user.ID}
	switch {
	case opaque:
		grantID, err := RandomID(p.rand)
		if err != nil {
			return none, err
		}
		secret, err := newSecret(p.rand)
		if err != nil {
			return none, err
		}
		scopes := oidcflow.OpaqueAccessTokenScopes(requested)
		issued, err := xg.IssueExchangeAccessToken(ctx, ExchangeAccessToken{
			GrantID: grantID, Secret: secret, AccountID: user.ID, ClientID: app.ID,
			Scopes: scopes, IssuedAt: now, ExpiresAt: now.Add(p.life.AccessToken),
		})
		if err != nil {
			return none, err
		}
		resp.AccessToken, resp.Scope = issued.Token, oidcflow.FormatScope(issued.Scopes)
		resp.ExpiresIn = max((issued.ExpiresAt.UnixMilli()-now.UnixMilli())/1000, 0)
	default:
		jti, err := p.randomID()
		if err != nil {
			return none, err
		}
		t := oidcflow.UserAccessToken{
			Issuer: p.issuer, ClientID: app.ID, Subject: user.ID, JTI: jti, Now: now,
			Requested: requested, Act: act,
		}
		signer := p.accessTokenSigner(CustomClaimsRequest{GrantType: oauth.GrantTokenExchange, ClientID: app.ID, UserID: user.ID, OrganizationID: org})
		if res == nil { // organization token (RFC 0001)
			t.TTL = oidcflow.OrganizationTokenTTL
			t.RoleScopes = p.dir.UserOrganizationScopes(org, user.ID)
			resp.AccessToken, resp.Scope, err = oidcflow.IssueOrganizationToken(org, t, signer)
		} else {
			t.Resource, t.OrganizationID = res.Indicator, org
			t.TTL = p.life.AccessTokenFor(res.AccessTokenTTL)
			if res.Indicator == oidcflow.ResourceOrganizations {
				t.RoleScopes = p.organizationScopeNames()
			} else {
				t.RoleScopes = p.userResourceScopes(user.ID, res, org)
			}
			resp.AccessToken, resp.Scope, err = oidcflow.IssueUserAccessToken(t, signer)
		}
		if err != nil {
			return none, err
		}
		resp.ExpiresIn = int64(t.TTL / time.Second)
	}
	return resp, nil
}

// exchangeSubject checks the subject token, without using it, and returns its user
// (Logto's validateSubjectToken): invalid_grant when it is unknown, expired, already
// consumed, or of an unsupported type.
func (p *Provider) exchangeSubject(req TokenExchangeRequest) (string, error) {
	switch req.SubjectTokenType {
	case TokenTypeAccessToken:
		t, err := p.dir.SubjectTokenByValue(req.SubjectToken)
		if err != nil {
			return "", subjectTokenError(err)
		}
		return t.UserID, nil
	case TokenTypePersonalAccessToken:
		t, err := p.dir.PersonalAccessTokenByValue(req.SubjectToken)
		if err != nil {
			return "", subjectTokenError(err)
		}
		return t.UserID, nil
	}
	return "", oauth.InvalidGrant("unsupported subject token type")
}

// subjectTokenError is Logto's invalid_grant for a subject token the directory refused.
func subjectTokenError(err error) error {
	switch {
	case errors.Is(err, directory.ErrTokenUnknown):
		return oauth.InvalidGrant("subject token not found")
	case errors.Is(err, directory.ErrTokenExpired):
		return oauth.InvalidGrant("subject token is expired")
	case errors.Is(err, directory.ErrTokenConsumed):
		return oauth.InvalidGrant("subject token is already consumed")
	}
	return err
}

// exchangeActor is Logto's handleActorToken: an actor_token must be of type
// access_token and an opaque access token with openid; its account is the act claim's
// sub. No actor_token: no act claim.
func (p *Provider) exchangeActor(ctx context.Context, req TokenExchangeRequest) (*oidcflow.ActorClaim, error) {
	if req.ActorToken == "" {
		return nil, nil
	}
	if req.ActorTokenType != TokenTypeAccessToken {
		return nil, oauth.InvalidGrant("unsupported actor token type")
	}
	if p.tokens == nil {
		return nil, oauth.InvalidGrant("invalid actor token")
	}
	at, err := p.tokens.LookupAccessToken(ctx, req.ActorToken)
	if err != nil {
		if notActive(err) {
			return nil, oauth.InvalidGrant("invalid actor token")
		}
		return nil, err
	}
	if at.Grant.AccountID == "" {
		return nil, oauth.InvalidGrant("invalid actor token")
	}
	if !slices.Contains(at.Scopes, oidcflow.ScopeOpenID) {
		return nil, oauth.InvalidGrant("actor token must have openid scope")
	}
	return &oidcflow.ActorClaim{Sub: at.Grant.AccountID}, nil
}
