package op

import (
	"context"
	"crypto/subtle"
	"slices"
	"strings"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Consent for third-party applications (isThirdParty), as Logto's consent page does
// it: after the user signed in (or with a live session), a third-party application
// gets a code only once the user accepted what it asks for, which is the request
// narrowed to the application's user consent scopes (directory.AppConsentScopes) and
// to what the user holds. The acceptance is remembered (directory.UserConsent), so the
// page is skipped while it covers the request, except with prompt=consent, which asks
// again. First-party applications are consented automatically, as before.

// Scopes every application may ask for without a consent scope of its own.
var alwaysConsentable = []string{oidcflow.ScopeOpenID, oidcflow.ScopeOfflineAccess}

// ConsentRequest is what a third-party application asks a user for: what the consent
// page shows.
type ConsentRequest struct {
	UID         string
	Application *directory.Application
	User        *directory.User
	RedirectURI string
	// Scopes are the OIDC user scopes (profile, email, ...) asked for and allowed;
	// openid and offline_access are not shown (Logto hides them too).
	Scopes []string
	// Resources are the API resources asked for, each with the scopes asked for that
	// the application may have and the user holds.
	Resources []ConsentResource
	// Organizations are the user's organizations, when the application asks for the
	// organizations scope and may: the user picks those it may see.
	Organizations []*directory.Organization
}

// ConsentResource is one API resource of a ConsentRequest.
type ConsentResource struct {
	Indicator string
	Name      string
	Scopes    []*directory.Scope
}

// consentRequest builds what app asks userID for with req.
func (b *Browser) consentRequest(app *directory.Application, user *directory.User, req *oidcflow.AuthRequest) *ConsentRequest {
	allowed := b.Directory.AppConsentScopes(app.ID)
	out := &ConsentRequest{Application: app, User: user, RedirectURI: req.RedirectURI}
	for _, s := range req.Scopes {
		if slices.Contains(allowed.UserScopes, s) && !slices.Contains(out.Scopes, s) {
			out.Scopes = append(out.Scopes, s)
		}
	}
	for _, ind := range req.Resources {
		cr := ConsentResource{Indicator: ind, Name: ind}
		if ind == oidcflow.ResourceOrganizations {
			cr.Name = "Your organizations"
			for _, id := range allowed.OrganizationScopes {
				if sc, ok := b.Directory.OrganizationScope(id); ok && slices.Contains(req.Scopes, sc.Name) {
					cr.Scopes = append(cr.Scopes, &directory.Scope{ID: sc.ID, Name: sc.Name, Description: deref(sc.Description)})
				}
			}
		} else {
			res, ok := b.Directory.ResourceByIndicator(ind)
			if !ok {
				continue
			}
			cr.Name = res.Name
			held := b.Directory.UserResourceScopes(user.ID, res.ID)
			for _, id := range allowed.ResourceScopes {
				sc, ok := b.Directory.Scope(id)
				if ok && sc.ResourceID == res.ID && slices.Contains(req.Scopes, sc.Name) && slices.Contains(held, sc.Name) {
					cr.Scopes = append(cr.Scopes, sc)
				}
			}
		}
		out.Resources = append(out.Resources, cr)
	}
	if slices.Contains(out.Scopes, oidcflow.ScopeOrganizations) {
		out.Organizations = b.Directory.UserOrganizations(user.ID)
	}
	return out
}

// consentedScopes is req's scope list narrowed to what a third-party application may
// be granted: openid, offline_access, its user consent scopes, and the names of the
// resource scopes the consent page showed. The code and the grant carry only these,
// so no token of the application ever has more.
func (c *ConsentRequest) consentedScopes(req *oidcflow.AuthRequest) []string {
	var out []string
	for _, s := range req.Scopes {
		ok := slices.Contains(alwaysConsentable, s) || slices.Contains(c.Scopes, s)
		for _, r := range c.Resources {
			ok = ok || slices.ContainsFunc(r.Scopes, func(sc *directory.Scope) bool { return sc.Name == s })
		}
		if ok && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// coveredBy reports whether a remembered consent covers c: every scope and resource
// scope shown was accepted before.
func (c *ConsentRequest) coveredBy(uc *directory.UserConsent) bool {
	for _, s := range c.Scopes {
		if !slices.Contains(uc.Scopes, s) {
			return false
		}
	}
	for _, r := range c.Resources {
		got, ok := uc.ResourceScopes[r.Indicator]
		if !ok {
			return false
		}
		for _, sc := range r.Scopes {
			if !slices.Contains(got, sc.Name) {
				return false
			}
		}
	}
	return true
}

// needsConsent reports whether the consent page must be shown for a third-party app:
// no remembered consent covers the request, or prompt=consent asks again and the
// consent was not given since `since` (the interaction's creation: an acceptance
// during this very interaction counts).
func (b *Browser) needsConsent(app *directory.Application, user *directory.User, req *oidcflow.AuthRequest, since time.Time) bool {
	if !app.IsThirdParty {
		return false
	}
	uc, ok := b.Directory.UserConsent(user.ID, app.ID)
	if !ok || uc.UpdatedAt == 0 { // UpdatedAt 0: organizations set by an admin, never accepted
		return true
	}
	if req.HasPrompt(oidcflow.PromptConsent) && uc.UpdatedAt < since.UnixMilli() {
		return true
	}
	return !b.consentRequest(app, user, req).coveredBy(uc)
}

// consentPending reports whether the submitted interaction uid waits for the user's
// consent (Resume then sends the browser to the consent page instead). Anything
// unexpected is false: Resume's own checks report it.
func (b *Browser) consentPending(ctx context.Context, uid string) (bool, error) {
	it, err := b.Interactions.Interaction(ctx, uid)
	if err != nil {
		if unavailable(err) {
			return false, err
		}
		return false, nil
	}
	if !it.Submitted || it.Request == nil {
		return false, nil
	}
	app, ok := b.Directory.Application(it.Request.ClientID)
	if !ok || !app.IsThirdParty {
		return false, nil
	}
	user, ok := b.Directory.User(it.AccountID)
	if !ok {
		return false, nil
	}
	return b.needsConsent(app, user, it.Request, it.CreatedAt), nil
}

// pendingConsent is the interaction of the browser's _interaction cookie when it waits
// for consent: its cookie must name uid, and it must be submitted by a user who may
// still sign in, for a third-party application.
func (b *Browser) pendingConsent(ctx context.Context, uid, cookie string) (*Interaction, *directory.Application, *directory.User, error) {
	if uid == "" || subtle.ConstantTimeCompare([]byte(cookie), []byte(uid)) != 1 {
		return nil, nil, nil, oauth.InvalidRequest("this sign-in was not started in this browser, or its cookie expired; start again from the application")
	}
	it, err := b.Interactions.Interaction(ctx, uid)
	if err != nil {
		if !unavailable(err) {
			err = oauth.InvalidRequest("this sign-in has expired; start again from the application")
		}
		return nil, nil, nil, err
	}
	if !it.Submitted || it.Request == nil {
		return nil, nil, nil, oauth.InvalidRequest("sign in first")
	}
	app, ok := b.Directory.Application(it.Request.ClientID)
	if !ok || !app.IsThirdParty {
		return nil, nil, nil, oauth.InvalidRequest("this application needs no consent")
	}
	user, ok := b.Directory.User(it.AccountID)
	if !ok || user.IsSuspended {
		return nil, nil, nil, oauth.AccessDenied("the account is not allowed to sign in")
	}
	if err := checkAppAccess(b.Directory, app.ID, user.ID); err != nil {
		return nil, nil, nil, err // app_access.go
	}
	return it, app, user, nil
}

// Consent is the consent page's content for the interaction uid (the browser's
// _interaction cookie is cookie). Errors are shown to the user.
func (b *Browser) Consent(ctx context.Context, uid, cookie string) (*ConsentRequest, error) {
	it, app, user, err := b.pendingConsent(ctx, uid, cookie)
	if err != nil {
		return nil, err
	}
	c := b.consentRequest(app, user, it.Request)
	c.UID = uid
	return c, nil
}

// ErrNotMember: the user picked an organization they are not a member of (Logto's
// organization.require_membership).
var ErrNotMember = oauth.InvalidRequest("the user is not a member of every organization picked")

// AcceptConsent records the user's consent to what the page showed, plus the
// organizations picked among those shown, and returns where the browser resumes
// (/oidc/auth/<uid>), which now issues the code.
func (b *Browser) AcceptConsent(ctx context.Context, uid, cookie string, organizationIDs []string) (string, error) {
	it, app, user, err := b.pendingConsent(ctx, uid, cookie)
	if err != nil {
		return "", err
	}
	c := b.consentRequest(app, user, it.Request)
	for _, id := range organizationIDs {
		if !slices.ContainsFunc(c.Organizations, func(o *directory.Organization) bool { return o.ID == id }) {
			return "", ErrNotMember
		}
	}
	g := directory.ConsentGrant{Scopes: c.Scopes, ResourceScopes: map[string][]string{}, OrganizationIDs: organizationIDs}
	for _, r := range c.Resources {
		names := []string{}
		for _, sc := range r.Scopes {
			names = append(names, sc.Name)
		}
		g.ResourceScopes[r.Indicator] = names
	}
	if _, err := b.Directory.GrantUserConsent(ctx, user.ID, app.ID, g); err != nil {
		return "", err
	}
	return b.Issuer + "/auth/" + uid, nil
}

// DenyConsent ends the interaction and answers the client access_denied (RFC 6749
// 4.1.2.1: "The resource owner or authorization server denied the request").
func (b *Browser) DenyConsent(ctx context.Context, uid, cookie string) (*ResumeResult, error) {
	res := &ResumeResult{}
	if _, _, _, err := b.pendingConsent(ctx, uid, cookie); err != nil {
		return res, err
	}
	it, err := b.Interactions.Consume(ctx, uid)
	if err != nil {
		if !unavailable(err) {
			err = oauth.InvalidRequest("this sign-in has expired; start again from the application")
		}
		return res, err
	}
	res.ClearInteraction = true
	res.Response = b.redirectError(it.Request, oauth.AccessDenied("the user denied the consent")).Response
	return res, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// consentedOrganization reports whether the user let the third-party application see
// the organization on the consent page (Logto's user consent organizations): only
// those get organization tokens.
func consentedOrganization(dir *directory.Directory, userID, appID, orgID string) bool {
	uc, ok := dir.UserConsent(userID, appID)
	return ok && slices.Contains(uc.OrganizationIDs, orgID)
}

// clientAccount is account(u, scopes) as app may see it: a third-party application
// sees only the organizations the user picked on the consent page, in the
// organizations and organization_roles claims (Logto narrows them to the user consent
// organizations at token issuance).
func (p *Provider) clientAccount(app *directory.Application, u *directory.User, scopes []string) oidcflow.Account {
	a := p.account(u, scopes)
	if app == nil || !app.IsThirdParty || (len(a.Organizations) == 0 && len(a.OrganizationRoles) == 0) {
		return a
	}
	var consented []string
	if uc, ok := p.dir.UserConsent(u.ID, app.ID); ok {
		consented = uc.OrganizationIDs
	}
	a.Organizations = slices.DeleteFunc(a.Organizations, func(o oidcflow.OrganizationData) bool { return !slices.Contains(consented, o.ID) })
	a.OrganizationRoles = slices.DeleteFunc(a.OrganizationRoles, func(r string) bool {
		org, _, _ := strings.Cut(r, ":")
		return !slices.Contains(consented, org)
	})
	return a
}
