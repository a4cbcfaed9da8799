package oidcflow

import (
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"
)

func verifyClaims(t *testing.T, ring *KeyRing, tok string) AccessTokenClaims {
	t.Helper()
	payload, typ, err := ring.Verify(tok)
	if err != nil || typ != TypAccessToken {
		t.Fatalf("%v %q", err, typ)
	}
	var c AccessTokenClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// Logto RFC 0001: aud urn:logto:organization:<id>, TTL 3600 s, scope = the role scopes
// that were requested (in the roles' order), no organization_id claim.
func TestIssueOrganizationToken(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	now := time.Unix(1_700_000_000, 0)
	tests := []struct {
		name             string
		requested, roles []string
		wantScope        string
	}{
		{"requested and held, roles' order", []string{"openid", "write:docs", "read:docs"}, []string{"read:docs", "write:docs", "admin"}, "read:docs write:docs"},
		{"not held is dropped", []string{"read:docs", "admin"}, []string{"read:docs"}, "read:docs"},
		{"no roles: empty scope", []string{"read:docs"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, scope, err := IssueOrganizationToken("org1", UserAccessToken{
				Issuer: "https://id/oidc", ClientID: "app", Subject: "u1", Resource: "https://ignored", OrganizationID: "ignored",
				JTI: "j", Now: now, Requested: tt.requested, RoleScopes: tt.roles, GrantID: "g1",
			}, ring)
			if err != nil || scope != tt.wantScope {
				t.Fatalf("scope %q, %v", scope, err)
			}
			c := verifyClaims(t, ring, tok)
			if c.Aud != "urn:logto:organization:org1" || c.Scope != tt.wantScope || c.EXP-c.IAT != 3600 ||
				c.OrganizationID != "" || c.Sub != "u1" || c.ClientID != "app" || c.GrantID != "g1" {
				t.Fatalf("%+v", c)
			}
		})
	}
}

func TestUserAccessTokenOrganizationClaim(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	tok, _, err := IssueUserAccessToken(UserAccessToken{Issuer: "i", ClientID: "a", Subject: "u", Resource: "https://api",
		JTI: "j", Now: time.Unix(1, 0), TTL: time.Minute, OrganizationID: "org1"}, ring)
	if err != nil {
		t.Fatal(err)
	}
	if c := verifyClaims(t, ring, tok); c.OrganizationID != "org1" || c.Aud != "https://api" {
		t.Fatalf("%+v", c)
	}
}

// Logto RFC 0006: an M2M organization token's scope is the requested scopes its roles
// hold; an omitted scope gives none (Logto's client_credentials grant only intersects).
func TestIssueClientCredentialsOrganization(t *testing.T) {
	k, _ := GenerateSigningKey(AlgES256, rand.Reader)
	ring, _ := NewKeyRing(k)
	tests := []struct {
		name      string
		resource  string
		requested []string
		wantAud   string
		wantScope string
		wantOrg   string
		wantTTL   int64
	}{
		{"organization token", "", []string{"b", "a", "x"}, "urn:logto:organization:o1", "a b", "", 3600},
		{"organization token, scope omitted", "", nil, "urn:logto:organization:o1", "", "", 3600},
		{"organization-level resource", "https://api", []string{"a"}, "https://api", "a", "o1", 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := IssueClientCredentials(ClientCredentialsGrant{Issuer: "i", ClientID: "m2m",
				Request: ClientCredentialsRequest{Resource: tt.resource, Scopes: tt.requested},
				TTL:     time.Minute, Granted: []string{"a", "b"}, Now: time.Unix(1, 0), JTI: "j", OrganizationID: "o1"}, ring)
			if err != nil || resp.Scope != tt.wantScope || resp.ExpiresIn != tt.wantTTL {
				t.Fatalf("%+v %v", resp, err)
			}
			c := verifyClaims(t, ring, resp.AccessToken)
			if c.Aud != tt.wantAud || c.Scope != tt.wantScope || c.OrganizationID != tt.wantOrg || c.Sub != "m2m" {
				t.Fatalf("%+v", c)
			}
		})
	}
}
