package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's social identity routes of a user (routes/admin-user/social.ts and
// enterprise-sso.ts). The user's identities are the object {<target>: {userId,
// details?}} kept on the user (directory.User.Identities), shown in the user's
// `identities` and in the `identities` claim (ID token with the identities scope,
// userinfo). Latch has no social or SSO connectors: an identity is set directly with
// PUT, no token set is ever stored (includeTokenSecret adds nothing, as Logto when its
// vault holds none), POST (which asks a social connector for the user's info) knows
// only Latch's passwordless connectors, and no user has an SSO identity.
func (s *Server) userIdentityRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"POST", "/api/users/:userId/identities", s.linkUserIdentity},
		{"GET", "/api/users/:userId/identities/:target", s.getUserIdentity},
		{"PUT", "/api/users/:userId/identities/:target", s.putUserIdentity},
		{"DELETE", "/api/users/:userId/identities/:target", s.deleteUserIdentity},
		{"GET", "/api/users/:userId/all-identities", s.listUserAllIdentities},
		{"GET", "/api/users/:userId/sso-identities/:ssoConnectorId", s.getUserSSOIdentity},
	}
}

// identityJSON is Logto's identityGuard: userId, and the connector's user info.
type identityJSON struct {
	UserID  string          `json:"userId"`
	Details json.RawMessage `json:"details,omitempty"`
}

// userIdentities decodes the user's identities (an object; {} when none).
func userIdentities(u *directory.User) (map[string]json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(objectOrEmpty(u.Identities), &m); err != nil {
		return nil, fmt.Errorf("user %s identities: %w", u.ID, err)
	}
	return m, nil
}

// jsonbKeyOrder sorts keys as Postgres orders a jsonb object's keys (shorter first,
// then bytewise), the order Logto's Object.entries(user.identities) sees.
func jsonbKeyOrder(keys []string) {
	slices.SortFunc(keys, func(a, b string) int {
		if len(a) != len(b) {
			return len(a) - len(b)
		}
		return strings.Compare(a, b)
	})
}

func errIdentityNotExist() *APIError {
	return apiErr(http.StatusNotFound, "user.identity_not_exist", "The social account has not been registered yet.")
}

func errIdentityInUse() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "user.identity_already_in_use", "The social account has been associated with an existing account.")
}

// identityTaken reports whether a user other than userID has identities[target]
// with the social user id socialID (Logto's hasUserWithIdentity).
func (s *Server) identityTaken(target, socialID, userID string) bool {
	for _, u := range s.dir.Users("") {
		if u.ID == userID || len(u.Identities) == 0 {
			continue
		}
		var m map[string]struct {
			UserID string `json:"userId"`
		}
		if json.Unmarshal(u.Identities, &m) != nil {
			continue
		}
		if id, ok := m[target]; ok && id.UserID == socialID {
			return true
		}
	}
	return false
}

// putUserIdentity sets identities[target] (201 when it is new, else 200) and answers
// the user's identities. A social user id another user holds for target is 422
// user.identity_already_in_use.
func (s *Server) putUserIdentity(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		UserID  *string       `json:"userId"`
		Details jsonObjectRaw `json:"details"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.UserID == nil {
		return 0, nil, invalidInput("`userId` is required")
	}
	if string(b.Details) == "null" {
		return 0, nil, invalidInput("invalid value for `details`: expected a JSON object, got null")
	}
	userID, target := p.ByName("userId"), p.ByName("target")
	if _, err := s.findUser(userID); err != nil {
		return 0, nil, err
	}
	raw, err := json.Marshal(identityJSON{UserID: *b.UserID, Details: json.RawMessage(b.Details)})
	if err != nil {
		return 0, nil, err
	}
	created := false
	u, err := s.dir.UpdateUser(r.Context(), userID, func(u *directory.User) error {
		if s.identityTaken(target, *b.UserID, userID) {
			return errIdentityInUse()
		}
		m, err := userIdentities(u)
		if err != nil {
			return err
		}
		_, had := m[target]
		created = !had
		m[target] = raw
		u.Identities, err = json.Marshal(m)
		return err
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, objectOrEmpty(u.Identities), nil
}

// deleteUserIdentity removes identities[target] (404 user.identity_not_exist when the
// user has none) and answers the user.
func (s *Server) deleteUserIdentity(r *http.Request, p httprouter.Params) (int, any, error) {
	userID, target := p.ByName("userId"), p.ByName("target")
	if _, err := s.findUser(userID); err != nil {
		return 0, nil, err
	}
	u, err := s.dir.UpdateUser(r.Context(), userID, func(u *directory.User) error {
		m, err := userIdentities(u)
		if err != nil {
			return err
		}
		if _, ok := m[target]; !ok {
			return errIdentityNotExist()
		}
		delete(m, target)
		u.Identities, err = json.Marshal(m)
		return err
	})
	if err != nil {
		return 0, nil, userError(err)
	}
	return http.StatusOK, userDetailView(u), nil
}

// getUserIdentity answers {identity}; Latch stores no token set, so
// includeTokenSecret=true adds no tokenSecret.
func (s *Server) getUserIdentity(_ *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	m, err := userIdentities(u)
	if err != nil {
		return 0, nil, err
	}
	id, ok := m[p.ByName("target")]
	if !ok {
		return 0, nil, errIdentityNotExist()
	}
	return http.StatusOK, map[string]json.RawMessage{"identity": id}, nil
}

// linkUserIdentity is POST /api/users/:userId/identities {connectorId, connectorData}:
// Logto asks that social connector for the user's info. Latch has none: an unknown
// connector is 404 entity.not_found, one of Latch's passwordless connectors 422
// session.invalid_connector_id (not a social connector).
func (s *Server) linkUserIdentity(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		ConnectorID   *string       `json:"connectorId"`
		ConnectorData jsonObjectRaw `json:"connectorData"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.ConnectorID == nil || b.ConnectorData == nil || string(b.ConnectorData) == "null" {
		return 0, nil, invalidInput("`connectorId` and `connectorData` (an object) are required")
	}
	if _, ok := s.dir.ConnectorByID(*b.ConnectorID); !ok {
		return 0, nil, apiErr(http.StatusNotFound, "entity.not_found", "The resource does not exist.")
	}
	if _, err := s.findUser(p.ByName("userId")); err != nil {
		return 0, nil, err
	}
	return 0, nil, apiErr(http.StatusUnprocessableEntity, "session.invalid_connector_id",
		fmt.Sprintf("Unable to find available connector with id %s.", *b.ConnectorID))
}

// socialIdentityJSON is one of all-identities' socialIdentities.
type socialIdentityJSON struct {
	Target   string          `json:"target"`
	Identity json.RawMessage `json:"identity"`
}

// listUserAllIdentities answers {socialIdentities: [{target, identity}],
// ssoIdentities: []}.
func (s *Server) listUserAllIdentities(_ *http.Request, p httprouter.Params) (int, any, error) {
	u, err := s.findUser(p.ByName("userId"))
	if err != nil {
		return 0, nil, err
	}
	m, err := userIdentities(u)
	if err != nil {
		return 0, nil, err
	}
	targets := make([]string, 0, len(m))
	for t := range m {
		targets = append(targets, t)
	}
	jsonbKeyOrder(targets)
	social := make([]socialIdentityJSON, 0, len(targets))
	for _, t := range targets {
		social = append(social, socialIdentityJSON{Target: t, Identity: m[t]})
	}
	return http.StatusOK, map[string]any{"socialIdentities": social, "ssoIdentities": []any{}}, nil
}

// getUserSSOIdentity: no user has an enterprise SSO identity in Latch.
func (s *Server) getUserSSOIdentity(_ *http.Request, p httprouter.Params) (int, any, error) {
	if _, err := s.findUser(p.ByName("userId")); err != nil {
		return 0, nil, err
	}
	return 0, nil, apiErr(http.StatusNotFound, "user.enterprise_sso_identity_not_exists",
		fmt.Sprintf("The user does not have an enterprise identity linked to the specified SSO connector ID: %s.", p.ByName("ssoConnectorId")))
}
