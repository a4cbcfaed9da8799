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

// opaqueAccessTokenTTL is the lifetime of an opaque access token (no resource), as
// Logto's default AccessToken TTL.
const opaqueAccessTokenTTL = time.Hour

// What the user-facing grants (authorization_code, refresh_token) share: the requested
// resource, access token minting (JWT for a resource, opaque otherwise) and ID tokens.

// requestedResource reads the single optional RFC 8707 resource of a token request and
// checks it names a known API resource. Only one is supported per token request (one
// audience per JWT), as in node-oidc-provider.
func (s *Server) requestedResource(form url.Values) (*directory.Resource, error) {
	res := form["resource"]
	switch len(res) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, oauth.InvalidTarget("only one resource indicator is supported per token request")
	}
	if err := oidcflow.ValidResourceIndicator(res[0]); err != nil {
		return nil, err
	}
	r, ok := s.dir.ResourceByIndicator(res[0])
	if !ok {
		return nil, oauth.InvalidTarget("unknown resource indicator")
	}
	return r, nil
}

// userAccessToken mints the access token of a user grant. With a resource, a JWT for it
// (scope = scopes held by the user's roles); otherwise an opaque "<grant id>.<secret>"
// stored in the Grant grain, good for /oidc/me. It returns the token, its lifetime in
// seconds and its scope.
func (s *Server) userAccessToken(ctx context.Context, app *directory.Application, userID, grantID, familyID string,
	scopes []string, res *directory.Resource) (token string, expiresIn int64, scope string, err error) {
	now := s.now()
	if res != nil {
		jti, err := s.randomID()
		if err != nil {
			return "", 0, "", err
		}
		ttl := res.AccessTokenTTL
		if ttl <= 0 {
			ttl = directory.DefaultAccessTokenTTL
		}
		token, scope, err := oidcflow.IssueUserAccessToken(oidcflow.UserAccessToken{
			Issuer:     s.issuer,
			ClientID:   app.ID,
			Subject:    userID,
			Resource:   res.Indicator,
			GrantID:    grantID,
			JTI:        jti,
			Now:        now,
			TTL:        time.Duration(ttl) * time.Second,
			Requested:  scopes,
			RoleScopes: s.dir.UserResourceScopes(userID, res.ID),
		}, s.keys)
		return token, int64(ttl), scope, err
	}
	at, err := s.newOpaqueAccessToken(now, scopes)
	if err != nil {
		return "", 0, "", err
	}
	if err := s.actors.IssueAccessToken(ctx, grantID, at.rec, familyID); err != nil {
		return "", 0, "", err
	}
	token, expiresIn, scope = at.wire(grantID, scopes)
	return token, expiresIn, scope, nil
}

// opaqueAccessToken is a new opaque access token before its grant stores it.
type opaqueAccessToken struct {
	secret string
	// rec is what the grant stores: the secret's hash, issued at now, valid
	// opaqueAccessTokenTTL.
	rec *msg.AccessTokenRecord
}

// newOpaqueAccessToken draws a new opaque access token for scopes (nil: the grant's
// refresh family fills them in).
func (s *Server) newOpaqueAccessToken(now time.Time, scopes []string) (opaqueAccessToken, error) {
	secret, err := s.newSecret()
	if err != nil {
		return opaqueAccessToken{}, err
	}
	return opaqueAccessToken{secret: secret, rec: &msg.AccessTokenRecord{
		Hash:        actors.HashSecret(secret),
		Scopes:      scopes,
		IssuedAtMs:  now.UnixMilli(),
		ExpiresAtMs: now.Add(opaqueAccessTokenTTL).UnixMilli(),
	}}, nil
}

// wire is what a token response carries for t, stored on grantID with scopes:
// "<grant id>.<secret>", expires_in and scope.
func (t opaqueAccessToken) wire(grantID string, scopes []string) (token string, expiresIn int64, scope string) {
	return grantID + "." + t.secret, int64(opaqueAccessTokenTTL / time.Second), oidcflow.FormatScope(scopes)
}

// idToken mints the ID token of a user grant for app (OIDC Core 3.1.3.6).
func (s *Server) idToken(app *directory.Application, user *directory.User, scopes []string,
	authTime int64, nonce, sid, accessToken string) (string, error) {
	return oidcflow.MintIDToken(oidcflow.IDToken{
		Issuer:      s.issuer,
		Subject:     user.ID,
		Audience:    app.ID,
		Now:         s.now(),
		TTL:         time.Duration(app.CustomClientMetadata.IDTokenTTLSeconds()) * time.Second,
		AuthTime:    authTime,
		Nonce:       nonce,
		SID:         sid,
		AccessToken: accessToken,
		Alg:         s.keys.Alg(),
		Claims:      oidcflow.UserClaims(s.account(user, scopes), scopes, oidcflow.ForIDToken),
	}, s.keys)
}

// account flattens a directory user for claims; role names are looked up only when
// the roles scope asks for them.
func (s *Server) account(u *directory.User, scopes []string) oidcflow.Account {
	a := oidcflow.Account{
		ID: u.ID, Username: u.Username, Name: u.Name, Avatar: u.Avatar,
		Email: u.PrimaryEmail, Phone: u.PrimaryPhone,
		Profile: u.Profile, CustomData: u.CustomData, Identities: u.Identities,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if slices.Contains(scopes, oidcflow.ScopeRoles) {
		if roles, err := s.dir.UserRoles(u.ID); err == nil {
			for _, r := range roles {
				a.Roles = append(a.Roles, r.Name)
			}
		}
	}
	return a
}

// activeUser is the grant's user when it may still get tokens: it exists and is not
// suspended.
func (s *Server) activeUser(id string) (*directory.User, bool) {
	u, ok := s.dir.User(id)
	if !ok || u.IsSuspended {
		return nil, false
	}
	return u, true
}
