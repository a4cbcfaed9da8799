package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// introspectClientToken is the introspect scenarios against --target generic: another OP
// signs its users in its own way, so the token to introspect comes from the
// client_credentials grant (RFC 6749 4.4) of --client-id, which every OP has. For
// introspect it is asked for without --resource / --audience (node-oidc-provider and
// Ory Hydra then issue opaque tokens, kept in their store); for introspect-jwt with them
// (a JWT, RFC 9068, where the OP issues JWTs for that API). Each load goroutine gets its
// own token at setup; every request introspects it (RFC 7662 2.1), authenticated as the
// same client, with --auth-method. Anything but a 200 with "active": true is an error.
//
// Against Latch the same scenario names introspect a signed-in user's token instead
// (introspectTask): Latch, like Logto, issues client_credentials tokens only for an API
// resource. Both are "introspect an access token of this kind"; the report's
// tokenSource says which.
type introspectClientToken struct {
	name   string
	kind   accessTokenKind
	client *http.Client
	reqs   []*tokenRequest // one introspection request per worker, each its own token
	params map[string]string
	// rawAddr is the introspection endpoint's host:port for the epoll engine, "" when
	// it is not http://.
	rawAddr string
}

var (
	_ WorkerScenario = (*introspectClientToken)(nil)
	_ Describer      = (*introspectClientToken)(nil)
	_ RawTarget      = (*introspectClientToken)(nil)
	_ RawWorker      = (*introspectClientWorker)(nil)
)

func (s *introspectClientToken) Setup(ctx context.Context, env *Env) error {
	t := env.Target
	s.client = env.Client
	if t.ClientID == "" {
		return fmt.Errorf("%s: --target %s needs --client-id and --client-secret: a client allowed the client_credentials grant, whose token it introspects", s.name, t.Kind)
	}
	asksAPI := t.Resource != "" || t.Audience != ""
	switch {
	case s.kind == tokenJWT && !asksAPI:
		return fmt.Errorf("%s: --target %s needs --resource (RFC 8707) or --audience: the API whose JWT access tokens it introspects", s.name, t.Kind)
	case s.kind == tokenOpaque && asksAPI:
		env.logf("%s: note: asking for the token with --resource/--audience as given; many OPs then issue a JWT (use introspect-jwt for that)", s.name)
	}
	d, err := Discover(ctx, env.Client, t.Issuer)
	if err != nil {
		return err
	}
	tokenURL := orDefault(t.TokenEndpoint, d.TokenEndpoint)
	introspectURL := orDefault(t.IntrospectionEndpoint, d.IntrospectionEndpoint)
	if introspectURL == "" {
		return fmt.Errorf("%s: the OP's discovery has no introspection_endpoint; give it with --introspection-endpoint", s.name)
	}
	if err := checkHTTPURL(introspectURL); err != nil {
		return fmt.Errorf("%s: introspection endpoint: %w", s.name, err)
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	for k, v := range map[string]string{"resource": t.Resource, "audience": t.Audience, "scope": t.Scope} {
		if v != "" {
			form.Set(k, v)
		}
	}
	tokenReq, err := newTokenRequest(tokenURL, t.ClientID, t.ClientSecret, t.AuthMethod, form)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, 16<<10)
	s.reqs = make([]*tokenRequest, env.workers())
	for i := range s.reqs {
		body, err := tokenReq.do(ctx, s.client, buf)
		if err != nil {
			return fmt.Errorf("%s: getting a token to introspect (client_credentials): %w", s.name, err)
		}
		tr, ok := parseTokenResponse(body)
		if !ok {
			return fmt.Errorf("%s: undecodable token response", s.name)
		}
		if got := kindOfAccessToken(tr.AccessToken); got != s.kind {
			return fmt.Errorf("%s: the OP issued a %s access token, want %s (introspect takes the token asked for without --resource/--audience, introspect-jwt with one)", s.name, got, s.kind)
		}
		in := url.Values{"token": {tr.AccessToken}, "token_type_hint": {"access_token"}}
		if s.reqs[i], err = newTokenRequest(introspectURL, t.ClientID, t.ClientSecret, t.AuthMethod, in); err != nil {
			return err
		}
	}
	// One introspection before the load: an OP that does not introspect this kind of
	// token fails here, with its reason, instead of as a wall of identical errors.
	if err := s.reqs[0].introspect(ctx, s.client, buf); err != nil {
		return errors.New(s.name + ": the first introspection failed: " + err.Error())
	}
	s.rawAddr = rawAddrOf(introspectURL)
	env.logf("setup: %d client_credentials tokens (%s) to introspect at %s", len(s.reqs), s.kind, introspectURL)
	s.params = map[string]string{
		"introspectToken":       string(s.kind),
		"tokenTypeHint":         "access_token",
		"tokenSource":           "client_credentials",
		"tokenEndpoint":         tokenURL,
		"introspectionEndpoint": introspectURL,
		"clientId":              t.ClientID,
		"authMethod":            orDefault(t.AuthMethod, "basic"),
		"resource":              t.Resource,
		"audience":              t.Audience,
		"scope":                 t.Scope,
	}
	return nil
}

// Do serves callers that do not use NewWorker (the mixed scenario's fallback): the
// first worker's token, with a pooled buffer.
func (s *introspectClientToken) Do(ctx context.Context) error {
	bp := responseBuffers.Get().(*[]byte)
	err := s.reqs[0].introspect(ctx, s.client, *bp)
	responseBuffers.Put(bp)
	return err
}

// NewWorker gives load goroutine id its own token (round robin past those made at
// setup) and response buffer.
func (s *introspectClientToken) NewWorker(id int) (Worker, error) {
	w := &introspectClientWorker{s: s, req: s.reqs[max(id, 0)%len(s.reqs)], buf: make([]byte, 0, 16<<10)}
	if s.rawAddr != "" {
		var err error
		if w.raw, _, err = w.req.raw(); err != nil {
			return nil, err
		}
	}
	return w, nil
}

type introspectClientWorker struct {
	s   *introspectClientToken
	req *tokenRequest
	buf []byte
	raw []byte // req for the epoll engine (http:// endpoints only)
}

func (w *introspectClientWorker) Do(ctx context.Context) error {
	return w.req.introspect(ctx, w.s.client, w.buf)
}

// RawRequest implements RawWorker: the worker's introspection request, every time.
func (w *introspectClientWorker) RawRequest(context.Context) ([]byte, error) { return w.raw, nil }

// RawResponse implements RawWorker with Do's checks.
func (w *introspectClientWorker) RawResponse(_ context.Context, r *rawResponse) error {
	return judgeRawIntrospection(r)
}

// RawAddr implements RawTarget ("" when the introspection endpoint is not http://).
func (s *introspectClientToken) RawAddr() string { return s.rawAddr }

func (s *introspectClientToken) Params() map[string]string { return s.params }
