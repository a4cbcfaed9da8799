package op

import (
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
)

// ClientAuth is a client's credentials as http found them: the RFC 7617 Basic
// Authorization header (already decoded) and the form's client_id and client_secret.
type ClientAuth struct {
	// Basic is true when the request carried Basic credentials.
	Basic       bool
	BasicID     string
	BasicSecret string
	FormID      string
	FormSecret  string
}

// AuthenticateClient identifies and authenticates the client of a token, introspection
// or revocation request once, before any grant logic (RFC 6749 2.3). Confidential
// clients (Traditional, MachineToMachine) use client_secret_basic or
// client_secret_post; public clients (Native, SPA) use none. Logto's SDKs send
// client_id in the body together with Basic credentials: both are accepted when they
// agree. Using two secret-bearing methods at once is refused (RFC 6749 2.3: "MUST NOT
// use more than one authentication method").
func (p *Provider) AuthenticateClient(c ClientAuth) (*directory.Application, error) {
	id, secret := c.BasicID, c.BasicSecret
	switch {
	case c.Basic && c.FormSecret != "":
		return nil, oauth.InvalidRequest("client authentication must use only one method")
	case c.Basic && c.FormID != "" && c.FormID != id:
		return nil, oauth.InvalidClient("client_id in the body does not match the Authorization header")
	case !c.Basic:
		id, secret = c.FormID, c.FormSecret
	}
	if id == "" {
		// Logto (node-oidc-provider): invalid_request, not invalid_client.
		return nil, oauth.InvalidRequest("no client authentication mechanism provided")
	}
	app, ok := p.dir.Application(id)
	if !ok {
		return nil, oauth.InvalidClient("invalid client " + id) // Logto's words
	}
	if app.Type.Public() {
		if secret != "" {
			return nil, oauth.InvalidClient("public clients authenticate with none")
		}
		return app, nil
	}
	if secret == "" || !p.dir.AuthenticateApp(app, secret) {
		return nil, oauth.InvalidClient("client authentication failed")
	}
	return app, nil
}
