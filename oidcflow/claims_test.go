package oidcflow

import (
	"encoding/json"
	"slices"
	"testing"
)

func ptr(s string) *string { return &s }

func TestUserClaims(t *testing.T) {
	full := Account{
		ID: "u1", Username: ptr("alice"), Name: ptr("Alice A."), Avatar: ptr("https://img/a.png"),
		Email: ptr("alice@example.com"), Phone: ptr("+15550100"),
		Profile:           json.RawMessage(`{"givenName":"Alice","familyName":"A.","nickname":null,"address":{"streetAddress":"1 Main St","postalCode":"12345","country":"US"}}`),
		CustomData:        json.RawMessage(`{"plan":"pro"}`),
		Identities:        json.RawMessage(`{"github":{"userId":"42","details":{}}}`),
		Roles:             []string{"admin", "editor"},
		Organizations:     []OrganizationData{{ID: "o1", Name: "Acme", Description: ptr("the first")}, {ID: "o2", Name: "Beta"}},
		OrganizationRoles: []string{"o1:admin", "o1:member", "o2:member"},
		CreatedAt:         1700000000123, UpdatedAt: 1700000000456,
	}
	bare := Account{ID: "u2", CreatedAt: 1, UpdatedAt: 2}

	tests := []struct {
		name    string
		acct    Account
		scopes  []string
		target  ClaimsFor
		want    string // JSON of the exact claims
		present []string
	}{
		{name: "openid only", acct: full, scopes: []string{"openid"}, want: `{"sub":"u1"}`},
		{name: "profile", acct: full, scopes: []string{"openid", "profile"},
			want: `{"created_at":1700000000123,"family_name":"A.","given_name":"Alice","name":"Alice A.","picture":"https://img/a.png","sub":"u1","updated_at":1700000000456,"username":"alice"}`},
		{name: "profile of a bare user has Logto's nulls", acct: bare, scopes: []string{"openid", "profile"},
			want: `{"created_at":1,"name":null,"picture":null,"sub":"u2","updated_at":2,"username":null}`},
		{name: "email and phone", acct: full, scopes: []string{"openid", "email", "phone"},
			want: `{"email":"alice@example.com","email_verified":true,"phone_number":"+15550100","phone_number_verified":true,"sub":"u1"}`},
		{name: "email and phone unset", acct: bare, scopes: []string{"openid", "email", "phone"},
			want: `{"email":null,"email_verified":false,"phone_number":null,"phone_number_verified":false,"sub":"u2"}`},
		{name: "address", acct: full, scopes: []string{"openid", "address"},
			want: `{"address":{"country":"US","postal_code":"12345","street_address":"1 Main St"},"sub":"u1"}`},
		{name: "no address", acct: bare, scopes: []string{"openid", "address"}, want: `{"sub":"u2"}`},
		{name: "roles", acct: full, scopes: []string{"openid", "roles"}, want: `{"roles":["admin","editor"],"sub":"u1"}`},
		{name: "no roles is an empty list", acct: bare, scopes: []string{"openid", "roles"}, want: `{"roles":[],"sub":"u2"}`},
		{name: "custom_data and identities stay out of the ID token", acct: full, scopes: []string{"openid", "custom_data", "identities"},
			target: ForIDToken, want: `{"sub":"u1"}`},
		{name: "custom_data and identities in userinfo", acct: full, scopes: []string{"openid", "custom_data", "identities"},
			target: ForUserinfo, want: `{"custom_data":{"plan":"pro"},"identities":{"github":{"userId":"42","details":{}}},"sso_identities":[],"sub":"u1"}`},
		{name: "empty custom_data is an object", acct: bare, scopes: []string{"openid", "custom_data"}, target: ForUserinfo,
			want: `{"custom_data":{},"sub":"u2"}`},
		{name: "organizations in the ID token: the ids only", acct: full, target: ForIDToken,
			scopes: []string{"openid", "urn:logto:scope:organizations", "urn:logto:scope:organization_roles"},
			want:   `{"organization_roles":["o1:admin","o1:member","o2:member"],"organizations":["o1","o2"],"sub":"u1"}`},
		{name: "organizations in userinfo: organization_data too", acct: full, target: ForUserinfo,
			scopes: []string{"openid", "urn:logto:scope:organizations"},
			want:   `{"organization_data":[{"description":"the first","id":"o1","name":"Acme"},{"description":null,"id":"o2","name":"Beta"}],"organizations":["o1","o2"],"sub":"u1"}`},
		{name: "no organizations are empty lists", acct: bare, target: ForUserinfo,
			scopes: []string{"openid", "urn:logto:scope:organizations", "urn:logto:scope:organization_roles"},
			want:   `{"organization_data":[],"organization_roles":[],"organizations":[],"sub":"u2"}`},
		{name: "organization_roles alone", acct: full, scopes: []string{"openid", "urn:logto:scope:organization_roles"},
			want: `{"organization_roles":["o1:admin","o1:member","o2:member"],"sub":"u1"}`},
		{name: "resource scopes add nothing", acct: full, scopes: []string{"openid", "read:orders", "offline_access"}, want: `{"sub":"u1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := json.Marshal(UserClaims(tt.acct, tt.scopes, tt.target))
			if err != nil {
				t.Fatal(err)
			}
			// Compare as normalized JSON (map keys sort on marshal).
			var want any
			if err := json.Unmarshal([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(want)
			var gotAny any
			_ = json.Unmarshal(got, &gotAny)
			gotJSON, _ := json.Marshal(gotAny)
			if string(gotJSON) != string(wantJSON) {
				t.Fatalf("got  %s\nwant %s", gotJSON, wantJSON)
			}
		})
	}
}

// Every claim UserClaims can produce is advertised in discovery.
func TestSupportedClaimsCoverUserClaims(t *testing.T) {
	a := Account{ID: "u", Username: ptr("x"), Profile: json.RawMessage(`{"familyName":"a","givenName":"b","middleName":"c","nickname":"d","preferredUsername":"e","profile":"f","website":"g","gender":"h","birthdate":"i","zoneinfo":"j","locale":"k","address":{"formatted":"x"}}`)}
	for k := range UserClaims(a, SupportedScopes, ForUserinfo) {
		if !slices.Contains(SupportedClaims, k) {
			t.Errorf("claim %s is not in SupportedClaims", k)
		}
	}
}
