package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// userJSON is Logto's user profile response. hasPassword is set on every /api/users
// answer (userDetailView), not in user lists of roles and organizations. The password
// hash is part of it only when asked for (includePasswordHash).
type userJSON struct {
	ID            string          `json:"id"`
	Username      *string         `json:"username"`
	PrimaryEmail  *string         `json:"primaryEmail"`
	PrimaryPhone  *string         `json:"primaryPhone"`
	Name          *string         `json:"name"`
	Avatar        *string         `json:"avatar"`
	CustomData    json.RawMessage `json:"customData"`
	Identities    json.RawMessage `json:"identities"`
	Profile       json.RawMessage `json:"profile"`
	LastSignInAt  *int64          `json:"lastSignInAt"`
	CreatedAt     int64           `json:"createdAt"`
	UpdatedAt     int64           `json:"updatedAt"`
	ApplicationID *string         `json:"applicationId"`
	IsSuspended   bool            `json:"isSuspended"`
	HasPassword   *bool           `json:"hasPassword,omitempty"`
}

func userView(u *directory.User) userJSON {
	return userJSON{
		ID:            u.ID,
		Username:      u.Username,
		PrimaryEmail:  u.PrimaryEmail,
		PrimaryPhone:  u.PrimaryPhone,
		Name:          u.Name,
		Avatar:        u.Avatar,
		CustomData:    objectOrEmpty(u.CustomData),
		Identities:    objectOrEmpty(u.Identities),
		Profile:       objectOrEmpty(u.Profile),
		LastSignInAt:  u.LastSignInAt,
		CreatedAt:     u.CreatedAt,
		UpdatedAt:     u.UpdatedAt,
		ApplicationID: u.ApplicationID,
		IsSuspended:   u.IsSuspended,
	}
}

// userWithHashJSON is a user with includePasswordHash=true: passwordDigest and
// passwordAlgorithm, null when the user has no password. Latch hashes with Argon2id
// (Logto OSS with Argon2i); the digest is the PHC string either way.
type userWithHashJSON struct {
	userJSON
	PasswordDigest    *string `json:"passwordDigest"`
	PasswordAlgorithm *string `json:"passwordAlgorithm"`
}

func userWithHashView(u *directory.User) userWithHashJSON {
	v := userWithHashJSON{userJSON: userDetailView(u)}
	if u.HasPassword() {
		digest, alg := u.PasswordHash, u.PasswordAlgorithm
		if alg == "" {
			alg = directory.PasswordArgon2id
		}
		v.PasswordDigest, v.PasswordAlgorithm = &digest, &alg
	}
	return v
}

func userDetailView(u *directory.User) userJSON {
	v := userView(u)
	has := u.HasPassword()
	v.HasPassword = &has
	return v
}

func (s *Server) user(id string) (*directory.User, error) {
	u, ok := s.dir.User(id)
	if !ok {
		return nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityUser, ID: id})
	}
	return u, nil
}

// findUser is user for the /api/users/:userId routes: a missing user is Logto's
// entity.not_found (userError).
func (s *Server) findUser(id string) (*directory.User, error) {
	u, ok := s.dir.User(id)
	if !ok {
		return nil, userError(&directory.NotFoundError{Entity: directory.EntityUser, ID: id})
	}
	return u, nil
}

// userError is mgmtError for the /api/users/:userId routes, where Logto looks the
// user up with a query that answers a missing one as 404 entity.not_found.
func userError(err error) error {
	var nf *directory.NotFoundError
	if errors.As(err, &nf) && nf.Entity == directory.EntityUser {
		return apiErr(http.StatusNotFound, "entity.not_found", fmt.Sprintf("The user with ID `%s` does not exist.", nf.ID))
	}
	return mgmtError(err)
}

// listUsers pages users, newest first, filtered by Logto's search parameters
// (mgmt_search.go) and by excludeRoleId or excludeOrganizationId (users that do not
// hold that role / are not members of that organization). includePasswordHash=true
// adds passwordDigest and passwordAlgorithm.
func (s *Server) listUsers(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	excludeRole, excludeOrg := q.Get("excludeRoleId"), q.Get("excludeOrganizationId")
	if excludeRole != "" && excludeOrg != "" {
		return 0, nil, searchError("Parameter `excludeRoleId` and `excludeOrganizationId` cannot be used at the same time.")
	}
	search, err := parseSearch(q, userSearchFields)
	if err != nil {
		return 0, nil, err
	}
	users, err := filterSearch(search, s.dir.Users(""), userField)
	if err != nil {
		return 0, nil, err
	}
	switch {
	case excludeRole != "":
		holders, _ := s.dir.RoleUsers(excludeRole) // an unknown role excludes nobody
		held := make(map[string]bool, len(holders))
		for _, u := range holders {
			held[u.ID] = true
		}
		users = slices.DeleteFunc(users, func(u *directory.User) bool { return held[u.ID] })
	case excludeOrg != "":
		users = slices.DeleteFunc(users, func(u *directory.User) bool { return s.dir.IsUserOrganizationMember(excludeOrg, u.ID) })
	}
	if isYes(q.Get("includePasswordHash")) {
		return listOf(r, users, false, userWithHashView)
	}
	return listOf(r, users, false, userDetailView)
}

// userCreateBody is POST /api/users.
type userCreateBody struct {
	Username     *string       `json:"username"`
	PrimaryEmail *string       `json:"primaryEmail"`
	PrimaryPhone *string       `json:"primaryPhone"`
	Name         *string       `json:"name"`
	Avatar       *string       `json:"avatar"`
	Password     *string       `json:"password"`
	CustomData   jsonObjectRaw `json:"customData"`
	Profile      jsonObjectRaw `json:"profile"`
	// A pre-hashed password to import, with its algorithm (Logto's
	// UsersPasswordEncryptionMethod).
	PasswordDigest    *string `json:"passwordDigest"`
	PasswordAlgorithm *string `json:"passwordAlgorithm"`
}

// createUser answers 200 with the user, as Logto does.
func (s *Server) createUser(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b userCreateBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.PasswordDigest != nil && len(*b.PasswordDigest) > 256 {
		return 0, nil, invalidInput("`passwordDigest` must be at most 256 characters")
	}
	if b.Password != nil && *b.Password != "" && b.PasswordDigest != nil && *b.PasswordDigest != "" {
		return 0, nil, apiErr(http.StatusBadRequest, "user.password_and_digest", "You cannot set both plain text password and password digest.")
	}
	if b.PasswordDigest != nil && *b.PasswordDigest != "" && (b.PasswordAlgorithm == nil || *b.PasswordAlgorithm == "") {
		return 0, nil, apiErr(http.StatusBadRequest, "user.password_algorithm_required", "Password algorithm is required.")
	}
	in := directory.NewUser{
		Username:     b.Username,
		PrimaryEmail: b.PrimaryEmail,
		PrimaryPhone: b.PrimaryPhone,
		Name:         b.Name,
		Avatar:       b.Avatar,
		CustomData:   json.RawMessage(b.CustomData),
		Profile:      json.RawMessage(b.Profile),
	}
	if b.Password != nil {
		if *b.Password == "" {
			return 0, nil, invalidInput("`password` must not be empty")
		}
		in.Password = *b.Password
	}
	var u *directory.User
	var err error
	if b.PasswordDigest != nil && *b.PasswordDigest != "" {
		u, err = s.dir.CreateUserWithPasswordDigest(r.Context(), in, directory.PasswordDigest{Algorithm: *b.PasswordAlgorithm, Digest: *b.PasswordDigest})
	} else {
		u, err = s.dir.CreateUser(r.Context(), in)
	}
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, userDetailView(u), nil
}

// getUser is GET /api/users/:userId, with hasPassword; includePasswordHash=true adds
// passwordDigest and passwordAlgorithm, includeSsoIdentities=true the user's
// enterprise SSO identities (none: Latch has no SSO connectors yet).
func (s *Server) getUser(r *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	q := r.URL.Query()
	v := userDetailJSON{userJSON: userDetailView(u)}
	if isYes(q.Get("includePasswordHash")) {
		h := userWithHashView(u)
		v.PasswordDigest, v.PasswordAlgorithm = &h.PasswordDigest, &h.PasswordAlgorithm
	}
	if isYes(q.Get("includeSsoIdentities")) {
		v.SSOIdentities = &[]any{}
	}
	return http.StatusOK, v, nil
}

// userDetailJSON is GET /api/users/:userId: the optional fields appear only when
// asked for (a nil outer pointer), and may then be null.
type userDetailJSON struct {
	userJSON
	PasswordDigest    **string `json:"passwordDigest,omitempty"`
	PasswordAlgorithm **string `json:"passwordAlgorithm,omitempty"`
	SSOIdentities     *[]any   `json:"ssoIdentities,omitempty"`
}

// userPatchBody is PATCH /api/users/:userId. null or "" clears an identifier;
// customData and profile are replaced (Logto updates users in "replace" mode).
type userPatchBody struct {
	Username     opt[string]   `json:"username"`
	PrimaryEmail opt[string]   `json:"primaryEmail"`
	PrimaryPhone opt[string]   `json:"primaryPhone"`
	Name         opt[string]   `json:"name"`
	Avatar       opt[string]   `json:"avatar"`
	CustomData   jsonObjectRaw `json:"customData"`
	Profile      jsonObjectRaw `json:"profile"`
}

// setOpt applies a PATCH field to a nullable string.
func setOpt(dst **string, o opt[string]) {
	switch {
	case !o.Set:
	case o.Null:
		*dst = nil
	default:
		v := o.V
		*dst = &v
	}
}

func (s *Server) patchUser(r *http.Request, p httprouter.Params) (int, any, error) {
	var b userPatchBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if !b.Username.Set && !b.PrimaryEmail.Set && !b.PrimaryPhone.Set && !b.Name.Set && !b.Avatar.Set &&
		b.CustomData == nil && b.Profile == nil {
		if _, err := s.findUser(p.ByName("userId")); err != nil {
			return 0, nil, err
		}
		return 0, nil, apiErr(http.StatusUnprocessableEntity, "entity.invalid_input", "Invalid input. Nothing to update.")
	}
	u, err := s.dir.UpdateUser(r.Context(), p.ByName("userId"), func(u *directory.User) error {
		setOpt(&u.Username, b.Username)
		setOpt(&u.PrimaryEmail, b.PrimaryEmail)
		setOpt(&u.PrimaryPhone, b.PrimaryPhone)
		setOpt(&u.Name, b.Name)
		setOpt(&u.Avatar, b.Avatar)
		if b.CustomData != nil {
			u.CustomData = json.RawMessage(b.CustomData)
		}
		if b.Profile != nil {
			u.Profile = json.RawMessage(b.Profile)
		}
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, userDetailView(u), nil
}

func (s *Server) deleteUser(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteUser(r.Context(), p.ByName("userId")); err != nil {
		return 0, nil, userError(err)
	}
	if err := s.revokeAccount(r.Context(), p.ByName("userId")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

type passwordBody struct {
	Password string `json:"password"`
}

func (b passwordBody) validate() error {
	if b.Password == "" {
		return invalidInput("`password` is required")
	}
	return nil
}

func (s *Server) setUserPassword(r *http.Request, p httprouter.Params) (int, any, error) {
	var b passwordBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	u, err := s.dir.SetUserPassword(r.Context(), p.ByName("userId"), b.Password)
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, userDetailView(u), nil
}

// verifyUserPassword answers 204, or 422 session.invalid_credentials.
func (s *Server) verifyUserPassword(r *http.Request, p httprouter.Params) (int, any, error) {
	var b passwordBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	u, err := s.dir.VerifyUserPassword(p.ByName("userId"), b.Password)
	if err != nil {
		return 0, nil, userError(err)
	}
	s.dir.UpgradePasswordHash(r.Context(), u, b.Password) // an imported digest becomes Argon2id (Logto)
	return http.StatusNoContent, nil, nil
}

func (s *Server) userHasPassword(_ *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]bool{"hasPassword": u.HasPassword()}, nil
}

func (s *Server) setUserSuspended(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		IsSuspended *bool `json:"isSuspended"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.IsSuspended == nil {
		return 0, nil, invalidInput("`isSuspended` is required")
	}
	u, err := s.dir.UpdateUser(r.Context(), p.ByName("userId"), func(u *directory.User) error {
		u.IsSuspended = *b.IsSuspended
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	if u.IsSuspended {
		if err := s.revokeAccount(r.Context(), u.ID); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, userDetailView(u), nil
}

func (s *Server) getUserCustomData(_ *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, objectOrEmpty(u.CustomData), nil
}

// patchUserCustomData merges customData key by key into the stored one (Logto's jsonb
// merge) and answers with it.
func (s *Server) patchUserCustomData(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		CustomData jsonObjectRaw `json:"customData"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.CustomData == nil || string(b.CustomData) == "null" {
		return 0, nil, invalidInput("`customData` must be a JSON object")
	}
	u, err := s.dir.UpdateUser(r.Context(), p.ByName("userId"), func(u *directory.User) error {
		merged, err := mergeObject(u.CustomData, b.CustomData)
		if err != nil {
			return invalidInput("invalid `customData`")
		}
		u.CustomData = merged
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, objectOrEmpty(u.CustomData), nil
}

// getUserLogtoConfigs is GET /api/users/:userId/logto-configs: the user's MFA and
// passkey sign-in states, in the Account API's logto-configs shape.
func (s *Server) getUserLogtoConfigs(_ *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, logtoConfigsView(u), nil
}

// patchUserLogtoConfigs is PATCH /api/users/:userId/logto-configs with the Account
// API's body (logtoConfigsBody, applyLogtoConfigs).
func (s *Server) patchUserLogtoConfigs(r *http.Request, p httprouter.Params) (int, any, error) {
	var b logtoConfigsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Mfa != nil && b.Mfa.Enabled != nil && *b.Mfa.Enabled {
		return 0, nil, invalidInput("`mfa.enabled` is not supported")
	}
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	if u, err = s.applyLogtoConfigs(r.Context(), u, b); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, logtoConfigsView(u), nil
}

// applyLogtoConfigs stores what b sets of mfa.skipped, mfa.skipMfaOnSignIn and
// passkeySignIn.skipped on u (the Account API's and the Management API's
// logto-configs); nothing set, u is answered as is. mfa.enabled is the caller's check.
func (s *Server) applyLogtoConfigs(ctx context.Context, u *directory.User, b logtoConfigsBody) (*directory.User, error) {
	var mfaSkipped, skipOnSignIn, passkeySkipped *bool
	if b.Mfa != nil {
		mfaSkipped, skipOnSignIn = b.Mfa.Skipped, b.Mfa.SkipMfaOnSignIn
	}
	if b.PasskeySignIn != nil {
		passkeySkipped = b.PasskeySignIn.Skipped
	}
	if mfaSkipped == nil && skipOnSignIn == nil && passkeySkipped == nil {
		return u, nil
	}
	next, err := s.dir.UpdateUser(ctx, u.ID, func(u *directory.User) error {
		if mfaSkipped != nil {
			u.MfaSkipped = *mfaSkipped
		}
		if skipOnSignIn != nil {
			u.SkipMfaOnSignIn = *skipOnSignIn // account_mfa.go mfa-settings
		}
		if passkeySkipped != nil {
			u.PasskeySignInSkipped = *passkeySkipped
		}
		return nil
	})
	if err != nil {
		return nil, userError(err)
	}
	return next, nil
}

// patchUserProfile merges profile key by key into the stored one (Logto's jsonb
// merge: a key sent replaces the whole value, e.g. address) and answers with it.
func (s *Server) patchUserProfile(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		Profile jsonObjectRaw `json:"profile"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Profile == nil || string(b.Profile) == "null" {
		return 0, nil, invalidInput("`profile` must be a JSON object")
	}
	u, err := s.dir.UpdateUser(r.Context(), p.ByName("userId"), func(u *directory.User) error {
		merged, err := mergeObject(u.Profile, b.Profile)
		if err != nil {
			return invalidInput("invalid `profile`")
		}
		u.Profile = merged
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, objectOrEmpty(u.Profile), nil
}

// ---- roles ----

func (s *Server) listUserRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	roles, err := s.dir.UserRoles(p.ByName("userId"))
	if err != nil {
		return 0, nil, userError(err)
	}
	search, err := parseSearch(r.URL.Query(), roleSearchFields)
	if err != nil {
		return 0, nil, err
	}
	found, err := filterSearch(search, roles, roleField)
	if err != nil {
		return 0, nil, err
	}
	return listOf(r, found, false, roleView)
}

// assignUserRoles answers 201 {roleIds, addedRoleIds} (Logto); roles the user
// already has are skipped.
func (s *Server) assignUserRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	var b roleIDsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	added, err := s.dir.AssignUserRoles(r.Context(), p.ByName("userId"), b.RoleIDs)
	if err != nil {
		return 0, nil, userError(err)
	}
	if added == nil {
		added = []string{}
	}
	return http.StatusCreated, map[string][]string{"roleIds": b.RoleIDs, "addedRoleIds": added}, nil
}

// replaceUserRoles is PUT /api/users/:userId/roles: the user ends up with exactly
// roleIds.
func (s *Server) replaceUserRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	var b roleIDsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	id := p.ByName("userId")
	current, err := s.dir.UserRoles(id)
	if err != nil {
		return 0, nil, userError(err)
	}
	if _, err := s.dir.AssignUserRoles(r.Context(), id, b.RoleIDs); err != nil {
		return 0, nil, userError(err)
	}
	for _, role := range current {
		if !slices.Contains(b.RoleIDs, role.ID) {
			if err := s.dir.UnassignUserRole(r.Context(), id, role.ID); err != nil {
				return 0, nil, userError(err)
			}
		}
	}
	// Logto answers the distinct ids.
	ids := make([]string, 0, len(b.RoleIDs))
	for _, id := range b.RoleIDs {
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return http.StatusOK, map[string][]string{"roleIds": ids}, nil
}

func (s *Server) unassignUserRole(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.UnassignUserRole(r.Context(), p.ByName("userId"), p.ByName("roleId")); err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusNoContent, nil, nil
}

// setUserPasswordExpiration is PATCH /api/users/:userId/password/expiration
// {isExpired}. Latch has no password expiration policy (Logto's is off by default), so
// expiring a password is Logto's 400 sign_in_experiences.password_expiration_not_enabled
// and clearing it changes nothing: the user is answered.
func (s *Server) setUserPasswordExpiration(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		IsExpired *bool `json:"isExpired"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.IsExpired == nil {
		return 0, nil, invalidInput("`isExpired` is required")
	}
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	if *b.IsExpired {
		return 0, nil, apiErr(http.StatusBadRequest, "sign_in_experiences.password_expiration_not_enabled",
			"Password expiration policy is not enabled. Enable it in the sign-in experience settings before expiring passwords.")
	}
	return http.StatusOK, userDetailView(u), nil
}
