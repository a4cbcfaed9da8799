package op

import (
	"testing"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// client_credentials needs no grain: the JWT's scope is what the client's
// machine-to-machine roles hold on the resource, and the request's scope narrows it.
func TestTokenClientCredentials(t *testing.T) {
	e := newEnv(t, fakes{})
	ctx := t.Context()
	var ids []string
	for _, name := range []string{"read", "write"} {
		sc, err := e.dir.CreateScope(ctx, e.res.ID, name, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sc.ID)
	}
	role, err := e.dir.CreateRole(ctx, directory.NewRole{Name: "worker", Description: "w", Type: directory.RoleMachineToMachine, ScopeIDs: ids[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dir.AssignAppRoles(ctx, e.m2m.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		req       ClientCredentialsRequest
		wantScope string
		code      string
	}{
		{"no resource", ClientCredentialsRequest{}, "", oauth.CodeInvalidTarget},
		{"two resources", ClientCredentialsRequest{Resources: []string{tResource, tResource}}, "", oauth.CodeInvalidTarget},
		{"not a URI", ClientCredentialsRequest{Resources: []string{"api"}}, "", oauth.CodeInvalidTarget},
		{"unknown resource", ClientCredentialsRequest{Resources: []string{"https://unknown.test"}}, "", oauth.CodeInvalidTarget},
		{"bad scope", ClientCredentialsRequest{Resources: []string{tResource}, Scope: "a\"b"}, "", oauth.CodeInvalidScope},
		{"scope omitted: none (Logto)", ClientCredentialsRequest{Resources: []string{tResource}}, "", ""},
		{"scope empty: none (Logto)", ClientCredentialsRequest{Resources: []string{tResource}, Scope: ""}, "", ""},
		{"scope not held is dropped", ClientCredentialsRequest{Resources: []string{tResource}, Scope: "read write"}, "read", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := e.p.TokenClientCredentials(e.m2m, tt.req)
			wantCode(t, err, tt.code)
			if err != nil {
				return
			}
			c, err := oidcflow.VerifyAccessToken(e.p.keys, resp.AccessToken, e.p.issuer, e.now)
			if err != nil {
				t.Fatal(err)
			}
			if c.Scope != tt.wantScope || resp.Scope != tt.wantScope || c.Aud != tResource || c.Sub != e.m2m.ID || c.GrantID != "" {
				t.Errorf("claims %+v, response scope %q; want scope %q", c, resp.Scope, tt.wantScope)
			}
			if resp.ExpiresIn != int64(e.res.AccessTokenTTL) {
				t.Errorf("expires_in %d, want the resource's %d", resp.ExpiresIn, e.res.AccessTokenTTL)
			}
		})
	}
}
