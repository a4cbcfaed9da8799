package bench

import "context"

func init() {
	register("userinfo", "userinfo (/oidc/me) with an opaque access token",
		func() Scenario {
			return &sessionScenario{
				name:    "userinfo",
				spec:    fleetSpec{appType: "Traditional", scope: "openid profile email"},
				newTask: func(ua *userAgent) sessionTask { return &userinfoTask{ua: ua} },
			}
		})
}

// userinfoTask: each browser signs in once and gets an opaque access token (no
// resource requested, so not a JWT); every request is a UserInfo request (OIDC Core
// 5.3) with it as the bearer (RFC 6750 2.1). A failed request gets a fresh token.
type userinfoTask struct {
	ua            *userAgent
	authorization string // "Bearer <token>"
}

func (t *userinfoTask) bootstrap(ctx context.Context) error {
	resp, err := t.ua.signInTokens(ctx)
	if err != nil {
		return err
	}
	t.authorization = "Bearer " + resp.AccessToken
	return nil
}

func (t *userinfoTask) request(ctx context.Context) error {
	return t.ua.userinfo(ctx, t.authorization)
}
