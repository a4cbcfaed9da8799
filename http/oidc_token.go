package httpapi

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// serveToken is the token endpoint (RFC 6749 3.2): decode the form and the client's
// credentials once, run op.Provider.Token, encode. The grant types, client
// authentication and every rule of the grants live in op.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	start := s.now()
	resp, app, grant, err := s.token(r)
	if s.metrics != nil {
		result := "success"
		if err != nil {
			e, _ := protocolError(err)
			result = e.Code
		}
		s.metrics.Token(grant, result, s.now().Sub(start))
	}
	if s.audit != nil {
		s.auditToken(r, grant, app, &resp, err) // mgmt_logs_emit.go
	}
	s.setCORS(w, r, app)
	if err != nil {
		s.writeOAuthError(w, r, err)
		return
	}
	writeNoStoreJSON(w, resp.Body())
}

// token also returns the grant_type the client sent, for the metrics.
func (s *Server) token(r *http.Request) (oidcflow.TokenResponse, *directory.Application, string, error) {
	form, err := readForm(r)
	if err != nil {
		return oidcflow.TokenResponse{}, nil, "", err
	}
	grant := form.Get("grant_type")
	client, err := clientAuth(r, form)
	if err != nil {
		return oidcflow.TokenResponse{}, nil, grant, err
	}
	resp, app, err := s.op.Token(r.Context(), op.TokenRequest{
		GrantType:      grant,
		Client:         client,
		Code:           form.Get("code"),
		RedirectURI:    form.Get("redirect_uri"),
		CodeVerifier:   form.Get("code_verifier"),
		RefreshToken:   form.Get("refresh_token"),
		OrganizationID: form.Get("organization_id"),
		Resources:      form["resource"],
		Scope:          form.Get("scope"),
		// token exchange (RFC 8693 2.1)
		SubjectToken:     form.Get("subject_token"),
		SubjectTokenType: form.Get("subject_token_type"),
		ActorToken:       form.Get("actor_token"),
		ActorTokenType:   form.Get("actor_token_type"),
	})
	return resp, app, grant, err
}

// readForm reads a bounded body of the OIDC POST endpoints. RFC 6749 3.2 requires
// application/x-www-form-urlencoded; as Logto, a JSON object is also read (its strings,
// numbers and booleans as values, arrays of them as repeated values), and a JSON body
// that does not parse counts as empty, so the request fails on what it lacks. A NUL
// byte anywhere is refused (400, never a 500).
func readForm(r *http.Request) (url.Values, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "application/json") {
		return nil, oauth.InvalidRequest("only application/x-www-form-urlencoded content-type bodies are supported on " +
			r.Method + " " + strings.TrimPrefix(r.URL.Path, "/oidc"))
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, oidcflow.MaxFormBytes+1))
	if err != nil {
		return nil, oauth.InvalidRequest("could not read request body")
	}
	if strings.Contains(string(body), "\x00") {
		return nil, errNullByte
	}
	if mt == "application/json" {
		if len(body) > oidcflow.MaxFormBytes {
			return nil, oauth.InvalidRequest("request body too large")
		}
		return jsonForm(body)
	}
	form, err := oidcflow.ParseForm(string(body))
	if err != nil {
		return nil, err
	}
	for _, vals := range form {
		for _, v := range vals {
			if strings.Contains(v, "\x00") {
				return nil, errNullByte
			}
		}
	}
	return form, nil
}

var errNullByte = oauth.InvalidRequest("null bytes are not allowed in the request body")

// jsonForm turns a JSON object into form values with ParseForm's rules (empty values
// are omitted; only resource may repeat). A body that is not a JSON object is empty.
func jsonForm(body []byte) (url.Values, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return url.Values{}, nil
	}
	v := url.Values{}
	for k, raw := range obj {
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) != nil {
			list = []json.RawMessage{raw}
		}
		for _, item := range list {
			if s, ok := jsonScalar(item); ok {
				v.Add(k, s)
			}
		}
	}
	return oidcflow.ParseForm(v.Encode())
}

// jsonScalar is a JSON string, number or boolean as text; null, objects and arrays are
// not values.
func jsonScalar(raw json.RawMessage) (string, bool) {
	var x any
	if json.Unmarshal(raw, &x) != nil {
		return "", false
	}
	switch t := x.(type) {
	case string:
		return t, true
	case bool, float64:
		return strings.TrimSpace(string(raw)), true
	}
	return "", false
}
