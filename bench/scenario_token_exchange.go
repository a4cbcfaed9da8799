package bench

import (
	"context"
	"errors"
	"net/http"
	"net/url"
)

func init() {
	register("token-exchange", "token-exchange grant (RFC 8693) with a personal access token for an API resource: a JWT per request (Latch only)",
		func() Scenario { return &tokenExchange{} })
}

// tokenExchange exchanges one personal access token for an API resource's JWT per
// request (grant_type urn:ietf:params:oauth:grant-type:token-exchange, subject_token_type
// urn:logto:token-type:personal_access_token). Setup creates, through the Management
// API, an API resource with one scope, a User role holding it, a user with that role
// and a PAT, and a Traditional app with customClientMetadata.allowTokenExchange. A
// request is the PAT lookup (a hash and a directory read), the user's role scopes and
// one signature: no grain, no durable write.
type tokenExchange struct {
	client  *http.Client
	req     *tokenRequest
	admin   *latchAdmin
	keep    bool
	params  map[string]string
	rawReq  []byte
	rawAddr string
}

var (
	_ WorkerScenario = (*tokenExchange)(nil)
	_ Teardowner     = (*tokenExchange)(nil)
	_ Describer      = (*tokenExchange)(nil)
	_ RawTarget      = (*tokenExchange)(nil)
	_ RawWorker      = (*tokenExchangeWorker)(nil)
)

const tokenExchangeScope = "bench:read"

func (s *tokenExchange) Setup(ctx context.Context, env *Env) (err error) {
	t := env.Target
	if t.Kind != "latch" {
		return errors.New("token-exchange: Latch only (it creates a personal access token through the Management API)")
	}
	s.client, s.keep = env.Client, t.Keep
	endpoint, err := tokenEndpoint(ctx, env)
	if err != nil {
		return err
	}
	admin, err := newLatchAdmin(ctx, env, endpoint)
	if err != nil {
		return err
	}
	s.admin = admin
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Teardown(ctx))
		}
	}()
	res, err := admin.createResource(ctx, "latch-bench-tx")
	if err != nil {
		return err
	}
	var scope, role struct {
		ID string `json:"id"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/resources/"+res.ID+"/scopes",
		map[string]any{"name": tokenExchangeScope, "description": "latch bench"}, &scope, http.StatusCreated); err != nil {
		return err
	}
	if err := admin.call(ctx, http.MethodPost, "/api/roles", map[string]any{
		"name": res.Name, "description": "latch bench", "type": "User", "scopeIds": []string{scope.ID},
	}, &role, http.StatusOK); err != nil {
		return err
	}
	admin.undo = append(admin.undo, "/api/roles/"+role.ID)
	users, err := admin.createUsers(ctx, "latch_bench_tx", 1)
	if err != nil {
		return err
	}
	user := users[0]
	if err := admin.call(ctx, http.MethodPost, "/api/users/"+user.ID+"/roles",
		map[string]any{"roleIds": []string{role.ID}}, nil, http.StatusCreated); err != nil {
		return err
	}
	var pat struct {
		Value string `json:"value"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/users/"+user.ID+"/personal-access-tokens",
		map[string]any{"name": "latch-bench"}, &pat, http.StatusCreated); err != nil {
		return err
	}
	if pat.Value == "" {
		return errors.New("POST /api/users/{id}/personal-access-tokens: reply without value")
	}
	var app struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	if err := admin.call(ctx, http.MethodPost, "/api/applications", map[string]any{
		"name": res.Name, "type": "Traditional",
		"oidcClientMetadata":   map[string]any{"redirectUris": []string{"http://127.0.0.1:9/cb"}, "postLogoutRedirectUris": []string{}},
		"customClientMetadata": map[string]any{"allowTokenExchange": true},
	}, &app, http.StatusOK); err != nil {
		return err
	}
	if app.ID != "" {
		admin.undo = append(admin.undo, "/api/applications/"+app.ID)
	}
	if app.ID == "" || app.Secret == "" {
		return errors.New("POST /api/applications: reply without id or secret")
	}
	admin.log("setup: app %s exchanges a PAT of user %s for %s (%s)", app.ID, user.ID, res.Indicator, tokenExchangeScope)
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {pat.Value},
		"subject_token_type": {"urn:logto:token-type:personal_access_token"},
		"resource":           {res.Indicator},
		"scope":              {tokenExchangeScope},
	}
	if s.req, err = newTokenRequest(endpoint, app.ID, app.Secret, t.AuthMethod, form); err != nil {
		return err
	}
	if raw, addr, err := s.req.raw(); err == nil {
		s.rawReq, s.rawAddr = raw, addr
	}
	s.params = map[string]string{
		"tokenEndpoint":    endpoint,
		"clientId":         app.ID,
		"authMethod":       orDefault(t.AuthMethod, "basic"),
		"resource":         res.Indicator,
		"scope":            tokenExchangeScope,
		"subjectTokenType": "urn:logto:token-type:personal_access_token",
	}
	if _, err := s.req.do(ctx, s.client, make([]byte, 0, 16<<10)); err != nil {
		return errors.New("token-exchange: the first exchange failed: " + err.Error())
	}
	return nil
}

func (s *tokenExchange) Do(ctx context.Context) error {
	bp := responseBuffers.Get().(*[]byte)
	_, err := s.req.do(ctx, s.client, *bp)
	responseBuffers.Put(bp)
	return err
}

func (s *tokenExchange) NewWorker(int) (Worker, error) {
	return &tokenExchangeWorker{s: s, buf: make([]byte, 0, 16<<10)}, nil
}

type tokenExchangeWorker struct {
	s   *tokenExchange
	buf []byte
}

func (w *tokenExchangeWorker) Do(ctx context.Context) error {
	_, err := w.s.req.do(ctx, w.s.client, w.buf)
	return err
}

// RawRequest implements RawWorker: the same request every time (a PAT is reusable).
func (w *tokenExchangeWorker) RawRequest(context.Context) ([]byte, error) { return w.s.rawReq, nil }

// RawResponse implements RawWorker with Do's checks.
func (w *tokenExchangeWorker) RawResponse(_ context.Context, r *rawResponse) error {
	return checkTokenResponse(r.status, r.body)
}

func (s *tokenExchange) RawAddr() string { return s.rawAddr }

func (s *tokenExchange) Params() map[string]string { return s.params }

func (s *tokenExchange) Teardown(ctx context.Context) error {
	if s.admin == nil || s.keep {
		return nil
	}
	return s.admin.teardown(ctx)
}
