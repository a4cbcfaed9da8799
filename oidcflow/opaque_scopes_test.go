package oidcflow

import (
	"slices"
	"testing"
)

func TestOpaqueAccessTokenScopes(t *testing.T) {
	for _, tt := range []struct {
		in, want []string
	}{
		{nil, nil},
		{[]string{"openid", "admin:everything"}, []string{"openid"}},
		{[]string{"all", "read:orders"}, nil},
		{[]string{"openid", "offline_access", "profile", "email", "phone", "address", "roles", "custom_data", "identities"},
			[]string{"openid", "offline_access", "profile", "email", "phone", "address", "roles", "custom_data", "identities"}},
		{[]string{"urn:logto:scope:organizations", "urn:logto:scope:", "urn:other:x"}, []string{"urn:logto:scope:organizations"}},
	} {
		if got := OpaqueAccessTokenScopes(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("OpaqueAccessTokenScopes(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
