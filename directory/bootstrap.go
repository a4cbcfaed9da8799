package directory

import (
	"context"
	"slices"
)

// Names Bootstrap gives the entities it creates.
const (
	ManagementAPIName      = "Logto Management API"
	ManagementAPIScopeDesc = "Default scope for Management API, allows all permissions."
	ManagementAPIRoleDesc  = "Role with Management API access scope."
	AdminAppName           = "Latch Admin"
	adminAppDescription    = "Machine-to-machine application created by Latch on first start to call the Management API."
)

// BootstrapResult says what Bootstrap did about the admin application.
type BootstrapResult struct {
	ClientID string
	// ClientSecret is empty unless Bootstrap generated it or set it now; show it to
	// the operator once.
	ClientSecret string
	// Created is true when the admin application was created by this call.
	Created bool
}

// adminAppMeta is the "meta/admin-app" record: which application Bootstrap created.
type adminAppMeta struct {
	ApplicationID string `json:"applicationId"`
}

// Bootstrap makes a fresh directory manageable, and is idempotent. It ensures:
//   - the Management API resource (indicator https://default.logto.app/api, name
//     "Logto Management API", not default) with the scope "all";
//   - the MachineToMachine role "Management API access" holding that scope;
//   - an admin MachineToMachine application "Latch Admin" holding the role. It is
//     created only when none exists yet (its id is remembered in the meta/admin-app
//     record; if an operator deleted it, the next Bootstrap creates it again), with
//     adminClientID and adminClientSecret, each generated when empty.
//
// Credentials from automation: when the admin application exists, adminClientID is
// empty or equal to its id, and adminClientSecret is non-empty and matches none of
// its secrets, the application's secrets are replaced by that one secret. So setting
// the secret in the environment and restarting rotates it; a different non-empty
// adminClientID is ignored with a warning (the admin app's id never changes).
func (d *Directory) Bootstrap(ctx context.Context, adminClientID, adminClientSecret string) (BootstrapResult, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()

	res, ok := d.st.indicators[ManagementAPIIndicator]
	if !ok {
		var err error
		res, err = d.createResource(ctx, NewResource{
			Name:           ManagementAPIName,
			Indicator:      ManagementAPIIndicator,
			AccessTokenTTL: DefaultAccessTokenTTL,
		})
		if err != nil {
			return BootstrapResult{}, err
		}
		d.log.Info("directory: created the Management API resource", "id", res.ID)
	}

	var scope *Scope
	for _, s := range d.st.resourceScopes[res.ID] {
		if s.Name == ManagementAPIScopeAll {
			scope = s
		}
	}
	if scope == nil {
		var err error
		if scope, err = d.createScope(ctx, res.ID, ManagementAPIScopeAll, ManagementAPIScopeDesc); err != nil {
			return BootstrapResult{}, err
		}
	}

	role, ok := d.st.roles[d.st.roleNames[ManagementAPIRoleName]]
	switch {
	case !ok:
		var err error
		role, err = d.createRole(ctx, NewRole{
			Name:        ManagementAPIRoleName,
			Description: ManagementAPIRoleDesc,
			Type:        RoleMachineToMachine,
			ScopeIDs:    []string{scope.ID},
		})
		if err != nil {
			return BootstrapResult{}, err
		}
	case role.Type != RoleMachineToMachine:
		return BootstrapResult{}, invalid("role", "the role %q exists but is not a MachineToMachine role", ManagementAPIRoleName)
	case !slices.Contains(role.ScopeIDs, scope.ID):
		next := role.Clone()
		next.ScopeIDs = append(next.ScopeIDs, scope.ID)
		var err error
		if role, err = d.storeRole(ctx, next); err != nil {
			return BootstrapResult{}, err
		}
	}

	var result BootstrapResult
	app := d.st.apps[d.st.adminApp]
	if a := d.st.apps[adminClientID]; app == nil && adminClientID != "" && a != nil {
		// The configured client exists but is not recorded (the meta record was lost,
		// or it was created through the API): adopt it.
		if a.Type != AppMachineToMachine {
			return BootstrapResult{}, invalid("adminClientId", "application %q exists and is not MachineToMachine", adminClientID)
		}
		if err := d.recordAdminApp(ctx, a.ID); err != nil {
			return BootstrapResult{}, err
		}
		app = a
	}
	if app == nil {
		var secret string
		var err error
		app, secret, err = d.createApplication(ctx, NewApplication{
			ID:          adminClientID,
			Name:        AdminAppName,
			Description: adminAppDescription,
			Type:        AppMachineToMachine,
			Secret:      adminClientSecret,
		})
		if err != nil {
			return BootstrapResult{}, err
		}
		if err := d.recordAdminApp(ctx, app.ID); err != nil {
			return BootstrapResult{}, err
		}
		d.log.Info("directory: created the admin application", "clientId", app.ID)
		result = BootstrapResult{ClientID: app.ID, ClientSecret: secret, Created: true}
	} else {
		result.ClientID = app.ID
		switch {
		case adminClientID != "" && adminClientID != app.ID:
			d.log.Warn("directory: ignoring the configured admin client id: the admin application already exists with another id",
				"configured", adminClientID, "existing", app.ID)
		case adminClientSecret != "" && !d.AuthenticateApp(app, adminClientSecret):
			next := app.Clone()
			next.Secrets = []AppSecret{{Name: DefaultSecretName, Hash: hashSecret(adminClientSecret), CreatedAt: d.nowMs()}}
			var err error
			if app, err = d.storeApp(ctx, next); err != nil {
				return BootstrapResult{}, err
			}
			d.log.Info("directory: replaced the admin application's secrets with the configured one", "clientId", app.ID)
			result.ClientSecret = adminClientSecret
		}
	}

	if _, err := d.assignAppRoles(ctx, app.ID, []string{role.ID}); err != nil {
		return BootstrapResult{}, err
	}
	return result, nil
}

// recordAdminApp stores the meta/admin-app record. Callers hold wmu.
func (d *Directory) recordAdminApp(ctx context.Context, appID string) error {
	ver, err := d.persist(ctx, kindMeta, metaAdminApp, d.st.adminAppVersion, adminAppMeta{ApplicationID: appID})
	if err != nil {
		return err
	}
	d.publish(func() { d.st.adminApp, d.st.adminAppVersion = appID, ver })
	return nil
}

// AdminApplicationID returns the id of the application Bootstrap created, or "".
func (d *Directory) AdminApplicationID() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.st.adminApp
}
