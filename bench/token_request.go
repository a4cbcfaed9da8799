package bench

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// tokenRequest is a token-endpoint POST prepared once: the form body and the headers are
// built at setup and shared read-only by every request, so a request allocates only what
// net/http itself needs.
type tokenRequest struct {
	url    string
	body   []byte
	header http.Header
}

// newTokenRequest prepares a POST of form to endpoint, authenticating the client with
// client_secret_basic (authMethod "basic", RFC 6749 2.3.1: id and secret form-urlencoded
// before base64) or client_secret_post ("post": in the body).
func newTokenRequest(endpoint, clientID, clientSecret, authMethod string, form url.Values) (*tokenRequest, error) {
	form = cloneValues(form)
	h := http.Header{}
	h.Set("Content-Type", "application/x-www-form-urlencoded")
	h.Set("Accept", "application/json")
	switch authMethod {
	case "basic", "":
		cred := url.QueryEscape(clientID) + ":" + url.QueryEscape(clientSecret)
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(cred)))
	case "post":
		form.Set("client_id", clientID)
		form.Set("client_secret", clientSecret)
	default:
		return nil, fmt.Errorf("auth method %q: want basic or post", authMethod)
	}
	if err := checkHTTPURL(endpoint); err != nil {
		return nil, fmt.Errorf("token endpoint: %w", err)
	}
	return &tokenRequest{url: endpoint, body: []byte(form.Encode()), header: h}, nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+2)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// do sends the request and reads the response into buf (whose capacity bounds what is
// kept). A non-2xx response becomes a classified *RequestError; a 2xx response must be a
// JSON token response with a non-empty access_token (checked without decoding the token).
func (t *tokenRequest) do(ctx context.Context, client *http.Client, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(t.body))
	if err != nil {
		return nil, err
	}
	req.Header = t.header // read-only: neither Client nor Transport modify it
	resp, err := client.Do(req)
	if err != nil {
		return nil, TransportError(err)
	}
	body, _, err := readBody(resp, buf)
	if err != nil {
		return nil, TransportError(err)
	}
	return body, checkTokenResponse(resp.StatusCode, body)
}

// raw renders the request for the epoll engine: its bytes and the host:port it goes to.
func (t *tokenRequest) raw() ([]byte, string, error) {
	return rawRequestBytes(http.MethodPost, t.url, t.header, t.body)
}

// checkTokenResponse is do's check of a response, for the epoll engine's RawResponse.
func checkTokenResponse(status int, body []byte) error {
	if status < 200 || status > 299 {
		return StatusError(status, body)
	}
	if !hasAccessToken(body) {
		return ResponseError(status, "no access_token")
	}
	return nil
}

var accessTokenKey = []byte(`"access_token"`)

// hasAccessToken is the cheap per-request check of a token response (no decoding, no
// allocation): an "access_token" member with a non-empty string value. It is used for
// complete and truncated bodies alike (a value cut off by the truncation counts);
// setup paths decode with parseTokenResponse.
func hasAccessToken(body []byte) bool {
	v, _, found := stringMember(body, accessTokenKey)
	return found && len(v) > 0
}

// stringMember finds the member key (quoted, as in accessTokenKey) of a JSON object
// whose value is a string and returns that value's raw bytes (inside body, not
// copied). found is false when the member is absent or its value is not a string;
// whole is false when the value has no closing quote (a truncated body) or holds an
// escape: the caller then decodes the body with encoding/json (tokens never need
// escapes). A key inside another string value is skipped: no colon follows it. Never
// panics.
func stringMember(body, key []byte) (value []byte, whole, found bool) {
	for {
		i := bytes.Index(body, key)
		if i < 0 {
			return nil, false, false
		}
		rest := bytes.TrimLeft(body[i+len(key):], " \t\r\n")
		if len(rest) == 0 || rest[0] != ':' {
			body = rest
			continue
		}
		rest = bytes.TrimLeft(rest[1:], " \t\r\n")
		if len(rest) == 0 || rest[0] != '"' {
			return nil, false, false
		}
		v := rest[1:]
		end := bytes.IndexByte(v, '"')
		if end < 0 {
			return v, false, true
		}
		v = v[:end]
		return v, !bytes.ContainsRune(v, '\\'), true
	}
}

// tokenResponse is the part of RFC 6749 5.1 the scenarios need.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
}

// parseTokenResponse decodes an untrusted token response; ok is false on garbage, wrong
// member types, or an empty access_token. Never panics.
func parseTokenResponse(body []byte) (tokenResponse, bool) {
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return tokenResponse{}, false
	}
	return tr, true
}
