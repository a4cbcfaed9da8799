package oidcflow

import (
	"encoding/json"
	"slices"
)

// Account is the end user as claims see it: the directory's user, flattened by the
// HTTP edge (oidcflow does not import the directory).
type Account struct {
	ID       string
	Username *string
	Name     *string
	Avatar   *string
	Email    *string
	Phone    *string
	// Profile is Logto's profile object (OIDC standard claims in camelCase, e.g.
	// familyName, preferredUsername, address{streetAddress, ...}).
	Profile    json.RawMessage
	CustomData json.RawMessage
	Identities json.RawMessage
	// Roles are the names of the user's roles.
	Roles []string
	// Organizations are the user's organizations (the caller fills them only when an
	// organization scope asks for them): their ids are the claim organizations, their
	// id, name and description userinfo's organization_data.
	Organizations []OrganizationData
	// OrganizationRoles are "<orgId>:<roleName>" for every role the user holds in an
	// organization (the claim organization_roles).
	OrganizationRoles []string
	// CreatedAt and UpdatedAt are milliseconds since the epoch, as Logto sends them.
	CreatedAt int64
	UpdatedAt int64
}

// OrganizationData is one entry of userinfo's organization_data claim, the fields
// Logto picks from an organization.
type OrganizationData struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// ClaimsFor says which token or response the claims go into: Logto puts some claims
// (custom_data, identities) only in the userinfo response.
type ClaimsFor int

const (
	ForIDToken ClaimsFor = iota
	ForUserinfo
)

// profileClaims maps the OIDC Core 5.1 standard claims kept in Logto's profile object
// (camelCase keys) to their claim names.
var profileClaims = []struct{ key, claim string }{
	{"familyName", "family_name"},
	{"givenName", "given_name"},
	{"middleName", "middle_name"},
	{"nickname", "nickname"},
	{"preferredUsername", "preferred_username"},
	{"profile", "profile"},
	{"website", "website"},
	{"gender", "gender"},
	{"birthdate", "birthdate"},
	{"zoneinfo", "zoneinfo"},
	{"locale", "locale"},
}

// addressClaims maps Logto's address object to OIDC Core 5.1.1's address claim.
var addressClaims = []struct{ key, claim string }{
	{"formatted", "formatted"},
	{"streetAddress", "street_address"},
	{"locality", "locality"},
	{"region", "region"},
	{"postalCode", "postal_code"},
	{"country", "country"},
}

// SupportedScopes are the OIDC scopes Latch gives meaning to (discovery's
// scopes_supported).
var SupportedScopes = []string{
	ScopeOpenID, ScopeOfflineAccess, ScopeProfile, ScopeEmail, ScopePhone, ScopeAddress,
	ScopeCustomData, ScopeIdentities, ScopeRoles, ScopeOrganizations, ScopeOrganizationRoles, ScopeSessions,
}

// SupportedClaims are the claims Latch can return (discovery's claims_supported), as
// Logto lists them and in its order: the user claims, then sid, auth_time and iss. Like
// Logto, it leaves out the token-only members (aud, exp, iat, nonce, at_hash).
var SupportedClaims = []string{
	"sub",
	"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username",
	"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale",
	"updated_at", "username", "created_at",
	"email", "email_verified", "phone_number", "phone_number_verified", "address",
	"custom_data", "identities", "sso_identities", "roles",
	"organizations", "organization_data", "organization_roles",
	"sid", "auth_time", "iss",
}

// UserClaims returns the claims about a for the granted scopes, per Logto's scope
// table (LOGTO-REFERENCE.md "Scopes -> claims"):
//
//   - openid: sub
//   - profile: name, picture, username, created_at, updated_at (ms), and the OIDC
//     standard claims present in the profile object
//   - email: email, email_verified; phone: phone_number, phone_number_verified
//   - address: address (when the profile has one)
//   - roles: roles (role names)
//   - custom_data: custom_data; identities: identities, sso_identities (userinfo only)
//   - urn:logto:scope:organizations: organizations (the ids), and organization_data
//     ({id, name, description} each) in userinfo only
//   - urn:logto:scope:organization_roles: organization_roles ("<orgId>:<roleName>")
//
// As Logto does, Logto's own user fields are present with null when unset. Unknown
// scopes (API resource scopes) add nothing.
func UserClaims(a Account, scopes []string, target ClaimsFor) map[string]any {
	c := map[string]any{"sub": a.ID}
	has := func(s string) bool { return slices.Contains(scopes, s) }
	var profile map[string]json.RawMessage
	if len(a.Profile) > 0 {
		_ = json.Unmarshal(a.Profile, &profile) // validated as an object on write
	}
	if has(ScopeProfile) {
		c["name"] = strOrNil(a.Name)
		c["picture"] = strOrNil(a.Avatar)
		c["username"] = strOrNil(a.Username)
		c["created_at"] = a.CreatedAt
		c["updated_at"] = a.UpdatedAt
		for _, m := range profileClaims {
			if v, ok := profile[m.key]; ok && string(v) != "null" {
				c[m.claim] = v
			}
		}
	}
	if has(ScopeEmail) {
		c["email"] = strOrNil(a.Email)
		c["email_verified"] = a.Email != nil && *a.Email != ""
	}
	if has(ScopePhone) {
		c["phone_number"] = strOrNil(a.Phone)
		c["phone_number_verified"] = a.Phone != nil && *a.Phone != ""
	}
	if has(ScopeAddress) {
		if addr := address(profile["address"]); addr != nil {
			c["address"] = addr
		}
	}
	if has(ScopeRoles) {
		roles := a.Roles
		if roles == nil {
			roles = []string{}
		}
		c["roles"] = roles
	}
	if has(ScopeOrganizations) {
		ids := make([]string, 0, len(a.Organizations))
		for _, o := range a.Organizations {
			ids = append(ids, o.ID)
		}
		c["organizations"] = ids
		if target == ForUserinfo {
			data := a.Organizations
			if data == nil {
				data = []OrganizationData{}
			}
			c["organization_data"] = data
		}
	}
	if has(ScopeOrganizationRoles) {
		roles := a.OrganizationRoles
		if roles == nil {
			roles = []string{}
		}
		c["organization_roles"] = roles
	}
	if target == ForUserinfo {
		if has(ScopeCustomData) {
			c["custom_data"] = objectOrEmpty(a.CustomData)
		}
		if has(ScopeIdentities) {
			c["identities"] = objectOrEmpty(a.Identities)
			c["sso_identities"] = []any{} // enterprise SSO is not implemented
		}
	}
	return c
}

func address(raw json.RawMessage) map[string]json.RawMessage {
	if len(raw) == 0 {
		return nil
	}
	var in map[string]json.RawMessage
	if json.Unmarshal(raw, &in) != nil {
		return nil
	}
	out := map[string]json.RawMessage{}
	for _, m := range addressClaims {
		if v, ok := in[m.key]; ok && string(v) != "null" {
			out[m.claim] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func strOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func objectOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}
