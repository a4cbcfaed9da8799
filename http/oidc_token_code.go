package httpapi

import (
	"context"
	"net/url"
	"slices"
	"time"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// tokenAuthorizationCode is RFC 6749 4.1.3 with PKCE (RFC 7636 4.5) and resource
// indicators (RFC 8707 2.2), for an already authenticated client.
//
// The code is "<grant id>.<secret>": the Grant grain redeems it once, checking client,
// redirect_uri and the PKCE verifier; a replay revokes the grant and every token issued
// from it. Then: an access token (JWT for the requested resource, else opaque), a
// refresh token when offline_access was granted (or the app always gets one), and an ID
// token.
func (s *Server) tokenAuthorizationCode(ctx context.Context, app *directory.Application, form url.Values) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	code := form.Get("code")
	if code == "" {
		return none, oauth.InvalidRequest("code is required")
	}
	redirectURI := form.Get("redirect_uri")
	if redirectURI == "" {
		// RFC 6749 4.1.3: required, since every authorization request carries one.
		return none, oauth.InvalidRequest("redirect_uri is required")
	}
	// Checked before the code is spent: a known resource. Whether the grant holds it
	// can only be known after redemption.
	res, err := s.requestedResource(form)
	if err != nil {
		return none, err
	}
	grantID, secret, ok := actors.SplitToken(code)
	if !ok {
		return none, oauth.InvalidGrant("invalid authorization code")
	}
	now := s.now()
	familyID, familySecret, err := actors.NewToken(s.rand)
	if err != nil {
		return none, err
	}
	redeemed, err := s.actors.RedeemCode(ctx, grantID, &msg.GrantRedeemCode{
		CodeSecret:   secret,
		ClientId:     app.ID,
		RedirectUri:  redirectURI,
		CodeVerifier: form.Get("code_verifier"),
		// Recorded on the grant so revoking it reaches the family; a family id whose
		// family is never created (no refresh token) is harmless.
		FamilyId: familyID,
	})
	if err != nil {
		return none, err
	}
	c, grant := redeemed.GetCode(), redeemed.GetGrant()
	user, ok := s.activeUser(grant.GetAccountId())
	if !ok {
		s.revokeGrant(ctx, grantID)
		return none, oauth.InvalidGrant("the account is suspended or deleted")
	}
	if res != nil && !slices.Contains(c.GetResources(), res.Indicator) {
		return none, oauth.InvalidTarget("the resource was not part of the authorization request")
	}
	scopes := c.GetScopes()

	// The family id was recorded on the grant at redemption, so revoking the grant
	// reaches the family; and the family asks its grant before every use, so a family
	// created just after a concurrent replay revoked the grant is dead on arrival.
	var refreshToken string
	nativeApp := app.Type == directory.AppNative
	always := app.CustomClientMetadata.AlwaysIssueRefreshToken != nil && *app.CustomClientMetadata.AlwaysIssueRefreshToken
	if grantAllowed(app.Type, oauth.GrantRefreshToken) && oidcflow.IssuesRefreshToken(scopes, nativeApp, always) {
		ttl := time.Duration(app.CustomClientMetadata.RefreshTokenTTLDays()) * 24 * time.Hour
		exp := now.Add(ttl)
		if g := grant.GetExpiresAtMs(); g > 0 && g < exp.UnixMilli() {
			exp = time.UnixMilli(g)
		}
		if err := s.actors.CreateRefreshFamily(ctx, familyID, &msg.RefreshFamilyRecord{
			GrantId:            grantID,
			ClientId:           app.ID,
			AccountId:          user.ID,
			AppType:            string(app.Type),
			Scopes:             scopes,
			Resources:          c.GetResources(),
			CreatedAtMs:        now.UnixMilli(),
			CurrentHash:        actors.HashSecret(familySecret),
			CurrentIssuedAtMs:  now.UnixMilli(),
			CurrentExpiresAtMs: exp.UnixMilli(),
			GrantExpiresAtMs:   grant.GetExpiresAtMs(),
			TtlSeconds:         int64(ttl / time.Second),
			Rotate:             app.CustomClientMetadata.RotatesRefreshToken(),
			Sid:                c.GetSid(),
			AuthTime:           c.GetAuthTime(),
		}, familySecret); err != nil {
			return none, err
		}
		s.trackFamily(ctx, user.ID, familyID, grantID, app.ID, grant.GetExpiresAtMs())
		refreshToken = familyID + "." + familySecret
	} else {
		familyID = ""
	}

	accessToken, expiresIn, scope, err := s.userAccessToken(ctx, app, user.ID, grantID, familyID, scopes, res)
	if err != nil {
		s.revokeFamily(ctx, familyID)
		return none, err
	}
	idToken, err := s.idToken(app, user, scopes, c.GetAuthTime(), c.GetNonce(), c.GetSid(), accessToken)
	if err != nil {
		return none, err
	}
	return oidcflow.TokenResponse{
		AccessToken:  accessToken,
		ExpiresIn:    expiresIn,
		TokenType:    "Bearer",
		Scope:        scope,
		RefreshToken: refreshToken,
		IDToken:      idToken,
	}, nil
}

// revokeGrant and revokeFamily are best-effort cleanups on a failure path; the error
// the client sees is the original one.
func (s *Server) revokeGrant(ctx context.Context, grantID string) {
	if err := s.actors.RevokeGrant(ctx, grantID); err != nil {
		s.log.Warn("revoke grant", "err", err)
	}
}

func (s *Server) revokeFamily(ctx context.Context, familyID string) {
	if familyID == "" {
		return
	}
	if err := s.actors.RevokeRefreshFamily(ctx, familyID); err != nil {
		s.log.Warn("revoke refresh family", "err", err)
	}
}
