package oidcflow

import (
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latchid/latch/oidcflow/oauth"
)

func TestParseForm(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    url.Values
		wantErr error
	}{
		{name: "simple", body: "grant_type=client_credentials&scope=a+b", want: url.Values{"grant_type": {"client_credentials"}, "scope": {"a b"}}},
		{name: "empty value is omitted", body: "grant_type=x&scope=", want: url.Values{"grant_type": {"x"}}},
		{name: "duplicate refused", body: "grant_type=x&grant_type=y", wantErr: oauth.InvalidRequest("")},
		{name: "duplicate with empty is one", body: "scope=&scope=a", want: url.Values{"scope": {"a"}}},
		{name: "resource may repeat", body: "resource=https://a&resource=https://b", want: url.Values{"resource": {"https://a", "https://b"}}},
		{name: "bad escape", body: "scope=%zz", wantErr: oauth.InvalidRequest("")},
		{name: "too large", body: "a=" + strings.Repeat("x", MaxFormBytes), wantErr: oauth.InvalidRequest("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseForm(tt.body)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Encode() != tt.want.Encode() {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "read", want: []string{"read"}},
		{in: "read write read", want: []string{"read", "write"}},
		{in: "  read   write ", want: []string{"read", "write"}},
		{in: `bad"quote`, wantErr: true},
		{in: `back\slash`, wantErr: true},
		{in: "tab\there", wantErr: true},
		{in: "ünicode", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseScope(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("ParseScope(%q) err = %v", tt.in, err)
		}
		if err != nil && !errors.Is(err, oauth.InvalidScope("")) {
			t.Fatalf("ParseScope(%q) err = %v, want invalid_scope", tt.in, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Fatalf("ParseScope(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParseForm(f *testing.F) {
	for _, s := range []string{"grant_type=client_credentials&resource=https%3A%2F%2Fapi&scope=a+b", "a=1&a=2", "%", "=&=", "resource=x&resource=y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := ParseForm(body)
		if err != nil {
			var oe *oauth.Error
			if !errors.As(err, &oe) || oe.Code != oauth.CodeInvalidRequest {
				t.Fatalf("non-protocol error %v", err)
			}
			return
		}
		// parse -> serialize -> parse is stable.
		again, err := ParseForm(v.Encode())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", v.Encode(), err)
		}
		if again.Encode() != v.Encode() {
			t.Fatalf("unstable: %q vs %q", again.Encode(), v.Encode())
		}
	})
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"openid profile", "a  b", "\x00", "read:all write"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseScope(s)
		if err != nil {
			return
		}
		again, err := ParseScope(FormatScope(got))
		if err != nil || !slices.Equal(again, got) {
			t.Fatalf("unstable: %q -> %q -> %q (%v)", s, got, again, err)
		}
		for _, tok := range got {
			if tok == "" || strings.ContainsAny(tok, " \"\\") {
				t.Fatalf("bad token %q", tok)
			}
		}
	})
}
