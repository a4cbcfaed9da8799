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

// validURIList checks every entry of a redirect-URI list.
func validURIList(field string, uris []string) error {
	for _, u := range uris {
		if !absoluteURI(u) {
			return invalid(field, "%q is not an absolute URI without a fragment", u)
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
