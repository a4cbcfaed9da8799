package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/audit"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/hooks"
	"github.com/latchid/latch/oidcflow"
)

// The Account API (/api/my-account/**): a signed-in user reads and changes their own
// account with the opaque access token from /oidc/token (account_verifications.go
// authenticates the call and requires the account center to be enabled). Each route
// follows Logto's packages/core/src/routes/account: the account center's per-field
// control (directory.AccountCenter.Control: Off hides a field, ReadOnly shows it, Edit
// lets the user change it), the token's scopes (profile, email, phone, address,
// custom_data, identities, urn:logto:scope:sessions), and, for a sensitive change, a
// fresh verification record in the logto-verification-id header
// (requireVerifiedIdentity).

// Logto's account center refusals.
func errFieldNotEditable() *APIError {
	return apiErr(http.StatusBadRequest, "account_center.field_not_editable", "Field is not editable.")
}

func errFieldNotEnabled() *APIError {
	return apiErr(http.StatusBadRequest, "account_center.field_not_enabled", "Field is not enabled.")
}

// errScopeMissing is Logto's assertThat(scopes.has(...), 'auth.unauthorized'): 400 on
// the profile, email and phone routes (a bare code takes RequestError's default
// status), 401 where Logto builds the error with status 401.
func errScopeMissing(status int) *APIError {
	return apiErr(status, "auth.unauthorized", "Unauthorized. Please check credentials and its scope.")
}

// has reports whether the caller's token carries scope.
func (c accountCaller) has(scope string) bool { return slices.Contains(c.Scopes, scope) }

// editable reports whether field's control is Edit.
func (c accountCaller) editable(field string) bool {
	return c.Center.Control(field) == directory.AccountCenterEdit
}

// readable reports whether field's control is ReadOnly or Edit.
func (c accountCaller) readable(field string) bool {
	ctl := c.Center.Control(field)
	return ctl == directory.AccountCenterReadOnly || ctl == directory.AccountCenterEdit
}

// routesMyAccount registers /api/my-account/** (called by routesAccount).
func (s *Server) routesMyAccount(r *routeTable) {
	h := func(fn accountHandler) httprouter.Handle { return noStoreHandle(s.account(s.accountWrite(fn))) }
	r.GET("/api/my-account", h(s.getMyAccount))
	r.PATCH("/api/my-account", h(s.patchMyAccount))
	r.PATCH("/api/my-account/profile", h(s.patchMyProfile))
	r.POST("/api/my-account/password", h(s.postMyPassword))
	r.POST("/api/my-account/primary-email", h(s.postMyPrimaryEmail))
	r.DELETE("/api/my-account/primary-email", h(s.deleteMyPrimaryEmail))
	r.POST("/api/my-account/primary-phone", h(s.postMyPrimaryPhone))
	r.DELETE("/api/my-account/primary-phone", h(s.deleteMyPrimaryPhone))
	r.GET("/api/my-account/logto-configs", h(s.getMyLogtoConfigs))
	r.PATCH("/api/my-account/logto-configs", h(s.patchMyLogtoConfigs))
	r.GET("/api/my-account/mfa-verifications", h(s.listMyMfa))
	r.DELETE("/api/my-account/mfa-verifications/:verificationId", h(s.deleteMyMfa))
	s.routesMyAccountMfa(r, h) // account_mfa.go
	r.GET("/api/my-account/sessions", h(s.listMySessions))
	r.DELETE("/api/my-account/sessions/:sessionId", h(s.deleteMySession))
	r.GET("/api/my-account/grants", h(s.listMyGrants))
	r.DELETE("/api/my-account/grants/:grantId", h(s.deleteMyGrant))
}

// accountWrite wraps an Account API endpoint so that a write (POST, PATCH, PUT,
// DELETE) is recorded in the audit log (audit.AccountKey, with the caller's userId and
// the answer's status or error), and a successful one that changed the caller's user
// record emits User.Data.Updated, as Logto's account routes do
// (appendDataHookContext('User.Data.Updated', {user: updatedUser})): userAgent, ip and
// data, the user as it is now. Writes that leave the user as it was (a session or
// grant revoked, a TOTP secret generated) emit nothing. Reads are returned as they are.
func (s *Server) accountWrite(h accountHandler) accountHandler {
	if s.audit == nil && s.webhooks == nil {
		return h
	}
	return func(r *http.Request, p httprouter.Params, c accountCaller) (int, any, error) {
		key := audit.AccountKey(r.Method)
		if key == "" {
			return h(r, p, c)
		}
		var before uint64
		if u, ok := s.dir.User(c.User.ID); ok {
			before = u.Version
		}
		status, body, err := h(r, p, c)
		if s.audit != nil {
			e := audit.Entry{Key: key, Method: r.Method, Path: r.URL.Path, Status: status, UserID: c.User.ID}
			requestParty(&e, r)
			if err != nil {
				e.Result, e.Status = audit.Error, http.StatusInternalServerError
				e.Error = audit.ErrorInfo{Code: "unknown", Message: "internal server error"}
				var ae *APIError
				if errors.As(err, &ae) {
					e.Status, e.Error = ae.Status, audit.ErrorInfo{Code: ae.Code, Message: ae.Message}
				}
			}
			s.audit.Record(e)
		}
		if err == nil && status < 400 && s.webhooks != nil && s.webhooks.Wants(eventUserDataUpdated) {
			if u, ok := s.dir.User(c.User.ID); ok && u.Version != before {
				s.emitUserDataUpdated(r, u.ID, hooks.Payload{})
			}
		}
		return status, body, err
	}
}

// myAccountView is Logto's getScopedProfile then getAccountCenterFilteredProfile: id
// always; the other members by the token's scopes (email: primaryEmail, phone:
// primaryPhone, custom_data: customData, identities: identities, profile: the basic
// profile, with profile.address only under address); then a member whose account
// center field is Off is left out (name, avatar, username, email, phone, profile,
// customData, social for identities, password for hasPassword).
func myAccountView(u *directory.User, c accountCaller) map[string]any {
	v := map[string]any{"id": u.ID}
	put := func(scope, field, key string, val any) {
		if c.has(scope) && c.readable(field) {
			v[key] = val
		}
	}
	put(oidcflow.ScopeIdentities, "social", "identities", objectOrEmpty(u.Identities))
	put(oidcflow.ScopeCustomData, "customData", "customData", objectOrEmpty(u.CustomData))
	put(oidcflow.ScopeEmail, "email", "primaryEmail", u.PrimaryEmail)
	put(oidcflow.ScopePhone, "phone", "primaryPhone", u.PrimaryPhone)
	if c.has(oidcflow.ScopeProfile) {
		put(oidcflow.ScopeProfile, "name", "name", u.Name)
		put(oidcflow.ScopeProfile, "avatar", "avatar", u.Avatar)
		put(oidcflow.ScopeProfile, "username", "username", u.Username)
		put(oidcflow.ScopeProfile, "profile", "profile", scopedProfile(u.Profile, c))
		put(oidcflow.ScopeProfile, "password", "hasPassword", u.HasPassword())
		v["lastSignInAt"] = u.LastSignInAt
		v["createdAt"] = u.CreatedAt
		v["updatedAt"] = u.UpdatedAt
		v["applicationId"] = u.ApplicationID
		v["isSuspended"] = u.IsSuspended
	}
	return v
}

// scopedProfile is the user's profile object, without address unless the token
// carries the address scope.
func scopedProfile(raw json.RawMessage, c accountCaller) json.RawMessage {
	raw = objectOrEmpty(raw)
	if c.has(oidcflow.ScopeAddress) {
		return raw
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return json.RawMessage("{}")
	}
	if _, ok := m["address"]; !ok {
		return raw
	}
	delete(m, "address")
	out, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage("{}")
	}
	return out
}

// getMyAccount is GET /api/my-account -> 200 the scoped, filtered profile.
func (s *Server) getMyAccount(_ *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	return http.StatusOK, myAccountView(c.User, c), nil
}

// myAccountBody is Logto's PATCH /my-account body: name, avatar (a URL) and username
// (usernameRegEx), each nullable and optional, and customData (an object).
type myAccountBody struct {
	Name       opt[string]   `json:"name"`
	Avatar     opt[string]   `json:"avatar"`
	Username   opt[string]   `json:"username"`
	CustomData jsonObjectRaw `json:"customData"`
}

// patchMyAccount is PATCH /api/my-account: each field sent must be Edit (400
// account_center.field_not_editable), the token must carry profile (and custom_data
// for customData; 400 auth.unauthorized), and a username change needs a verification
// record (401 verification_record.permission_denied); a username taken is 422
// user.username_already_in_use, removing the last identifier 400
// user.last_sign_in_method_required. 200 the profile as GET answers it.
func (s *Server) patchMyAccount(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b myAccountBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Avatar.Set && !b.Avatar.Null && !isAbsoluteURL(b.Avatar.V) {
		return 0, nil, invalidInput("`avatar` must be a URL")
	}
	if b.Username.Set && !b.Username.Null && b.Username.V == "" {
		return 0, nil, invalidInput("`username` must not be empty")
	}
	if string(b.CustomData) == "null" {
		return 0, nil, invalidInput("`customData` must be a JSON object")
	}
	for _, f := range []struct {
		sent  bool
		field string
	}{{b.Name.Set, "name"}, {b.Avatar.Set, "avatar"}, {b.Username.Set, "username"}, {b.CustomData != nil, "customData"}} {
		if f.sent && !c.editable(f.field) {
			return 0, nil, errFieldNotEditable()
		}
	}
	if !c.has(oidcflow.ScopeProfile) || (b.CustomData != nil && !c.has(oidcflow.ScopeCustomData)) {
		return 0, nil, errScopeMissing(http.StatusBadRequest)
	}
	if b.Username.Set {
		if err := s.requireVerifiedIdentity(r, c); err != nil {
			return 0, nil, err
		}
	}
	u, err := s.dir.UpdateUser(r.Context(), c.User.ID, func(u *directory.User) error {
		setOpt(&u.Name, b.Name)
		setOpt(&u.Avatar, b.Avatar)
		setOpt(&u.Username, b.Username)
		if b.CustomData != nil {
			u.CustomData = json.RawMessage(b.CustomData)
		}
		if identifierCount(u) == 0 {
			return errLastSignInMethod()
		}
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, myAccountView(u, c), nil
}

// isAbsoluteURL is zod's string().url(): an absolute URL with a scheme.
func isAbsoluteURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme != "" && (u.Host != "" || u.Opaque != "")
}

// identifierCount is Logto's getUserIdentifierCount (without SSO identities, which
// Latch has not).
func identifierCount(u *directory.User) int {
	n := 0
	for _, p := range []*string{u.Username, u.PrimaryEmail, u.PrimaryPhone} {
		if p != nil && *p != "" {
			n++
		}
	}
	var ids map[string]json.RawMessage
	if json.Unmarshal(objectOrEmpty(u.Identities), &ids) == nil {
		n += len(ids)
	}
	return n
}

func errLastSignInMethod() *APIError {
	return apiErr(http.StatusBadRequest, "user.last_sign_in_method_required", "You can not delete the last sign-in method.")
}

// profileStringKeys are the string members of Logto's userProfileGuard; address is an
// object of addressKeys.
var (
	profileStringKeys = []string{"familyName", "givenName", "middleName", "nickname", "preferredUsername",
		"profile", "website", "gender", "birthdate", "zoneinfo", "locale"}
	addressKeys = []string{"formatted", "streetAddress", "locality", "region", "postalCode", "country"}
)

// decodeProfilePatch checks a body against Logto's userProfileGuard: a JSON object whose
// known members are strings (address: an object of strings); unknown members are
// dropped, as zod strips them. It returns the kept members and whether address is
// among them.
func decodeProfilePatch(r *http.Request) (jsonObjectRaw, bool, error) {
	var raw map[string]json.RawMessage
	if err := decodeBody(r, &raw); err != nil {
		return nil, false, err
	}
	if raw == nil {
		return nil, false, invalidInput("the body must be a JSON object")
	}
	out := map[string]json.RawMessage{}
	for k, v := range raw {
		switch {
		case slices.Contains(profileStringKeys, k):
			var s string
			if json.Unmarshal(v, &s) != nil {
				return nil, false, invalidInput("`" + k + "` must be a string")
			}
			out[k] = v
		case k == "address":
			var a map[string]json.RawMessage
			if json.Unmarshal(v, &a) != nil || a == nil {
				return nil, false, invalidInput("`address` must be an object")
			}
			kept := map[string]json.RawMessage{}
			for ak, av := range a {
				if !slices.Contains(addressKeys, ak) {
					continue
				}
				var s string
				if json.Unmarshal(av, &s) != nil {
					return nil, false, invalidInput("`address." + ak + "` must be a string")
				}
				kept[ak] = av
			}
			enc, _ := json.Marshal(kept)
			out[k] = enc
		}
	}
	enc, err := json.Marshal(out)
	if err != nil {
		return nil, false, err
	}
	_, addr := out["address"]
	return jsonObjectRaw(enc), addr, nil
}

// patchMyProfile is PATCH /api/my-account/profile: the body (Logto's userProfileGuard)
// is merged into the user's profile, key by key. The profile field must be Edit (400
// account_center.field_not_editable); the token must carry profile, and address to
// change the address (400 auth.unauthorized). 200 the profile.
func (s *Server) patchMyProfile(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	patch, addr, err := decodeProfilePatch(r)
	if err != nil {
		return 0, nil, err
	}
	if !c.editable("profile") {
		return 0, nil, errFieldNotEditable()
	}
	if !c.has(oidcflow.ScopeProfile) || (addr && !c.has(oidcflow.ScopeAddress)) {
		return 0, nil, errScopeMissing(http.StatusBadRequest)
	}
	u, err := s.dir.UpdateUser(r.Context(), c.User.ID, func(u *directory.User) error {
		merged, err := mergeObject(u.Profile, patch)
		if err != nil {
			return invalidInput("invalid profile")
		}
		u.Profile = merged
		return nil
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, scopedProfile(u.Profile, c), nil
}

// patchMyPassword is POST /api/my-account/password {password}: a user who has a
// password, an email or a phone proves their identity first (401
// verification_record.permission_denied); the password field must be Edit; the new
// password must pass the sign-in experience's policy (422 password.rejected, the
// issues as data). 204.
func (s *Server) postMyPassword(r *http.Request, _ httprouter.Params, c accountCaller) (int, any, error) {
	var b accountPasswordBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Password == nil || *b.Password == "" {
		return 0, nil, invalidInput("`password` is required")
	}
	u := c.User
	if u.HasPassword() || u.PrimaryEmail != nil || u.PrimaryPhone != nil {
		if err := s.requireVerifiedIdentity(r, c); err != nil {
			return 0, nil, err
		}
	}
	if !c.editable("password") {
		return 0, nil, errFieldNotEditable()
	}
	info := directory.PasswordUserInfo{Name: deref(u.Name), Username: deref(u.Username),
		Email: deref(u.PrimaryEmail), PhoneNumber: deref(u.PrimaryPhone)}
	if err := s.enforcePasswordPolicy(r.Context(), *b.Password, info); err != nil {
		return 0, nil, err
	}
	if _, err := s.dir.SetUserPassword(r.Context(), u.ID, *b.Password); err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusNoContent, nil, nil
}
