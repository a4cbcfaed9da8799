package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/actors"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// routesTokenLifecycle registers token introspection (RFC 7662) and revocation
// (RFC 7009), with CORS preflights like the token endpoint's: both are called with
// the same client authentication, and browser apps (SPAs) revoke their refresh tokens
// at sign-out.
func (s *Server) routesTokenLifecycle(r *httprouter.Router) {
	r.POST("/oidc/token/introspection", s.serveIntrospection)
	r.POST("/oidc/token/revocation", s.serveRevocation)
	r.OPTIONS("/oidc/token/introspection", s.corsPreflight("POST", false))
	r.OPTIONS("/oidc/token/revocation", s.corsPreflight("POST", false))
}

// serveIntrospection is the introspection endpoint (RFC 7662 2).
func (s *Server) serveIntrospection(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	resp, app, err := s.introspect(r)
	s.setCORS(w, r, app)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, resp)
}

// presentedToken is a decoded introspection or revocation request of an authenticated
// client.
type presentedToken struct {
	app   *directory.Application
	token string
	hint  string
}

// decodeTokenRequest reads the form, authenticates the client exactly as the token
// endpoint does (authenticateClient: RFC 7662 2.1 "the endpoint MUST also require some
// form of authorization"; RFC 7009 2.1 "the client also includes its authentication
// credentials"; public clients authenticate with their client_id alone, as Logto's
// SPAs and native apps do at its token endpoint), then requires token. The client is
// returned as soon as it is known, for the CORS decision.
func (s *Server) decodeTokenRequest(r *http.Request) (presentedToken, error) {
	form, err := readForm(r)
	if err != nil {
		return presentedToken{}, err
	}
	app, err := s.authenticateClient(r, form)
	if err != nil {
		return presentedToken{}, err
	}
	req := presentedToken{app: app, token: form.Get("token"), hint: form.Get("token_type_hint")}
	if req.token == "" {
		return req, oauth.InvalidRequest("token is required")
	}
	return req, nil
}

// introspect answers RFC 7662 2.2 for an authenticated client.
//
// Who may see what (RFC 7662 4: "the authorization server MUST determine whether or not
// the protected resource is allowed to introspect the token"): a client sees only
// tokens issued to itself, that is whose client_id is its own; every other token is
// {"active": false}, exactly like an unknown one (RFC 7662 2.2: "the authorization
// server ... SHOULD NOT include any additional information about an inactive token").
// Latch's API resources have no owning application, so "tokens issued to its own
// resources" cannot be derived; node-oidc-provider's default lets a confidential
// client introspect any token, Latch does not.
func (s *Server) introspect(r *http.Request) (oidcflow.Introspection, *directory.Application, error) {
	req, err := s.decodeTokenRequest(r)
	if err != nil {
		return oidcflow.Introspection{}, req.app, err
	}
	resp, err := s.introspectToken(r.Context(), req.app, req.token, req.hint)
	return resp, req.app, err
}

// tokenShape is what a presented token looks like, before any lookup.
type tokenShape int

const (
	shapeGarbage tokenShape = iota // none of Latch's: inactive, nothing to revoke
	shapeOpaque                    // "<grain key>.<secret>": an opaque access token or a refresh token
	shapeJWT                       // three dot-separated parts: a JWS compact serialization (RFC 7515 7.1)
)

// classifyToken decides which lookups a token deserves. Opaque tokens have exactly
// one '.', JWS compact serializations exactly two; the opaque shape is checked in full
// (actors.SplitIssuedToken), so garbage never activates a grain.
func classifyToken(tok string) (shape tokenShape, key, secret string) {
	if strings.Count(tok, ".") == 2 {
		return shapeJWT, "", ""
	}
	if key, secret, ok := actors.SplitIssuedToken(tok); ok {
		return shapeOpaque, key, secret
	}
	return shapeGarbage, "", ""
}

// introspectToken dispatches on the token's shape. For an opaque token the hint orders
// the two lookups (refresh family first for token_type_hint=refresh_token, the grant's
// access tokens first otherwise) but both are tried (RFC 7662 2.1: "If the server is
// unable to locate the token using the given hint, it MUST extend its search across all
// of its supported token types").
func (s *Server) introspectToken(ctx context.Context, app *directory.Application, tok, hint string) (oidcflow.Introspection, error) {
	var inactive oidcflow.Introspection
	shape, key, secret := classifyToken(tok)
	switch {
	case shape == shapeJWT:
		return s.introspectJWT(ctx, app, tok)
	case shape == shapeGarbage || s.actors == nil:
		return inactive, nil
	}
	lookups := []func(context.Context, *directory.Application, string, string) (oidcflow.Introspection, bool, error){
		s.introspectAccessToken, s.introspectRefreshToken,
	}
	if oidcflow.HintsRefreshToken(hint) {
		lookups[0], lookups[1] = lookups[1], lookups[0]
	}
	for _, lookup := range lookups {
		resp, found, err := lookup(ctx, app, key, secret)
		if err != nil || found {
			return resp, err
		}
	}
	return inactive, nil
}

// notActive reports whether a grain's error means "no such live token" (the answer is
// then inactive), as opposed to a failure to find out (server_error,
// temporarily_unavailable, a cluster error), which must not pass for "inactive".
func notActive(err error) bool {
	e, ok := oauth.From(err)
	return ok && (e.Code == oauth.CodeInvalidGrant || e.Code == oauth.CodeInvalidToken)
}

// introspectAccessToken looks the token up among the grant's opaque access tokens.
// found is true when the grant holds it live (whether or not the caller may see it).
func (s *Server) introspectAccessToken(ctx context.Context, app *directory.Application, grantID, secret string) (oidcflow.Introspection, bool, error) {
	var inactive oidcflow.Introspection
	info, err := s.actors.LookupAccessToken(ctx, grantID, secret, s.now())
	if err != nil {
		if notActive(err) {
			return inactive, false, nil
		}
		return inactive, false, err
	}
	g, at := info.GetGrant(), info.GetAccessToken()
	if g.GetClientId() != app.ID {
		return inactive, true, nil
	}
	if _, ok := s.activeUser(g.GetAccountId()); !ok {
		return inactive, true, nil
	}
	return oidcflow.Introspection{
		Active:    true,
		Scope:     oidcflow.FormatScope(at.GetScopes()),
		ClientID:  g.GetClientId(),
		Sub:       g.GetAccountId(),
		Exp:       at.GetExpiresAtMs() / 1000,
		Iat:       at.GetIssuedAtMs() / 1000,
		Iss:       s.issuer,
		TokenType: oidcflow.TokenTypeBearer,
	}, true, nil
}

// introspectRefreshToken asks the refresh family whether the token is its active one
// (the current token, unexpired, family not revoked, grant alive).
func (s *Server) introspectRefreshToken(ctx context.Context, app *directory.Application, familyID, secret string) (oidcflow.Introspection, bool, error) {
	var inactive oidcflow.Introspection
	fam, err := s.actors.InspectRefreshToken(ctx, familyID, secret, s.now())
	if err != nil {
		if notActive(err) {
			return inactive, false, nil
		}
		return inactive, false, err
	}
	if fam.GetClientId() != app.ID {
		return inactive, true, nil
	}
	if _, ok := s.activeUser(fam.GetAccountId()); !ok {
		return inactive, true, nil
	}
	return oidcflow.Introspection{
		Active:   true,
		Scope:    oidcflow.FormatScope(fam.GetScopes()),
		ClientID: fam.GetClientId(),
		Sub:      fam.GetAccountId(),
		Exp:      fam.GetCurrentExpiresAtMs() / 1000,
		Iat:      fam.GetCurrentIssuedAtMs() / 1000,
		Iss:      s.issuer,
		Sid:      fam.GetSid(),
	}, true, nil
}

// introspectJWT answers for a JWT access token. It is active while it verifies
// (oidcflow.VerifyAccessToken: signature, typ at+jwt, iss, exp) and:
//
//   - a user token (it carries the gid claim): its grant is alive and still this
//     client's and this user's (GrantCheck, one grain hop), and the user is active;
//   - a client_credentials token (sub = client_id, no gid): the client still exists in
//     the directory (no grain: DESIGN.md "hot paths that need no state never touch a
//     grain");
//   - a user token without gid (minted before gid existed): never, since its grant
//     cannot be checked; such tokens expire within their resource's TTL.
func (s *Server) introspectJWT(ctx context.Context, app *directory.Application, tok string) (oidcflow.Introspection, error) {
	var inactive oidcflow.Introspection
	now := s.now()
	c, err := oidcflow.VerifyAccessToken(s.keys, tok, s.issuer, now)
	if err != nil || c.ClientID != app.ID {
		return inactive, nil
	}
	switch {
	case c.GrantID != "":
		if s.actors == nil {
			return inactive, nil
		}
		g, err := s.actors.CheckGrantAt(ctx, c.GrantID, now)
		if err != nil {
			if notActive(err) {
				return inactive, nil
			}
			return inactive, err
		}
		if g.GetClientId() != c.ClientID || g.GetAccountId() != c.Sub {
			return inactive, nil
		}
		if _, ok := s.activeUser(c.Sub); !ok {
			return inactive, nil
		}
	case c.Sub == c.ClientID:
		if _, ok := s.dir.Application(c.ClientID); !ok {
			return inactive, nil
		}
	default:
		return inactive, nil
	}
	return oidcflow.Introspection{
		Active:    true,
		Scope:     c.Scope,
		ClientID:  c.ClientID,
		Sub:       c.Sub,
		Exp:       c.EXP,
		Iat:       c.IAT,
		Aud:       c.Aud,
		Iss:       c.Iss,
		JTI:       c.JTI,
		TokenType: oidcflow.TokenTypeBearer,
	}, nil
}
