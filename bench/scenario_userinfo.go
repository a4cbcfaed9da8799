package bench

import (
	"context"
	"net/http"
)

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
	raw           []byte // the request for the epoll engine, rendered once a token
}

var _ rawSessionTask = (*userinfoTask)(nil)

func (t *userinfoTask) bootstrap(ctx context.Context) error {
	resp, err := t.ua.signInTokens(ctx)
	if err != nil {
		return err
	}
	t.authorization = "Bearer " + resp.AccessToken
	t.raw = nil
	return nil
}

func (t *userinfoTask) request(ctx context.Context) error {
	return t.ua.userinfo(ctx, t.authorization)
}

func (t *userinfoTask) rawEndpoint() string { return t.ua.f.ep.Userinfo }

// rawRequest is the request userinfo sends: GET, the bearer, Accept: application/json.
func (t *userinfoTask) rawRequest() ([]byte, error) {
	if t.raw == nil {
		h := http.Header{"Authorization": {t.authorization}, "Accept": {"application/json"}}
		b, _, err := rawRequestBytes(http.MethodGet, t.rawEndpoint(), h, nil)
		if err != nil {
			return nil, err
		}
		t.raw = b
	}
	return t.raw, nil
}

func (t *userinfoTask) rawResponse(r *rawResponse) error {
	var h http.Header
	if r.status != http.StatusOK {
		h = http.Header{"Www-Authenticate": {r.header("WWW-Authenticate")}}
	}
	return judgeUserinfo(r.status, h, r.body)
}
