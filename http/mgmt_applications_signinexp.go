package httpapi

import (
	"encoding/json"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's application-level sign-in experience
// (routes/applications/application-sign-in-experience.ts): branding, colors, custom
// CSS, terms links and a display name of one application, stored with it
// (directory.Application.SignInExperience). The routes keep Latch's :id (httprouter
// allows one wildcard name per position).
func (s *Server) appSignInExperienceRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/applications/:id/sign-in-experience", s.getAppSignInExperience},
		{"PUT", "/api/applications/:id/sign-in-experience", s.putAppSignInExperience},
	}
}

// appBrandingJSON is Logto's Branding (every member optional, URLs).
type appBrandingJSON struct {
	LogoURL     *string `json:"logoUrl,omitempty"`
	DarkLogoURL *string `json:"darkLogoUrl,omitempty"`
	Favicon     *string `json:"favicon,omitempty"`
	DarkFavicon *string `json:"darkFavicon,omitempty"`
}

// appColorJSON is Logto's partial Color.
type appColorJSON struct {
	PrimaryColor      *string `json:"primaryColor,omitempty"`
	IsDarkModeEnabled *bool   `json:"isDarkModeEnabled,omitempty"`
	DarkPrimaryColor  *string `json:"darkPrimaryColor,omitempty"`
}

// appSignInExperienceJSON is Logto's ApplicationSignInExperience; it is also the
// stored form (tenantId and applicationId are filled in on the way out).
type appSignInExperienceJSON struct {
	TenantID         string          `json:"tenantId"`
	ApplicationID    string          `json:"applicationId"`
	Color            appColorJSON    `json:"color"`
	Branding         appBrandingJSON `json:"branding"`
	CustomCSS        *string         `json:"customCss"`
	TermsOfUseURL    *string         `json:"termsOfUseUrl"`
	PrivacyPolicyURL *string         `json:"privacyPolicyUrl"`
	DisplayName      *string         `json:"displayName"`
}

// appSignInExperienceBody is the PUT body: every member optional; the strings may be
// null, and "" is stored as null (as Logto answers it).
type appSignInExperienceBody struct {
	Color            *appColorJSON    `json:"color"`
	Branding         *appBrandingJSON `json:"branding"`
	CustomCSS        opt[string]      `json:"customCss"`
	TermsOfUseURL    opt[string]      `json:"termsOfUseUrl"`
	PrivacyPolicyURL opt[string]      `json:"privacyPolicyUrl"`
	DisplayName      opt[string]      `json:"displayName"`
}

func (b *appSignInExperienceBody) validate() error {
	isURL := func(s *string) bool {
		if s == nil {
			return true
		}
		u, err := url.Parse(*s)
		return err == nil && u.IsAbs() && len(*s) <= 2048
	}
	if c := b.Color; c != nil {
		for _, h := range []*string{c.PrimaryColor, c.DarkPrimaryColor} {
			if h != nil && !hexColorRE.MatchString(*h) {
				return invalidInput("`color` colors must be hex colors such as #5d34f2")
			}
		}
	}
	if br := b.Branding; br != nil {
		for _, u := range []*string{br.LogoURL, br.DarkLogoURL, br.Favicon, br.DarkFavicon} {
			if !isURL(u) {
				return invalidInput("`branding` members must be URLs")
			}
		}
	}
	for name, v := range map[string]opt[string]{"termsOfUseUrl": b.TermsOfUseURL, "privacyPolicyUrl": b.PrivacyPolicyURL} {
		if v.Set && !v.Null && v.V != "" && !isURL(&v.V) {
			return invalidInput("`" + name + "` must be a URL")
		}
	}
	if b.DisplayName.Set && utf8.RuneCountInString(b.DisplayName.V) > 256 {
		return invalidInput("`displayName` is longer than 256 characters")
	}
	return nil
}

// apply sets what the body names on cur (Logto updates only the given members).
func (b *appSignInExperienceBody) apply(cur *appSignInExperienceJSON) {
	set := func(dst **string, v opt[string]) {
		if !v.Set {
			return
		}
		*dst = nil
		if !v.Null && v.V != "" {
			s := v.V
			*dst = &s
		}
	}
	if b.Color != nil {
		cur.Color = *b.Color
	}
	if b.Branding != nil {
		cur.Branding = *b.Branding
	}
	set(&cur.CustomCSS, b.CustomCSS)
	set(&cur.TermsOfUseURL, b.TermsOfUseURL)
	set(&cur.PrivacyPolicyURL, b.PrivacyPolicyURL)
	set(&cur.DisplayName, b.DisplayName)
}

func appSignInExperienceView(a *directory.Application) (appSignInExperienceJSON, bool) {
	var v appSignInExperienceJSON
	if len(a.SignInExperience) == 0 || json.Unmarshal(a.SignInExperience, &v) != nil {
		return v, false
	}
	v.TenantID, v.ApplicationID = tenantID, a.ID
	return v, true
}

// errNoAppSignInExperience is Logto's answer for an application without one.
func errNoAppSignInExperience(appID string) error {
	return apiErr(http.StatusNotFound, "entity.not_exists_with_id",
		"The application_sign_in_experiences with ID `"+appID+"` does not exist.")
}

func (s *Server) getAppSignInExperience(_ *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	a, ok := s.dir.Application(id)
	if !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: id})
	}
	v, ok := appSignInExperienceView(a)
	if !ok {
		return 0, nil, errNoAppSignInExperience(id)
	}
	return http.StatusOK, v, nil
}

// putAppSignInExperience creates (201) or updates (200) the application's sign-in
// experience.
func (s *Server) putAppSignInExperience(r *http.Request, p httprouter.Params) (int, any, error) {
	id := p.ByName("id")
	if _, ok := s.dir.Application(id); !ok {
		return 0, nil, mgmtError(&directory.NotFoundError{Entity: directory.EntityApplication, ID: id})
	}
	var b appSignInExperienceBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := b.validate(); err != nil {
		return 0, nil, err
	}
	created := false
	a, err := s.dir.UpdateApplication(r.Context(), id, func(a *directory.Application) error {
		cur, ok := appSignInExperienceView(a)
		created = !ok
		b.apply(&cur)
		cur.TenantID, cur.ApplicationID = "", ""
		raw, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		a.SignInExperience = raw
		return nil
	})
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	v, _ := appSignInExperienceView(a)
	if created {
		return http.StatusCreated, v, nil
	}
	return http.StatusOK, v, nil
}
