package op

import (
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"slices"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Config wires a Provider. Every dependency is a field: no globals.
type Config struct {
	// Issuer is the OP's issuer, e.g. http://localhost:3001/oidc.
	Issuer    string
	Directory *directory.Directory
	Keys      Keys // *DirectoryKeys, or a fixed *oidcflow.KeyRing
	// Lifetimes is the lifetime policy; the zero value means oidcflow.DefaultLifetimes.
	Lifetimes oidcflow.Lifetimes
	// Grants, AccessTokens and Families reach the grains. Nil Grants or Families
	// disables the user grants (authorization_code, refresh_token); nil AccessTokens
	// makes every opaque access token unknown.
	Grants       Grants
	AccessTokens AccessTokens
	Families     RefreshFamilies
	Logger       *slog.Logger
	Now          func() time.Time
	// Rand is the source of JWT ids.
	Rand io.Reader
	// Claims, when set, customizes every JWT access token's claims (Logto's custom
	// JWT); nil issues them as they are.
	Claims ClaimsCustomizer
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("op: Issuer is required"))
	}
	if c.Directory == nil {
		errs = append(errs, errors.New("op: Directory is required"))
	}
	if c.Keys == nil {
		errs = append(errs, errors.New("op: Keys is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("op: Now is required"))
	}
	if c.Rand == nil {
		errs = append(errs, errors.New("op: Rand is required"))
	}
	return errors.Join(errs...)
}

// Provider runs the flows. It holds no request state and is safe for concurrent use.
type Provider struct {
	issuer   string
	dir      *directory.Directory
	keys     Keys
	life     oidcflow.Lifetimes
	grants   Grants
	tokens   AccessTokens
	families RefreshFamilies
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader
	claims   ClaimsCustomizer
}

// New builds a Provider.
func New(cfg Config) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &Provider{
		issuer: cfg.Issuer, dir: cfg.Directory, keys: cfg.Keys, life: cfg.Lifetimes,
		grants: cfg.Grants, tokens: cfg.AccessTokens, families: cfg.Families,
		log: cfg.Logger, now: cfg.Now, rand: cfg.Rand, claims: cfg.Claims,
	}
	if p.life == (oidcflow.Lifetimes{}) {
		p.life = oidcflow.DefaultLifetimes()
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Issuer is the OP's issuer.
func (p *Provider) Issuer() string { return p.issuer }

// userGrants reports whether the grains behind the user grants are wired.
func (p *Provider) userGrants() bool { return p.grants != nil && p.families != nil }

// randomID is 128 bits from the injected reader, base64url.
func (p *Provider) randomID() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(p.rand, b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// activeUser is a grant's user when it may still get tokens or claims: it exists and
// is not suspended.
func (p *Provider) activeUser(id string) (*directory.User, bool) {
	u, ok := p.dir.User(id)
	if !ok || u.IsSuspended {
		return nil, false
	}
	return u, true
}

// ActiveAccount is activeUser as a predicate, for the grains' suspension check
// (actors.Options.ActiveAccount).
func ActiveAccount(dir *directory.Directory) func(accountID string) bool {
	return func(id string) bool {
		u, ok := dir.User(id)
		return ok && !u.IsSuspended
	}
}

// account flattens a directory user for claims; role names are looked up only when
// the roles scope asks for them.
func (p *Provider) account(u *directory.User, scopes []string) oidcflow.Account {
	a := oidcflow.Account{
		ID: u.ID, Username: u.Username, Name: u.Name, Avatar: u.Avatar,
		Email: u.PrimaryEmail, Phone: u.PrimaryPhone,
		Profile: u.Profile, CustomData: u.CustomData, Identities: u.Identities,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	p.organizationClaims(&a, u.ID, scopes)
	if slices.Contains(scopes, oidcflow.ScopeRoles) {
		if roles, err := p.dir.UserRoles(u.ID); err == nil {
			for _, r := range roles {
				a.Roles = append(a.Roles, r.Name)
			}
		}
	}
	return a
}

// notActive reports whether a grain's error means "no such live token" (the answer is
// then inactive), as opposed to a failure to find out (server_error,
// temporarily_unavailable, a cluster error), which must not pass for "inactive".
func notActive(err error) bool {
	e, ok := oauth.From(err)
	return ok && (e.Code == oauth.CodeInvalidGrant || e.Code == oauth.CodeInvalidToken)
}

// intOrZero is an optional setting's value, 0 when unset.
func intOrZero(v *int) int {
	if v == nil {
		return 0
	}
	return *v
}
