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

// applicationJSON is Logto's Application. As in Logto, it carries no secret (secrets
// are listed by GET /api/applications/:id/secrets); secret hashes never appear.
type applicationJSON struct {
	TenantID             string                         `json:"tenantId"`
	ID                   string                         `json:"id"`
	Name                 string                         `json:"name"`
	Description          *string                        `json:"description"`
	Type                 directory.AppType              `json:"type"`
	OIDCClientMetadata   directory.OIDCClientMetadata   `json:"oidcClientMetadata"`
	CustomClientMetadata directory.CustomClientMetadata `json:"customClientMetadata"`
	ProtectedAppMetadata *struct{}                      `json:"protectedAppMetadata"`
	CustomData           json.RawMessage                `json:"customData"`
	IsThirdParty         bool                           `json:"isThirdParty"`
	// AppLevelAccessControlEnabled: mgmt_applications_access_control.go.
	AppLevelAccessControlEnabled bool  `json:"appLevelAccessControlEnabled"`
	CreatedAt                    int64 `json:"createdAt"`
}

func applicationView(a *directory.Application) applicationJSON {
	m := a.OIDCClientMetadata
	if m.RedirectURIs == nil {
		m.RedirectURIs = []string{}
	}
	if m.PostLogoutRedirectURIs == nil {
		m.PostLogoutRedirectURIs = []string{}
	}
	var desc *string
	if a.Description != "" {
		desc = &a.Description
	}
	return applicationJSON{
		TenantID:                     tenantID,
		ID:                           a.ID,
		Name:                         a.Name,
		Description:                  desc,
		Type:                         a.Type,
		OIDCClientMetadata:           m,
		CustomClientMetadata:         a.CustomClientMetadata,
		CustomData:                   objectOrEmpty(a.CustomData),
		IsThirdParty:                 a.IsThirdParty,
		AppLevelAccessControlEnabled: a.AppLevelAccessControlEnabled,
		CreatedAt:                    a.CreatedAt,
	}
}

// applicationSecretJSON is Logto's application secret. Its value is in the answer
// that created it and nowhere else: Latch keeps only a hash of a secret (Logto keeps
// the value and lists it on every GET), so value is left out of listings.
type applicationSecretJSON struct {
	TenantID      string `json:"tenantId"`
	ApplicationID string `json:"applicationId"`
	Name          string `json:"name"`
	Value         string `json:"value,omitempty"`
	CreatedAt     int64  `json:"createdAt"`
	ExpiresAt     *int64 `json:"expiresAt"`
}

// secretView answers a secret; value is its plain value, given only when it was just
// created.
func secretView(appID string, s directory.AppSecret, value string) applicationSecretJSON {
	return applicationSecretJSON{TenantID: tenantID, ApplicationID: appID, Name: s.Name, Value: value, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt}
}

func (s *Server) listApplications(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	var types []directory.AppType
	for _, v := range q["types"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				if !directory.AppType(t).Valid() && t != appTypeProtected && t != appTypeSAML {
					return 0, nil, invalidInput("invalid `types`: " + t)
				}
				types = append(types, directory.AppType(t))
			}
		}
	}
	thirdParty := q.Get("isThirdParty")
	if thirdParty != "" && thirdParty != "true" && thirdParty != "false" {
		return 0, nil, invalidInput("invalid `isThirdParty`: expected true or false")
	}
	excludeRole, excludeOrg := q.Get("excludeRoleId"), q.Get("excludeOrganizationId")
	if excludeRole != "" && excludeOrg != "" {
		return 0, nil, searchError("Parameter `excludeRoleId` and `excludeOrganizationId` cannot be used at the same time.")
	}
	search, err := parseSearch(q, appSearchFields)
	if err != nil {
		return 0, nil, err
	}
	held := map[string]bool{}
	if excludeRole != "" {
		holders, _ := s.dir.RoleApplications(excludeRole) // an unknown role excludes nothing
		for _, a := range holders {
			held[a.ID] = true
		}
	}
	found, err := filterSearch(search, s.dir.Applications(), appField)
	if err != nil {
		return 0, nil, err
	}
	apps := slices.DeleteFunc(found, func(a *directory.Application) bool {
		return (len(types) > 0 && !slices.Contains(types, a.Type)) ||
			(thirdParty != "" && a.IsThirdParty != (thirdParty == "true")) ||
			held[a.ID] || (excludeOrg != "" && s.dir.IsAppOrganizationMember(excludeOrg, a.ID))
	})
	return listOf(r, apps, true, applicationView)
}

// applicationCreateBody is POST /api/applications.
type applicationCreateBody struct {
	Name                 string                          `json:"name"`
	Description          *string                         `json:"description"`
	Type                 directory.AppType               `json:"type"`
	OIDCClientMetadata   *directory.OIDCClientMetadata   `json:"oidcClientMetadata"`
	CustomClientMetadata *directory.CustomClientMetadata `json:"customClientMetadata"`
	CustomData           jsonObjectRaw                   `json:"customData"`
	IsThirdParty         bool                            `json:"isThirdParty"`
	ProtectedAppMetadata jsonObjectRaw                   `json:"protectedAppMetadata"`
}

// Logto's application types that Latch, as Logto OSS without their add-ons, does not
// serve: Protected apps need Logto Cloud's edge (OSS answers 501), SAML apps have
// their own API (/api/saml-applications).
const (
	appTypeProtected = "Protected"
	appTypeSAML      = "SAML"
)

// checkCreate applies Logto's checks on a new application, in Logto's order, before
// the directory's validation.
func (b *applicationCreateBody) checkCreate() error {
	if b.Type == appTypeSAML {
		return apiErr(http.StatusBadRequest, "application.saml.use_saml_app_api",
			"Use `POST /saml-applications` to create a SAML application.")
	}
	if b.Type != directory.AppNative && b.CustomClientMetadata != nil && isTrue(b.CustomClientMetadata.IsDeviceFlow) {
		return apiErr(http.StatusUnprocessableEntity, "application.device_flow_native_only", "Device flow is only available for native applications.")
	}
	if b.Type == appTypeProtected && (b.ProtectedAppMetadata == nil || string(b.ProtectedAppMetadata) == "null") {
		return apiErr(http.StatusBadRequest, "application.protected_app_metadata_is_required", "Protected app metadata is required for protected type.")
	}
	if b.IsThirdParty {
		if !b.Type.ThirdPartyAllowed() {
			return apiErr(http.StatusBadRequest, "application.invalid_third_party_application_type",
				"Only traditional web, single-page and native applications can be marked as a third-party app.")
		}
		if b.CustomClientMetadata != nil && isTrue(b.CustomClientMetadata.AllowTokenExchange) {
			return errThirdPartyTokenExchange()
		}
	}
	if b.Type == appTypeProtected {
		return apiErr(http.StatusNotImplemented, "application.protected_app_not_configured",
			"Protected app configuration is not available: Logto OSS, like Latch, has no protected app provider.")
	}
	return nil
}

func errThirdPartyTokenExchange() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "application.third_party_application_cannot_enable_token_exchange",
		"Third-party applications cannot enable token exchange.")
}

func isTrue(b *bool) bool { return b != nil && *b }

// createApplication answers 200 with the application, as Logto does: without its
// secret, which GET /api/applications/:id/secrets lists.
func (s *Server) createApplication(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b applicationCreateBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.checkCreate(); err != nil {
		return 0, nil, err
	}
	in := directory.NewApplication{
		Name:         b.Name,
		Type:         b.Type,
		CustomData:   json.RawMessage(b.CustomData),
		IsThirdParty: b.IsThirdParty,
	}
	if b.Description != nil {
		in.Description = *b.Description
	}
	if b.OIDCClientMetadata != nil {
		in.OIDCClientMetadata = *b.OIDCClientMetadata
	}
	if b.CustomClientMetadata != nil {
		in.CustomClientMetadata = *b.CustomClientMetadata
	}
	app, secret, err := s.dir.CreateApplication(r.Context(), in)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, applicationCreatedJSON{applicationJSON: applicationView(app), Secret: secret}, nil
}

// applicationCreatedJSON is POST /api/applications' answer: the application with the
// value of its default secret, shown this once (Latch keeps only its hash; a client
// without secrets has none).
type applicationCreatedJSON struct {
	applicationJSON
	Secret string `json:"secret,omitempty"`
}

// applicationDetailJSON is GET /api/applications/:id: with isAdmin, whether the
// application holds the Management API access role (Logto's internal admin role).
type applicationDetailJSON struct {
	applicationJSON
	IsAdmin bool `json:"isAdmin"`
}

func (s *Server) getApplication(_ *http.Request, p httprouter.Params) (int, any, error) {
	app, ok := s.dir.Application(p.ByName("id"))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: p.ByName("id")})
	}
	return http.StatusOK, applicationDetailJSON{applicationJSON: applicationView(app), IsAdmin: s.isAdminApp(app.ID)}, nil
}

// adminRoleID is the Management API access role Bootstrap made, or "".
func (s *Server) adminRoleID() string {
	if role, ok := s.dir.RoleByName(directory.ManagementAPIRoleName); ok {
		return role.ID
	}
	return ""
}

func (s *Server) isAdminApp(appID string) bool {
	roleID := s.adminRoleID()
	if roleID == "" {
		return false
	}
	roles, _ := s.dir.AppRoles(appID)
	return slices.ContainsFunc(roles, func(r *directory.Role) bool { return r.ID == roleID })
}

// setAdminApp gives the application the Management API access role or takes it away
// (Logto's PATCH isAdmin).
func (s *Server) setAdminApp(r *http.Request, appID string, admin bool) error {
	roleID := s.adminRoleID()
	if roleID == "" || admin == s.isAdminApp(appID) {
		return nil
	}
	if admin {
		_, err := s.dir.AssignAppRoles(r.Context(), appID, []string{roleID})
		return mgmtError(err)
	}
	return mgmtError(s.dir.UnassignAppRole(r.Context(), appID, roleID))
}

// applicationPatchBody is PATCH /api/applications/:id. As in Logto, customClientMetadata
// and customData are replaced, type and isThirdParty cannot be patched (ignored when
// sent), and isAdmin gives or takes the Management API access role. oidcClientMetadata
// is merged key by key into the stored one (Logto requires the whole object; a whole
// object gives the same result).
type applicationPatchBody struct {
	Name                 opt[string]        `json:"name"`
	Description          opt[string]        `json:"description"`
	OIDCClientMetadata   opt[jsonObjectRaw] `json:"oidcClientMetadata"`
	CustomClientMetadata opt[jsonObjectRaw] `json:"customClientMetadata"`
	CustomData           opt[jsonObjectRaw] `json:"customData"`
	IsAdmin              opt[bool]          `json:"isAdmin"`
	ProtectedAppMetadata opt[jsonObjectRaw] `json:"protectedAppMetadata"`
	// AppLevelAccessControlEnabled cannot be turned on while the application's
	// access-control rules are empty (422 request.invalid_input).
	AppLevelAccessControlEnabled opt[bool] `json:"appLevelAccessControlEnabled"`
}

func (s *Server) patchApplication(r *http.Request, p httprouter.Params) (int, any, error) {
	var b applicationPatchBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	// Decode the metadata patches once here, so that type errors are a 400 before
	// any lock is taken; the merge below cannot fail on them.
	var probeOIDC directory.OIDCClientMetadata
	var probeCustom directory.CustomClientMetadata
	if b.OIDCClientMetadata.Set && !b.OIDCClientMetadata.Null {
		if err := json.Unmarshal(b.OIDCClientMetadata.V, &probeOIDC); err != nil {
			return 0, nil, invalidInput("invalid `oidcClientMetadata`: " + jsonErrorMessage(err))
		}
	}
	if b.CustomClientMetadata.Set && !b.CustomClientMetadata.Null {
		if err := json.Unmarshal(b.CustomClientMetadata.V, &probeCustom); err != nil {
			return 0, nil, invalidInput("invalid `customClientMetadata`: " + jsonErrorMessage(err))
		}
	}
	id := p.ByName("id")
	if cur, ok := s.dir.Application(id); ok {
		if b.ProtectedAppMetadata.Set && !b.ProtectedAppMetadata.Null {
			// Only Protected apps have it, and Latch has none.
			return 0, nil, apiErr(http.StatusBadRequest, "application.protected_application_only", "The operation is only available for protected applications.")
		}
		if b.CustomClientMetadata.Set {
			if cur.IsThirdParty && isTrue(probeCustom.AllowTokenExchange) {
				return 0, nil, errThirdPartyTokenExchange()
			}
			// The whole object replaces the stored one, so leaving isDeviceFlow out
			// turns it off: a change Logto refuses.
			if isTrue(probeCustom.IsDeviceFlow) != isTrue(cur.CustomClientMetadata.IsDeviceFlow) {
				return 0, nil, apiErr(http.StatusUnprocessableEntity, "application.device_flow_not_changeable", "The device flow setting of an application cannot be changed.")
			}
		}
	}
	app, err := s.dir.UpdateApplication(r.Context(), id, func(a *directory.Application) error {
		if b.AppLevelAccessControlEnabled.Set && !b.AppLevelAccessControlEnabled.Null {
			if b.AppLevelAccessControlEnabled.V && !a.AccessControl.HasRules() {
				return errNoAccessRules()
			}
			a.AppLevelAccessControlEnabled = b.AppLevelAccessControlEnabled.V
		}
		if b.Name.Set {
			a.Name = b.Name.V
		}
		if b.Description.Set {
			a.Description = b.Description.V
		}
		// Unmarshal into the private copy overlays only the keys present.
		if b.OIDCClientMetadata.Set && !b.OIDCClientMetadata.Null {
			if err := json.Unmarshal(b.OIDCClientMetadata.V, &a.OIDCClientMetadata); err != nil {
				return invalidInput("invalid `oidcClientMetadata`")
			}
		}
		if b.CustomClientMetadata.Set {
			a.CustomClientMetadata = probeCustom // replaced (Logto); null is {}
		}
		if b.CustomData.Set { // replaced, as Logto's PATCH does (custom-data merges)
			a.CustomData = nil
			if !b.CustomData.Null {
				a.CustomData = json.RawMessage(b.CustomData.V)
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	// isAdmin last, once the rest is known valid (the admin app refuses to lose it).
	if b.IsAdmin.Set && !b.IsAdmin.Null {
		if err := s.setAdminApp(r, id, b.IsAdmin.V); err != nil {
			return 0, nil, err
		}
	}
	return http.StatusOK, applicationView(app), nil
}

func (s *Server) deleteApplication(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteApplication(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- secrets ----

func (s *Server) listApplicationSecrets(_ *http.Request, p httprouter.Params) (int, any, error) {
	app, ok := s.dir.Application(p.ByName("id"))
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: p.ByName("id")})
	}
	out := make([]applicationSecretJSON, len(app.Secrets))
	for i, sec := range app.Secrets {
		out[i] = secretView(app.ID, sec, "")
	}
	return http.StatusOK, out, nil
}

type secretCreateBody struct {
	Name      string `json:"name"`
	ExpiresAt *int64 `json:"expiresAt"`
}

func (s *Server) createApplicationSecret(r *http.Request, p httprouter.Params) (int, any, error) {
	var b secretCreateBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	appID := p.ByName("id")
	if app, ok := s.dir.Application(appID); ok && !app.Type.HasSecrets() {
		// Logto's application_secrets table refuses other types by a check constraint.
		return 0, nil, apiErr(http.StatusUnprocessableEntity, "entity.db_constraint_violated",
			fmt.Sprintf("%s applications are public clients and have no secrets.", app.Type))
	}
	sec, value, err := s.dir.AddAppSecret(r.Context(), appID, b.Name, b.ExpiresAt)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusCreated, secretView(appID, sec, value), nil
}

// patchApplicationSecret is PATCH /api/applications/:id/secrets/:name {name}: renames
// the secret and answers it.
func (s *Server) patchApplicationSecret(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		Name *string `json:"name"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Name == nil {
		return 0, nil, invalidInput("`name` is required")
	}
	appID := p.ByName("id")
	sec, err := s.dir.RenameAppSecret(r.Context(), appID, p.ByName("name"), *b.Name)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, secretView(appID, sec, ""), nil
}

// patchApplicationCustomData is PATCH /api/applications/:id/custom-data: the body, a
// JSON object, is merged into customData key by key (Logto's jsonb merge), and the
// result answered.
func (s *Server) patchApplicationCustomData(r *http.Request, p httprouter.Params) (int, any, error) {
	var patch jsonObjectRaw
	if err := decodeBody(r, &patch); err != nil {
		return 0, nil, err
	}
	app, err := s.dir.UpdateApplication(r.Context(), p.ByName("id"), func(a *directory.Application) error {
		merged, err := mergeObject(a.CustomData, patch)
		if err != nil {
			return invalidInput("invalid custom data")
		}
		a.CustomData = merged
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, objectOrEmpty(app.CustomData), nil
}

func (s *Server) deleteApplicationSecret(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteAppSecret(r.Context(), p.ByName("id"), p.ByName("name")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// ---- roles ----

// m2mApplication is the application of an /applications/:id/roles route, which must
// be MachineToMachine (Logto's application.invalid_type).
func (s *Server) m2mApplication(id string) (*directory.Application, error) {
	app, ok := s.dir.Application(id)
	if !ok {
		return nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: id})
	}
	if app.Type != directory.AppMachineToMachine {
		return nil, mgmtError(&directory.RoleTypeError{Subject: directory.EntityApplication, SubjectID: id})
	}
	return app, nil
}

func (s *Server) listApplicationRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	app, err := s.m2mApplication(p.ByName("id"))
	if err != nil {
		return 0, nil, err
	}
	roles, err := s.dir.AppRoles(app.ID)
	if err != nil {
		return 0, nil, mgmtError(err)
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

type roleIDsBody struct {
	RoleIDs []string `json:"roleIds"`
}

func (b roleIDsBody) validate() error {
	if b.RoleIDs == nil {
		return invalidInput("`roleIds` is required")
	}
	if slices.Contains(b.RoleIDs, "") {
		return invalidInput("`roleIds` must not contain empty ids")
	}
	return nil
}

// assignApplicationRoles answers 201 {roleIds, addedRoleIds} like Logto; roles the
// application already has are skipped.
func (s *Server) assignApplicationRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	var b roleIDsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	added, err := s.dir.AssignAppRoles(r.Context(), p.ByName("id"), b.RoleIDs)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	if added == nil {
		added = []string{}
	}
	return http.StatusCreated, map[string][]string{"roleIds": b.RoleIDs, "addedRoleIds": added}, nil
}

// replaceApplicationRoles is PUT /api/applications/:id/roles: the application ends
// up with exactly roleIds.
func (s *Server) replaceApplicationRoles(r *http.Request, p httprouter.Params) (int, any, error) {
	var b roleIDsBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	id := p.ByName("id")
	current, err := s.dir.AppRoles(id)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	// Refuse before changing anything a PUT that would take the admin application's
	// Management API access away (UnassignAppRole checks again under its lock).
	if err := s.dir.CheckAdminAppRoles(id, b.RoleIDs); err != nil {
		return 0, nil, mgmtError(err)
	}
	if _, err := s.dir.AssignAppRoles(r.Context(), id, b.RoleIDs); err != nil {
		return 0, nil, mgmtError(err)
	}
	for _, role := range current {
		if !slices.Contains(b.RoleIDs, role.ID) {
			if err := s.dir.UnassignAppRole(r.Context(), id, role.ID); err != nil {
				return 0, nil, mgmtError(err)
			}
		}
	}
	return http.StatusOK, nil, nil
}

func (s *Server) unassignApplicationRole(r *http.Request, p httprouter.Params) (int, any, error) {
	if _, err := s.m2mApplication(p.ByName("id")); err != nil {
		return 0, nil, err
	}
	if err := s.dir.UnassignAppRole(r.Context(), p.ByName("id"), p.ByName("roleId")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// deleteApplicationLegacySecret is Logto's DELETE /api/applications/:id/legacy-secret,
// which retires the single secret applications had before Logto kept secrets in a
// table. Latch applications never had one: 400 application.no_legacy_secret_found.
func (s *Server) deleteApplicationLegacySecret(_ *http.Request, p httprouter.Params) (int, any, error) {
	if _, ok := s.dir.Application(p.ByName("id")); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: p.ByName("id")})
	}
	return 0, nil, apiErr(http.StatusBadRequest, "application.no_legacy_secret_found", "The application does not have a legacy secret.")
}

// protectedAppOnly answers Logto's protected app routes (custom domains): Latch has
// no Protected applications, so any existing application is Logto's 400
// application.protected_application_only.
func (s *Server) protectedAppOnly(_ *http.Request, p httprouter.Params) (int, any, error) {
	if _, ok := s.dir.Application(p.ByName("id")); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: p.ByName("id")})
	}
	return 0, nil, apiErr(http.StatusBadRequest, "application.protected_application_only", "The feature is only available for protected applications.")
}
