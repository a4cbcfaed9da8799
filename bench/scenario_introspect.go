package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

func init() {
	register("introspect", "token introspection (RFC 7662) of an opaque access token",
		introspectScenario("introspect", tokenOpaque))
	register("introspect-jwt", "token introspection (RFC 7662) of a JWT access token (RFC 9068; resource asked for per RFC 8707)",
		introspectScenario("introspect-jwt", tokenJWT))
}

// accessTokenKind is the kind of access token an introspect scenario introspects, as
// recorded in its report.
type accessTokenKind string

const (
	// tokenOpaque: asked for without a resource, Latch issues an opaque
	// "<grant id>.<secret>", looked up in the Grant grain.
	tokenOpaque accessTokenKind = "opaque"
	// tokenJWT: asked for with a resource (RFC 8707), Latch issues an at+jwt (RFC
	// 9068); introspecting it verifies the signature and asks the Grant grain whether
	// the grant is still alive.
	tokenJWT accessTokenKind = "jwt"
)

// introspectScenario builds the introspect scenario for one kind of access token. The
// kinds are two scenarios rather than a flag so that each is its own line in `latch
// bench list`, in a --mix and in a report's scenario name.
func introspectScenario(name string, kind accessTokenKind) Factory {
	return func() Scenario {
		return &byTarget{
			latch: &sessionScenario{
				name:        name,
				spec:        fleetSpec{appType: "Traditional", scope: "openid profile", jwtAccessToken: kind == tokenJWT},
				newTask:     func(ua *userAgent) sessionTask { return &introspectTask{ua: ua, kind: kind} },
				extraParams: map[string]string{"introspectToken": string(kind), "tokenTypeHint": "access_token", "tokenSource": "sign-in"},
			},
			generic: &introspectClientToken{name: name, kind: kind},
		}
	}
}

// stepIntrospect names the introspection request in error classes.
const stepIntrospect = "introspect"

// introspectTask: each browser signs in once with the scenario's Traditional app and
// keeps the access token it gets, of the scenario's kind (checked, so the report's
// introspectToken is a fact, not a wish); every request is an introspection request
// (RFC 7662 2.1) for that token, authenticated as the same app with
// client_secret_basic (Latch shows a client only the tokens issued to itself). Anything
// but a 200 with "active": true is an error, and the worker then signs in again for a
// fresh token.
type introspectTask struct {
	ua   *userAgent
	kind accessTokenKind
	body []byte // token=<access token>&token_type_hint=access_token
	raw  []byte // the request for the epoll engine, rendered once a token
}

var _ rawSessionTask = (*introspectTask)(nil)

func (t *introspectTask) bootstrap(ctx context.Context) error {
	resp, err := t.ua.signInTokens(ctx)
	if err != nil {
		return err
	}
	if got := kindOfAccessToken(resp.AccessToken); got != t.kind {
		return ResponseError(http.StatusOK, fmt.Sprintf("%s: %s access token, want %s", stepToken, got, t.kind))
	}
	t.body = []byte(url.Values{"token": {resp.AccessToken}, "token_type_hint": {"access_token"}}.Encode())
	t.raw = nil
	return nil
}

// kindOfAccessToken tells a JWT from an opaque token by its shape: a JWS compact
// serialization is three non-empty base64url parts separated by dots (RFC 7515 7.1,
// RFC 7519 3.1); anything else is opaque to the client. Never panics.
func kindOfAccessToken(tok string) accessTokenKind {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return tokenOpaque
	}
	for _, p := range parts {
		if p == "" || strings.TrimLeft(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return tokenOpaque
		}
	}
	return tokenJWT
}

func (t *introspectTask) request(ctx context.Context) error {
	return t.ua.introspect(ctx, t.body)
}

func (t *introspectTask) rawEndpoint() string { return t.ua.f.ep.introspectionEndpoint() }

func (t *introspectTask) rawRequest() ([]byte, error) {
	if t.raw == nil {
		r := t.ua.introspectRequest(t.body)
		b, _, err := r.raw()
		if err != nil {
			return nil, err
		}
		t.raw = b
	}
	return t.raw, nil
}

func (t *introspectTask) rawResponse(r *rawResponse) error { return judgeRawIntrospection(r) }

// judgeRawIntrospection is judgeIntrospection of a raw response, as an error (nil when the token
// is active).
func judgeRawIntrospection(r *rawResponse) error {
	if rerr := judgeIntrospection(r.status, r.body); rerr != nil {
		return rerr
	}
	return nil
}

// introspectionEndpoint is the discovered introspection_endpoint, else Latch's route
// under the issuer.
func (ep *flowEndpoints) introspectionEndpoint() string {
	if ep.Introspection != "" {
		return ep.Introspection
	}
	return strings.TrimSuffix(ep.Issuer, "/") + "/token/introspection"
}

// introspect POSTs form (token, token_type_hint) to the introspection endpoint with
// the app's client authentication (the token endpoint's headers), without cookies.
func (u *userAgent) introspect(ctx context.Context, form []byte) error {
	r := u.introspectRequest(form)
	return r.introspect(ctx, u.api, u.buf)
}

// introspectRequest is the introspection request for form, authenticated as the app.
func (u *userAgent) introspectRequest(form []byte) tokenRequest {
	return tokenRequest{url: u.f.ep.introspectionEndpoint(), body: form, header: u.f.tokenHeader}
}

// introspect sends t as an introspection request (RFC 7662 2.1: the body holds token and
// token_type_hint, the client authenticates as at the token endpoint) and judges the
// answer with judgeIntrospection, reading it into buf.
func (t *tokenRequest) introspect(ctx context.Context, client *http.Client, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return err
	}
	req.Header = t.header // read-only: neither Client nor Transport modify it
	resp, err := client.Do(req)
	if err != nil {
		return TransportError(err)
	}
	body, _, err := readBody(resp, buf)
	if err != nil {
		return TransportError(err)
	}
	if rerr := judgeIntrospection(resp.StatusCode, body); rerr != nil {
		return rerr
	}
	return nil
}

// judgeIntrospection judges an introspection response (RFC 7662 2.2, 2.3): nil for a
// 200 whose JSON object has "active": true; otherwise a classified error. Never panics.
func judgeIntrospection(status int, body []byte) *RequestError {
	if status != http.StatusOK {
		if status >= 200 && status < 300 {
			return ResponseError(status, stepIntrospect+": status "+http.StatusText(status)+", want 200")
		}
		return stepStatusError(stepIntrospect, status, body)
	}
	active, ok := parseIntrospection(body)
	switch {
	case !ok:
		return ResponseError(status, stepIntrospect+": undecodable response")
	case !active:
		return ResponseError(status, stepIntrospect+": token not active")
	}
	return nil
}

// parseIntrospection reads the active member of an untrusted introspection response;
// ok is false unless body is a JSON object whose active is a boolean (RFC 7662 2.2:
// REQUIRED).
func parseIntrospection(body []byte) (active, ok bool) {
	// Fast path for the common shape, an object whose first member is "active": true
	// (encoding/json and node-oidc-provider both write it first): no decoding per
	// request. Anything else is decoded.
	if b := bytes.TrimSpace(body); bytes.HasPrefix(b, activeTrue) && len(b) > len(activeTrue) &&
		(b[len(activeTrue)] == ',' || b[len(activeTrue)] == '}') && b[len(b)-1] == '}' &&
		!mayRepeatActive(b[len(activeTrue):]) {
		return true, true
	}
	var v struct {
		Active *bool `json:"active"`
	}
	if json.Unmarshal(body, &v) != nil || v.Active == nil {
		return false, false
	}
	return *v.Active, true
}

var activeTrue = []byte(`{"active":true`)

// mayRepeatActive reports whether rest could hold another "active" member, which a
// decoder would let win: the key in any case (encoding/json matches names without
// regard to case) or any escape (a key may be spelled with them).
func mayRepeatActive(rest []byte) bool {
	if bytes.IndexByte(rest, '\\') >= 0 {
		return true
	}
	for i := bytes.IndexByte(rest, '"'); i >= 0; {
		if k := rest[i+1:]; len(k) >= 7 && bytes.EqualFold(k[:7], []byte(`active"`)) {
			return true
		}
		j := bytes.IndexByte(rest[i+1:], '"')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}
