package op

import (
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// ClientCredentialsRequest is RFC 6749 4.4.2's request.
type ClientCredentialsRequest struct {
	Resources []string
	// Scope is the raw scope parameter; "" (omitted or empty) means no scope, as in
	// Logto: only requested scopes the client holds are granted.
	Scope string
	// OrganizationID is Logto's organization_id (RFC 0006): the client must be a
	// member of the organization.
	OrganizationID string
}

// TokenClientCredentials is RFC 6749 4.4 with RFC 8707 resource indicators, for an
// authenticated machine-to-machine client. No grain: the JWT's scope is what the
// client's roles hold on the resource (directory, in memory).
//
// With organization_id (Logto RFC 0006) the client must be a member of the
// organization, else access_denied (403, Logto's "app has not associated with the
// organization"), never a token without the organization. Without a resource it gets
// an organization token (aud urn:logto:organization:<id>, TTL 3600 s, scope = the
// requested scopes its roles in the organization hold); with one, the resource's JWT
// with the claim organization_id and the resource scopes of its roles in the
// organization. Without either, the token is for the default API resource
// (isDefault), as Logto's defaultResource; with no default resource it is
// invalid_target.
func (p *Provider) TokenClientCredentials(app *directory.Application, req ClientCredentialsRequest) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	org := req.OrganizationID
	if org != "" && !p.dir.IsAppOrganizationMember(org, app.ID) {
		return none, oauth.AccessDenied("app has not associated with the organization")
	}
	resources := req.Resources
	if len(resources) == 0 && org == "" {
		def, ok := p.dir.DefaultResource()
		if !ok {
			return none, oauth.InvalidTarget("both `resource` and `organization_id` are not provided")
		}
		resources = []string{def.Indicator}
	}
	switch len(resources) {
	case 0:
	case 1:
		if err := oidcflow.ValidResourceIndicator(resources[0]); err != nil {
			return none, err
		}
	default:
		return none, oauth.InvalidTarget("only a single resource indicator value is supported for this grant type")
	}
	scopes, err := oidcflow.ParseScope(req.Scope)
	if err != nil {
		return none, err
	}
	g := oidcflow.ClientCredentialsGrant{
		Issuer:         p.issuer,
		ClientID:       app.ID,
		Request:        oidcflow.ClientCredentialsRequest{Scopes: scopes},
		OrganizationID: org,
		Now:            p.now(),
	}
	if len(resources) == 0 {
		// Read now: a role change applies to the next token.
		g.Granted = p.dir.AppOrganizationScopes(org, app.ID)
	} else {
		res, ok := p.dir.ResourceByIndicator(resources[0])
		if !ok {
			return none, oauth.InvalidTarget("resource indicator is missing, or unknown") // Logto's words
		}
		g.Request.Resource, g.TTL = res.Indicator, p.life.AccessTokenFor(res.AccessTokenTTL)
		if org == "" {
			g.Granted = p.dir.AppResourceScopes(app.ID, res.ID)
		} else {
			g.Granted = p.dir.AppOrganizationResourceScopes(org, app.ID, res.Indicator)
		}
	}
	if g.JTI, err = p.randomID(); err != nil {
		return none, err
	}
	return oidcflow.IssueClientCredentials(g, p.accessTokenSigner(CustomClaimsRequest{
		ClientCredentials: true, GrantType: oauth.GrantClientCredentials, ClientID: app.ID, OrganizationID: org,
	}))
}
