package directory

import (
	"context"
	"errors"
	"slices"

	"github.com/latchid/latch/persistence"
)

// The Admin Console, Logto's built-in "admin-console": a public SPA client whose
// redirect URI is <endpoint>/console/callback and post-logout redirect URI
// <endpoint>/console, where Latch serves the console's pages (http/console*.go). The
// console signs administrators in through Latch's own flow and calls the Management
// API with their access tokens (resource ManagementAPIIndicator, scope "all").
//
// Administrators are the users holding ConsoleAdminRoleName, a built-in User role
// holding the Management API scope "all" (Logto's "<tenant>:admin" role of its admin
// tenant, here of the one tenant Latch has). It is the only User role that may hold a
// Management API scope: the directory creates it itself; the Management API still
// refuses Management API scopes on any User role.
const (
	ConsoleAppID   = "admin-console"
	ConsoleAppName = "Admin Console"
	// ConsoleAppPath is where the console is served; its callback is below it.
	ConsoleAppPath         = "/console"
	ConsoleAppCallbackPath = ConsoleAppPath + "/callback"

	ConsoleAdminRoleName = "default:admin"
	consoleAdminRoleDesc = "Administrator of the default tenant: signs in to the Admin Console and holds the Management API scope all."
	consoleAppDesc       = "Logto's Admin Console: signs administrators in through Latch's own flow to manage this tenant."

	// metaConsoleAdmin records that the first administrator was created through the
	// console's welcome page: written once (expected version 0), so two nodes can
	// never both create a "first" administrator, and never offered again.
	metaConsoleAdmin = "console-first-admin"
)

// ErrConsoleAdminExists: the first administrator exists already (or was created once),
// so the console's welcome page offers nothing.
var ErrConsoleAdminExists = errors.New("directory: the console's first administrator exists already")

// EnsureConsoleApp creates the console application when it does not exist and adds
// the endpoint's URIs when they lack them, as EnsureDemoApp; it also ensures the
// administrator role. It writes nothing when both are as they should be.
func (d *Directory) EnsureConsoleApp(ctx context.Context, endpoint string) (*Application, error) {
	if _, err := d.ensureConsoleAdminRole(ctx); err != nil {
		return nil, err
	}
	return d.ensureBuiltinSPA(ctx, NewApplication{ID: ConsoleAppID, Name: ConsoleAppName, Description: consoleAppDesc},
		endpoint+ConsoleAppCallbackPath, endpoint+ConsoleAppPath)
}

// ConsoleAdminRole returns the administrator role, if it exists.
func (d *Directory) ConsoleAdminRole() (*Role, bool) {
	r, ok := d.RoleByName(ConsoleAdminRoleName)
	if !ok || r.Type != RoleUser {
		return nil, false
	}
	return r, true
}

// ConsoleFirstAdminOpen reports whether the console may offer to create the first
// administrator: no user holds the administrator role and none was ever created
// through the welcome page.
func (d *Directory) ConsoleFirstAdminOpen(ctx context.Context) (bool, error) {
	if r, ok := d.ConsoleAdminRole(); ok {
		users, err := d.RoleUsers(r.ID)
		if err != nil {
			return false, err
		}
		if len(users) > 0 {
			return false, nil
		}
	}
	return d.consoleFirstAdminUnrecorded(ctx)
}

func (d *Directory) consoleFirstAdminUnrecorded(ctx context.Context) (bool, error) {
	_, err := d.store.Get(ctx, kindMeta, metaConsoleAdmin)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, persistence.ErrNotFound):
		return true, nil
	default:
		return false, err
	}
}

// ensureConsoleAdminRole creates the administrator role with the Management API scope
// "all" when it is missing, or gives it the scope back. Bootstrap must have run.
func (d *Directory) ensureConsoleAdminRole(ctx context.Context) (*Role, error) {
	if r, ok := d.ConsoleAdminRole(); ok {
		d.mu.RLock()
		all := d.managementScopeAllID()
		d.mu.RUnlock()
		if all != "" && slices.Contains(r.ScopeIDs, all) {
			return r, nil
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var id string
	err := d.commit(ctx, func(b *batch) error {
		var err error
		id, err = d.buildConsoleAdminRole(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.roles, EntityRole, id)
}

// buildConsoleAdminRole adds to b the administrator role's creation or repair, or a
// check of its version when it is as it should be, and returns its id. Callers hold
// wmu.
func (d *Directory) buildConsoleAdminRole(b *batch) (string, error) {
	all := d.managementScopeAllID()
	if all == "" {
		return "", errors.New("directory: no Management API scope yet (Bootstrap has not run)")
	}
	r, ok := d.st.roles[d.st.roleNames[ConsoleAdminRoleName]]
	switch {
	case !ok:
		id, err := d.newID()
		if err != nil {
			return "", err
		}
		b.put(kindRole, id, 0, &Role{ID: id, Name: ConsoleAdminRoleName, Description: consoleAdminRoleDesc,
			Type: RoleUser, ScopeIDs: []string{all}, CreatedAt: d.nowMs()})
		b.claim(kindIdxRoleName, ConsoleAdminRoleName, id)
		return id, nil
	case r.Type != RoleUser:
		return "", invalid("role", "the role %q exists but is not a User role", ConsoleAdminRoleName)
	case !slices.Contains(r.ScopeIDs, all):
		next := r.Clone()
		next.ScopeIDs = append(next.ScopeIDs, all)
		b.put(kindRole, r.ID, r.Version, next)
		return r.ID, nil
	default:
		b.check(kindRole, r.ID, r.Version)
		return r.ID, nil
	}
}

// CreateFirstConsoleAdmin creates the first administrator (a user with username and
// password holding the administrator role), in one write with the record that it was
// done: ErrConsoleAdminExists when a user holds the role already or the first
// administrator was ever created, on this node or another.
func (d *Directory) CreateFirstConsoleAdmin(ctx context.Context, username, password string) (*User, error) {
	if password == "" {
		return nil, invalid("password", "is required")
	}
	hash, err := d.hashPassword(password)
	if err != nil {
		return nil, err
	}
	now := d.nowMs()
	u := &User{Username: emptyToNil(&username), CreatedAt: now, UpdatedAt: now, PasswordHash: hash}
	if u.Username == nil {
		return nil, invalid("username", "is required")
	}
	if err := validateUser(u); err != nil {
		return nil, err
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err = d.commit(ctx, func(b *batch) error {
		u.ID = ""
		open, err := d.consoleFirstAdminUnrecorded(ctx)
		if err != nil {
			return err
		}
		roleID, err := d.buildConsoleAdminRole(b)
		if err != nil {
			return err
		}
		if !open || len(d.st.roleUsers[roleID]) > 0 {
			return ErrConsoleAdminExists
		}
		if err := d.checkUserUnique(u); err != nil {
			return err
		}
		id, err := d.newID()
		if err != nil {
			return err
		}
		u.ID = id
		b.put(kindMeta, metaConsoleAdmin, 0, map[string]string{"userId": id})
		b.put(kindUser, id, 0, u)
		claimUserIndexes(b, nil, u)
		b.put(kindUserRole, assignmentKey(id, roleID), 0, assignmentValue{CreatedAt: now})
		for rid, role := range d.st.roles { // Logto's default User roles, as createUser
			if role.IsDefault && role.Type == RoleUser && rid != roleID {
				b.check(kindRole, rid, role.Version)
				b.put(kindUserRole, assignmentKey(id, rid), 0, assignmentValue{CreatedAt: now})
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrConflict) && !errors.Is(err, ErrConsoleAdminExists) {
			if open, oerr := d.consoleFirstAdminUnrecorded(ctx); oerr == nil && !open {
				return nil, ErrConsoleAdminExists // another node won the record
			}
		}
		return nil, err
	}
	return published(d.st.users, EntityUser, u.ID)
}
