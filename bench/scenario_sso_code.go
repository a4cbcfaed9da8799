package bench

import "context"

func init() {
	register("sso-code", "authorization with a live session -> code -> token (authorization_code + PKCE)",
		func() Scenario {
			return &sessionScenario{
				name: "sso-code",
				// A confidential web app: client_secret_basic at the token endpoint.
				spec:    fleetSpec{appType: "Traditional", scope: "openid profile"},
				newTask: func(ua *userAgent) sessionTask { return &ssoCodeTask{ua: ua} },
			}
		})
}

// ssoCodeTask: each browser signs in once (setup); every request is an authorization
// request that the live _session cookie answers at once with a code (OIDC Core 3.1.2,
// no sign-in UI), and the code's exchange for tokens (RFC 6749 4.1.3, RFC 7636 4.6):
// two HTTP requests, the Session, Grant and code writes, and an ID token signature.
type ssoCodeTask struct{ ua *userAgent }

// bootstrap signs the browser in (or, with a session still live, takes one SSO round).
func (t *ssoCodeTask) bootstrap(ctx context.Context) error {
	_, err := t.ua.codeFlow(ctx, viaAny)
	return err
}

func (t *ssoCodeTask) request(ctx context.Context) error {
	_, err := t.ua.codeFlow(ctx, viaSSO)
	return err
}
