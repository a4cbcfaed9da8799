package oidcflow

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/latchid/latch/oidcflow/oauth"
)

func TestDecodeClientCredentials(t *testing.T) {
	tests := []struct {
		name    string
		form    url.Values
		want    ClientCredentialsRequest
		wantErr error
	}{
		{name: "resource and scope", form: url.Values{"resource": {"https://api.example.com"}, "scope": {"read write"}},
			want: ClientCredentialsRequest{Resource: "https://api.example.com", Scopes: []string{"read", "write"}}},
		{name: "scope omitted", form: url.Values{"resource": {"https://api.example.com"}},
			want: ClientCredentialsRequest{Resource: "https://api.example.com"}},
		{name: "no resource", form: url.Values{}, wantErr: oauth.InvalidTarget("")},
		{name: "two resources", form: url.Values{"resource": {"https://a", "https://b"}}, wantErr: oauth.InvalidTarget("")},
		{name: "relative resource", form: url.Values{"resource": {"api"}}, wantErr: oauth.InvalidTarget("")},
		{name: "fragment", form: url.Values{"resource": {"https://a#x"}}, wantErr: oauth.InvalidTarget("")},
		{name: "bad scope", form: url.Values{"resource": {"https://a"}, "scope": {"a\"b"}}, wantErr: oauth.InvalidScope("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeClientCredentials(tt.form)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Resource != tt.want.Resource || !slices.Equal(got.Scopes, tt.want.Scopes) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestIssueClientCredentials(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name      string
		requested []string
		granted   []string
		wantScope string
	}{
		{name: "omitted scope gets none (Logto)", requested: nil, granted: []string{"read", "write"}, wantScope: ""},
		{name: "ungranted scopes are dropped", requested: []string{"write", "admin"}, granted: []string{"read", "write"}, wantScope: "write"},
		{name: "nothing granted", requested: []string{"admin"}, granted: nil, wantScope: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := IssueClientCredentials(ClientCredentialsGrant{
				Issuer: "http://localhost:3001/oidc", ClientID: "m2m",
				Request: ClientCredentialsRequest{Resource: "https://api", Scopes: tt.requested},
				TTL:     900 * time.Second, Granted: tt.granted, Now: now, JTI: "jti-1",
			}, ring)
			if err != nil {
				t.Fatal(err)
			}
			if resp.TokenType != "Bearer" || resp.ExpiresIn != 900 || resp.Scope != tt.wantScope {
				t.Fatalf("response %+v", resp)
			}
			payload, typ, err := ring.Verify(resp.AccessToken)
			if err != nil || typ != "at+jwt" {
				t.Fatalf("verify: %v typ %q", err, typ)
			}
			var c AccessTokenClaims
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			want := AccessTokenClaims{JTI: "jti-1", Sub: "m2m", IAT: now.Unix(), EXP: now.Unix() + 900, Scope: tt.wantScope,
				ClientID: "m2m", Iss: "http://localhost:3001/oidc", Aud: "https://api"}
			if c != want {
				t.Fatalf("claims %+v, want %+v", c, want)
			}
		})
	}
}
