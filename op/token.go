package op

import (
	"context"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// TokenRequest is a token endpoint request (RFC 6749 3.2) as http decoded it from the
// form and the Authorization header. Omitted parameters are "" (RFC 6749 3.1: a
// parameter sent without a value is omitted).
type TokenRequest struct {
	GrantType string
	Client    ClientAuth
	// authorization_code (RFC 6749 4.1.3, RFC 7636 4.5)
	Code         string
	RedirectURI  string
	CodeVerifier string
	// refresh_token (RFC 6749 6)
	RefreshToken string
	// OrganizationID is Logto's organization_id (refresh_token, client_credentials):
	// an organization token, or with a resource an organization-level resource token.
	OrganizationID string
	// Resources are the RFC 8707 resource parameters, in order.
	Resources []string
	// Scope is the raw scope parameter.
	Scope string
	// token exchange (RFC 8693 2.1)
	SubjectToken, SubjectTokenType string
	ActorToken, ActorTokenType     string
}

// Token is the token endpoint: the grant type is known, the client is authenticated
// once (AuthenticateClient) and allowed the grant by its type (GrantAllowed), then the
// grant's flow runs. A missing grant_type is reported after client authentication, as
// Logto (node-oidc-provider) does. It returns the authenticated client (nil before authentication)
// for the caller's CORS decision.
func (p *Provider) Token(ctx context.Context, req TokenRequest) (oidcflow.TokenResponse, *directory.Application, error) {
	var none oidcflow.TokenResponse
	grant := req.GrantType
	switch grant {
	case "":
		if _, err := p.AuthenticateClient(req.Client); err != nil {
			return none, nil, err
		}
		return none, nil, oauth.InvalidRequest("missing required parameter 'grant_type'")
	case oauth.GrantClientCredentials, oauth.GrantTokenExchange:
	case oauth.GrantAuthorizationCode, oauth.GrantRefreshToken:
		if !p.userGrants() {
			return none, nil, oauth.UnsupportedGrantType(grant + " is not enabled on this node")
		}
	default:
		return none, nil, oauth.UnsupportedGrantType("unsupported grant_type " + grant)
	}
	app, err := p.AuthenticateClient(req.Client)
	if err != nil {
		return none, nil, err
	}
	if grant == oauth.GrantTokenExchange {
		// Logto: third-party apps never exchange tokens (invalid_client); others only
		// with allowTokenExchange (the grant type is not among the client's otherwise).
		if app.IsThirdParty {
			return none, app, oauth.InvalidClient("third-party applications are not allowed for this grant type")
		}
		if !TokenExchangeAllowed(app) {
			return none, app, oauth.UnauthorizedClient("requested grant type is not allowed for this client")
		}
	} else if !GrantAllowed(app.Type, grant) {
		return none, app, oauth.UnauthorizedClient(string(app.Type) + " applications may not use " + grant)
	}
	var resp oidcflow.TokenResponse
	switch grant {
	case oauth.GrantAuthorizationCode:
		resp, err = p.TokenAuthorizationCode(ctx, app, CodeRequest{
			Code: req.Code, RedirectURI: req.RedirectURI, CodeVerifier: req.CodeVerifier, Resources: req.Resources,
		})
	case oauth.GrantRefreshToken:
		resp, err = p.TokenRefresh(ctx, app, RefreshRequest{
			RefreshToken: req.RefreshToken, OrganizationID: req.OrganizationID, Resources: req.Resources, Scope: req.Scope,
		})
	case oauth.GrantTokenExchange:
		resp, err = p.TokenExchange(ctx, app, TokenExchangeRequest{
			SubjectToken: req.SubjectToken, SubjectTokenType: req.SubjectTokenType,
			ActorToken: req.ActorToken, ActorTokenType: req.ActorTokenType,
			OrganizationID: req.OrganizationID, Resources: req.Resources, Scope: req.Scope,
		})
	default:
		resp, err = p.TokenClientCredentials(app, ClientCredentialsRequest{Resources: req.Resources, Scope: req.Scope, OrganizationID: req.OrganizationID})
	}
	return resp, app, err
}

// GrantAllowed is Logto's table of grant types by application type: machine-to-machine
// apps use client_credentials only; every other type uses authorization_code and
// refresh_token.
func GrantAllowed(t directory.AppType, grant string) bool {
	if t == directory.AppMachineToMachine {
		return grant == oauth.GrantClientCredentials
	}
	return grant == oauth.GrantAuthorizationCode || grant == oauth.GrantRefreshToken
}
