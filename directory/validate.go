package directory

import (
	"bytes"
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
)

// Logto's identifier rules (@logto/core-kit regex.ts).
var (
	usernameRE = regexp.MustCompile(`^[A-Z_a-z][0-9A-Z_a-z]*$`)
	emailRE    = regexp.MustCompile(`^\S+@\S+\.\S+$`)
	phoneRE    = regexp.MustCompile(`^\d+$`)
)

// maxNameLen bounds free-text names (Logto's varchar(128) / varchar(256) columns).
const maxNameLen = 256

// absoluteURI reports whether s is an absolute URI (RFC 3986 4.3) without a fragment.
// http and https URIs must also have a host.
func absoluteURI(s string) bool {
	if s == "" || strings.ContainsAny(s, "# \t\r\n") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u.Host != ""
	}
	return u.Opaque != "" || u.Host != "" || u.Path != ""
}

// dangerousSchemes are never a redirect target for any application type: a browser
// runs or renders them in the origin that redirected to them (script, inline
// documents, local files).
var dangerousSchemes = map[string]bool{
	"javascript": true,
	"vbscript":   true,
	"data":       true,
	"file":       true,
	"blob":       true,
	"filesystem": true,
}

// customSchemeRE is Logto's loose custom URI scheme rule for native apps
// (@logto/core-kit looseNativeUriSchemeProtocolRegEx, narrowed to RFC 3986 3.1's
// scheme syntax): a letter, then letters, digits, '+', '-' or '.'.
var customSchemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)

// SafeRedirectURI reports whether uri may be used as a redirect_uri or
// post_logout_redirect_uri of an application of type appType: an absolute URI without
// a fragment whose scheme is http or https (with a host), or, for Native apps only
// (Logto: `io.logto://callback`), a custom scheme (RFC 8252 7.1). javascript:, data:,
// vbscript:, file:, blob: and filesystem: are refused for every type.
//
// The Management API refuses such URIs when an application is written; the
// authorization and end-session flows call it again before they redirect to a
// registered URI, so a value stored before this rule existed (or written around the
// API) is never used. Pure and allocation-light: safe on the hot path.
func SafeRedirectURI(uri string, appType AppType) bool {
	if !absoluteURI(uri) {
		return false
	}
	scheme, _, _ := strings.Cut(uri, ":")
	scheme = strings.ToLower(scheme)
	switch {
	case scheme == "http" || scheme == "https":
		return true // absoluteURI checked the host
	case dangerousSchemes[scheme]:
		return false
	case appType == AppNative:
		return customSchemeRE.MatchString(scheme)
	}
	return false
}

// safeWebURI reports whether uri is an absolute http(s) URI with a host and no
// fragment: the rule for back-channel logout URIs, which the server POSTs to.
func safeWebURI(uri string) bool {
	return SafeRedirectURI(uri, AppTraditional)
}

// validRedirectList checks every entry of a redirect-URI list of an application of
// type t with SafeRedirectURI.
func validRedirectList(field string, uris []string, t AppType) error {
	for _, u := range uris {
		if !SafeRedirectURI(u, t) {
			if t == AppNative {
				return invalid(field, "%q is not an absolute http(s) or custom-scheme URI without a fragment", u)
			}
			return invalid(field, "%q is not an absolute http(s) URI without a fragment", u)
		}
	}
	return nil
}

// jsonObject reports whether raw is empty or a JSON object.
func jsonObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return true
	}
	if raw[0] != '{' {
		return false
	}
	return json.Valid(raw)
}

// normalizeObject returns nil for an empty object or null so that stored values stay
// small; callers render nil as {}.
func normalizeObject(raw json.RawMessage) json.RawMessage {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	return bytes.Clone(t)
}

func validName(field, name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid(field, "must not be empty")
	}
	if len(name) > maxNameLen {
		return invalid(field, "must be at most %d bytes", maxNameLen)
	}
	return nil
}

// validExternalID checks an id given by the caller (the bootstrap admin client id):
// printable, no slash (assignment keys are subject/role), at most 128 bytes.
func validExternalID(id string) error {
	if id == "" || len(id) > 128 {
		return invalid("id", "must be 1 to 128 bytes")
	}
	for _, r := range id {
		if r <= ' ' || r == '/' || r == 0x7f || r > 0x7e {
			return invalid("id", "must be printable ASCII without spaces or '/'")
		}
	}
	return nil
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string(nil), s...)
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func cloneRaw(r json.RawMessage) json.RawMessage {
	if r == nil {
		return nil
	}
	return bytes.Clone(r)
}
