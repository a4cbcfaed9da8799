package oidcflow

import (
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// Back-Channel Logout 1.0, 2.4 and 2.6: the claims of a logout token, its typ, and what
// it must never carry.
func TestMintLogoutToken(t *testing.T) {
	k, err := GenerateSigningKey(AlgES256, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := NewKeyRing(k)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		name    string
		in      LogoutToken
		want    map[string]any
		wantErr bool
	}{
		{
			name: "sub and sid",
			in:   LogoutToken{Issuer: "https://id.example/oidc", Audience: "app1", Subject: "user1", SID: "sid1", JTI: "j1", Now: now},
			want: map[string]any{"iss": "https://id.example/oidc", "aud": "app1", "sub": "user1", "sid": "sid1", "jti": "j1",
				"iat": float64(now.Unix()), "exp": float64(now.Unix() + 120)},
		},
		{
			name: "sub only",
			in:   LogoutToken{Issuer: "https://id.example/oidc", Audience: "app1", Subject: "user1", JTI: "j2", Now: now},
			want: map[string]any{"sub": "user1", "jti": "j2"},
		},
		{name: "neither sub nor sid", in: LogoutToken{Issuer: "i", Audience: "a", JTI: "j", Now: now}, wantErr: true},
		{name: "no jti", in: LogoutToken{Issuer: "i", Audience: "a", Subject: "s", Now: now}, wantErr: true},
		{name: "no audience", in: LogoutToken{Issuer: "i", Subject: "s", JTI: "j", Now: now}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := MintLogoutToken(tt.in, ring)
			if tt.wantErr {
				if err == nil {
					t.Fatal("minted an invalid logout token")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			payload, typ, err := ring.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if typ != TypLogoutToken {
				t.Errorf("typ = %q, want %q", typ, TypLogoutToken)
			}
			var c map[string]any
			if err := json.Unmarshal(payload, &c); err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.want {
				if c[k] != v {
					t.Errorf("%s = %v, want %v", k, c[k], v)
				}
			}
			if tt.in.SID == "" {
				if _, ok := c["sid"]; ok {
					t.Error("sid present without a session id")
				}
			}
			ev, _ := c["events"].(map[string]any)
			if m, ok := ev[BackchannelLogoutEvent].(map[string]any); !ok || len(m) != 0 || len(ev) != 1 {
				t.Errorf("events = %v, want {%q: {}}", c["events"], BackchannelLogoutEvent)
			}
			if _, ok := c["nonce"]; ok {
				t.Error("a logout token must not contain nonce (2.4)")
			}
			// An ID token hint parser must refuse it: it is not an ID token.
			if _, err := ParseIDTokenHint(tok, tt.in.Issuer, ring); err == nil || !strings.Contains(err.Error(), "not an ID token") {
				t.Errorf("a logout token accepted as id_token_hint: %v", err)
			}
		})
	}
}
