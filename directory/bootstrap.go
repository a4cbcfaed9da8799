package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
)

// Names Bootstrap gives the entities it creates.
const (
	// ManagementAPIResourceID and ManagementAPIScopeAllID are Logto's fixed ids of the
	// Management API resource and its scope "all".
	ManagementAPIResourceID = "management-api"
	ManagementAPIScopeAllID = "management-api-all"

	ManagementAPIName      = "Logto Management API"
	ManagementAPIScopeDesc = "Default scope for Management API, allows all permissions."
	ManagementAPIRoleDesc  = "This default role grants access to the Logto management API."
	// The role's name and description before Latch used Logto's (Bootstrap renames it).
	legacyManagementAPIRoleName = "Management API access"
	legacyManagementAPIRoleDesc = "Role with Management API access scope."
	AdminAppName                = "Latch Admin"
	adminAppDescription         = "Machine-to-machine application created by Latch on first start to call the Management API."
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
//   - the MachineToMachine role "Logto Management API access" holding that scope;
//   - an admin MachineToMachine application "Latch Admin" holding the role. It is
//     created only when none exists yet (its id is remembered in the meta/admin-app
//     record; if it is missing, the next Bootstrap creates it again), with
//     adminClientID and adminClientSecret, each generated when empty. Once
//     recorded, it cannot be deleted nor lose its Management API access through
//     the directory's API (*AdminAppError).
//
// Credentials from automation: when the admin application exists, adminClientID is
// empty or equal to its id, and adminClientSecret is non-empty and matches none of
// its secrets, the application's secrets are replaced by that one secret. So setting
// the secret in the environment and restarting rotates it; a different non-empty
// adminClientID is ignored with a warning (the admin app's id never changes).
func (d *Directory) Bootstrap(ctx context.Context, adminClientID, adminClientSecret string) (BootstrapResult, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var (
		result BootstrapResult
		notes  []bootstrapNote
	)
	err := d.commit(ctx, func(b *batch) error {
		result, notes = BootstrapResult{}, nil
		return d.buildBootstrap(b, adminClientID, adminClientSecret, &result, func(level slog.Level, msg string, args ...any) {
			notes = append(notes, bootstrapNote{level, msg, args})
		})
	})
	if err != nil {
		return BootstrapResult{}, err
	}
	for _, n := range notes {
		d.log.Log(ctx, n.level, n.msg, n.args...)
	}
	return result, nil
}

// bootstrapNote is a log line Bootstrap writes once its batch is applied.
type bootstrapNote struct {
	level slog.Level
	msg   string
	args  []any
}

// buildBootstrap adds to b everything Bootstrap must create or repair, as one batch:
// a fresh cluster gets its Management API resource, scope, role, admin application,
// meta record and assignment together or not at all. Callers hold wmu.
func (d *Directory) buildBootstrap(b *batch, adminClientID, adminClientSecret string, result *BootstrapResult, note func(slog.Level, string, ...any)) error {
	now := d.nowMs()
	// The Management API resource.
	var resID string
	res, ok := d.st.indicators[ManagementAPIIndicator]
	if ok {
		resID = res.ID
	} else {
		id, err := d.bootstrapID(ManagementAPIResourceID, func(id string) bool { _, ok := d.st.resources[id]; return ok })
		if err != nil {
			return err
		}
		resID = id
		b.put(kindResource, id, 0, &Resource{ID: id, Name: ManagementAPIName, Indicator: ManagementAPIIndicator,
			AccessTokenTTL: DefaultAccessTokenTTL, CreatedAt: now})
		b.claim(kindIdxIndicator, ManagementAPIIndicator, id)
		note(slog.LevelInfo, "directory: created the Management API resource", "id", id)
	}

	// Its scope "all".
	var scopeID string
	for _, s := range d.st.resourceScopes[resID] {
		if s.Name == ManagementAPIScopeAll {
			scopeID = s.ID
		}
	}
	if scopeID == "" {
		id, err := d.bootstrapID(ManagementAPIScopeAllID, func(id string) bool { _, ok := d.st.scopes[id]; return ok })
		if err != nil {
			return err
		}
		scopeID = id
		if res != nil {
			b.check(kindResource, resID, res.Version)
		}
		b.put(kindScope, id, 0, &Scope{ID: id, ResourceID: resID, Name: ManagementAPIScopeAll,
			Description: ManagementAPIScopeDesc, CreatedAt: now})
		b.claim(kindIdxScopeName, scopeNameKey(resID, ManagementAPIScopeAll), id)
	}

	// The role "Logto Management API access" holding it. Directories bootstrapped
	// before Latch used Logto's name have it as "Management API access": renamed.
	var roleID string
	role, ok := d.st.roles[d.st.roleNames[ManagementAPIRoleName]]
	rename := false
	if legacy, lok := d.st.roles[d.st.roleNames[legacyManagementAPIRoleName]]; lok && legacy.Type == RoleMachineToMachine &&
		(!ok || role.Type != RoleMachineToMachine) {
		role, ok, rename = legacy, true, !ok
	}
	switch {
	case !ok:
		id, err := d.newID()
		if err != nil {
			return err
		}
		roleID = id
		b.put(kindRole, id, 0, &Role{ID: id, Name: ManagementAPIRoleName, Description: ManagementAPIRoleDesc,
			Type: RoleMachineToMachine, ScopeIDs: []string{scopeID}, CreatedAt: now})
		b.claim(kindIdxRoleName, ManagementAPIRoleName, id)
	case role.Type != RoleMachineToMachine:
		return invalid("role", "the role %q exists but is not a MachineToMachine role", ManagementAPIRoleName)
	case rename || !slices.Contains(role.ScopeIDs, scopeID):
		roleID = role.ID
		next := role.Clone()
		if !slices.Contains(next.ScopeIDs, scopeID) {
			next.ScopeIDs = append(next.ScopeIDs, scopeID)
		}
		if rename {
			next.Name = ManagementAPIRoleName
			if next.Description == legacyManagementAPIRoleDesc {
				next.Description = ManagementAPIRoleDesc
			}
			b.reindex(kindIdxRoleName, legacyManagementAPIRoleName, ManagementAPIRoleName, role.ID)
			note(slog.LevelInfo, "directory: renamed the Management API role as Logto names it", "role", role.ID, "name", ManagementAPIRoleName)
		}
		b.put(kindRole, role.ID, role.Version, next)
	default:
		roleID = role.ID
		b.check(kindRole, role.ID, role.Version)
	}

	// The admin application.
	app := d.st.apps[d.st.adminApp]
	appWritten := false
	if a := d.st.apps[adminClientID]; app == nil && adminClientID != "" && a != nil {
		// The configured client exists but is not recorded (the meta record was lost,
		// or it was created through the API): adopt it.
		if a.Type != AppMachineToMachine {
			return invalid("adminClientId", "application %q exists and is not MachineToMachine", adminClientID)
		}
		b.put(kindMeta, metaAdminApp, d.st.adminAppVersion, adminAppMeta{ApplicationID: a.ID})
		app = a
	}
	if app == nil {
		a, secret, err := d.newApplication(NewApplication{
			ID:          adminClientID,
			Name:        AdminAppName,
			Description: adminAppDescription,
			Type:        AppMachineToMachine,
			Secret:      adminClientSecret,
		})
		if err != nil {
			return err
		}
		b.put(kindApp, a.ID, 0, a)
		b.put(kindMeta, metaAdminApp, d.st.adminAppVersion, adminAppMeta{ApplicationID: a.ID})
		app, appWritten = a, true
		note(slog.LevelInfo, "directory: created the admin application", "clientId", a.ID)
		*result = BootstrapResult{ClientID: a.ID, ClientSecret: secret, Created: true}
	} else {
		result.ClientID = app.ID
		switch {
		case adminClientID != "" && adminClientID != app.ID:
			note(slog.LevelWarn, "directory: ignoring the configured admin client id: the admin application already exists with another id",
				"configured", adminClientID, "existing", app.ID)
		case adminClientSecret != "" && !d.AuthenticateApp(app, adminClientSecret):
			next := app.Clone()
			next.Secrets = []AppSecret{{Name: DefaultSecretName, Hash: hashSecret(adminClientSecret), CreatedAt: now}}
			b.put(kindApp, app.ID, app.Version, next)
			appWritten = true
			note(slog.LevelInfo, "directory: replaced the admin application's secrets with the configured one", "clientId", app.ID)
			result.ClientSecret = adminClientSecret
		}
	}
	if !appWritten {
		b.check(kindApp, app.ID, app.Version)
	}

	// The assignment.
	if _, has := d.st.appRoles[app.ID][roleID]; !has {
		b.put(kindAppRole, assignmentKey(app.ID, roleID), 0, assignmentValue{CreatedAt: now})
	}
	return nil
}

// AdminApplicationID returns the id of the application Bootstrap created, or "".
func (d *Directory) AdminApplicationID() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.st.adminApp
}

// ErrAdminAppProtected: the change would delete the bootstrap admin application or
// take its Management API access away, and so lock every operator out of the
// Management API. Details: *AdminAppError.
var ErrAdminAppProtected = errors.New("directory: the admin application and its Management API access are protected")

// What an *AdminAppError refused.
const (
	// AdminAppDelete: deleting the admin application.
	AdminAppDelete = "delete"
	// AdminAppDropAccess: unassigning a role from the admin application, deleting a
	// role it holds or removing a scope from such a role, when afterwards none of its
	// roles would carry the Management API scope "all".
	AdminAppDropAccess = "dropAccess"
	// AdminAppLastSecret: deleting the admin application's last client secret.
	AdminAppLastSecret = "lastSecret"
)

// AdminAppError is a change refused because it would lock out the admin application
// that Bootstrap created (its credentials are in the operator's hands, e.g.
// data/admin-credentials.json). The rule holds whoever calls: the directory does not
// know the caller, and Bootstrap would create the application again on the next
// start anyway, so deleting it through the API is never what an operator needs.
type AdminAppError struct {
	AppID string
	Op    string // AdminAppDelete, AdminAppDropAccess or AdminAppLastSecret
	// RoleID is the role whose unassignment, deletion or scope removal was refused
	// (AdminAppDropAccess).
	RoleID string
}

func (e *AdminAppError) Error() string {
	switch e.Op {
	case AdminAppDelete:
		return fmt.Sprintf("directory: the admin application %q cannot be deleted", e.AppID)
	case AdminAppLastSecret:
		return fmt.Sprintf("directory: the admin application %q must keep a client secret", e.AppID)
	}
	return fmt.Sprintf("directory: role %q carries the admin application %q's Management API access", e.RoleID, e.AppID)
}

// Is makes errors.Is(err, ErrAdminAppProtected) true.
func (e *AdminAppError) Is(target error) bool { return target == ErrAdminAppProtected }

// guardAdminAppDelete refuses to delete the admin application. Callers hold wmu.
func (d *Directory) guardAdminAppDelete(appID string) error {
	if appID != "" && appID == d.st.adminApp {
		return &AdminAppError{AppID: appID, Op: AdminAppDelete}
	}
	return nil
}

// guardAdminAccess refuses a change to roleID that would leave the admin application
// without a role carrying the Management API scope "all" when it holds one now.
// after(r) describes the change for each role r the admin application holds: the
// role's scope ids afterwards, and whether the application still holds it. A change
// that keeps access through another role is allowed. Callers hold wmu.
func (d *Directory) guardAdminAccess(roleID string, after func(r *Role) (scopeIDs []string, held bool)) error {
	appID := d.st.adminApp
	all := d.managementScopeAllID()
	if appID == "" || all == "" {
		return nil
	}
	hasNow, hasAfter := false, false
	for id := range d.st.appRoles[appID] {
		r, ok := d.st.roles[id]
		if !ok {
			continue
		}
		if slices.Contains(r.ScopeIDs, all) {
			hasNow = true
		}
		if ids, held := after(r); held && slices.Contains(ids, all) {
			hasAfter = true
		}
	}
	if hasNow && !hasAfter {
		return &AdminAppError{AppID: appID, Op: AdminAppDropAccess, RoleID: roleID}
	}
	return nil
}

// guardAdminRoleUnassign refuses to take roleID from appID when that is the admin
// application's last Management API role. Callers hold wmu.
func (d *Directory) guardAdminRoleUnassign(appID, roleID string) error {
	if appID != d.st.adminApp {
		return nil
	}
	return d.guardAdminAccess(roleID, func(r *Role) ([]string, bool) { return r.ScopeIDs, r.ID != roleID })
}

// guardAdminRoleDelete refuses to delete the admin application's last Management API
// role. Callers hold wmu.
func (d *Directory) guardAdminRoleDelete(roleID string) error {
	return d.guardAdminAccess(roleID, func(r *Role) ([]string, bool) { return r.ScopeIDs, r.ID != roleID })
}

// guardAdminRoleScopeRemove refuses to remove scopeID from roleID when that takes the
// admin application's last Management API access. Callers hold wmu.
func (d *Directory) guardAdminRoleScopeRemove(roleID, scopeID string) error {
	return d.guardAdminAccess(roleID, func(r *Role) ([]string, bool) {
		if r.ID != roleID {
			return r.ScopeIDs, true
		}
		return slices.DeleteFunc(slices.Clone(r.ScopeIDs), func(s string) bool { return s == scopeID }), true
	})
}

// CheckAdminAppRoles reports, as an *AdminAppError, whether giving appID exactly the
// roles roleIDs (PUT /api/applications/:id/roles) would take the admin application's
// Management API access away, so that the caller can refuse before changing
// anything. UnassignAppRole checks again under the write lock.
func (d *Directory) CheckAdminAppRoles(appID string, roleIDs []string) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if appID != d.st.adminApp {
		return nil
	}
	for id := range d.st.appRoles[appID] {
		if !slices.Contains(roleIDs, id) {
			if err := d.guardAdminAccess(id, func(r *Role) ([]string, bool) { return r.ScopeIDs, slices.Contains(roleIDs, r.ID) }); err != nil {
				return err
			}
		}
	}
	return nil
}

// bootstrapID is fixed, Logto's id for a built-in entity, unless taken (then a fresh
// id). Directories bootstrapped before Latch used the fixed ids keep their random
// ones: the Management API answers "management-api" for them too (ManagementAPIID).
func (d *Directory) bootstrapID(fixed string, taken func(string) bool) (string, error) {
	if !taken(fixed) {
		return fixed, nil
	}
	return d.newID()
}

// ManagementAPIID is the id of the Management API resource: ManagementAPIResourceID
// on directories bootstrapped since Latch uses Logto's fixed id, a random id on older
// ones; "" before Bootstrap.
func (d *Directory) ManagementAPIID() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if res, ok := d.st.indicators[ManagementAPIIndicator]; ok {
		return res.ID
	}
	return ""
}

// managementScopeAllID is the id of the Management API's scope "all", or "". Callers
// hold wmu or mu.
func (d *Directory) managementScopeAllID() string {
	res, ok := d.st.indicators[ManagementAPIIndicator]
	if !ok {
		return ""
	}
	for _, sc := range d.st.resourceScopes[res.ID] {
		if sc.Name == ManagementAPIScopeAll {
			return sc.ID
		}
	}
	return ""
}
