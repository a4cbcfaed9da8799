package bench

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"
)

func init() {
	register("client-credentials", "client_credentials grant at the token endpoint (RFC 6749 4.4)",
		func() Scenario { return &clientCredentials{} })
}

// clientCredentials requests one access token per request with the client_credentials
// grant (RFC 6749 4.4). Against Latch it creates its own API resource, scope, M2M role
// and app through the Management API (unless --client-id is given); against any other
// OP it takes the client and its parameters from flags.
type clientCredentials struct {
	client   *http.Client
	req      *tokenRequest
	admin    *latchAdmin // non-nil when setup created entities to delete
	keep     bool
	params   map[string]string
	endpoint string
	// rawReq and rawAddr are the request for the epoll engine (nil for https://).
	rawReq  []byte
	rawAddr string
}

var (
	_ WorkerScenario = (*clientCredentials)(nil)
	_ Teardowner     = (*clientCredentials)(nil)
	_ Describer      = (*clientCredentials)(nil)
	_ RawTarget      = (*clientCredentials)(nil)
	_ RawWorker      = (*clientCredentialsWorker)(nil)
)

func (s *clientCredentials) Setup(ctx context.Context, env *Env) error {
	t := env.Target
	s.client = env.Client
	s.keep = t.Keep
	endpoint, err := tokenEndpoint(ctx, env)
	if err != nil {
		return err
	}
	s.endpoint = endpoint
	if t.Kind == "latch" && t.ClientID == "" {
		admin, err := newLatchAdmin(ctx, env, endpoint)
		if err != nil {
			return err
		}
		s.admin = admin
		c, err := admin.createM2MClient(ctx, "latch-bench-cc")
		if err != nil {
			return errors.Join(err, s.Teardown(ctx))
		}
		t.ClientID, t.ClientSecret, t.Resource, t.Scope = c.ClientID, c.ClientSecret, c.Resource, c.Scope
	}
	if t.ClientID == "" {
		return errors.New("client-credentials: --client-id and --client-secret are required with --target generic")
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	if t.Resource != "" {
		form.Set("resource", t.Resource)
	}
	if t.Audience != "" {
		form.Set("audience", t.Audience)
	}
	if t.Scope != "" {
		form.Set("scope", t.Scope)
	}
	s.req, err = newTokenRequest(endpoint, t.ClientID, t.ClientSecret, t.AuthMethod, form)
	if err != nil {
		return err
	}
	if raw, addr, err := s.req.raw(); err == nil {
		s.rawReq, s.rawAddr = raw, addr
	}
	s.params = map[string]string{
		"tokenEndpoint": endpoint,
		"clientId":      t.ClientID,
		"authMethod":    orDefault(t.AuthMethod, "basic"),
		"resource":      t.Resource,
		"audience":      t.Audience,
		"scope":         t.Scope,
	}
	// One request before the load: a misconfiguration fails here, with its reason,
	// instead of as a wall of identical errors.
	if _, err := s.req.do(ctx, s.client, make([]byte, 0, 16<<10)); err != nil {
		return errors.Join(errors.New("client-credentials: the first token request failed: "+err.Error()), s.Teardown(ctx))
	}
	return nil
}

// Do serves callers that do not use NewWorker (the mixed scenario's fallback), with a
// pooled buffer.
func (s *clientCredentials) Do(ctx context.Context) error {
	bp := responseBuffers.Get().(*[]byte)
	_, err := s.req.do(ctx, s.client, *bp)
	responseBuffers.Put(bp)
	return err
}

var responseBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// NewWorker gives each load goroutine its own response buffer.
func (s *clientCredentials) NewWorker(int) (Worker, error) {
	return &clientCredentialsWorker{s: s, buf: make([]byte, 0, 16<<10)}, nil
}

type clientCredentialsWorker struct {
	s   *clientCredentials
	buf []byte
}

func (w *clientCredentialsWorker) Do(ctx context.Context) error {
	_, err := w.s.req.do(ctx, w.s.client, w.buf)
	return err
}

// RawRequest implements RawWorker: the same request every time.
func (w *clientCredentialsWorker) RawRequest(context.Context) ([]byte, error) {
	return w.s.rawReq, nil
}

// RawResponse implements RawWorker with Do's checks.
func (w *clientCredentialsWorker) RawResponse(_ context.Context, r *rawResponse) error {
	return checkTokenResponse(r.status, r.body)
}

// RawAddr implements RawTarget ("" when the token endpoint is not http://).
func (s *clientCredentials) RawAddr() string { return s.rawAddr }

func (s *clientCredentials) Params() map[string]string { return s.params }

func (s *clientCredentials) Teardown(ctx context.Context) error {
	if s.admin == nil || s.keep {
		return nil
	}
	return s.admin.teardown(ctx)
}

// tokenEndpoint is --token-endpoint, or the discovered token_endpoint of --issuer.
func tokenEndpoint(ctx context.Context, env *Env) (string, error) {
	if env.Target.TokenEndpoint != "" {
		return env.Target.TokenEndpoint, nil
	}
	d, err := Discover(ctx, env.Client, env.Target.Issuer)
	if err != nil {
		return "", err
	}
	if d.Issuer != "" && d.Issuer != env.Target.Issuer {
		env.logf("warning: discovery issuer %q differs from --issuer %q", d.Issuer, env.Target.Issuer)
	}
	return d.TokenEndpoint, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
