package directory

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"slices"
)

// DefaultSecretName is the name of the secret an application gets on creation
// (Logto's "Default secret").
const DefaultSecretName = "Default secret"

// HasSecrets reports whether applications of type t are confidential clients that
// get a secret on creation: Traditional and MachineToMachine.
func (t AppType) HasSecrets() bool { return t == AppTraditional || t == AppMachineToMachine }

// ThirdPartyAllowed reports whether applications of type t may be third-party
// (Logto: Traditional, SPA and Native).
func (t AppType) ThirdPartyAllowed() bool {
	return t == AppTraditional || t == AppSPA || t == AppNative
}

// Clone returns a deep copy of a, safe to modify.
func (a *Application) Clone() *Application {
	c := *a
	c.Secrets = slices.Clone(a.Secrets)
	for i := range c.Secrets {
		c.Secrets[i].ExpiresAt = clonePtr(a.Secrets[i].ExpiresAt)
	}
	c.OIDCClientMetadata.RedirectURIs = cloneStrings(a.OIDCClientMetadata.RedirectURIs)
	c.OIDCClientMetadata.PostLogoutRedirectURIs = cloneStrings(a.OIDCClientMetadata.PostLogoutRedirectURIs)
	m := &c.CustomClientMetadata
	m.CorsAllowedOrigins = cloneStrings(m.CorsAllowedOrigins)
	m.IDTokenTTL = clonePtr(m.IDTokenTTL)
	m.RefreshTokenTTLInDays = clonePtr(m.RefreshTokenTTLInDays)
	m.AlwaysIssueRefreshToken = clonePtr(m.AlwaysIssueRefreshToken)
	m.RotateRefreshToken = clonePtr(m.RotateRefreshToken)
	m.AllowTokenExchange = clonePtr(m.AllowTokenExchange)
	m.IsDeviceFlow = clonePtr(m.IsDeviceFlow)
	c.CustomData = cloneRaw(a.CustomData)
	c.AccessControl = a.AccessControl.Clone()
	return &c
}

// Application returns the application with id. Hot path: a map lookup under a read
// lock. The result is shared and must not be mutated.
func (d *Directory) Application(id string) (*Application, bool) {
	d.mu.RLock()
	a, ok := d.st.apps[id]
	d.mu.RUnlock()
	return a, ok
}

// Applications returns every application, newest first. The slice is the caller's;
// the entities are shared.
func (d *Directory) Applications() []*Application {
	d.mu.RLock()
	out := make([]*Application, 0, len(d.st.apps))
	for _, a := range d.st.apps {
		out = append(out, a)
	}
	d.mu.RUnlock()
	sortByCreated(out, func(a *Application) int64 { return a.CreatedAt }, func(a *Application) string { return a.ID })
	return out
}

// AuthenticateApp checks secret against the application's non-expired secrets with a
// constant-time comparison of SHA-256 hashes. It allocates nothing and does no I/O.
func (d *Directory) AuthenticateApp(app *Application, secret string) bool {
	if app == nil || secret == "" || len(app.Secrets) == 0 {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	var h [sha256.Size * 2]byte
	hex.Encode(h[:], sum[:])
	now := d.nowMs()
	match := 0
	for i := range app.Secrets {
		s := &app.Secrets[i]
		if s.ExpiresAt != nil && *s.ExpiresAt <= now {
			continue
		}
		match |= constantTimeEqual(h[:], s.Hash)
	}
	return match == 1
}

// constantTimeEqual is subtle.ConstantTimeCompare for a []byte and a string, without
// converting (and so allocating) the string.
func constantTimeEqual(a []byte, b string) int {
	if len(a) != len(b) {
		return 0
	}
	var v byte
	for i := range len(a) {
		v |= a[i] ^ b[i]
	}
	return subtle.ConstantTimeByteEq(v, 0)
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// NewApplication is the input of CreateApplication.
type NewApplication struct {
	// ID is normally empty (a 21-character id is generated); Bootstrap sets it.
	ID                   string
	Name                 string
	Description          string
	Type                 AppType
	OIDCClientMetadata   OIDCClientMetadata
	CustomClientMetadata CustomClientMetadata
	CustomData           json.RawMessage
	IsThirdParty         bool
	// Secret is normally empty (a 32-character secret is generated for Traditional
	// and MachineToMachine apps); Bootstrap sets it.
	Secret string
}

func validateApp(a *Application) error {
	if err := validName("name", a.Name); err != nil {
		return err
	}
	if !a.Type.Valid() {
		return invalid("type", "must be one of Native, SPA, Traditional, MachineToMachine")
	}
	m := a.OIDCClientMetadata
	if err := validRedirectList("oidcClientMetadata.redirectUris", m.RedirectURIs, a.Type); err != nil {
		return err
	}
	if err := validRedirectList("oidcClientMetadata.postLogoutRedirectUris", m.PostLogoutRedirectURIs, a.Type); err != nil {
		return err
	}
	if u := m.BackchannelLogoutURI; u != "" && !safeWebURI(u) {
		return invalid("oidcClientMetadata.backchannelLogoutUri", "must be an absolute http(s) URI without a fragment")
	}
	if u := m.LogoURI; u != "" && !absoluteURI(u) {
		return invalid("oidcClientMetadata.logoUri", "must be an absolute URI")
	}
	c := a.CustomClientMetadata
	if c.IDTokenTTL != nil && *c.IDTokenTTL <= 0 {
		return invalid("customClientMetadata.idTokenTtl", "must be positive")
	}
	if c.RefreshTokenTTLInDays != nil && (*c.RefreshTokenTTLInDays < 1 || *c.RefreshTokenTTLInDays > 90) {
		return invalid("customClientMetadata.refreshTokenTtlInDays", "must be between 1 and 90")
	}
	for _, o := range c.CorsAllowedOrigins {
		if !absoluteURI(o) {
			return invalid("customClientMetadata.corsAllowedOrigins", "%q is not an origin", o)
		}
	}
	if !jsonObject(a.CustomData) {
		return invalid("customData", "must be a JSON object")
	}
	if a.IsThirdParty && !a.Type.ThirdPartyAllowed() {
		return invalid("isThirdParty", "only Traditional, SPA and Native applications can be third-party")
	}
	return nil
}

// CreateApplication creates an application. For Traditional and MachineToMachine apps
// it also creates the "Default secret" and returns its value, which is kept beside its
// SHA-256 (Logto's Management API lists secret values). For public apps secret is "".
func (d *Directory) CreateApplication(ctx context.Context, in NewApplication) (app *Application, secret string, err error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.createApplication(ctx, in)
}

func (d *Directory) createApplication(ctx context.Context, in NewApplication) (*Application, string, error) {
	a, secret, err := d.newApplication(in)
	if err != nil {
		return nil, "", err
	}
	err = d.commit(ctx, func(b *batch) error {
		if _, taken := d.st.apps[a.ID]; taken { // another node created it meanwhile
			return conflict(EntityApplication, "id", a.ID)
		}
		b.put(kindApp, a.ID, 0, a)
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return d.st.apps[a.ID], secret, nil
}

// newApplication builds (without storing) the application that in describes, with its id
// and default secret decided, and returns the secret's value. Callers hold wmu.
func (d *Directory) newApplication(in NewApplication) (*Application, string, error) {
	a := &Application{
		ID:                   in.ID,
		Name:                 in.Name,
		Description:          in.Description,
		Type:                 in.Type,
		OIDCClientMetadata:   in.OIDCClientMetadata,
		CustomClientMetadata: in.CustomClientMetadata,
		CustomData:           normalizeObject(in.CustomData),
		IsThirdParty:         in.IsThirdParty,
		CreatedAt:            d.nowMs(),
	}
	a = a.Clone() // own every slice and pointer given by the caller
	if err := validateApp(a); err != nil {
		return nil, "", err
	}
	if a.ID == "" {
		id, err := d.newID()
		if err != nil {
			return nil, "", err
		}
		a.ID = id
	} else if err := validExternalID(a.ID); err != nil {
		return nil, "", err
	}
	if _, taken := d.st.apps[a.ID]; taken {
		return nil, "", conflict(EntityApplication, "id", a.ID)
	}
	secret := in.Secret
	if a.Type.HasSecrets() {
		if secret == "" {
			s, err := d.newSecret()
			if err != nil {
				return nil, "", err
			}
			secret = s
		}
		a.Secrets = []AppSecret{{Name: DefaultSecretName, Hash: hashSecret(secret), CreatedAt: a.CreatedAt}}
	} else {
		secret = ""
	}
	return a, secret, nil
}

// UpdateApplication applies mutate to a private copy of the application, validates
// the result and stores it. mutate runs under the directory's write lock and must not
// call back into the Directory. The id, type (immutable after creation), secrets
// (see AddAppSecret) and createdAt are kept whatever mutate does to them, except that
// changing the type is reported as an *InvalidError.
func (d *Directory) UpdateApplication(ctx context.Context, id string, mutate func(*Application) error) (*Application, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.apps[id]
	if !ok {
		return nil, notFound(EntityApplication, id)
	}
	next := old.Clone()
	if err := mutate(next); err != nil {
		return nil, err
	}
	if next.Type != old.Type {
		return nil, invalid("type", "the application type cannot be changed")
	}
	next.ID, next.CreatedAt, next.Version, next.Secrets = old.ID, old.CreatedAt, old.Version, old.Secrets
	next.CustomData = normalizeObject(next.CustomData)
	if err := validateApp(next); err != nil {
		return nil, err
	}
	return d.storeApp(ctx, next)
}

// storeApp persists a new version of an existing application and publishes it.
// Callers hold wmu.
func (d *Directory) storeApp(ctx context.Context, a *Application) (*Application, error) {
	err := d.commit(ctx, func(b *batch) error {
		b.put(kindApp, a.ID, a.Version, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.apps, EntityApplication, a.ID)
}

// DeleteApplication deletes the application and its role assignments. The admin
// application Bootstrap created cannot be deleted (*AdminAppError).
func (d *Directory) DeleteApplication(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	a, ok := d.st.apps[id]
	if !ok {
		return notFound(EntityApplication, id)
	}
	if err := d.guardAdminAppDelete(id); err != nil {
		return err
	}
	return d.commit(ctx, func(b *batch) error {
		for roleID, ver := range d.st.appRoles[id] {
			b.del(kindAppRole, assignmentKey(id, roleID), ver)
		}
		d.cascadeAppOrganizations(b, id)
		b.del(kindApp, id, a.Version)
		return nil
	})
}

// AddAppSecret adds a named secret to a confidential application and returns the
// stored record (which keeps the value, as Logto's) and the secret's value. expiresAt (ms since epoch)
// must be in the future when set.
func (d *Directory) AddAppSecret(ctx context.Context, appID, name string, expiresAt *int64) (AppSecret, string, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.addAppSecret(ctx, appID, name, "", expiresAt)
}

func (d *Directory) addAppSecret(ctx context.Context, appID, name, value string, expiresAt *int64) (AppSecret, string, error) {
	old, ok := d.st.apps[appID]
	if !ok {
		return AppSecret{}, "", notFound(EntityApplication, appID)
	}
	if !old.Type.HasSecrets() {
		return AppSecret{}, "", invalid("type", "%s applications are public clients and have no secrets", old.Type)
	}
	if err := validName("name", name); err != nil {
		return AppSecret{}, "", err
	}
	now := d.nowMs()
	if expiresAt != nil && *expiresAt <= now {
		return AppSecret{}, "", invalid("expiresAt", "must be in the future")
	}
	for _, s := range old.Secrets {
		if s.Name == name {
			return AppSecret{}, "", conflict(EntitySecret, "name", name)
		}
	}
	if value == "" {
		v, err := d.newSecret()
		if err != nil {
			return AppSecret{}, "", err
		}
		value = v
	}
	sec := AppSecret{Name: name, Hash: hashSecret(value), CreatedAt: now, ExpiresAt: clonePtr(expiresAt)}
	next := old.Clone()
	next.Secrets = append(next.Secrets, sec)
	if _, err := d.storeApp(ctx, next); err != nil {
		return AppSecret{}, "", err
	}
	return sec, value, nil
}

// DeleteAppSecret removes the application's secret called name.
func (d *Directory) DeleteAppSecret(ctx context.Context, appID, name string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.apps[appID]
	if !ok {
		return notFound(EntityApplication, appID)
	}
	i := slices.IndexFunc(old.Secrets, func(s AppSecret) bool { return s.Name == name })
	if i < 0 {
		return notFound(EntitySecret, name)
	}
	if appID == d.st.adminApp && len(old.Secrets) == 1 {
		// Without a secret the admin application cannot authenticate: every operator
		// would be locked out of the Management API.
		return &AdminAppError{AppID: appID, Op: AdminAppLastSecret}
	}
	next := old.Clone()
	next.Secrets = slices.Delete(next.Secrets, i, i+1)
	_, err := d.storeApp(ctx, next)
	return err
}

// RenameAppSecret renames the application's secret called name to newName (Logto's
// PATCH /api/applications/:id/secrets/:name) and returns it.
func (d *Directory) RenameAppSecret(ctx context.Context, appID, name, newName string) (AppSecret, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.apps[appID]
	if !ok {
		return AppSecret{}, notFound(EntityApplication, appID)
	}
	i := slices.IndexFunc(old.Secrets, func(s AppSecret) bool { return s.Name == name })
	if i < 0 {
		return AppSecret{}, notFound(EntitySecret, name)
	}
	if err := validName("name", newName); err != nil {
		return AppSecret{}, err
	}
	if newName == name {
		return old.Secrets[i], nil
	}
	if slices.ContainsFunc(old.Secrets, func(s AppSecret) bool { return s.Name == newName }) {
		return AppSecret{}, conflict(EntitySecret, "name", newName)
	}
	next := old.Clone()
	next.Secrets[i].Name = newName
	if _, err := d.storeApp(ctx, next); err != nil {
		return AppSecret{}, err
	}
	return next.Secrets[i], nil
}

// ---- state (callers hold wmu and mu) ----

// setApp publishes a. Callers hold wmu and mu.
func (d *Directory) setApp(a *Application) { d.st.apps[a.ID] = a }

// deleteApp leaves the application's assignment records alone: DeleteApplication
// erases them first, and readers ignore assignments of missing applications.
func (d *Directory) deleteApp(id string) { delete(d.st.apps, id) }
