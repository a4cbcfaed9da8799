package op

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// orgFixture is an organization with two organization scopes and a User role holding
// read:docs and the API resource scope "read" of e.res; a MachineToMachine role
// holding write:docs and "write". The user and e.m2m are members with those roles.
type orgFixture struct {
	org, other  *directory.Organization
	userRole    *directory.OrganizationRole
	resRead     *directory.Scope
	resWrite    *directory.Scope
	globalScope *directory.Scope
	orgScopeIDs map[string]string
	m2mRole     *directory.OrganizationRole
}

func newOrgFixture(t *testing.T, e *env) *orgFixture {
	t.Helper()
	ctx := t.Context()
	f := &orgFixture{orgScopeIDs: map[string]string{}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var err error
	desc := "the first"
	f.org, err = e.dir.CreateOrganization(ctx, directory.NewOrganization{Name: "Acme", Description: &desc})
	must(err)
	f.other, err = e.dir.CreateOrganization(ctx, directory.NewOrganization{Name: "Other"})
	must(err)
	for _, n := range []string{"read:docs", "write:docs"} {
		s, err := e.dir.CreateOrganizationScope(ctx, n, nil)
		must(err)
		f.orgScopeIDs[n] = s.ID
	}
	f.resRead, err = e.dir.CreateScope(ctx, e.res.ID, "read", "")
	must(err)
	f.resWrite, err = e.dir.CreateScope(ctx, e.res.ID, "write", "")
	must(err)
	f.globalScope, err = e.dir.CreateScope(ctx, e.res.ID, "global", "")
	must(err)
	f.userRole, err = e.dir.CreateOrganizationRole(ctx, directory.NewOrganizationRole{Name: "member",
		ScopeIDs: []string{f.orgScopeIDs["read:docs"]}, ResourceScopeIDs: []string{f.resRead.ID}})
	must(err)
	f.m2mRole, err = e.dir.CreateOrganizationRole(ctx, directory.NewOrganizationRole{Name: "robot", Type: directory.RoleMachineToMachine,
		ScopeIDs: []string{f.orgScopeIDs["write:docs"]}, ResourceScopeIDs: []string{f.resWrite.ID}})
	must(err)
	must(e.dir.AddOrganizationMembers(ctx, f.org.ID, directory.MemberUser, []string{e.user.ID}))
	must(e.dir.AssignOrganizationRoles(ctx, f.org.ID, directory.MemberUser, []string{e.user.ID}, []string{f.userRole.ID}))
	must(e.dir.AddOrganizationMembers(ctx, f.org.ID, directory.MemberApp, []string{e.m2m.ID}))
	must(e.dir.AssignOrganizationRoles(ctx, f.org.ID, directory.MemberApp, []string{e.m2m.ID}, []string{f.m2mRole.ID}))
	// A global role of the user holds "global" on the API.
	role, err := e.dir.CreateRole(ctx, directory.NewRole{Name: "g", Description: "g", Type: directory.RoleUser, ScopeIDs: []string{f.globalScope.ID}})
	must(err)
	_, err = e.dir.AssignUserRoles(ctx, e.user.ID, []string{role.ID})
	must(err)
	return f
}

// TestTokenRefreshOrganization: Logto RFC 0001 through TokenRefresh with a fake family.
func TestTokenRefreshOrganization(t *testing.T) {
	var got *RefreshUse
	famScopes := []string{"openid", "offline_access", oidcflow.ScopeOrganizations, "read:docs", "write:docs", "read", "write", "global"}
	fams := &fakeFamilies{}
	e := newEnv(t, fakes{grants: &fakeGrants{}, families: fams})
	fams.use = func(u RefreshUse) (RefreshUsed, error) {
		got = &u
		scopes := famScopes
		if u.Scopes != nil {
			scopes = u.Scopes
		}
		return RefreshUsed{Family: RefreshFamily{ID: "fam", GrantID: "g1", ClientID: e.web.ID, AccountID: e.user.ID, Scopes: famScopes},
			Scopes: scopes, RefreshToken: "fam.next"}, nil
	}
	f := newOrgFixture(t, e)
	refresh := func(t *testing.T, req RefreshRequest) (oidcflow.TokenResponse, oidcflow.AccessTokenClaims) {
		t.Helper()
		req.RefreshToken = "fam.s"
		resp, err := e.p.TokenRefresh(t.Context(), e.web, req)
		if err != nil {
			t.Fatal(err)
		}
		c, err := oidcflow.VerifyAccessToken(e.p.keys, resp.AccessToken, e.p.issuer, e.now)
		if err != nil {
			t.Fatal(err)
		}
		return resp, c
	}

	t.Run("organization token", func(t *testing.T) {
		resp, c := refresh(t, RefreshRequest{OrganizationID: f.org.ID})
		if got.OrganizationID != f.org.ID || got.OpaqueAccessToken || got.Resource != "" {
			t.Errorf("use %+v: the family must check the organization and store no opaque token", got)
		}
		if c.Aud != "urn:logto:organization:"+f.org.ID || c.Scope != "read:docs" || c.EXP-c.IAT != 3600 ||
			c.OrganizationID != "" || c.Sub != e.user.ID || c.ClientID != e.web.ID || c.GrantID != "g1" {
			t.Errorf("claims %+v", c)
		}
		if resp.ExpiresIn != 3600 || resp.Scope != "read:docs" || resp.RefreshToken != "fam.next" || resp.IDToken == "" {
			t.Errorf("response %+v", resp)
		}
	})
	t.Run("organization token, narrowed scope", func(t *testing.T) {
		_, c := refresh(t, RefreshRequest{OrganizationID: f.org.ID, Scope: "write:docs"})
		if c.Scope != "" {
			t.Errorf("scope %q: write:docs is not held in the organization", c.Scope)
		}
	})
	t.Run("organization-level resource token", func(t *testing.T) {
		resp, c := refresh(t, RefreshRequest{OrganizationID: f.org.ID, Resources: []string{tResource}})
		if got.OrganizationID != f.org.ID || got.Resource != tResource || got.OpaqueAccessToken {
			t.Errorf("use %+v", got)
		}
		// Logto's findUserScopesForResourceIndicator: the user's roles, and the user's
		// roles in this organization (never write: that is the app's role).
		if c.Aud != tResource || c.OrganizationID != f.org.ID || c.Scope != "read global" || resp.ExpiresIn != 900 {
			t.Errorf("claims %+v, expires_in %d", c, resp.ExpiresIn)
		}
	})
	t.Run("plain resource token: organization roles of every organization count", func(t *testing.T) {
		_, c := refresh(t, RefreshRequest{Resources: []string{tResource}})
		if c.OrganizationID != "" || c.Scope != "read global" {
			t.Errorf("claims %+v", c)
		}
	})
	t.Run("the reserved organizations resource", func(t *testing.T) {
		resp, c := refresh(t, RefreshRequest{Resources: []string{oidcflow.ResourceOrganizations}})
		if c.Aud != oidcflow.ResourceOrganizations || c.Scope != "read:docs write:docs" || resp.ExpiresIn != 3600 {
			t.Errorf("claims %+v, expires_in %d", c, resp.ExpiresIn)
		}
	})
	t.Run("a role change applies to the next token", func(t *testing.T) {
		if err := e.dir.AddOrganizationRoleScopes(t.Context(), f.userRole.ID, directory.OrgScopes, []string{f.orgScopeIDs["write:docs"]}); err != nil {
			t.Fatal(err)
		}
		_, c := refresh(t, RefreshRequest{OrganizationID: f.org.ID})
		if c.Scope != "read:docs write:docs" {
			t.Errorf("scope %q after the role gained write:docs", c.Scope)
		}
		if err := e.dir.RemoveOrganizationMember(t.Context(), f.org.ID, directory.MemberUser, e.user.ID); err != nil {
			t.Fatal(err)
		}
		// Refused even when the family (a grain of an older release) did not check.
		_, err := e.p.TokenRefresh(t.Context(), e.web, RefreshRequest{RefreshToken: "fam.s", OrganizationID: f.org.ID})
		wantCode(t, err, oauth.CodeAccessDenied)
	})
	t.Run("a refresh token without urn:logto:scope:organizations", func(t *testing.T) {
		if err := e.dir.AddOrganizationMembers(t.Context(), f.org.ID, directory.MemberUser, []string{e.user.ID}); err != nil {
			t.Fatal(err)
		}
		famScopes = []string{"openid", "offline_access", "read:docs"}
		_, err := e.p.TokenRefresh(t.Context(), e.web, RefreshRequest{RefreshToken: "fam.s", OrganizationID: f.org.ID})
		wantCode(t, err, oauth.CodeInsufficientScope)
		if _, err := e.p.TokenRefresh(t.Context(), e.web, RefreshRequest{RefreshToken: "fam.s"}); err != nil {
			t.Errorf("without organization_id: %v", err)
		}
	})
}

// TestOrganizationAccess is Logto's checkOrganizationAccess: members only, with
// Logto's error (access_denied, 403).
func TestOrganizationAccess(t *testing.T) {
	e := newEnv(t, fakes{})
	f := newOrgFixture(t, e)
	access := OrganizationAccess(e.dir)
	if err := access(f.org.ID, e.user.ID); err != nil {
		t.Fatalf("member: %v", err)
	}
	for name, org := range map[string]string{"not a member": f.other.ID, "unknown organization": "nope"} {
		err := access(org, e.user.ID)
		wantCode(t, err, oauth.CodeAccessDenied)
		if e, _ := oauth.From(err); e.Status != 403 || e.Description != "user is not a member of the organization" {
			t.Errorf("%s: %+v", name, e)
		}
	}
	if err := e.dir.RemoveOrganizationMember(t.Context(), f.org.ID, directory.MemberUser, e.user.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, access(f.org.ID, e.user.ID), oauth.CodeAccessDenied)
}

// TestMFARequirementHook: an organization that requires MFA refuses a member without
// a factor (access_denied) and accepts one with a TOTP.
func TestMFARequirementHook(t *testing.T) {
	e := newEnv(t, fakes{})
	f := newOrgFixture(t, e)
	if err := OrganizationAccess(e.dir)(f.org.ID, e.user.ID); err != nil {
		t.Fatalf("member, MFA not required: %v", err)
	}
	if _, err := e.dir.UpdateOrganization(t.Context(), f.org.ID, func(o *directory.Organization) error {
		o.IsMfaRequired = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	err := OrganizationAccess(e.dir)(f.org.ID, e.user.ID)
	if !errors.Is(err, oauth.AccessDenied("")) {
		t.Fatalf("member without MFA of an isMfaRequired organization: got %v, want access_denied", err)
	}
	if _, err := e.dir.AddUserMfaVerification(t.Context(), e.user.ID, directory.MfaVerification{
		Type: directory.MfaTotp, Key: "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}); err != nil {
		t.Fatal(err)
	}
	if err := OrganizationAccess(e.dir)(f.org.ID, e.user.ID); err != nil {
		t.Fatalf("member with a TOTP: %v", err)
	}
}

// TestTokenClientCredentialsOrganization: Logto RFC 0006.
func TestTokenClientCredentialsOrganization(t *testing.T) {
	e := newEnv(t, fakes{})
	f := newOrgFixture(t, e)
	tests := []struct {
		name               string
		req                ClientCredentialsRequest
		code               string
		aud, scope, orgClm string
		ttl                int64
	}{
		{name: "organization token", req: ClientCredentialsRequest{OrganizationID: f.org.ID, Scope: "write:docs read:docs"},
			aud: "urn:logto:organization:" + f.org.ID, scope: "write:docs", ttl: 3600},
		{name: "organization token, scope omitted: none", req: ClientCredentialsRequest{OrganizationID: f.org.ID},
			aud: "urn:logto:organization:" + f.org.ID, scope: "", ttl: 3600},
		{name: "organization-level resource", req: ClientCredentialsRequest{OrganizationID: f.org.ID, Resources: []string{tResource}, Scope: "write read"},
			aud: tResource, scope: "write", orgClm: f.org.ID, ttl: 900},
		{name: "organization-level resource, scope omitted: none", req: ClientCredentialsRequest{OrganizationID: f.org.ID, Resources: []string{tResource}},
			aud: tResource, scope: "", orgClm: f.org.ID, ttl: 900},
		{name: "not a member: refused, never a global token", req: ClientCredentialsRequest{OrganizationID: f.other.ID, Resources: []string{tResource}},
			code: oauth.CodeAccessDenied},
		{name: "unknown organization", req: ClientCredentialsRequest{OrganizationID: "nope"}, code: oauth.CodeAccessDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.p.TokenClientCredentials(e.m2m, tt.req)
			wantCode(t, err, tt.code)
			if err != nil {
				if e, _ := oauth.From(err); e.Status != 403 || e.Description != "app has not associated with the organization" {
					t.Errorf("error %+v", e)
				}
				return
			}
			c, err := oidcflow.VerifyAccessToken(e.p.keys, resp.AccessToken, e.p.issuer, e.now)
			if err != nil {
				t.Fatal(err)
			}
			if c.Aud != tt.aud || c.Scope != tt.scope || resp.Scope != tt.scope || c.OrganizationID != tt.orgClm ||
				resp.ExpiresIn != tt.ttl || c.Sub != e.m2m.ID {
				t.Errorf("claims %+v, response %+v", c, resp)
			}
		})
	}
	t.Run("through Token: organization_id reaches the grant", func(t *testing.T) {
		resp, _, err := e.p.Token(t.Context(), TokenRequest{GrantType: oauth.GrantClientCredentials, Client: e.basic(e.m2m),
			OrganizationID: f.org.ID, Scope: "write:docs"})
		if err != nil || resp.Scope != "write:docs" {
			t.Fatalf("%+v %v", resp, err)
		}
	})
}

// TestOrganizationClaims: the ID token and userinfo claims of the two organization
// scopes, read from the directory when they are built.
func TestOrganizationClaims(t *testing.T) {
	e := newEnv(t, fakes{})
	f := newOrgFixture(t, e)
	scopes := []string{"openid", oidcflow.ScopeOrganizations, oidcflow.ScopeOrganizationRoles}
	a := e.p.account(e.user, scopes)
	if len(a.Organizations) != 1 || a.Organizations[0].ID != f.org.ID || a.Organizations[0].Name != "Acme" ||
		a.Organizations[0].Description == nil || *a.Organizations[0].Description != "the first" {
		t.Errorf("organizations %+v", a.Organizations)
	}
	if !slices.Equal(a.OrganizationRoles, []string{f.org.ID + ":member"}) {
		t.Errorf("organization_roles %v", a.OrganizationRoles)
	}
	if a := e.p.account(e.user, []string{"openid"}); a.Organizations != nil || a.OrganizationRoles != nil {
		t.Errorf("claims without the scopes: %+v", a)
	}
	idt, err := e.p.idToken(e.web, e.user, scopes, 0, nil, "", "", "", e.now)
	if err != nil {
		t.Fatal(err)
	}
	payload, _, err := e.p.keys.(*oidcflow.KeyRing).Verify(idt)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(payload); !strings.Contains(s, `"organizations":["`+f.org.ID+`"]`) ||
		!strings.Contains(s, `"organization_roles":["`+f.org.ID+`:member"]`) || strings.Contains(s, "organization_data") {
		t.Errorf("ID token %s", s)
	}
}

// The reserved organizations resource is accepted at the authorization endpoint and
// remembered like any resource.
func TestAuthorizeAcceptsOrganizationsResource(t *testing.T) {
	e := newEnv(t, fakes{})
	b := &Browser{Directory: e.dir}
	env := b.authorizeEnv()
	if !env.Resource(oidcflow.ResourceOrganizations) || !env.Resource(tResource) || env.Resource("https://unknown.test") {
		t.Fatal("authorize resources")
	}
}
