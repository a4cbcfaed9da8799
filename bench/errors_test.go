package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want ErrorClass
		str  string
	}{
		{"oauth", StatusError(401, []byte(`{"error":"invalid_client","error_description":"nope"}`)),
			ErrorClass{KindOAuth, 401, "invalid_client"}, "oauth invalid_client (401)"},
		{"oauth wrapped", fmt.Errorf("ctx: %w", StatusError(400, []byte(`{"error":"invalid_target"}`))),
			ErrorClass{KindOAuth, 400, "invalid_target"}, "oauth invalid_target (400)"},
		{"html 502", StatusError(502, []byte(`<html>bad gateway</html>`)),
			ErrorClass{Kind: KindHTTP, Status: 502}, "http 502"},
		{"json without error", StatusError(500, []byte(`{"code":"entity.not_found"}`)),
			ErrorClass{Kind: KindHTTP, Status: 500}, "http 500"},
		{"error not a string", StatusError(400, []byte(`{"error":{"x":1}}`)),
			ErrorClass{Kind: KindHTTP, Status: 400}, "http 400"},
		{"error with a quote", StatusError(400, []byte(`{"error":"a\"b"}`)),
			ErrorClass{Kind: KindHTTP, Status: 400}, "http 400"},
		{"empty body", StatusError(503, nil), ErrorClass{Kind: KindHTTP, Status: 503}, "http 503"},
		{"flow step", stepStatusError(stepSubmit, 400, []byte(`{"code":"session.identifier_not_found","message":"m"}`)),
			ErrorClass{KindHTTP, 400, "submit: session.identifier_not_found"}, "http 400 (submit: session.identifier_not_found)"},
		{"2xx without token", ResponseError(200, "no access_token"),
			ErrorClass{KindResponse, 200, "no access_token"}, "response: no access_token"},
		{"refused", TransportError(&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			ErrorClass{Kind: KindTransport, Code: "connection refused"}, "transport: connection refused"},
		{"reset", TransportError(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
			ErrorClass{Kind: KindTransport, Code: "connection reset"}, "transport: connection reset"},
		{"timeout", TransportError(fmt.Errorf("Post: %w", context.DeadlineExceeded)),
			ErrorClass{Kind: KindTransport, Code: "timeout"}, "transport: timeout"},
		{"eof", TransportError(io.ErrUnexpectedEOF), ErrorClass{Kind: KindTransport, Code: "eof"}, "transport: eof"},
		{"bare net error", &net.OpError{Op: "read", Err: errors.New("weird")},
			ErrorClass{Kind: KindTransport, Code: "other"}, "transport: other"},
		{"bare eof", io.EOF, ErrorClass{Kind: KindTransport, Code: "eof"}, "transport: eof"},
		{"anything else", errors.New("scenario bug"), ErrorClass{Kind: KindOther}, "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Classify(tc.err)
			if got != tc.want {
				t.Errorf("Classify = %+v, want %+v", got, tc.want)
			}
			if got.String() != tc.str {
				t.Errorf("String = %q, want %q", got.String(), tc.str)
			}
		})
	}
}

func TestParseOAuthError(t *testing.T) {
	code, desc, ok := ParseOAuthError([]byte(`{"error":"invalid_grant","error_description":"code already used","state":"x"}`))
	if !ok || code != "invalid_grant" || desc != "code already used" {
		t.Errorf("got %q %q %v", code, desc, ok)
	}
	for _, bad := range []string{``, `null`, `[]`, `"x"`, `{"error":""}`, `{"error":"` + strings.Repeat("a", 129) + `"}`, `{"error":"tab\there"}`, `{"error":"é"}`, `{"error":`} {
		if _, _, ok := ParseOAuthError([]byte(bad)); ok {
			t.Errorf("ParseOAuthError(%q) accepted", bad)
		}
	}
}

// FuzzParseOAuthError: OP error bodies are untrusted; never panic, and an accepted code
// is always printable ASCII without quote or backslash.
func FuzzParseOAuthError(f *testing.F) {
	for _, s := range []string{`{"error":"invalid_client"}`, `{"error":1}`, `{"error":"a","error_description":null}`, `<html>`, "\xff\xfe", `{"error":"x","error":"y"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, _, ok := ParseOAuthError(body)
		if !ok {
			return
		}
		for _, c := range []byte(code) {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				t.Fatalf("accepted code %q", code)
			}
		}
		_ = StatusError(400, body).Error()
	})
}

func TestParseDiscovery(t *testing.T) {
	d, err := ParseDiscovery([]byte(`{"issuer":"http://localhost:3001/oidc","token_endpoint":"http://localhost:3001/oidc/token","grant_types_supported":["client_credentials"]}`))
	if err != nil || d.TokenEndpoint != "http://localhost:3001/oidc/token" {
		t.Fatalf("%+v %v", d, err)
	}
	for _, bad := range []string{`{}`, `{"token_endpoint":"/token"}`, `{"token_endpoint":"ftp://x/token"}`, `{"token_endpoint":5}`, `not json`, `{"token_endpoint":"http://x/t","jwks_uri":"::"}`} {
		if _, err := ParseDiscovery([]byte(bad)); err == nil {
			t.Errorf("ParseDiscovery(%q) accepted", bad)
		}
	}
}

func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"http://localhost/oidc","token_endpoint":"http://localhost/oidc/token"}`))
	f.Add([]byte(`{"token_endpoint":"http://[::1]:80/t","grant_types_supported":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ParseDiscovery(body)
		if err == nil && (d == nil || checkHTTPURL(d.TokenEndpoint) != nil) {
			t.Fatalf("accepted a document without a usable token endpoint: %+v", d)
		}
	})
}

func TestHasAccessToken(t *testing.T) {
	for body, want := range map[string]bool{
		`{"access_token":"abc","token_type":"Bearer"}`:   true,
		`{"token_type":"Bearer", "access_token" : "a"}`:  true,
		`{"access_token":""}`:                            false,
		`{"access_token":null}`:                          false,
		`{"error":"invalid_client"}`:                     false,
		`{"x":"\"access_token\"","access_token":"real"}`: true,
		`{"access_token"`:                                false,
		``:                                               false,
	} {
		if got := hasAccessToken([]byte(body)); got != want {
			t.Errorf("hasAccessToken(%s) = %v, want %v", body, got, want)
		}
	}
}

func TestStringMember(t *testing.T) {
	for _, tc := range []struct {
		body, value  string
		whole, found bool
	}{
		{`{"access_token":"a","refresh_token":"r.1-_"}`, "r.1-_", true, true},
		{`{"refresh_token" : "r" }`, "r", true, true},
		{`{"scope":"\"refresh_token\"","refresh_token":"real"}`, "real", true, true},
		{`{"scope":"refresh_token","refresh_token":"real"}`, "real", true, true},
		{`{"refresh_token":"r\u0041"}`, `r\u0041`, false, true}, // escaped: decode instead
		{`{"refresh_token":"cut-off`, "cut-off", false, true},   // truncated body
		{`{"refresh_token":""}`, "", true, true},
		{`{"refresh_token":null}`, "", false, false},
		{`{"refresh_token"`, "", false, false},
		{`{"access_token":"a"}`, "", false, false},
	} {
		v, whole, found := stringMember([]byte(tc.body), refreshTokenKey)
		if string(v) != tc.value || whole != tc.whole || found != tc.found {
			t.Errorf("stringMember(%s) = %q, whole %v, found %v; want %q, %v, %v", tc.body, v, whole, found, tc.value, tc.whole, tc.found)
		}
	}
}

func FuzzTokenResponse(f *testing.F) {
	f.Add([]byte(`{"access_token":"a","refresh_token":"r","id_token":"i"}`))
	f.Add([]byte(`{"access_token":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = hasAccessToken(body)
		if v, whole, _ := stringMember(body, refreshTokenKey); whole && bytes.ContainsAny(v, `"\\`) {
			t.Fatalf("a whole value holds a quote or an escape: %q", v)
		}
		if tr, ok := parseTokenResponse(body); ok && tr.AccessToken == "" {
			t.Fatal("ok without an access token")
		}
	})
}
