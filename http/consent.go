package httpapi

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/op"
)

// pathConsent is Logto's consent page, where /oidc/auth and /oidc/auth/:uid send the
// browser when a third-party application waits for the user's consent (op/consent.go).
const pathConsent = "/consent"

// routesConsent registers the consent page and its form post (same-origin
// application/x-www-form-urlencoded only, as the sign-in forms).
func (s *Server) routesConsent(r *routeTable) {
	r.GET(pathConsent, s.serveConsentPage)
	r.POST(pathConsent, newPostGuard(s.endpoint).form(s.serveConsentForm))
}

// userScopeDescriptions say in words what each of Logto's user scopes gives.
var userScopeDescriptions = map[string]string{
	"profile":                            "See your name, username and picture",
	"email":                              "See your email address",
	"phone":                              "See your phone number",
	"address":                            "See your address",
	"custom_data":                        "See your custom data",
	"identities":                         "See your linked social identities",
	"roles":                              "See your roles",
	"urn:logto:scope:organizations":      "See the organizations you belong to",
	"urn:logto:scope:organization_roles": "See your roles in your organizations",
}

type consentLine struct{ Name, Description string }

type consentResourceLine struct {
	Name, Indicator string
	Scopes          []consentLine
}

type consentOrg struct{ ID, Name string }

type consentPageData struct {
	Assets, Version string
	AppName         string
	UserName        string
	RedirectHost    string
	Scopes          []consentLine
	Resources       []consentResourceLine
	Organizations   []consentOrg
	Error           string
	Brand           uiBrand // ui_brand.go
}

// serveConsentPage is GET /consent: what the third-party application asks for, with
// Authorize and Cancel.
func (s *Server) serveConsentPage(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.renderConsent(w, r, http.StatusOK, "")
}

func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	uid, err := interactionUID(r)
	if err != nil || s.browser == nil {
		s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction})
		return
	}
	c, err := s.browser.Consent(r.Context(), uid, uid)
	if err != nil {
		s.consentError(w, r, err)
		return
	}
	data := consentPageData{Assets: pathUIAssets, Version: uiPages.version, AppName: c.Application.Name, Error: errMsg}
	data.Brand = s.brand(c.Application.Name)
	data.UserName = c.User.ID
	switch {
	case c.User.Name != nil && *c.User.Name != "":
		data.UserName = *c.User.Name
	case c.User.Username != nil && *c.User.Username != "":
		data.UserName = *c.User.Username
	case c.User.PrimaryEmail != nil && *c.User.PrimaryEmail != "":
		data.UserName = *c.User.PrimaryEmail
	}
	if u, err := url.Parse(c.RedirectURI); err == nil {
		data.RedirectHost = u.Host
		if data.RedirectHost == "" {
			data.RedirectHost = u.Scheme + ":"
		}
	}
	for _, sc := range c.Scopes {
		desc := userScopeDescriptions[sc]
		if desc == "" {
			desc = sc
		}
		data.Scopes = append(data.Scopes, consentLine{Name: sc, Description: desc})
	}
	for _, res := range c.Resources {
		line := consentResourceLine{Name: res.Name, Indicator: res.Indicator}
		for _, sc := range res.Scopes {
			line.Scopes = append(line.Scopes, consentLine{Name: sc.Name, Description: sc.Description})
		}
		data.Resources = append(data.Resources, line)
	}
	for _, o := range c.Organizations {
		data.Organizations = append(data.Organizations, consentOrg{ID: o.ID, Name: o.Name})
	}
	s.renderSelfPostingPage(w, status, "consent", data)
}

// renderSelfPostingPage writes the template page with the sign-in pages' security
// headers and Referrer-Policy same-origin, not no-referrer: with no-referrer a browser
// sends "Origin: null" on the page's own form posts, which the post guard refuses as
// cross-site.
func (s *Server) renderSelfPostingPage(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := uiPages.tmpl.ExecuteTemplate(&buf, page, data); err != nil {
		s.log.Error(page+" page: template failed", "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.Header().Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// serveConsentForm is POST /consent: action=accept records the consent and resumes
// the authorization (the code goes to the application); action=deny ends it with
// access_denied at the application's redirect URI.
func (s *Server) serveConsentForm(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		s.writeErrorPage(w, r, oauth.InvalidRequest("the form could not be read"))
		return
	}
	uid, err := interactionUID(r)
	if err != nil || s.browser == nil {
		s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction})
		return
	}
	switch r.PostForm.Get("action") {
	case "accept":
		to, err := s.browser.AcceptConsent(r.Context(), uid, uid, r.PostForm["organizationIds"])
		if errors.Is(err, op.ErrNotMember) {
			s.renderConsent(w, r, http.StatusUnprocessableEntity, "Pick only organizations you belong to.")
			return
		}
		if err != nil {
			s.consentError(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, to, http.StatusSeeOther)
	case "deny":
		res, err := s.browser.DenyConsent(r.Context(), uid, uid)
		if res != nil && res.ClearInteraction {
			s.setCookie(w, cookieInteraction, "", -1)
		}
		if err != nil {
			s.consentError(w, r, err)
			return
		}
		s.respondToClient(w, r, res.Response)
	default:
		s.renderConsent(w, r, http.StatusBadRequest, "Choose Authorize or Cancel.")
	}
}

// consentError shows err: an expired or foreign interaction is the no-interaction
// page, anything else the OP's error page.
func (s *Server) consentError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, directory.ErrUnavailable) { // the consent could not be replicated
		err = oauth.TemporarilyUnavailable("the consent could not be saved right now; try again")
	}
	if e, ok := oauth.From(err); ok && e.Code == oauth.CodeInvalidRequest {
		s.renderPage(w, http.StatusOK, pageData{Mode: modeNoInteraction, Error: e.Description})
		return
	}
	s.writeErrorPage(w, r, err)
}
