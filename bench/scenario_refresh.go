package bench

import (
	"context"
	"net/http"
)

func init() {
	register("refresh", "refresh_token grant with rotation on every request (SPA app: durable writes)",
		func() Scenario {
			return &sessionScenario{
				name: "refresh",
				// A public client (SPA): Logto's rules rotate its refresh token on every
				// use, so each request writes the RefreshFamily durably. No secret: PKCE
				// at sign-in, client_id in the token request body. offline_access is
				// granted only with prompt=consent (OIDC Core 11).
				spec:        fleetSpec{appType: "SPA", scope: "openid offline_access", prompt: "consent"},
				newTask:     func(ua *userAgent) sessionTask { return &refreshTask{ua: ua} },
				extraParams: map[string]string{"rotation": "required on every request (public client)"},
			}
		})
}

// refreshTask: each browser signs in once and gets a refresh token; every request
// redeems the current token (RFC 6749 6) and keeps the rotated one, a chain per load
// goroutine. A response without a new refresh token is an error (a public client's
// token must rotate). After any failure the chain may be spent (a consumed token
// presented again revokes its family), so the worker starts a new chain.
type refreshTask struct {
	ua    *userAgent
	token string
}

var _ rawSessionTask = (*refreshTask)(nil)

func (t *refreshTask) bootstrap(ctx context.Context) error {
	resp, err := t.ua.signInTokens(ctx)
	if err != nil {
		return err
	}
	if resp.RefreshToken == "" {
		return ResponseError(http.StatusOK, stepToken+": no refresh_token (offline_access not granted?)")
	}
	t.token = resp.RefreshToken
	return nil
}

func (t *refreshTask) request(ctx context.Context) error {
	next, rotated, err := t.ua.refresh(ctx, t.token)
	if err != nil {
		return err
	}
	return t.advance(next, rotated)
}

// advance keeps next as the chain's token; a public client's token that did not rotate
// is an error.
func (t *refreshTask) advance(next string, rotated bool) error {
	t.token = next
	if !rotated && t.ua.f.app.Public() {
		return ResponseError(http.StatusOK, stepRefresh+": refresh token not rotated")
	}
	return nil
}

func (t *refreshTask) rawEndpoint() string { return t.ua.f.ep.Token }

// rawRequest renders the refresh of the current token (a new body every request).
func (t *refreshTask) rawRequest() ([]byte, error) {
	tr := t.ua.refreshRequest(t.token)
	b, _, err := tr.raw()
	return b, err
}

// rawResponse is request's checks on a raw response.
func (t *refreshTask) rawResponse(r *rawResponse) error {
	if err := checkTokenResponse(r.status, r.body); err != nil {
		return err
	}
	next, rotated, err := rotatedRefreshToken(r.body, t.token)
	if err != nil {
		return err
	}
	return t.advance(next, rotated)
}
