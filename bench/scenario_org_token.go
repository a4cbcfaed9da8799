package bench

import (
	"context"
	"net/http"
)

// orgScopeOrganizations is Logto's UserScope.Organizations: the scope a refresh token
// must hold to be exchanged for an organization token.
const orgScopeOrganizations = "urn:logto:scope:organizations"

func init() {
	register("org-token", "refresh_token grant with organization_id: an organization token per request (SPA app, rotation on every request; Latch only)",
		func() Scenario {
			return &sessionScenario{
				name: "org-token",
				// The refresh scenario's app and rotation, plus an organization: every
				// user is a member with a role holding one organization scope, and
				// every refresh asks for a token of that organization (aud
				// urn:logto:organization:<id>), which the OP decides from the
				// directory at issuance (membership, role scopes).
				spec:    fleetSpec{appType: "SPA", scope: "openid offline_access", prompt: "consent", organization: true},
				newTask: func(ua *userAgent) sessionTask { return &orgTokenTask{refreshTask{ua: ua}} },
				extraParams: map[string]string{
					"rotation":     "required on every request (public client)",
					"organization": "organization_id on every refresh; the response's scope must be the member role's organization scope",
				},
			}
		})
}

// orgTokenTask is refreshTask with organization_id on every refresh: besides the
// rotation, the response's scope must be exactly the organization scope the user's
// role holds (an organization token, not a plain one).
type orgTokenTask struct{ refreshTask }

var _ rawSessionTask = (*orgTokenTask)(nil)

func (t *orgTokenTask) request(ctx context.Context) error {
	tr := t.ua.refreshRequest(t.token)
	body, err := tr.do(ctx, t.ua.api, t.ua.buf)
	if err != nil {
		return err
	}
	return t.check(body)
}

func (t *orgTokenTask) rawResponse(r *rawResponse) error {
	if err := checkTokenResponse(r.status, r.body); err != nil {
		return err
	}
	return t.check(r.body)
}

// check keeps the rotated refresh token and checks the organization token's scope.
func (t *orgTokenTask) check(body []byte) error {
	next, rotated, err := rotatedRefreshToken(body, t.token)
	if err != nil {
		return err
	}
	if err := t.advance(next, rotated); err != nil {
		return err
	}
	if v, whole, _ := stringMember(body, scopeKey); !whole || string(v) != t.ua.f.organizationScope {
		return ResponseError(http.StatusOK, stepRefresh+": not an organization token (scope "+string(v)+")")
	}
	return nil
}

var scopeKey = []byte(`"scope"`)
