package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// The console's pages for the APIs that came after the first ones: organizations and
// the organization template, the sign-in experience, connectors, and a user's MFA
// factors (on the user page). Same habits as console_pages.go.

// consoleLoadMore loads the pages of this file; page is "" for a path it does not
// serve.
func (s *Server) consoleLoadMore(c *consoleReq, section, id string, data map[string]any) (page, title string, err error) {
	switch {
	case section == "organizations" && id == "":
		page, title = "console-orgs", "Organizations"
		err = s.consoleLoad(c, data, "Orgs", "/api/organizations?page_size=100")
	case section == "organizations":
		page, title = "console-org", "Organization"
		base := "/api/organizations/" + url.PathEscape(id)
		err = errors.Join(s.consoleLoad(c, data, "Org", base))
		if err == nil {
			err = errors.Join(s.consoleLoad(c, data, "Members", base+"/users?page_size=100"),
				s.consoleLoad(c, data, "Users", "/api/users?page_size=100"),
				s.consoleLoad(c, data, "OrgRoles", "/api/organization-roles?page_size=100"))
		}
	case section == "organization-template" && id == "":
		page, title = "console-org-template", "Organization template"
		err = errors.Join(s.consoleLoad(c, data, "OrgRoles", "/api/organization-roles?page_size=100"),
			s.consoleLoad(c, data, "OrgScopes", "/api/organization-scopes?page_size=100"))
	case section == "sign-in-experience" && id == "":
		page, title = "console-sie", "Sign-in experience"
		err = s.consoleLoad(c, data, "SIE", "/api/sign-in-exp")
	case section == "connectors" && id == "":
		page, title = "console-connectors", "Connectors"
		err = errors.Join(s.consoleLoad(c, data, "Connectors", "/api/connectors"),
			s.consoleLoad(c, data, "Factories", "/api/connector-factories"))
	}
	return page, title, err
}

// consoleActionMore handles the posts of this file's pages; handled is false for a
// section it does not serve.
func (s *Server) consoleActionMore(c *consoleReq, section, id, action string, f url.Values,
	api func(method, path string, body, out any) error) (handled bool, done, to string, err error) {
	to = c.r.URL.Path
	handled = true
	switch section {
	case "organizations":
		base := "/api/organizations/" + url.PathEscape(id)
		switch {
		case id == "" && action == "create":
			var out map[string]any
			if err = api(http.MethodPost, "/api/organizations", map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"description": strings.TrimSpace(f.Get("description"))}, &out); err == nil {
				newID, _ := out["id"].(string)
				done, to = "created", pathConsole+"/organizations/"+url.PathEscape(newID)
			}
		case action == "save":
			err, done = api(http.MethodPatch, base, map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"description": strings.TrimSpace(f.Get("description"))}, nil), "saved"
		case action == "add-member":
			err, done = api(http.MethodPost, base+"/users", map[string]any{"userIds": []string{f.Get("userId")}}, nil), "assigned"
		case action == "remove-member":
			err, done = api(http.MethodDelete, base+"/users/"+url.PathEscape(f.Get("userId")), nil, nil), "removed"
		case action == "member-role":
			err, done = api(http.MethodPost, base+"/users/"+url.PathEscape(f.Get("userId"))+"/roles",
				map[string]any{"organizationRoleIds": []string{f.Get("organizationRoleId")}}, nil), "assigned"
		case action == "delete":
			err, done, to = api(http.MethodDelete, base, nil, nil), "deleted", pathConsole+"/organizations"
		default:
			err = errUnknownAction
		}
	case "organization-template":
		switch action {
		case "create-role":
			err, done = api(http.MethodPost, "/api/organization-roles", map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"description": strings.TrimSpace(f.Get("description"))}, nil), "created"
		case "delete-role":
			err, done = api(http.MethodDelete, "/api/organization-roles/"+url.PathEscape(f.Get("roleId")), nil, nil), "deleted"
		case "create-scope":
			err, done = api(http.MethodPost, "/api/organization-scopes", map[string]any{"name": strings.TrimSpace(f.Get("name")),
				"description": strings.TrimSpace(f.Get("description"))}, nil), "created"
		case "delete-scope":
			err, done = api(http.MethodDelete, "/api/organization-scopes/"+url.PathEscape(f.Get("scopeId")), nil, nil), "deleted"
		case "role-scope":
			err, done = api(http.MethodPost, "/api/organization-roles/"+url.PathEscape(f.Get("roleId"))+"/scopes",
				map[string]any{"organizationScopeIds": []string{f.Get("scopeId")}}, nil), "assigned"
		case "remove-role-scope":
			err, done = api(http.MethodDelete, "/api/organization-roles/"+url.PathEscape(f.Get("roleId"))+"/scopes/"+url.PathEscape(f.Get("scopeId")), nil, nil), "removed"
		default:
			err = errUnknownAction
		}
	case "sign-in-experience":
		switch action {
		case "branding":
			var cur map[string]any
			if err = api(http.MethodGet, "/api/sign-in-exp", nil, &cur); err != nil {
				break
			}
			color, _ := cur["color"].(map[string]any)
			if color == nil {
				color = map[string]any{}
			}
			branding, _ := cur["branding"].(map[string]any)
			if branding == nil {
				branding = map[string]any{}
			}
			if v := strings.TrimSpace(f.Get("primaryColor")); v != "" {
				color["primaryColor"] = v
			}
			setOrDelete(branding, "logoUrl", f.Get("logoUrl"))
			err = api(http.MethodPatch, "/api/sign-in-exp", map[string]any{
				"color": color, "branding": branding, "signInMode": f.Get("signInMode"),
				"termsOfUseUrl": nullIfEmpty(f.Get("termsOfUseUrl")), "privacyPolicyUrl": nullIfEmpty(f.Get("privacyPolicyUrl")),
			}, nil)
			done = "saved"
		case "json":
			var patch map[string]any
			if jerr := json.Unmarshal([]byte(f.Get("settings")), &patch); jerr != nil || patch == nil {
				err = errors.New("The settings must be a JSON object.")
				break
			}
			delete(patch, "id")
			delete(patch, "tenantId")
			err, done = api(http.MethodPatch, "/api/sign-in-exp", patch, nil), "saved"
		default:
			err = errUnknownAction
		}
	case "connectors":
		switch action {
		case "create":
			var config any
			if raw := strings.TrimSpace(f.Get("config")); raw != "" {
				if jerr := json.Unmarshal([]byte(raw), &config); jerr != nil {
					err = errors.New("The configuration must be JSON.")
					break
				}
			}
			body := map[string]any{"connectorId": f.Get("connectorId")}
			if config != nil {
				body["config"] = config
			}
			err, done = api(http.MethodPost, "/api/connectors", body, nil), "created"
		case "delete-connector":
			err, done = api(http.MethodDelete, "/api/connectors/"+url.PathEscape(f.Get("id")), nil, nil), "deleted"
		default:
			err = errUnknownAction
		}
	default:
		handled = false
	}
	return handled, done, to, err
}

func nullIfEmpty(s string) any {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return s
}

func setOrDelete(m map[string]any, k, v string) {
	if v = strings.TrimSpace(v); v == "" {
		delete(m, k)
		return
	}
	m[k] = v
}
