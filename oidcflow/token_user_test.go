package oidcflow

import (
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"
)

func TestIssueUserAccessToken(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name             string
		requested, roles []string
		wantScope        string
	}{
		{"requested and held", []string{"openid", "read", "write"}, []string{"read", "write", "admin"}, "read write"},
		{"not held is dropped", []string{"read", "write"}, []string{"read"}, "read"},
		{"OIDC scopes never reach the API", []string{"openid", "profile"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, scope, err := IssueUserAccessToken(UserAccessToken{
				Issuer: "https://id/oidc", ClientID: "app", Subject: "u1", Resource: "https://api",
				JTI: "j", Now: now, TTL: 600 * time.Second, Requested: tt.requested, RoleScopes: tt.roles,
			}, ring)
			if err != nil || scope != tt.wantScope {
				t.Fatalf("scope %q, %v", scope, err)
			}
			payload, typ, err := ring.Verify(tok)
			if err != nil || typ != TypAccessToken {
				t.Fatalf("%v %q", err, typ)
			}
			var c AccessTokenClaims
			_ = json.Unmarshal(payload, &c)
			if c.Sub != "u1" || c.ClientID != "app" || c.Aud != "https://api" || c.Scope != tt.wantScope ||
				c.EXP-c.IAT != 600 || c.Iss != "https://id/oidc" || c.JTI != "j" {
				t.Fatalf("%+v", c)
			}
		})
	}
}

func TestIssuesRefreshToken(t *testing.T) {
	tests := []struct {
		name          string
		scopes        []string
		native, alway bool
		want          bool
	}{
		{"offline_access", []string{"openid", "offline_access"}, false, false, true},
		{"offline_access native", []string{"openid", "offline_access"}, true, false, true},
		{"none", []string{"openid"}, false, false, false},
		{"alwaysIssueRefreshToken web", []string{"openid"}, false, true, true},
		{"alwaysIssueRefreshToken ignored for native", []string{"openid"}, true, true, false},
	}
	for _, tt := range tests {
		if got := IssuesRefreshToken(tt.scopes, tt.native, tt.alway); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
	if !SubsetScopes([]string{"a"}, []string{"a", "b"}) || SubsetScopes([]string{"c"}, []string{"a"}) || !SubsetScopes(nil, nil) {
		t.Error("SubsetScopes")
	}
}
