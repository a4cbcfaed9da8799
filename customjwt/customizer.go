package customjwt

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"

	"github.com/dop251/goja"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// Config is a stored jwt-customizer config, the fields issuance reads (Logto's
// jwtCustomizerGuard).
type Config struct {
	Script               string            `json:"script"`
	EnvironmentVariables map[string]string `json:"environmentVariables,omitempty"`
	BlockIssuanceOnError bool              `json:"blockIssuanceOnError,omitempty"`
}

// Customizer is op's ClaimsCustomizer over the directory's jwt-customizer configs
// (Logto's getExtraTokenClaimsForJwtCustomization): the access-token config for a
// user's tokens, the client-credentials one for client_credentials tokens.
type Customizer struct {
	Dir    *directory.Directory
	Runner Runner
	// Log; nil discards. Script failures are logged, never shown to the client
	// unless the config blocks issuance on error.
	Log *slog.Logger

	// compiled holds, per config key, the last directory record seen and its config
	// decoded and script compiled: a token pays for neither unless the record changed.
	compiled sync.Map // key -> *compiledConfig
}

// compiledConfig is a stored config ready to run.
type compiledConfig struct {
	src  *directory.JwtCustomizer // the record it was made from (each write publishes a new one)
	cfg  Config                   // zero when the record does not decode
	prog *goja.Program            // nil with err: the script does not compile
	err  error
}

// config is the stored record of key, ready to run.
func (c *Customizer) config(key string, stored *directory.JwtCustomizer) *compiledConfig {
	if v, ok := c.compiled.Load(key); ok && v.(*compiledConfig).src == stored {
		return v.(*compiledConfig)
	}
	cc := &compiledConfig{src: stored}
	if json.Unmarshal(stored.Value, &cc.cfg) != nil {
		cc.cfg = Config{}
	} else if cc.cfg.Script != "" {
		cc.prog, cc.err = compile(cc.cfg.Script)
	}
	c.compiled.Store(key, cc)
	return cc
}

var _ op.ClaimsCustomizer = (*Customizer)(nil)

// CustomizeAccessToken runs the matching script, if any. api.denyAccess(message)
// fails the token request with access_denied and the script's message, as Logto;
// any other failure issues the token without extra claims, or, with
// blockIssuanceOnError, fails it with invalid_request ("Custom claims script error:
// ...", Logto's oidc.custom_claims_script_error).
func (c *Customizer) CustomizeAccessToken(req op.CustomClaimsRequest) (map[string]any, error) {
	key := directory.JwtCustomizerAccessToken
	if req.ClientCredentials {
		key = directory.JwtCustomizerClientCredentials
	}
	stored, ok := c.Dir.JwtCustomizer(key)
	if !ok {
		return nil, nil
	}
	cc := c.config(key, stored)
	cfg := cc.cfg
	if cfg.Script == "" {
		return nil, nil
	}
	err := cc.err // a script that does not compile fails as its run would
	var claims map[string]any
	if err == nil {
		claims, err = c.Runner.runProgram(cc.prog, Input{
			Script:               cfg.Script,
			Token:                TokenPayload(req),
			Context:              c.context(req),
			EnvironmentVariables: cfg.EnvironmentVariables,
		})
	}
	if err == nil {
		return claims, nil
	}
	e, _ := err.(*Error)
	if e != nil && e.Kind == KindDenied {
		// node-oidc-provider's errors.AccessDenied: 400, not RFC 6749's redirect-only 403.
		return nil, &oauth.Error{Code: oauth.CodeAccessDenied, Description: e.Message, Status: http.StatusBadRequest}
	}
	if c.Log != nil {
		c.Log.Warn("custom jwt script failed", "key", key, "client_id", req.ClientID, "err", err)
	}
	if cfg.BlockIssuanceOnError {
		msg := "Failed to customize token claims"
		if e != nil && e.Message != "" {
			msg = e.Message
		}
		return nil, oauth.InvalidRequest("Custom claims script error: " + msg)
	}
	return nil, nil
}

// TokenPayload is the token the script sees, in node-oidc-provider's payload shape
// (Logto passes the AccessToken / ClientCredentials model's IN_PAYLOAD fields, not
// the JWT's claims): jti, aud, scope, clientId, kind, and for a user's token
// accountId, grantId and gty.
func TokenPayload(req op.CustomClaimsRequest) map[string]any {
	t := map[string]any{"clientId": req.ClientID}
	for _, k := range []string{"jti", "aud", "scope"} {
		if v, ok := req.Claims[k]; ok && v != "" {
			t[k] = v
		}
	}
	if req.ClientCredentials {
		t["kind"] = "ClientCredentials"
		return t
	}
	t["kind"] = "AccessToken"
	t["accountId"] = req.UserID
	t["gty"] = req.GrantType
	if req.GrantID != "" {
		t["grantId"] = req.GrantID
	}
	return t
}

// context is Logto's script context: {application} for client credentials;
// {user, application} (and organization for an organization token) for a user's.
func (c *Customizer) context(req op.CustomClaimsRequest) map[string]any {
	ctx := map[string]any{}
	if app, ok := c.Dir.Application(req.ClientID); ok {
		ctx["application"] = ApplicationContext(app)
	}
	if req.ClientCredentials {
		return ctx
	}
	if u, ok := c.Dir.User(req.UserID); ok {
		ctx["user"] = c.UserContext(u)
	}
	if req.OrganizationID != "" {
		if o, ok := c.Dir.Organization(req.OrganizationID); ok {
			ctx["organization"] = map[string]any{"id": o.ID, "name": o.Name, "description": o.Description, "customData": rawOr(o.CustomData, map[string]any{})}
		}
	}
	return ctx
}

// ApplicationContext is Logto's jwtCustomizerApplicationContext: the application
// without its secrets.
func ApplicationContext(app *directory.Application) map[string]any {
	var desc any
	if app.Description != "" {
		desc = app.Description
	}
	return map[string]any{
		"tenantId":             "default",
		"id":                   app.ID,
		"name":                 app.Name,
		"description":          desc,
		"type":                 string(app.Type),
		"oidcClientMetadata":   toJSON(app.OIDCClientMetadata),
		"customClientMetadata": toJSON(app.CustomClientMetadata),
		"customData":           rawOr(app.CustomData, map[string]any{}),
		"isThirdParty":         app.IsThirdParty,
		"createdAt":            app.CreatedAt,
	}
}

// UserContext is Logto's JwtCustomizerUserContext: the user's profile (never its
// password hash or MFA secrets), hasPassword, its roles with their scopes, its
// organizations and organization roles. ssoIdentities is always empty (Latch has no
// enterprise SSO).
func (c *Customizer) UserContext(u *directory.User) map[string]any {
	factors := []string{}
	for _, m := range u.MfaVerifications {
		factors = append(factors, m.Type)
	}
	roles := []any{}
	if rs, err := c.Dir.UserRoles(u.ID); err == nil {
		for _, r := range rs {
			scopes := []any{}
			if ss, err := c.Dir.RoleScopes(r.ID); err == nil {
				for _, s := range ss {
					sc := map[string]any{"id": s.ID, "name": s.Name, "description": s.Description, "resourceId": s.ResourceID}
					if res, ok := c.Dir.Resource(s.ResourceID); ok {
						sc["resource"] = map[string]any{"id": res.ID, "name": res.Name, "indicator": res.Indicator, "isDefault": res.IsDefault, "accessTokenTtl": res.AccessTokenTTL}
					}
					scopes = append(scopes, sc)
				}
			}
			roles = append(roles, map[string]any{"id": r.ID, "name": r.Name, "description": r.Description, "scopes": scopes})
		}
	}
	orgs := []any{}
	for _, o := range c.Dir.UserOrganizations(u.ID) {
		orgs = append(orgs, map[string]any{"id": o.ID, "name": o.Name, "description": o.Description})
	}
	orgRoles := []any{}
	for _, g := range c.Dir.UserOrganizationRoles(u.ID) {
		gr := map[string]any{"organizationId": g.OrganizationID, "roleName": g.RoleName}
		if rs := c.Dir.OrganizationRolesByName([]string{g.RoleName}); len(rs) == 1 {
			gr["roleId"] = rs[0].ID
		}
		orgRoles = append(orgRoles, gr)
	}
	return map[string]any{
		"id":                     u.ID,
		"username":               u.Username,
		"primaryEmail":           u.PrimaryEmail,
		"primaryPhone":           u.PrimaryPhone,
		"name":                   u.Name,
		"avatar":                 u.Avatar,
		"customData":             rawOr(u.CustomData, map[string]any{}),
		"identities":             rawOr(u.Identities, map[string]any{}),
		"profile":                rawOr(u.Profile, map[string]any{}),
		"applicationId":          u.ApplicationID,
		"lastSignInAt":           u.LastSignInAt,
		"createdAt":              u.CreatedAt,
		"updatedAt":              u.UpdatedAt,
		"isSuspended":            u.IsSuspended,
		"hasPassword":            u.PasswordHash != "",
		"ssoIdentities":          []any{},
		"mfaVerificationFactors": factors,
		"roles":                  roles,
		"organizations":          orgs,
		"organizationRoles":      orgRoles,
	}
}

// rawOr decodes raw, or answers def when it is empty or not JSON.
func rawOr(raw json.RawMessage, def any) any {
	if len(raw) == 0 {
		return def
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil || v == nil {
		return def
	}
	return v
}

// toJSON is v as generic JSON (what the script sees).
func toJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
