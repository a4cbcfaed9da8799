package oidcflow

import (
	"net/url"
	"strings"

	"github.com/latchid/latch/oidcflow/oauth"
)

// maxParamBytes bounds one request's form body; larger bodies are refused before parsing.
const MaxFormBytes = 64 << 10

// multiValued lists the parameters that may repeat: RFC 8707 2 allows several
// "resource" values; RFC 6749 3.1 forbids repeating any other.
var multiValued = map[string]bool{"resource": true}

// ParseForm decodes an application/x-www-form-urlencoded body. RFC 6749 3.1: a parameter
// sent without a value is treated as omitted, and parameters must not be included more
// than once (except those RFC 8707 allows to repeat).
func ParseForm(body string) (url.Values, error) {
	if len(body) > MaxFormBytes {
		return nil, oauth.InvalidRequest("request body too large")
	}
	v, err := url.ParseQuery(body)
	if err != nil {
		return nil, oauth.InvalidRequest("malformed form body")
	}
	for k, vals := range v {
		// Empty values count as omitted (RFC 6749 3.1).
		kept := vals[:0]
		for _, s := range vals {
			if s != "" {
				kept = append(kept, s)
			}
		}
		switch {
		case len(kept) == 0:
			delete(v, k)
		case len(kept) > 1 && !multiValued[k]:
			return nil, oauth.InvalidRequest("parameter " + k + " is included more than once")
		default:
			v[k] = kept
		}
	}
	return v, nil
}

// ParseScope splits a scope parameter (RFC 6749 3.3: space-delimited scope-tokens of
// %x21 / %x23-5B / %x5D-7E), dropping duplicates and keeping the first order. An empty
// string gives nil.
func ParseScope(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for tok := range strings.SplitSeq(s, " ") {
		if tok == "" {
			continue // tolerate repeated spaces, as every provider does
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
				return nil, oauth.InvalidScope("scope contains an invalid character")
			}
		}
		dup := false
		for _, o := range out {
			if o == tok {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, tok)
		}
	}
	return out, nil
}

// FormatScope joins scopes with single spaces.
func FormatScope(scopes []string) string { return strings.Join(scopes, " ") }
