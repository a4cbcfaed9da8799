package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchid/latch/persistence"
)

// Store kinds. Every value is the entity's JSON; assignments are keyed
// "<subjectID>/<roleID>" and carry a small JSON value.
const (
	kindApp        = "app"
	kindUser       = "user"
	kindResource   = "resource"
	kindScope      = "scope"
	kindRole       = "role"
	kindUserRole   = "user-role"
	kindAppRole    = "app-role"
	kindSigningKey = "signing-key"
	kindMeta       = "meta"

	metaAdminApp = "admin-app"
)

// directoryKinds lists every store kind the directory owns, referenced kinds first
// (so the list is also a valid load order): what Open loads, what a Raft snapshot
// carries and what restoring one replaces. A new directory kind is added here and
// nowhere else; the store's other kinds (sessions, grants, throttles...) are never
// part of the directory's replicated state.
var directoryKinds = []string{
	kindResource, kindScope, kindRole, kindApp, kindUser, kindUserRole, kindAppRole, kindSigningKey, kindCookieKey, kindMeta,
	kindIdxUsername, kindIdxEmail, kindIdxPhone, kindIdxIndicator, kindIdxRoleName, kindIdxScopeName,
	kindOrgScope, kindOrgRole, kindOrg, kindOrgUser, kindOrgApp, kindOrgUserRole, kindOrgAppRole, kindOrgJIT, kindOrgInvitation, // organizations_model.go
	kindIdxOrgRoleName, kindIdxOrgScopeName, kindIdxOrgInvitation,
	kindUserPATs, kindSubjectToken, // pats.go
	kindSignInExp, kindAccountCenter, kindVerificationRecord, // signinexp.go, accountcenter.go, verifications.go
	kindConnector,                         // connectors.go
	kindAppConsentScopes, kindUserConsent, // consent.go
	kindHook,          // hooks.go
	kindJwtCustomizer, // jwtcustomizers.go
}

// Config wires a Directory.
type Config struct {
	Store persistence.Store
	// Now is the clock (timestamps, secret expiry). Required.
	Now func() time.Time
	// Rand is the source of ids, secrets and salts. Required; it must be safe for
	// concurrent use (crypto/rand.Reader is): password hashing reads it outside the
	// write lock.
	Rand io.Reader
	// Logger; nil discards.
	Logger *slog.Logger
	// Argon2 are the cost parameters of new password hashes; zero fields take
	// DefaultArgon2 (OWASP). Tests use tiny values.
	Argon2 Argon2Params
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("directory: Store is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("directory: Now is required"))
	}
	if c.Rand == nil {
		errs = append(errs, errors.New("directory: Rand is required"))
	}
	if err := c.Argon2.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Directory is the in-memory, store-backed directory of one node.
//
// Concurrency and ownership:
//   - Entities are immutable once published. A write builds a new *Application,
//     *User, ... and swaps the pointer; every pointer or slice a read returns is
//     shared and must not be mutated by the caller.
//   - Reads take mu's read lock (or only the scope caches' lock) and never do I/O.
//   - Writes are serialized by wmu. A write validates against the current state and
//     builds one batch of conditional mutations (every record it changes, at the
//     version memory holds; the uniqueness index records it claims or releases; checks
//     on the records it refers to), which the store applies atomically (commit.go).
//     Memory then follows the applied batch through applied, the one path from the
//     store to memory (a replica applying the same batch calls it too). State maps are
//     changed only with both wmu and mu held, so holding either one is enough to read
//     them.
//   - In a cluster (Replicate), the batch is proposed to the directory's Raft log
//     instead, and every node, this one included, applies it in log order through
//     Replica.Apply (replica.go), which takes wmu and mu like a write. The writer
//     releases wmu while its proposal is in flight and takes it again before it
//     returns: a write never holds the lock across a quorum round trip.
//   - A write that touches several records (deleting a resource removes its scopes
//     from roles, deletes them, then the resource) is one batch: all or nothing.
//     Readers still ignore references to missing entities.
type Directory struct {
	store persistence.Store
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	argon Argon2Params
	// hashSlots bounds how many Argon2id computations run at once (one per CPU): each
	// takes ~19 MiB and tens of milliseconds of a core, so unbounded concurrency only
	// adds latency and memory (a flood of sign-ins could exhaust memory).
	hashSlots chan struct{}

	wmu sync.Mutex   // serializes writes
	mu  sync.RWMutex // guards st
	st  state

	// repl replicates write batches once Replicate was called (nil: writes apply to
	// the local store). Guarded by wmu.
	repl Log
	// appliedIndex is the last replicated log entry applied (replica.go);
	// appliedVersion the version of its store record, guarded by wmu.
	appliedIndex   atomic.Uint64
	appliedVersion uint64

	appScopes  scopeCache // appID -> resourceID -> scope names
	userScopes scopeCache // userID -> resourceID -> scope names

	dummyOnce sync.Once // guards dummy
	dummy     string    // see dummyHash
}

// state is the whole directory in memory, with the indexes reads and uniqueness
// checks need.
type state struct {
	apps  map[string]*Application
	users map[string]*User
	// Uniqueness indexes: value -> user id. Emails are keyed lower-cased.
	usernames map[string]string
	emails    map[string]string
	phones    map[string]string

	resources      map[string]*Resource
	indicators     map[string]*Resource
	scopes         map[string]*Scope
	resourceScopes map[string]map[string]*Scope // resourceID -> scopeID -> scope
	roles          map[string]*Role
	roleNames      map[string]string // name -> role id

	// Assignments with their record versions, and the reverse indexes.
	userRoles map[string]map[string]uint64 // userID -> roleID -> version
	roleUsers map[string]map[string]struct{}
	appRoles  map[string]map[string]uint64 // appID -> roleID -> version
	roleApps  map[string]map[string]struct{}

	keys    map[string]*SigningKey
	keyList []*SigningKey // sorted snapshot returned by SigningKeys

	cookieKeys map[string]*CookieKey // cookiekeys.go

	adminApp        string // id of the bootstrap admin application
	adminAppVersion uint64
	hotShards       uint32 // the cluster's hot-state shard count (clustersettings.go)

	org orgState   // organizations (organizations_model.go)
	tok tokenState // personal access tokens and subject tokens (pats.go)

	// sie is the sign-in experience; nil: Logto's defaults (signinexp.go).
	sie *SignInExperience
	// accountCenter is the Account API settings; nil: Logto's defaults (accountcenter.go).
	accountCenter *AccountCenter
	// verifications are the live verification records by id hash; nil until the
	// first (verifications.go).
	verifications map[string]*VerificationRecord
	// connectors are the configured connectors by id; nil until the first
	// (connectors.go).
	connectors map[string]*Connector
	// hooks are the webhooks by id; nil until the first (hooks.go).
	hooks map[string]*Hook
	// jwtCustomizers are the custom JWT configs by key; nil until the first
	// (jwtcustomizers.go).
	jwtCustomizers map[string]*JwtCustomizer
	// consent is third-party applications' consent scopes and users' consents
	// (consent.go).
	consent consentState
}

func newState() state {
	return state{
		apps:           map[string]*Application{},
		users:          map[string]*User{},
		usernames:      map[string]string{},
		emails:         map[string]string{},
		phones:         map[string]string{},
		resources:      map[string]*Resource{},
		indicators:     map[string]*Resource{},
		scopes:         map[string]*Scope{},
		resourceScopes: map[string]map[string]*Scope{},
		roles:          map[string]*Role{},
		roleNames:      map[string]string{},
		userRoles:      map[string]map[string]uint64{},
		roleUsers:      map[string]map[string]struct{}{},
		appRoles:       map[string]map[string]uint64{},
		roleApps:       map[string]map[string]struct{}{},
		keys:           map[string]*SigningKey{},
		cookieKeys:     map[string]*CookieKey{},
		org:            newOrgState(),
		tok:            newTokenState(),
		consent:        newConsentState(),
	}
}

// Open loads every entity from the store into memory.
func Open(ctx context.Context, cfg Config) (*Directory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Directory{
		store: cfg.Store,
		now:   cfg.Now,
		rand:  cfg.Rand,
		log:   log,
		argon: cfg.Argon2.withDefaults(),
		st:    newState(),

		hashSlots: make(chan struct{}, runtime.GOMAXPROCS(0)),
	}
	for _, kind := range directoryKinds {
		if _, isIndex := indexOwnerKind[kind]; isIndex {
			continue // index records are read by migrateIndexes, not held in memory
		}
		err := d.store.Scan(ctx, kind, func(key string, rec persistence.Record) error {
			return d.apply(kind, key, rec)
		})
		if err != nil {
			return nil, fmt.Errorf("directory: loading %s: %w", kind, err)
		}
	}
	if err := d.loadApplied(ctx); err != nil {
		return nil, err
	}
	// migrateIndexes writes to the local store, not through the replicated log (there
	// is none yet at Open). That is safe: on the node that bootstraps a cluster its
	// writes are part of the state the first snapshot carries to every joiner, and a
	// joiner's store is replaced wholesale by Replica.Restore, so records a joiner's
	// migration wrote never outlive its first snapshot.
	if err := d.migrateIndexes(ctx); err != nil {
		return nil, err
	}
	d.log.Debug("directory loaded",
		"applications", len(d.st.apps), "users", len(d.st.users), "resources", len(d.st.resources),
		"scopes", len(d.st.scopes), "roles", len(d.st.roles), "signingKeys", len(d.st.keys))
	return d, nil
}

// apply publishes one stored record. Callers hold wmu and mu (or own d exclusively).
func (d *Directory) apply(kind, key string, rec persistence.Record) error {
	bad := func(err error) error { return fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err) }
	switch kind {
	case kindApp:
		var a Application
		if err := json.Unmarshal(rec.Value, &a); err != nil {
			return bad(err)
		}
		a.ID, a.Version = key, rec.Version
		d.setApp(&a)
	case kindUser:
		var u User
		if err := json.Unmarshal(rec.Value, &u); err != nil {
			return bad(err)
		}
		u.ID, u.Version = key, rec.Version
		d.setUser(&u)
	case kindResource:
		var r Resource
		if err := json.Unmarshal(rec.Value, &r); err != nil {
			return bad(err)
		}
		r.ID, r.Version = key, rec.Version
		d.setResource(&r)
	case kindScope:
		var s Scope
		if err := json.Unmarshal(rec.Value, &s); err != nil {
			return bad(err)
		}
		s.ID, s.Version = key, rec.Version
		d.setScope(&s)
	case kindRole:
		var r Role
		if err := json.Unmarshal(rec.Value, &r); err != nil {
			return bad(err)
		}
		r.ID, r.Version = key, rec.Version
		d.setRole(&r)
	case kindUserRole, kindAppRole:
		subject, role, ok := strings.Cut(key, "/")
		if !ok {
			return bad(errors.New("assignment key is not subject/role"))
		}
		if kind == kindUserRole {
			setAssignment(d.st.userRoles, d.st.roleUsers, subject, role, rec.Version)
		} else {
			setAssignment(d.st.appRoles, d.st.roleApps, subject, role, rec.Version)
		}
		d.invalidateScopes()
	case kindSigningKey:
		var k SigningKey
		if err := json.Unmarshal(rec.Value, &k); err != nil {
			return bad(err)
		}
		k.ID, k.Version = key, rec.Version
		d.setSigningKey(&k)
	case kindCookieKey:
		var k CookieKey
		if err := json.Unmarshal(rec.Value, &k); err != nil {
			return bad(err)
		}
		k.ID, k.Version = key, rec.Version
		d.setCookieKey(&k)
	case kindMeta:
		if key == metaAdminApp {
			var m adminAppMeta
			if err := json.Unmarshal(rec.Value, &m); err != nil {
				return bad(err)
			}
			d.st.adminApp, d.st.adminAppVersion = m.ApplicationID, rec.Version
		}
		if key == metaHotShards {
			return d.applyHotShards(rec.Value)
		}
	default:
		if handled, err := d.applyTokens(kind, key, rec); handled {
			return err
		}
		if handled, err := d.applySignInExp(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		if handled, err := d.applyAccountCenter(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		if handled, err := d.applyVerificationRecord(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		if handled, err := d.applyConnector(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		if handled, err := d.applyConsent(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		if handled, err := d.applyHook(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		if handled, err := d.applyJwtCustomizer(kind, key, rec.Value, rec.Version); handled {
			return err
		}
		return d.applyOrg(kind, key, rec)
	}
	return nil
}

// remove unpublishes one record that no longer exists in the store.
func (d *Directory) remove(kind, key string) {
	switch kind {
	case kindApp:
		d.deleteApp(key)
	case kindUser:
		d.deleteUser(key)
	case kindResource:
		d.deleteResource(key)
	case kindScope:
		d.deleteScope(key)
	case kindRole:
		d.deleteRole(key)
	case kindUserRole, kindAppRole:
		subject, role, _ := strings.Cut(key, "/")
		if kind == kindUserRole {
			deleteAssignment(d.st.userRoles, d.st.roleUsers, subject, role)
		} else {
			deleteAssignment(d.st.appRoles, d.st.roleApps, subject, role)
		}
		d.invalidateScopes()
	case kindSigningKey:
		d.deleteSigningKey(key)
	case kindCookieKey:
		d.deleteCookieKey(key)
	case kindMeta:
		if key == metaAdminApp {
			d.st.adminApp, d.st.adminAppVersion = "", 0
		}
		if key == metaHotShards {
			d.st.hotShards = 0
		}
	default:
		if !d.removeTokens(kind, key) && !d.removeSignInExp(kind) && !d.removeAccountCenter(kind) && !d.removeVerificationRecord(kind, key) && !d.removeConnector(kind, key) && !d.removeConsent(kind, key) && !d.removeHook(kind, key) && !d.removeJwtCustomizer(kind, key) {
			d.removeOrg(kind, key)
		}
	}
}

// publish runs fn, which changes the state maps, under mu's write lock. Callers hold
// wmu.
func (d *Directory) publish(fn func()) {
	d.mu.Lock()
	fn()
	d.mu.Unlock()
}

func (d *Directory) nowMs() int64 { return d.now().UnixMilli() }

// ---- scope resolution (hot path) ----

// maxScopeCacheEntries bounds each scope cache; past it the cache starts over.
const maxScopeCacheEntries = 1 << 20

// scopeCache memoizes subject x resource -> granted scope names. Entries are
// inserted only while the directory's read lock is held and the cache is cleared
// only under its write lock, so an entry computed from an old state can never
// survive an invalidation.
type scopeCache struct {
	mu sync.RWMutex
	m  map[string]map[string][]string
	n  int
}

func (c *scopeCache) get(subject, resource string) ([]string, bool) {
	c.mu.RLock()
	v, ok := c.m[subject][resource]
	c.mu.RUnlock()
	return v, ok
}

func (c *scopeCache) put(subject, resource string, v []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || c.n >= maxScopeCacheEntries {
		c.m, c.n = map[string]map[string][]string{}, 0
	}
	inner := c.m[subject]
	if inner == nil {
		inner = map[string][]string{}
		c.m[subject] = inner
	}
	if _, ok := inner[resource]; !ok {
		c.n++
	}
	inner[resource] = v
}

func (c *scopeCache) clear() {
	c.mu.Lock()
	c.m, c.n = nil, 0
	c.mu.Unlock()
}

// invalidateScopes drops both scope caches. Callers hold mu's write lock.
func (d *Directory) invalidateScopes() {
	d.appScopes.clear()
	d.userScopes.clear()
}

// AppResourceScopes returns the names of the scopes of resourceID granted to the
// application through its MachineToMachine roles, sorted and de-duplicated (nil when
// none). The result is cached per (app, resource) until a write to roles, role scopes,
// scopes, resources or assignments; it is shared and must not be mutated.
func (d *Directory) AppResourceScopes(appID, resourceID string) []string {
	if v, ok := d.appScopes.get(appID, resourceID); ok {
		return v
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	v := d.resolveScopes(d.st.appRoles[appID], RoleMachineToMachine, resourceID)
	d.appScopes.put(appID, resourceID, v)
	return v
}

// UserResourceScopes is AppResourceScopes for a user's User roles.
func (d *Directory) UserResourceScopes(userID, resourceID string) []string {
	if v, ok := d.userScopes.get(userID, resourceID); ok {
		return v
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	v := d.resolveScopes(d.st.userRoles[userID], RoleUser, resourceID)
	d.userScopes.put(userID, resourceID, v)
	return v
}

// resolveScopes collects the scope names of resourceID in the given roles of type t.
// Callers hold mu (read).
func (d *Directory) resolveScopes(roleIDs map[string]uint64, t RoleType, resourceID string) []string {
	var names []string
	for roleID := range roleIDs {
		role := d.st.roles[roleID]
		if role == nil || role.Type != t {
			continue
		}
		for _, sid := range role.ScopeIDs {
			if s := d.st.scopes[sid]; s != nil && s.ResourceID == resourceID {
				names = append(names, s.Name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return slices.Clip(slices.Compact(names))
}

// ---- assignment index helpers ----

func setAssignment(fwd map[string]map[string]uint64, rev map[string]map[string]struct{}, subject, role string, ver uint64) {
	m := fwd[subject]
	if m == nil {
		m = map[string]uint64{}
		fwd[subject] = m
	}
	m[role] = ver
	r := rev[role]
	if r == nil {
		r = map[string]struct{}{}
		rev[role] = r
	}
	r[subject] = struct{}{}
}

func deleteAssignment(fwd map[string]map[string]uint64, rev map[string]map[string]struct{}, subject, role string) {
	if m := fwd[subject]; m != nil {
		delete(m, role)
		if len(m) == 0 {
			delete(fwd, subject)
		}
	}
	if r := rev[role]; r != nil {
		delete(r, subject)
		if len(r) == 0 {
			delete(rev, role)
		}
	}
}

func assignmentKey(subject, role string) string { return subject + "/" + role }

// assignmentValue is the stored value of a user-role or app-role record.
type assignmentValue struct {
	CreatedAt int64 `json:"createdAt"`
}

// sortByCreated orders newest first (Logto lists by created_at desc), then by id.
func sortByCreated[T any](items []T, created func(T) int64, id func(T) string) {
	slices.SortFunc(items, func(a, b T) int {
		ca, cb := created(a), created(b)
		switch {
		case ca > cb:
			return -1
		case ca < cb:
			return 1
		}
		return strings.Compare(id(a), id(b))
	})
}
