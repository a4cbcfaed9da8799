package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// The console's pages: each GET loads what it shows from the Management API with the
// administrator's token; each form post (consoleAction) makes one or two Management
// API calls and then redirects back (303, post/redirect/get) with a notice, or shows
// the page again with the API's message. A value shown once (a new client secret) is
// rendered in the post's own answer and never stored.

// consoleNotices are the messages ?done= selects after a successful post (a fixed set:
// the query cannot put words in the console's mouth).
var consoleNotices = map[string]string{
	"created": "Created.", "saved": "Saved.", "deleted": "Deleted.", "assigned": "Assigned.",
	"removed": "Removed.", "revoked": "Revoked.", "password": "The password was changed.",
	"suspended": "The user is suspended.", "reactivated": "The user can sign in again.",
	"rotated": "Rotated.",
}

// consoleExtra is what a post adds to the page it shows again.
type consoleExtra struct {
	err    error
	status int
	data   map[string]any
}

// consoleAppTypes are the application types the console creates (Logto's, without
// Protected and SAML, which Latch does not have).
var consoleAppTypes = []string{"Traditional", "SPA", "Native", "MachineToMachine"}

// consoleUserScopes are the user scopes a third-party application may be allowed to
// ask for (Logto's UserScope values).
var consoleUserScopes = []string{"profile", "email", "phone", "address", "custom_data", "identities", "roles",
	"urn:logto:scope:organizations", "urn:logto:scope:organization_roles"}

// consolePage renders the page at c.segs.
func (s *Server) consolePage(c *consoleReq, extra *consoleExtra) {
	v := consoleView{User: c.sess.Name, CSRF: c.sess.CSRF, Data: map[string]any{}}
	if extra == nil {
		v.Notice = consoleNotices[c.r.URL.Query().Get("done")]
		extra = &consoleExtra{}
	}
	var (
		page string
		err  error
	)
	section := ""
	if len(c.segs) > 0 {
		section = c.segs[0]
	}
	id := ""
	if len(c.segs) == 2 {
		id = c.segs[1]
	}
	switch {
	case len(c.segs) == 0:
		page, v.Title = "console-home", "Get started"
		v.Data["Discovery"] = s.issuer + "/.well-known/openid-configuration"
	case len(c.segs) > 2:
		page = ""
	case section == "applications" && id == "":
		page, v.Title = "console-apps", "Applications"
		v.Data["Types"] = consoleAppTypes
		err = s.consoleLoad(c, v.Data, "Apps", "/api/applications?page_size=100")
	case section == "applications":
		page, v.Title = "console-app", "Application"
		err = s.consoleLoadApp(c, id, v.Data)
	case section == "resources" && id == "":
		page, v.Title = "console-resources", "API resources"
		err = s.consoleLoad(c, v.Data, "Resources", "/api/resources?page_size=100")
	case section == "resources":
		page, v.Title = "console-resource", "API resource"
		err = s.consoleLoad(c, v.Data, "Resource", "/api/resources/"+url.PathEscape(id))
		if err == nil {
			err = s.consoleLoad(c, v.Data, "Scopes", "/api/resources/"+url.PathEscape(id)+"/scopes?page_size=100")
		}
	case section == "roles" && id == "":
		page, v.Title = "console-roles", "Roles"
		err = s.consoleLoad(c, v.Data, "Roles", "/api/roles?page_size=100")
	case section == "roles":
		page, v.Title = "console-role", "Role"
		err = s.consoleLoadRole(c, id, v.Data)
	case section == "users" && id == "":
		page, v.Title = "console-users", "Users"
		q := strings.TrimSpace(c.r.URL.Query().Get("q"))
		v.Data["Query"] = q
		path := "/api/users?page_size=100"
		if q != "" {
			path += "&search=" + url.QueryEscape("%"+q+"%")
		}
		err = s.consoleLoad(c, v.Data, "Users", path)
	case section == "users":
		page, v.Title = "console-user", "User"
		err = s.consoleLoadUser(c, id, v.Data)
	case section == "signing-keys" && id == "":
		page, v.Title = "console-keys", "Signing keys"
		err = s.consoleLoad(c, v.Data, "Keys", "/api/configs/oidc/private-keys")
	default:
		page, v.Title, err = s.consoleLoadMore(c, section, id, v.Data) // console_more.go
	}
	if page == "" {
		s.consoleRender(c.w, http.StatusNotFound, "console-message", consoleView{Title: "Not found", User: v.User, CSRF: v.CSRF,
			Error: "There is no such page in the console."})
		return
	}
	v.Section = section
	if section == "" {
		v.Section = "home"
	}
	status := http.StatusOK
	var ae *consoleAPIError
	if err != nil { // nothing to show but the reason
		status = http.StatusBadGateway
		if errors.As(err, &ae) {
			status = ae.Status
		}
		title := "The page could not be loaded"
		if status == http.StatusNotFound {
			title = "Not found"
		}
		s.consoleRender(c.w, status, "console-message", consoleView{Title: title, User: v.User, CSRF: v.CSRF, Error: err.Error()})
		return
	}
	if extra.err != nil {
		v.Error, v.Notice = extra.err.Error(), ""
		status = http.StatusUnprocessableEntity
		if errors.As(extra.err, &ae) && ae.Status >= 400 && ae.Status < 500 {
			status = ae.Status
		}
	}
	if extra.status != 0 {
		status = extra.status
	}
	for k, x := range extra.data {
		v.Data[k] = x
	}
	s.consoleRender(c.w, status, page, v)
}

// consoleLoad GETs path into data[key].
func (s *Server) consoleLoad(c *consoleReq, data map[string]any, key, path string) error {
	var out any
	if err := s.consoleAPI(c.r.Context(), c.sess, http.MethodGet, path, nil, &out); err != nil {
		return err
	}
	data[key] = out
	return nil
}

func (s *Server) consoleLoadApp(c *consoleReq, id string, data map[string]any) error {
	base := "/api/applications/" + url.PathEscape(id)
	if err := s.consoleLoad(c, data, "App", base); err != nil {
		return err
	}
	app, _ := data["App"].(map[string]any)
	switch app["type"] {
	case "Traditional", "MachineToMachine":
		if err := s.consoleLoad(c, data, "Secrets", base+"/secrets"); err != nil {
			return err
		}
		data["HasSecrets"] = true
	}
	if third, _ := app["isThirdParty"].(bool); third {
		if err := s.consoleLoad(c, data, "Consent", base+"/user-consent-scopes"); err != nil {
			return err
		}
		if err := s.consoleLoad(c, data, "Resources", "/api/resources?includeScopes=true&page_size=100"); err != nil {
			return err
		}
		data["UserScopes"] = consoleUserScopes
	}
	if app["type"] == "MachineToMachine" {
		if err := s.consoleLoad(c, data, "AppRoles", base+"/roles?page_size=100"); err != nil {
			return err
		}
		if err := s.consoleLoad(c, data, "AllRoles", "/api/roles?type=MachineToMachine&page_size=100"); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) consoleLoadRole(c *consoleReq, id string, data map[string]any) error {
	base := "/api/roles/" + url.PathEscape(id)
	if err := s.consoleLoad(c, data, "Role", base); err != nil {
		return err
	}
	if err := s.consoleLoad(c, data, "Scopes", base+"/scopes?page_size=100"); err != nil {
		return err
	}
	if err := s.consoleLoad(c, data, "Resources", "/api/resources?includeScopes=true&page_size=100"); err != nil {
		return err
	}
	role, _ := data["Role"].(map[string]any)
	if role["type"] == "MachineToMachine" {
		if err := s.consoleLoad(c, data, "Members", base+"/applications?page_size=100"); err != nil {
			return err
		}
		return s.consoleLoad(c, data, "Candidates", "/api/applications?types=MachineToMachine&page_size=100")
	}
	if err := s.consoleLoad(c, data, "Members", base+"/users?page_size=100"); err != nil {
		return err
	}
	return s.consoleLoad(c, data, "Candidates", "/api/users?page_size=100")
}

func (s *Server) consoleLoadUser(c *consoleReq, id string, data map[string]any) error {
	base := "/api/users/" + url.PathEscape(id)
	if err := s.consoleLoad(c, data, "U", base); err != nil {
		return err
	}
	if err := s.consoleLoad(c, data, "UserRoles", base+"/roles?page_size=100"); err != nil {
		return err
	}
	if err := s.consoleLoad(c, data, "AllRoles", "/api/roles?type=User&page_size=100"); err != nil {
		return err
	}
	// Sessions and grants live in the hot state; a node without it says so on the page.
	if err := s.consoleLoad(c, data, "Sessions", base+"/sessions"); err != nil {
		data["SessionsError"] = err.Error()
	}
	if err := s.consoleLoad(c, data, "Grants", base+"/grants"); err != nil {
		data["GrantsError"] = err.Error()
	}
	if err := s.consoleLoad(c, data, "Mfa", base+"/mfa-verifications"); err != nil {
		data["MfaError"] = err.Error()
	}
	return nil
}

// consoleAction handles a form post: f.action names the operation on the page's
// entity.
func (s *Server) consoleAction(c *consoleReq) {
	f := c.r.PostForm
	action := f.Get("action")
	if len(c.segs) == 0 || len(c.segs) > 2 {
		s.consolePage(c, nil)
		return
	}
	section := c.segs[0]
	id := ""
	if len(c.segs) == 2 {
		id = c.segs[1]
	}
	if action == "delete" && f.Get("confirm") != "on" {
		s.consolePage(c, &consoleExtra{err: errors.New("Tick the box to confirm the deletion.")})
		return
	}
	var (
		done string
		err  error
		to   = c.r.URL.Path
		api  = func(method, path string, body, out any) error {
			return s.consoleAPI(c.r.Context(), c.sess, method, path, body, out)
		}
	)
	switch section {
	case "applications":
		base := "/api/applications/" + url.PathEscape(id)
		switch {
		case id == "" && action == "create":
			in := map[string]any{"name": strings.TrimSpace(f.Get("name")), "type": f.Get("type"),
				"description": strings.TrimSpace(f.Get("description")), "isThirdParty": f.Get("isThirdParty") == "on"}
			if uris := formLines(f.Get("redirectUris")); len(uris) > 0 {
				in["oidcClientMetadata"] = map[string]any{"redirectUris": uris, "postLogoutRedirectUris": []string{}}
			}
			var out map[string]any
			if err = api(http.MethodPost, "/api/applications", in, &out); err == nil {
				newID, _ := out["id"].(string)
				c.segs = []string{"applications", newID}
				extra := &consoleExtra{status: http.StatusCreated, data: map[string]any{"NewSecret": out["secret"]}}
				s.consolePage(c, extra)
				return
			}
		case action == "save":
			var cur map[string]any
			if err = api(http.MethodGet, base, nil, &cur); err != nil {
				break
			}
			custom, _ := cur["customClientMetadata"].(map[string]any)
			if custom == nil {
				custom = map[string]any{}
			}
			custom["corsAllowedOrigins"] = formLines(f.Get("corsAllowedOrigins"))
			custom["rotateRefreshToken"] = f.Get("rotateRefreshToken") == "on"
			custom["alwaysIssueRefreshToken"] = f.Get("alwaysIssueRefreshToken") == "on"
			if days := strings.TrimSpace(f.Get("refreshTokenTtlInDays")); days != "" {
				n, perr := strconv.Atoi(days)
				if perr != nil {
					err = errors.New("The refresh token lifetime must be a whole number of days.")
					break
				}
				custom["refreshTokenTtlInDays"] = n
			}
			err = api(http.MethodPatch, base, map[string]any{
				"name": strings.TrimSpace(f.Get("name")), "description": strings.TrimSpace(f.Get("description")),
				"oidcClientMetadata": map[string]any{
					"redirectUris": formLines(f.Get("redirectUris")), "postLogoutRedirectUris": formLines(f.Get("postLogoutRedirectUris")),
					"backchannelLogoutUri":             strings.TrimSpace(f.Get("backchannelLogoutUri")),
					"backchannelLogoutSessionRequired": f.Get("backchannelLogoutSessionRequired") == "on",
				},
				"customClientMetadata": custom,
			}, nil)
			done = "saved"
		case action == "secret":
			var out map[string]any
			if err = api(http.MethodPost, base+"/secrets", map[string]any{"name": strings.TrimSpace(f.Get("secretName"))}, &out); err == nil {
				s.consolePage(c, &consoleExtra{status: http.StatusCreated, data: map[string]any{"NewSecret": out["value"], "NewSecretName": out["name"]}})
				return
			}
		case action == "delete-secret":
			err, done = api(http.MethodDelete, base+"/secrets/"+url.PathEscape(f.Get("secretName")), nil, nil), "deleted"
		case action == "assign-role":
			err, done = api(http.MethodPost, base+"/roles", map[string]any{"roleIds": []string{f.Get("roleId")}}, nil), "assigned"
		case action == "remove-role":
			err, done = api(http.MethodDelete, base+"/roles/"+url.PathEscape(f.Get("roleId")), nil, nil), "removed"
		case action == "consent-user-scope":
			err, done = api(http.MethodPost, base+"/user-consent-scopes", map[string]any{"userScopes": []string{f.Get("scope")}}, nil), "assigned"
		case action == "consent-resource-scope":
			err, done = api(http.MethodPost, base+"/user-consent-scopes", map[string]any{"resourceScopes": []string{f.Get("scopeId")}}, nil), "assigned"
		case action == "remove-consent":
			err, done = api(http.MethodDelete, base+"/user-consent-scopes/"+url.PathEscape(f.Get("scopeType"))+"/"+url.PathEscape(f.Get("scopeId")), nil, nil), "removed"
		case action == "delete":
			err, done, to = api(http.MethodDelete, base, nil, nil), "deleted", pathConsole+"/applications"
		default:
			err = errUnknownAction
		}
	case "resources":
		base := "/api/resources/" + url.PathEscape(id)
		switch {
		case id == "" && action == "create":
			var out map[string]any
			if err = api(http.MethodPost, "/api/resources", map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"indicator": strings.TrimSpace(f.Get("indicator"))}, &out); err == nil {
				newID, _ := out["id"].(string)
				done, to = "created", pathConsole+"/resources/"+url.PathEscape(newID)
			}
		case action == "save":
			body := map[string]any{"name": strings.TrimSpace(f.Get("name"))}
			if ttl := strings.TrimSpace(f.Get("accessTokenTtl")); ttl != "" {
				n, perr := strconv.Atoi(ttl)
				if perr != nil {
					err = errors.New("The access token lifetime must be a whole number of seconds.")
					break
				}
				body["accessTokenTtl"] = n
			}
			err, done = api(http.MethodPatch, base, body, nil), "saved"
		case action == "add-scope":
			err, done = api(http.MethodPost, base+"/scopes", map[string]any{"name": strings.TrimSpace(f.Get("scopeName")),
				"description": strings.TrimSpace(f.Get("scopeDescription"))}, nil), "created"
		case action == "delete-scope":
			err, done = api(http.MethodDelete, base+"/scopes/"+url.PathEscape(f.Get("scopeId")), nil, nil), "deleted"
		case action == "delete":
			err, done, to = api(http.MethodDelete, base, nil, nil), "deleted", pathConsole+"/resources"
		default:
			err = errUnknownAction
		}
	case "roles":
		base := "/api/roles/" + url.PathEscape(id)
		switch {
		case id == "" && action == "create":
			var out map[string]any
			if err = api(http.MethodPost, "/api/roles", map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"description": strings.TrimSpace(f.Get("description")), "type": f.Get("type")}, &out); err == nil {
				newID, _ := out["id"].(string)
				done, to = "created", pathConsole+"/roles/"+url.PathEscape(newID)
			}
		case action == "save":
			err, done = api(http.MethodPatch, base, map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"description": strings.TrimSpace(f.Get("description"))}, nil), "saved"
		case action == "add-scope":
			err, done = api(http.MethodPost, base+"/scopes", map[string]any{"scopeIds": []string{f.Get("scopeId")}}, nil), "assigned"
		case action == "remove-scope":
			err, done = api(http.MethodDelete, base+"/scopes/"+url.PathEscape(f.Get("scopeId")), nil, nil), "removed"
		case action == "add-user":
			err, done = api(http.MethodPost, base+"/users", map[string]any{"userIds": []string{f.Get("userId")}}, nil), "assigned"
		case action == "remove-user":
			err, done = api(http.MethodDelete, base+"/users/"+url.PathEscape(f.Get("userId")), nil, nil), "removed"
		case action == "add-app":
			err, done = api(http.MethodPost, base+"/applications", map[string]any{"applicationIds": []string{f.Get("applicationId")}}, nil), "assigned"
		case action == "remove-app":
			err, done = api(http.MethodDelete, base+"/applications/"+url.PathEscape(f.Get("applicationId")), nil, nil), "removed"
		case action == "delete":
			err, done, to = api(http.MethodDelete, base, nil, nil), "deleted", pathConsole+"/roles"
		default:
			err = errUnknownAction
		}
	case "users":
		base := "/api/users/" + url.PathEscape(id)
		switch {
		case id == "" && action == "create":
			in := map[string]any{}
			for _, k := range []string{"username", "primaryEmail", "name", "password"} {
				if v := strings.TrimSpace(f.Get(k)); v != "" {
					in[k] = v
				}
			}
			if p := f.Get("password"); p != "" {
				in["password"] = p // as typed
			}
			var out map[string]any
			if err = api(http.MethodPost, "/api/users", in, &out); err == nil {
				newID, _ := out["id"].(string)
				done, to = "created", pathConsole+"/users/"+url.PathEscape(newID)
			}
		case action == "save":
			body := map[string]any{}
			for _, k := range []string{"username", "primaryEmail", "primaryPhone", "name", "avatar"} {
				if v := strings.TrimSpace(f.Get(k)); v != "" {
					body[k] = v
				} else {
					body[k] = nil
				}
			}
			err, done = api(http.MethodPatch, base, body, nil), "saved"
		case action == "custom-data":
			var data map[string]any
			if jerr := json.Unmarshal([]byte(f.Get("customData")), &data); jerr != nil || data == nil {
				err = errors.New("The custom data must be a JSON object, like {\"plan\": \"gold\"}.")
				break
			}
			// PATCH /custom-data merges; the form is the whole object, so the user is
			// patched with it instead (replaced, as Logto's PATCH /users/:id does).
			err, done = api(http.MethodPatch, base, map[string]any{"customData": data}, nil), "saved"
		case action == "password":
			err, done = api(http.MethodPatch, base+"/password", map[string]any{"password": f.Get("password")}, nil), "password"
		case action == "suspend", action == "reactivate":
			done = "suspended"
			if action == "reactivate" {
				done = "reactivated"
			}
			err = api(http.MethodPatch, base+"/is-suspended", map[string]any{"isSuspended": action == "suspend"}, nil)
		case action == "assign-role":
			err, done = api(http.MethodPost, base+"/roles", map[string]any{"roleIds": []string{f.Get("roleId")}}, nil), "assigned"
		case action == "remove-role":
			err, done = api(http.MethodDelete, base+"/roles/"+url.PathEscape(f.Get("roleId")), nil, nil), "removed"
		case action == "revoke-session":
			err, done = api(http.MethodDelete, base+"/sessions/"+url.PathEscape(f.Get("sessionId"))+"?revokeGrantsTarget=all", nil, nil), "revoked"
		case action == "delete-mfa":
			err, done = api(http.MethodDelete, base+"/mfa-verifications/"+url.PathEscape(f.Get("verificationId")), nil, nil), "deleted"
		case action == "revoke-grant":
			err, done = api(http.MethodDelete, base+"/grants/"+url.PathEscape(f.Get("grantId")), nil, nil), "revoked"
		case action == "delete":
			err, done, to = api(http.MethodDelete, base, nil, nil), "deleted", pathConsole+"/users"
		default:
			err = errUnknownAction
		}
	case "signing-keys":
		switch action {
		case "rotate":
			err, done = api(http.MethodPost, "/api/configs/oidc/private-keys/rotate", map[string]any{}, nil), "rotated"
		default:
			err = errUnknownAction
		}
	default:
		var handled bool
		if handled, done, to, err = s.consoleActionMore(c, section, id, action, f, api); !handled { // console_more.go
			err = errUnknownAction
		}
	}
	if err != nil {
		s.consolePage(c, &consoleExtra{err: err})
		return
	}
	c.w.Header().Set("Cache-Control", "no-store")
	http.Redirect(c.w, c.r, to+"?done="+done, http.StatusSeeOther)
}

var errUnknownAction = errors.New("This form asks for nothing the console knows.")

// formLines splits a textarea into its non-empty trimmed lines.
func formLines(s string) []string {
	out := []string{}
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
