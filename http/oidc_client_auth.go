package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// clientAuth reads a client's credentials (RFC 6749 2.3.1) from the Basic
// Authorization header and the form, for op.Provider.AuthenticateClient, which applies
// every rule about them.
func clientAuth(r *http.Request, form url.Values) (op.ClientAuth, error) {
	c := op.ClientAuth{FormID: form.Get("client_id"), FormSecret: form.Get("client_secret")}
	if h := r.Header.Get("Authorization"); h != "" {
		id, secret, err := parseBasic(h)
		if err != nil {
			return c, err
		}
		c.Basic, c.BasicID, c.BasicSecret = true, id, secret
	}
	return c, nil
}

// parseBasic decodes RFC 7617 Basic credentials. RFC 6749 2.3.1 says client_id and
// secret are form-urlencoded before base64; Logto's SDKs do not encode first, so a value
// that does not decode as form-urlencoding is taken as is.
func parseBasic(h string) (id, secret string, err error) {
	scheme, rest, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", "", oauth.InvalidClient("unsupported Authorization scheme for client authentication")
	}
	raw, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if derr != nil {
		return "", "", oauth.InvalidClient("malformed Basic credentials")
	}
	u, p, ok := strings.Cut(string(raw), ":")
	if !ok || u == "" {
		return "", "", oauth.InvalidClient("malformed Basic credentials")
	}
	return formUnescape(u), formUnescape(p), nil
}

// basicAuthorization tells whether the request carries an Authorization header of the
// Basic scheme.
func basicAuthorization(r *http.Request) bool {
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	return strings.EqualFold(scheme, "Basic")
}

func formUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if v, err := url.QueryUnescape(s); err == nil {
		return v
	}
	return s
}
