package directory

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// Clone returns a deep copy of u, safe to modify.
func (u *User) Clone() *User {
	c := *u
	c.Username = clonePtr(u.Username)
	c.PrimaryEmail = clonePtr(u.PrimaryEmail)
	c.PrimaryPhone = clonePtr(u.PrimaryPhone)
	c.Name = clonePtr(u.Name)
	c.Avatar = clonePtr(u.Avatar)
	c.Profile = cloneRaw(u.Profile)
	c.CustomData = cloneRaw(u.CustomData)
	c.Identities = cloneRaw(u.Identities)
	c.ApplicationID = clonePtr(u.ApplicationID)
	c.LastSignInAt = clonePtr(u.LastSignInAt)
	c.MfaVerifications = cloneMfa(u.MfaVerifications)
	return &c
}

// HasPassword reports whether the user has a password set.
func (u *User) HasPassword() bool { return u.PasswordHash != "" }

// NewUser is the input of CreateUser. Empty identifier strings mean "none".
type NewUser struct {
	Username, PrimaryEmail, PrimaryPhone *string
	Name, Avatar                         *string
	// Password is hashed with Argon2id; empty means the user has no password.
	Password      string
	CustomData    json.RawMessage
	Profile       json.RawMessage
	ApplicationID *string
}

// User returns the user with id; shared, must not be mutated.
func (d *Directory) User(id string) (*User, bool) {
	d.mu.RLock()
	u, ok := d.st.users[id]
	d.mu.RUnlock()
	return u, ok
}

// UserByUsername finds a user by exact username.
func (d *Directory) UserByUsername(username string) (*User, bool) {
	return d.userByIndex(func(s *state) map[string]string { return s.usernames }, username)
}

// UserByEmail finds a user by primary email, case-insensitively.
func (d *Directory) UserByEmail(email string) (*User, bool) {
	return d.userByIndex(func(s *state) map[string]string { return s.emails }, strings.ToLower(email))
}

// UserByPhone finds a user by primary phone, however the number is written (with or
// without the trunk 0 before the national number, Logto's normalized match): the
// exact spelling first, then the stored form, then the leading-zero form.
func (d *Directory) UserByPhone(phone string) (*User, bool) {
	index := func(s *state) map[string]string { return s.phones }
	if u, ok := d.userByIndex(index, phone); ok {
		return u, true
	}
	for _, key := range phoneKeys(phone) {
		if u, ok := d.userByIndex(index, key); ok {
			return u, true
		}
	}
	return nil, false
}

func (d *Directory) userByIndex(index func(*state) map[string]string, key string) (*User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	id, ok := index(&d.st)[key]
	if !ok {
		return nil, false
	}
	u, ok := d.st.users[id]
	return u, ok
}

// Users returns the users whose id, username, primary email, primary phone or name
// contains search (case-insensitively; every user when search is empty), newest
// first. The slice is the caller's; the entities are shared.
func (d *Directory) Users(search string) []*User {
	search = strings.ToLower(search)
	d.mu.RLock()
	out := make([]*User, 0, len(d.st.users))
	for _, u := range d.st.users {
		if search == "" || userMatches(u, search) {
			out = append(out, u)
		}
	}
	d.mu.RUnlock()
	sortByCreated(out, func(u *User) int64 { return u.CreatedAt }, func(u *User) string { return u.ID })
	return out
}

func userMatches(u *User, lowered string) bool {
	if strings.Contains(strings.ToLower(u.ID), lowered) {
		return true
	}
	for _, p := range []*string{u.Username, u.PrimaryEmail, u.PrimaryPhone, u.Name} {
		if p != nil && strings.Contains(strings.ToLower(*p), lowered) {
			return true
		}
	}
	return false
}

func emptyToNil(p *string) *string {
	if p == nil || *p == "" {
		return nil
	}
	return p
}

func validateUser(u *User) error {
	if u.Username != nil && !usernameRE.MatchString(*u.Username) {
		return invalid("username", "must start with a letter or underscore and contain only letters, digits and underscores")
	}
	if u.Username != nil && len(*u.Username) > 128 {
		return invalid("username", "must be at most 128 bytes")
	}
	if u.PrimaryEmail != nil && (!emailRE.MatchString(*u.PrimaryEmail) || len(*u.PrimaryEmail) > 128) {
		return invalid("primaryEmail", "is not an email address")
	}
	if u.PrimaryPhone != nil && (!phoneRE.MatchString(*u.PrimaryPhone) || len(*u.PrimaryPhone) > 128) {
		return invalid("primaryPhone", "must contain digits only")
	}
	if u.Name != nil && len(*u.Name) > 128 {
		return invalid("name", "must be at most 128 bytes")
	}
	if u.Avatar != nil && *u.Avatar != "" && !absoluteURI(*u.Avatar) {
		return invalid("avatar", "must be a URL")
	}
	if !jsonObject(u.CustomData) {
		return invalid("customData", "must be a JSON object")
	}
	if !jsonObject(u.Profile) {
		return invalid("profile", "must be a JSON object")
	}
	if !jsonObject(u.Identities) {
		return invalid("identities", "must be a JSON object")
	}
	return nil
}

// checkUserUnique enforces unique username, email (case-insensitive) and phone.
// Callers hold wmu.
func (d *Directory) checkUserUnique(u *User) error {
	if u.Username != nil {
		if id, ok := d.st.usernames[*u.Username]; ok && id != u.ID {
			return conflict(EntityUser, "username", *u.Username)
		}
	}
	if u.PrimaryEmail != nil {
		if id, ok := d.st.emails[strings.ToLower(*u.PrimaryEmail)]; ok && id != u.ID {
			return conflict(EntityUser, "primaryEmail", *u.PrimaryEmail)
		}
	}
	if u.PrimaryPhone != nil {
		for _, key := range phoneKeys(*u.PrimaryPhone) { // one number, however written
			if id, ok := d.st.phones[key]; ok && id != u.ID {
				return conflict(EntityUser, "primaryPhone", *u.PrimaryPhone)
			}
		}
	}
	return nil
}

// CreateUser creates a user. The password (if any) is hashed before the write lock
// is taken, so Argon2id does not serialize other writes.
func (d *Directory) CreateUser(ctx context.Context, in NewUser) (*User, error) {
	return d.createUser(ctx, in, "")
}

// HashPassword hashes password with the directory's Argon2id parameters, for flows that
// must keep a hash before the user exists (the Experience API's Register profile).
func (d *Directory) HashPassword(password string) (string, error) {
	return d.hashPassword(password)
}

// CreateUserWithPasswordDigest creates a user whose password is an imported digest
// (Logto's passwordDigest and passwordAlgorithm on POST /api/users).
func (d *Directory) CreateUserWithPasswordDigest(ctx context.Context, in NewUser, pd PasswordDigest) (*User, error) {
	if in.Password != "" {
		return nil, invalid("password", "give a password or a password digest, not both")
	}
	if err := pd.check(); err != nil {
		return nil, err
	}
	alg := pd.Algorithm
	if alg == PasswordArgon2id {
		alg = "" // the same as the hashes Latch makes
	}
	return d.createUserAlg(ctx, in, pd.Digest, alg)
}

// CreateUserWithPasswordHash creates a user whose password is given as an Argon2id PHC
// hash made by HashPassword, so a plaintext password need not be kept meanwhile.
func (d *Directory) CreateUserWithPasswordHash(ctx context.Context, in NewUser, passwordHash string) (*User, error) {
	if in.Password != "" {
		return nil, invalid("password", "give a password or a password hash, not both")
	}
	if _, err := parsePHC(passwordHash); err != nil {
		return nil, invalid("passwordHash", "is not an Argon2id hash")
	}
	return d.createUser(ctx, in, passwordHash)
}

func (d *Directory) createUser(ctx context.Context, in NewUser, passwordHash string) (*User, error) {
	return d.createUserAlg(ctx, in, passwordHash, "")
}

func (d *Directory) createUserAlg(ctx context.Context, in NewUser, passwordHash, passwordAlg string) (*User, error) {
	now := d.nowMs()
	u := (&User{
		Username:      emptyToNil(in.Username),
		PrimaryEmail:  emptyToNil(in.PrimaryEmail),
		PrimaryPhone:  emptyToNil(in.PrimaryPhone),
		Name:          in.Name,
		Avatar:        in.Avatar,
		Profile:       normalizeObject(in.Profile),
		CustomData:    normalizeObject(in.CustomData),
		ApplicationID: in.ApplicationID,
		CreatedAt:     now,
		UpdatedAt:     now,
	}).Clone()
	if err := validateUser(u); err != nil {
		return nil, err
	}
	if err := normalizePhoneField(&u.PrimaryPhone); err != nil {
		return nil, err
	}
	u.PasswordHash, u.PasswordAlgorithm = passwordHash, passwordAlg
	if in.Password != "" {
		h, err := d.hashPassword(in.Password)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = h
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		u.ID = ""
		if err := d.checkUserUnique(u); err != nil {
			return err
		}
		id, err := d.newID()
		if err != nil {
			return err
		}
		u.ID = id
		b.put(kindUser, id, 0, u)
		claimUserIndexes(b, nil, u)
		// Logto gives every new user the default User roles, in the same write.
		for rid, role := range d.st.roles {
			if role.IsDefault && role.Type == RoleUser {
				b.check(kindRole, rid, role.Version)
				b.put(kindUserRole, assignmentKey(id, rid), 0, assignmentValue{CreatedAt: now})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.users, EntityUser, u.ID)
}

// claimUserIndexes adds to b the index changes from old (nil for a new user) to next.
func claimUserIndexes(b *batch, old, next *User) {
	if old == nil {
		old = &User{}
	}
	b.reindex(kindIdxUsername, deref(old.Username), deref(next.Username), next.ID)
	b.reindex(kindIdxEmail, strings.ToLower(deref(old.PrimaryEmail)), strings.ToLower(deref(next.PrimaryEmail)), next.ID)
	b.reindex(kindIdxPhone, deref(old.PrimaryPhone), deref(next.PrimaryPhone), next.ID)
}

// UpdateUser applies mutate to a private copy of the user, validates it (formats and
// uniqueness) and stores it with a new updatedAt. mutate runs under the write lock and
// must not call back into the Directory. Empty username/email/phone mean "none". The
// id, createdAt and password hash are kept (see SetUserPassword).
func (d *Directory) UpdateUser(ctx context.Context, id string, mutate func(*User) error) (*User, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.updateUser(ctx, id, func(u *User) error {
		hash := u.PasswordHash
		if err := mutate(u); err != nil {
			return err
		}
		u.PasswordHash = hash
		return nil
	})
}

func (d *Directory) updateUser(ctx context.Context, id string, mutate func(*User) error) (*User, error) {
	old, ok := d.st.users[id]
	if !ok {
		return nil, notFound(EntityUser, id)
	}
	next := old.Clone()
	if err := mutate(next); err != nil {
		return nil, err
	}
	next.ID, next.CreatedAt, next.Version = old.ID, old.CreatedAt, old.Version
	next.Username = emptyToNil(next.Username)
	next.PrimaryEmail = emptyToNil(next.PrimaryEmail)
	next.PrimaryPhone = emptyToNil(next.PrimaryPhone)
	next.CustomData = normalizeObject(next.CustomData)
	next.Profile = normalizeObject(next.Profile)
	next.Identities = normalizeObject(next.Identities)
	next.UpdatedAt = d.nowMs()
	if err := validateUser(next); err != nil {
		return nil, err
	}
	if p := next.PrimaryPhone; p != nil && (old.PrimaryPhone == nil || *old.PrimaryPhone != *p) {
		// Checked and normalized when it changes, so an older record stays as it is.
		if err := normalizePhoneField(&next.PrimaryPhone); err != nil {
			return nil, err
		}
	}
	err := d.commit(ctx, func(b *batch) error {
		if err := d.checkUserUnique(next); err != nil {
			return err
		}
		b.put(kindUser, id, old.Version, next)
		claimUserIndexes(b, old, next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.users, EntityUser, id)
}

// SetUserPassword replaces the user's password (hashed with Argon2id outside the
// write lock). An empty password is an *InvalidError.
func (d *Directory) SetUserPassword(ctx context.Context, id, password string) (*User, error) {
	if password == "" {
		return nil, invalid("password", "must not be empty")
	}
	if _, ok := d.User(id); !ok {
		return nil, notFound(EntityUser, id)
	}
	h, err := d.hashPassword(password)
	if err != nil {
		return nil, err
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.updateUser(ctx, id, func(u *User) error {
		u.PasswordHash, u.PasswordAlgorithm = h, ""
		return nil
	})
}

// VerifyUserPassword checks password against the user's Argon2id hash: the user, or
// ErrInvalidCredentials (wrong password or no password), or a *NotFoundError. A user
// without a password still costs one hash, so timing does not tell the cases apart.
func (d *Directory) VerifyUserPassword(id, password string) (*User, error) {
	u, ok := d.User(id)
	if !ok {
		return nil, notFound(EntityUser, id)
	}
	if !u.HasPassword() {
		_, _ = d.verifyPassword(d.dummyHash(), password)
		return nil, ErrInvalidCredentials
	}
	var err error
	if u.PasswordAlgorithm == "" {
		ok, err = d.verifyPassword(u.PasswordHash, password)
	} else {
		ok, err = d.verifyDigest(u.PasswordAlgorithm, u.PasswordHash, password)
	}
	if err != nil {
		d.log.Warn("directory: stored password hash is malformed", "user", id, "err", err)
		return nil, ErrInvalidCredentials
	}
	if !ok {
		return nil, ErrInvalidCredentials
	}
	return u, nil
}

// UpgradePasswordHash replaces an imported password digest (MD5, Bcrypt, Legacy, ...)
// with an Argon2id hash of password, which the caller has just verified against u,
// as Logto migrates such digests on a successful check. A user whose hash is already
// Latch's, or changed since u was read, is left alone. Best effort: a failure is
// logged, and the next verification tries again.
func (d *Directory) UpgradePasswordHash(ctx context.Context, u *User, password string) {
	if u == nil || u.PasswordAlgorithm == "" {
		return
	}
	h, err := d.hashPassword(password)
	if err == nil {
		d.wmu.Lock()
		_, err = d.updateUser(ctx, u.ID, func(cur *User) error {
			if cur.PasswordHash != u.PasswordHash || cur.PasswordAlgorithm != u.PasswordAlgorithm {
				return errPasswordChanged
			}
			cur.PasswordHash, cur.PasswordAlgorithm = h, ""
			return nil
		})
		d.wmu.Unlock()
	}
	if err != nil && !errors.Is(err, errPasswordChanged) {
		d.log.Warn("directory: upgrading an imported password digest failed", "user", u.ID, "err", err)
	}
}

// errPasswordChanged: the password changed between a verification and its upgrade.
var errPasswordChanged = errors.New("directory: password changed meanwhile")

// SpendPasswordHash costs what one password verification costs. Sign-in code calls it
// when the identifier matches no user, so response time does not reveal which
// identifiers exist.
func (d *Directory) SpendPasswordHash(password string) {
	_, _ = d.verifyPassword(d.dummyHash(), password)
}

// dummyHash is a hash with the directory's parameters, computed once, that no
// password matches in practice; verifying against it costs what a real check costs.
func (d *Directory) dummyHash() string {
	d.dummyOnce.Do(func() {
		h, err := HashPassword(zeroReader{}, d.argon, "latch-dummy-password")
		if err != nil {
			d.log.Warn("directory: computing the dummy password hash failed", "err", err)
		}
		d.dummy = h
	})
	return d.dummy
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// DeleteUser deletes the user and its role assignments.
func (d *Directory) DeleteUser(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	u, ok := d.st.users[id]
	if !ok {
		return notFound(EntityUser, id)
	}
	return d.commit(ctx, func(b *batch) error {
		for roleID, ver := range d.st.userRoles[id] {
			b.del(kindUserRole, assignmentKey(id, roleID), ver)
		}
		d.cascadeUserOrganizations(b, id)
		d.cascadeUserTokens(b, id) // pats.go
		b.del(kindUser, id, u.Version)
		claimUserIndexes(b, u, &User{ID: id})
		return nil
	})
}

// ---- state (callers hold wmu and mu) ----

func (d *Directory) setUser(u *User) {
	d.unindexUser(d.st.users[u.ID])
	d.st.users[u.ID] = u
	if u.Username != nil {
		d.st.usernames[*u.Username] = u.ID
	}
	if u.PrimaryEmail != nil {
		d.st.emails[strings.ToLower(*u.PrimaryEmail)] = u.ID
	}
	if u.PrimaryPhone != nil {
		d.st.phones[*u.PrimaryPhone] = u.ID
	}
}

func (d *Directory) unindexUser(u *User) {
	if u == nil {
		return
	}
	if u.Username != nil && d.st.usernames[*u.Username] == u.ID {
		delete(d.st.usernames, *u.Username)
	}
	if u.PrimaryEmail != nil && d.st.emails[strings.ToLower(*u.PrimaryEmail)] == u.ID {
		delete(d.st.emails, strings.ToLower(*u.PrimaryEmail))
	}
	if u.PrimaryPhone != nil && d.st.phones[*u.PrimaryPhone] == u.ID {
		delete(d.st.phones, *u.PrimaryPhone)
	}
}

func (d *Directory) deleteUser(id string) {
	d.unindexUser(d.st.users[id])
	delete(d.st.users, id)
}

// hashPassword is HashPassword with the directory's parameters, within hashSlots.
func (d *Directory) hashPassword(password string) (string, error) {
	d.hashSlots <- struct{}{}
	defer func() { <-d.hashSlots }()
	return HashPassword(d.rand, d.argon, password)
}

// verifyDigest is verifyDigest within hashSlots (bcrypt and Argon2 are costly).
func (d *Directory) verifyDigest(alg, digest, password string) (bool, error) {
	d.hashSlots <- struct{}{}
	defer func() { <-d.hashSlots }()
	return verifyDigest(alg, digest, password)
}

// verifyPassword is VerifyPassword within hashSlots.
func (d *Directory) verifyPassword(hash, password string) (bool, error) {
	d.hashSlots <- struct{}{}
	defer func() { <-d.hashSlots }()
	return VerifyPassword(hash, password)
}
