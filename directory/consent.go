package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Third-party applications and consent, as Logto has them:
//
//   - kindAppConsentScopes (key: application id) is what a third-party application may
//     ask a user for: Logto's application_user_consent_{user,resource,organization,
//     organization_resource}_scopes tables, configured by the Management API's
//     /api/applications/:id/user-consent-scopes. A scope that is not there is never
//     granted to the application, whatever it requests.
//   - kindUserConsent (key: "<user id>/<application id>") is a consent the user gave:
//     the scopes, resource scopes and organizations accepted on the consent page.
//     While it covers a request, the page is skipped (node-oidc-provider keeps this in
//     its Grant model; Latch keeps it in the directory, per user and application, so
//     that it outlives the browser session and every node reads it locally).
const (
	kindAppConsentScopes = "app-consent-scopes"
	kindUserConsent      = "user-consent"
)

// User scopes a third-party application may be allowed (Logto's UserScope enum, minus
// openid and offline_access, which every application may ask for).
var UserConsentScopes = []string{"profile", "email", "phone", "address", "custom_data", "identities", "roles",
	"urn:logto:scope:organizations", "urn:logto:scope:organization_roles"}

// Logto's ApplicationUserConsentScopeType: the path segment of DELETE
// /api/applications/:id/user-consent-scopes/:scopeType/:scopeId.
const (
	ConsentOrganizationScopes         = "organization-scopes"
	ConsentResourceScopes             = "resource-scopes"
	ConsentOrganizationResourceScopes = "organization-resource-scopes"
	ConsentUserScopes                 = "user-scopes"
)

// AppConsentScopes is what a third-party application may ask for. Ids of deleted
// scopes may linger; readers skip them. Shared once published: do not mutate.
type AppConsentScopes struct {
	UserScopes                 []string `json:"userScopes,omitempty"`
	ResourceScopes             []string `json:"resourceScopes,omitempty"`             // scope ids
	OrganizationScopes         []string `json:"organizationScopes,omitempty"`         // organization scope ids
	OrganizationResourceScopes []string `json:"organizationResourceScopes,omitempty"` // scope ids
	Version                    uint64   `json:"-"`
}

// UserConsent is a consent a user gave an application. Shared once published: do not
// mutate.
type UserConsent struct {
	UserID        string `json:"-"`
	ApplicationID string `json:"-"`
	// Scopes are the OIDC scopes accepted (openid, profile, ...).
	Scopes []string `json:"scopes,omitempty"`
	// ResourceScopes are the scope names accepted per resource indicator; a resource
	// accepted without scopes has an empty list.
	ResourceScopes map[string][]string `json:"resourceScopes,omitempty"`
	// OrganizationIDs are the organizations the user let the application see.
	OrganizationIDs []string `json:"organizationIds,omitempty"`
	// UpdatedAt is when the user last accepted (ms).
	UpdatedAt int64  `json:"updatedAt"`
	Version   uint64 `json:"-"`
}

// consentState is this file's part of the directory's state.
type consentState struct {
	apps  map[string]*AppConsentScopes // application id ->
	users map[string]*UserConsent      // "<user id>/<application id>" ->
}

func newConsentState() consentState {
	return consentState{apps: map[string]*AppConsentScopes{}, users: map[string]*UserConsent{}}
}

func userConsentKey(userID, appID string) string { return userID + "/" + appID }

// AppConsentScopes returns what the application may ask for (empty when nothing was
// configured).
func (d *Directory) AppConsentScopes(appID string) *AppConsentScopes {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if c, ok := d.st.consent.apps[appID]; ok {
		return c
	}
	return &AppConsentScopes{}
}

// ConsentScopesInput is Logto's POST body: ids (names for UserScopes) to add.
type ConsentScopesInput struct {
	UserScopes, ResourceScopes, OrganizationScopes, OrganizationResourceScopes []string
}

// ConsentScopesNotFoundError is Logto's application.user_consent_scopes_not_found
// (422): ids that name no scope.
type ConsentScopesNotFoundError struct {
	InvalidOrganizationScopes, InvalidResourceScopes, InvalidOrganizationResourceScopes []string
}

func (e *ConsentScopesNotFoundError) Error() string {
	return "directory: user consent scopes not found"
}

// ErrNotThirdParty: consent scopes are only for third-party applications (Logto's
// application.third_party_application_only, 422).
var ErrNotThirdParty = fmt.Errorf("directory: only third-party applications have user consent scopes")

// ErrManagementAPIConsent: the Management API's scopes cannot be consented to a
// third-party application (Logto's application.consent_management_api_scopes_not_allowed).
var ErrManagementAPIConsent = fmt.Errorf("directory: Management API scopes cannot be user consent scopes")

// AddAppConsentScopes is Logto's assignApplicationUserConsentScopes: every id must
// exist (*ConsentScopesNotFoundError otherwise), user scopes must be UserConsentScopes
// (*InvalidError), and the application must be third-party (ErrNotThirdParty). Ids
// already assigned are kept once.
func (d *Directory) AddAppConsentScopes(ctx context.Context, appID string, in ConsentScopesInput) error {
	for _, s := range in.UserScopes {
		if !slices.Contains(UserConsentScopes, s) {
			return invalid("userScopes", "%q is not a user scope", s)
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		app, ok := d.st.apps[appID]
		if !ok {
			return notFound(EntityApplication, appID)
		}
		if !app.IsThirdParty {
			return ErrNotThirdParty
		}
		var nf ConsentScopesNotFoundError
		mgmt := false
		for _, id := range in.ResourceScopes {
			if sc, ok := d.st.scopes[id]; !ok {
				nf.InvalidResourceScopes = append(nf.InvalidResourceScopes, id)
			} else if d.isManagementScope(sc) {
				mgmt = true
			}
		}
		for _, id := range in.OrganizationResourceScopes {
			if sc, ok := d.st.scopes[id]; !ok {
				nf.InvalidOrganizationResourceScopes = append(nf.InvalidOrganizationResourceScopes, id)
			} else if d.isManagementScope(sc) {
				mgmt = true
			}
		}
		for _, id := range in.OrganizationScopes {
			if _, ok := d.st.org.scopes[id]; !ok {
				nf.InvalidOrganizationScopes = append(nf.InvalidOrganizationScopes, id)
			}
		}
		if len(nf.InvalidOrganizationScopes)+len(nf.InvalidResourceScopes)+len(nf.InvalidOrganizationResourceScopes) > 0 {
			return &nf
		}
		if mgmt {
			return ErrManagementAPIConsent
		}
		cur := d.st.consent.apps[appID]
		next := AppConsentScopes{}
		var version uint64
		if cur != nil {
			next, version = *cur, cur.Version
		} else {
			b.check(kindApp, appID, app.Version)
		}
		next.UserScopes = union(next.UserScopes, in.UserScopes)
		next.ResourceScopes = union(next.ResourceScopes, in.ResourceScopes)
		next.OrganizationScopes = union(next.OrganizationScopes, in.OrganizationScopes)
		next.OrganizationResourceScopes = union(next.OrganizationResourceScopes, in.OrganizationResourceScopes)
		b.put(kindAppConsentScopes, appID, version, &next)
		return nil
	})
}

// RemoveAppConsentScope is Logto's deleteApplicationUserConsentScopesByTypeAndScopeId:
// removing an id that is not assigned changes nothing. An unknown scopeType is an
// *InvalidError; an unknown application *NotFoundError.
func (d *Directory) RemoveAppConsentScope(ctx context.Context, appID, scopeType, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		if _, ok := d.st.apps[appID]; !ok {
			return notFound(EntityApplication, appID)
		}
		cur := d.st.consent.apps[appID]
		if cur == nil {
			cur = &AppConsentScopes{}
		}
		next := *cur
		drop := func(s []string) []string {
			return slices.DeleteFunc(slices.Clone(s), func(v string) bool { return v == id })
		}
		switch scopeType {
		case ConsentUserScopes:
			next.UserScopes = drop(next.UserScopes)
		case ConsentResourceScopes:
			next.ResourceScopes = drop(next.ResourceScopes)
		case ConsentOrganizationScopes:
			next.OrganizationScopes = drop(next.OrganizationScopes)
		case ConsentOrganizationResourceScopes:
			next.OrganizationResourceScopes = drop(next.OrganizationResourceScopes)
		default:
			return invalid("scopeType", "must be one of %s", strings.Join([]string{ConsentOrganizationScopes,
				ConsentResourceScopes, ConsentOrganizationResourceScopes, ConsentUserScopes}, ", "))
		}
		if cur.Version == 0 {
			return nil // nothing assigned
		}
		b.put(kindAppConsentScopes, appID, cur.Version, &next)
		return nil
	})
}

// UserConsent returns the consent userID gave appID, if any.
func (d *Directory) UserConsent(userID, appID string) (*UserConsent, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	c, ok := d.st.consent.users[userConsentKey(userID, appID)]
	return c, ok
}

// ConsentGrant is what a user accepts on the consent page.
type ConsentGrant struct {
	Scopes          []string
	ResourceScopes  map[string][]string
	OrganizationIDs []string
}

// GrantUserConsent merges g into the consent userID gave appID (Logto adds to the
// grant: what was accepted before stays accepted) and stamps it now. The user and the
// application must exist (*NotFoundError).
func (d *Directory) GrantUserConsent(ctx context.Context, userID, appID string, g ConsentGrant) (*UserConsent, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	key := userConsentKey(userID, appID)
	now := d.nowMs()
	err := d.commit(ctx, func(b *batch) error {
		next, version, err := d.userConsentToEdit(b, userID, appID, key)
		if err != nil {
			return err
		}
		next.Scopes = union(next.Scopes, g.Scopes)
		next.OrganizationIDs = union(next.OrganizationIDs, g.OrganizationIDs)
		for k, v := range g.ResourceScopes {
			next.ResourceScopes[k] = union(next.ResourceScopes[k], v)
			if next.ResourceScopes[k] == nil {
				next.ResourceScopes[k] = []string{}
			}
		}
		next.UpdatedAt = now
		if cur := d.st.consent.users[key]; cur != nil && now <= cur.UpdatedAt {
			next.UpdatedAt = cur.UpdatedAt + 1 // strictly later, whatever the clock did
		}
		b.put(kindUserConsent, key, version, &next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c, _ := d.UserConsent(userID, appID)
	return c, nil
}

// SetUserConsentOrganizations sets the organizations userID lets appID see to what
// edit makes of the current list (Logto's user consent organizations, edited through
// the Management API), and returns the new list. The user and the application must
// exist (*NotFoundError); membership is the caller's check. A record created this way
// keeps UpdatedAt 0: it accepts no scope and does not stand for the user's consent
// (op's needsConsent).
func (d *Directory) SetUserConsentOrganizations(ctx context.Context, userID, appID string, edit func(cur []string) []string) ([]string, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	key := userConsentKey(userID, appID)
	err := d.commit(ctx, func(b *batch) error {
		next, version, err := d.userConsentToEdit(b, userID, appID, key)
		if err != nil {
			return err
		}
		next.OrganizationIDs = union(nil, edit(next.OrganizationIDs))
		b.put(kindUserConsent, key, version, &next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if c, ok := d.UserConsent(userID, appID); ok {
		return slices.Clone(c.OrganizationIDs), nil
	}
	return nil, nil
}

// userConsentToEdit is the start of a change to the consent userID gave appID (record
// key): the user and the application must exist (*NotFoundError; b checks their
// versions), and the result is a deep copy of the current record (an empty one when
// absent) with the version the write must expect.
func (d *Directory) userConsentToEdit(b *batch, userID, appID, key string) (UserConsent, uint64, error) {
	u, ok := d.st.users[userID]
	if !ok {
		return UserConsent{}, 0, notFound(EntityUser, userID)
	}
	app, ok := d.st.apps[appID]
	if !ok {
		return UserConsent{}, 0, notFound(EntityApplication, appID)
	}
	b.check(kindUser, userID, u.Version)
	b.check(kindApp, appID, app.Version)
	next := UserConsent{ResourceScopes: map[string][]string{}}
	cur := d.st.consent.users[key]
	if cur == nil {
		return next, 0, nil
	}
	next.Scopes = slices.Clone(cur.Scopes)
	next.OrganizationIDs = slices.Clone(cur.OrganizationIDs)
	next.UpdatedAt = cur.UpdatedAt
	for k, v := range cur.ResourceScopes {
		next.ResourceScopes[k] = slices.Clone(v)
	}
	return next, cur.Version, nil
}

// RevokeUserConsent forgets the consent userID gave appID (absent: nothing to do).
func (d *Directory) RevokeUserConsent(ctx context.Context, userID, appID string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		if cur := d.st.consent.users[userConsentKey(userID, appID)]; cur != nil {
			b.del(kindUserConsent, userConsentKey(userID, appID), cur.Version)
		}
		return nil
	})
}

// union is a with the values of b it lacks appended, in order.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, v := range b {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// ---- state (callers hold wmu and mu) ----

// applyConsent publishes a record of this file's kinds; handled is false for any
// other kind.
func (d *Directory) applyConsent(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	switch kind {
	case kindAppConsentScopes:
		var c AppConsentScopes
		if err := json.Unmarshal(rec, &c); err != nil {
			return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
		}
		c.Version = version
		d.st.consent.apps[key] = &c
		return true, nil
	case kindUserConsent:
		var c UserConsent
		if err := json.Unmarshal(rec, &c); err != nil {
			return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
		}
		c.UserID, c.ApplicationID, _ = strings.Cut(key, "/")
		if c.ResourceScopes == nil {
			c.ResourceScopes = map[string][]string{}
		}
		c.Version = version
		d.st.consent.users[key] = &c
		return true, nil
	}
	return false, nil
}

// removeConsent unpublishes a record of this file's kinds; false for any other kind.
func (d *Directory) removeConsent(kind, key string) bool {
	switch kind {
	case kindAppConsentScopes:
		delete(d.st.consent.apps, key)
	case kindUserConsent:
		delete(d.st.consent.users, key)
	default:
		return false
	}
	return true
}
