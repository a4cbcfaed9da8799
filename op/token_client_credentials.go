package op

import (
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// ClientCredentialsRequest is RFC 6749 4.4.2's request.
type ClientCredentialsRequest struct {
	Resources []string
	// Scope is the raw scope parameter; "" means omitted (every granted scope).
	Scope string
}

// TokenClientCredentials is RFC 6749 4.4 with RFC 8707 resource indicators, for an
// authenticated machine-to-machine client. No grain: the JWT's scope is what the
// client's roles hold on the resource (directory, in memory).
func (p *Provider) TokenClientCredentials(app *directory.Application, req ClientCredentialsRequest) (oidcflow.TokenResponse, error) {
	var none oidcflow.TokenResponse
	switch len(req.Resources) {
	case 0:
		return none, oauth.InvalidTarget("a resource indicator is required for client_credentials")
	case 1:
	default:
		return none, oauth.InvalidTarget("only one resource indicator is supported for client_credentials")
	}
	if err := oidcflow.ValidResourceIndicator(req.Resources[0]); err != nil {
		return none, err
	}
	scopes, err := oidcflow.ParseScope(req.Scope)
	if err != nil {
		return none, err
	}
	res, ok := p.dir.ResourceByIndicator(req.Resources[0])
	if !ok {
		return none, oauth.InvalidTarget("unknown resource indicator")
	}
	jti, err := p.randomID()
	if err != nil {
		return none, err
	}
	return oidcflow.IssueClientCredentials(oidcflow.ClientCredentialsGrant{
		Issuer:   p.issuer,
		ClientID: app.ID,
		Request:  oidcflow.ClientCredentialsRequest{Resource: res.Indicator, Scopes: scopes},
		TTL:      p.life.AccessTokenFor(res.AccessTokenTTL),
		Granted:  p.dir.AppResourceScopes(app.ID, res.ID),
		Now:      p.now(),
		JTI:      jti,
	}, p.keys)
}
