package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/latchid/latch/persistence"
)

// Organizations (Logto's multi-tenancy, RFC 0001): organizations, the organization
// template (organization scopes and organization roles holding organization scopes
// and API resource scopes), memberships of users and of MachineToMachine
// applications, role assignments per member per organization, just-in-time
// provisioning (email domains, roles) and invitations.
//
// Store layout. Every record is its own kind; relation records are keyed by the ids
// they join (ids never contain "/"):
//
//	org            <orgID>                 Organization
//	org-scope      <scopeID>               OrganizationScope
//	org-role       <roleID>                OrganizationRole (with its scope ids)
//	org-user       <orgID>/<userID>        membership {createdAt}
//	org-app        <orgID>/<appID>         membership {createdAt}
//	org-user-role  <orgID>/<userID>/<roleID>
//	org-app-role   <orgID>/<appID>/<roleID>
//	org-jit        <orgID>                 OrganizationJIT (email domains, role ids)
//	org-invitation <invitationID>          OrganizationInvitation
//
// Uniqueness (index records, commit.go): organization role names, organization scope
// names, and one Pending invitation per organization and invitee.
const (
	kindOrg           = "org"
	kindOrgScope      = "org-scope"
	kindOrgRole       = "org-role"
	kindOrgUser       = "org-user"
	kindOrgApp        = "org-app"
	kindOrgUserRole   = "org-user-role"
	kindOrgAppRole    = "org-app-role"
	kindOrgJIT        = "org-jit"
	kindOrgInvitation = "org-invitation"

	kindIdxOrgRoleName   = "idx-org-role-name"          // organization role name
	kindIdxOrgScopeName  = "idx-org-scope-name"         // organization scope name
	kindIdxOrgInvitation = "idx-org-invitation-pending" // orgID + "/" + invitee, while Pending
)

// Organization is Logto's organization.
type Organization struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Description   *string         `json:"description"`
	CustomData    json.RawMessage `json:"customData,omitempty"`
	IsMfaRequired bool            `json:"isMfaRequired"`
	Color         json.RawMessage `json:"color,omitempty"`
	Branding      json.RawMessage `json:"branding,omitempty"`
	CustomCSS     *string         `json:"customCss"`
	CreatedAt     int64           `json:"createdAt"`
	Version       uint64          `json:"-"`
}

// Clone returns a deep copy of o, safe to modify.
func (o *Organization) Clone() *Organization {
	c := *o
	c.Description, c.CustomCSS = clonePtr(o.Description), clonePtr(o.CustomCSS)
	c.CustomData, c.Color, c.Branding = cloneRaw(o.CustomData), cloneRaw(o.Color), cloneRaw(o.Branding)
	return &c
}

// OrganizationScope is a permission of the organization template; Name is unique.
type OrganizationScope struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	CreatedAt   int64   `json:"createdAt"`
	Version     uint64  `json:"-"`
}

// OrganizationRole is a role of the organization template; Name is unique. A User role
// is assigned to users in an organization, a MachineToMachine role to applications.
// ScopeIDs are organization scopes, ResourceScopeIDs API resource scopes (Logto's
// organization-level API resources).
type OrganizationRole struct {
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Description      *string  `json:"description"`
	Type             RoleType `json:"type"`
	ScopeIDs         []string `json:"scopeIds,omitempty"`
	ResourceScopeIDs []string `json:"resourceScopeIds,omitempty"`
	CreatedAt        int64    `json:"createdAt"`
	Version          uint64   `json:"-"`
}

// Clone returns a deep copy of r, safe to modify.
func (r *OrganizationRole) Clone() *OrganizationRole {
	c := *r
	c.Description = clonePtr(r.Description)
	c.ScopeIDs, c.ResourceScopeIDs = cloneStrings(r.ScopeIDs), cloneStrings(r.ResourceScopeIDs)
	return &c
}

// OrganizationJIT is an organization's just-in-time provisioning: users whose email
// is in one of EmailDomains join it (with RoleIDs) when they sign up or are created.
// Logto's third list, SSO connectors, is answered by the HTTP layer: no SSO connector
// exists in Latch, so none can be stored.
type OrganizationJIT struct {
	EmailDomains []string `json:"emailDomains,omitempty"`
	RoleIDs      []string `json:"roleIds,omitempty"`
	Version      uint64   `json:"-"`
}

func (j *OrganizationJIT) clone() *OrganizationJIT {
	if j == nil {
		return &OrganizationJIT{}
	}
	c := *j
	c.EmailDomains, c.RoleIDs = cloneStrings(j.EmailDomains), cloneStrings(j.RoleIDs)
	return &c
}

func (j *OrganizationJIT) empty() bool { return len(j.EmailDomains) == 0 && len(j.RoleIDs) == 0 }

// InvitationStatus is Logto's organization invitation status.
type InvitationStatus string

const (
	InvitationPending  InvitationStatus = "Pending"
	InvitationAccepted InvitationStatus = "Accepted"
	InvitationExpired  InvitationStatus = "Expired"
	InvitationRevoked  InvitationStatus = "Revoked"
)

// OrganizationInvitation is an invitation of an email address to an organization
// (Logto's RFC 0003). Status is the stored one; EffectiveStatus reports a Pending
// invitation past ExpiresAt as Expired, as Logto does when it reads one.
type OrganizationInvitation struct {
	ID             string           `json:"id"`
	InviterID      *string          `json:"inviterId"`
	Invitee        string           `json:"invitee"`
	AcceptedUserID *string          `json:"acceptedUserId"`
	OrganizationID string           `json:"organizationId"`
	Status         InvitationStatus `json:"status"`
	RoleIDs        []string         `json:"roleIds,omitempty"`
	CreatedAt      int64            `json:"createdAt"`
	UpdatedAt      int64            `json:"updatedAt"`
	ExpiresAt      int64            `json:"expiresAt"`
	Version        uint64           `json:"-"`
}

// EffectiveStatus is the status as of nowMs.
func (i *OrganizationInvitation) EffectiveStatus(nowMs int64) InvitationStatus {
	if i.Status == InvitationPending && i.ExpiresAt < nowMs {
		return InvitationExpired
	}
	return i.Status
}

func (i *OrganizationInvitation) clone() *OrganizationInvitation {
	c := *i
	c.InviterID, c.AcceptedUserID = clonePtr(i.InviterID), clonePtr(i.AcceptedUserID)
	c.RoleIDs = cloneStrings(i.RoleIDs)
	return &c
}

// Entity names of the organization errors (Logto's table names, singular).
const (
	EntityOrganization           = "organization"
	EntityOrganizationScope      = "organization scope"
	EntityOrganizationRole       = "organization role"
	EntityOrganizationInvitation = "organization invitation"
	// Relations: NotFoundError when the pair does not exist.
	EntityOrganizationUser       = "organization user"
	EntityOrganizationApp        = "organization application"
	EntityOrganizationUserRole   = "organization user role"
	EntityOrganizationAppRole    = "organization application role"
	EntityOrganizationRoleScope  = "organization role scope"
	EntityOrganizationJITDomain  = "organization jit email domain"
	EntityOrganizationJITRole    = "organization jit role"
	EntityOrganizationRoleRScope = "organization role resource scope"
)

var (
	// ErrRelationTarget: a relation names an entity that does not exist (Logto's
	// foreign key violation, entity.relation_foreign_key_not_found). Details:
	// *RelationTargetError.
	ErrRelationTarget = errors.New("directory: a related entity does not exist")
	// ErrOrganizationConstraint: a relation breaks a type rule of Logto's schema
	// (entity.db_constraint_violated): a User organization role given to an
	// application, a MachineToMachine one to a user, or an application that is not
	// MachineToMachine made a member. Details: *OrganizationConstraintError.
	ErrOrganizationConstraint = errors.New("directory: organization type constraint violated")
	// ErrMembershipRequired: the user or application is not a member of the
	// organization (Logto's organization.require_membership).
	ErrMembershipRequired = errors.New("directory: organization membership required")
	// ErrInvitation: the invitation cannot be created or changed (Logto's
	// request.invalid_input). Details: *InvitationError.
	ErrInvitation = errors.New("directory: invalid invitation")
)

// RelationTargetError names the missing entity of a relation.
type RelationTargetError struct {
	Entity string
	ID     string
}

func (e *RelationTargetError) Error() string {
	return fmt.Sprintf("directory: related %s %q does not exist", e.Entity, e.ID)
}

// Is makes errors.Is(err, ErrRelationTarget) true.
func (e *RelationTargetError) Is(target error) bool { return target == ErrRelationTarget }

func relTarget(entity, id string) error { return &RelationTargetError{Entity: entity, ID: id} }

// OrganizationConstraintError says which entity broke a type rule.
type OrganizationConstraintError struct {
	Entity string // EntityOrganizationRole or EntityApplication
	ID     string
	Reason string
}

func (e *OrganizationConstraintError) Error() string {
	return fmt.Sprintf("directory: %s %q: %s", e.Entity, e.ID, e.Reason)
}

// Is makes errors.Is(err, ErrOrganizationConstraint) true.
func (e *OrganizationConstraintError) Is(target error) bool {
	return target == ErrOrganizationConstraint
}

// InvitationError says why an invitation cannot be created or changed.
type InvitationError struct{ Reason string }

func (e *InvitationError) Error() string { return "directory: invitation: " + e.Reason }

// Is makes errors.Is(err, ErrInvitation) true.
func (e *InvitationError) Is(target error) bool { return target == ErrInvitation }

// ---- in-memory state ----

// orgState is the organizations part of the directory's memory (state.org). Guarded
// like the rest of state: changed with wmu and mu held.
type orgState struct {
	orgs       map[string]*Organization
	scopes     map[string]*OrganizationScope
	scopeNames map[string]string // name -> scope id
	roles      map[string]*OrganizationRole
	roleNames  map[string]string // name -> role id

	// Memberships with their record versions, and the reverse indexes.
	users    map[string]map[string]uint64 // orgID -> userID -> version
	userOrgs map[string]map[string]struct{}
	apps     map[string]map[string]uint64 // orgID -> appID -> version
	appOrgs  map[string]map[string]struct{}

	// Role assignments: "orgID/memberID" -> roleID -> version, and role -> members.
	userRoles map[string]map[string]uint64
	roleUsers map[string]map[string]struct{}
	appRoles  map[string]map[string]uint64
	roleApps  map[string]map[string]struct{}

	jit         map[string]*OrganizationJIT
	invitations map[string]*OrganizationInvitation
	pending     map[string]string // orgID/invitee -> Pending invitation id
}

func newOrgState() orgState {
	return orgState{
		orgs: map[string]*Organization{}, scopes: map[string]*OrganizationScope{}, scopeNames: map[string]string{},
		roles: map[string]*OrganizationRole{}, roleNames: map[string]string{},
		users: map[string]map[string]uint64{}, userOrgs: map[string]map[string]struct{}{},
		apps: map[string]map[string]uint64{}, appOrgs: map[string]map[string]struct{}{},
		userRoles: map[string]map[string]uint64{}, roleUsers: map[string]map[string]struct{}{},
		appRoles: map[string]map[string]uint64{}, roleApps: map[string]map[string]struct{}{},
		jit: map[string]*OrganizationJIT{}, invitations: map[string]*OrganizationInvitation{},
		pending: map[string]string{},
	}
}

func memberKey(orgID, memberID string) string { return orgID + "/" + memberID }

func pendingKey(orgID, invitee string) string { return orgID + "/" + invitee }

// applyOrg publishes one stored record of an organization kind; other kinds are
// ignored. Callers hold wmu and mu (or own d exclusively).
func (d *Directory) applyOrg(kind, key string, rec persistence.Record) error {
	st := &d.st.org
	bad := func(err error) error { return fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err) }
	switch kind {
	case kindOrg:
		var o Organization
		if err := json.Unmarshal(rec.Value, &o); err != nil {
			return bad(err)
		}
		o.ID, o.Version = key, rec.Version
		st.orgs[key] = &o
	case kindOrgScope:
		var s OrganizationScope
		if err := json.Unmarshal(rec.Value, &s); err != nil {
			return bad(err)
		}
		s.ID, s.Version = key, rec.Version
		if old := st.scopes[key]; old != nil && st.scopeNames[old.Name] == key {
			delete(st.scopeNames, old.Name)
		}
		st.scopes[key] = &s
		st.scopeNames[s.Name] = key
	case kindOrgRole:
		var r OrganizationRole
		if err := json.Unmarshal(rec.Value, &r); err != nil {
			return bad(err)
		}
		r.ID, r.Version = key, rec.Version
		if old := st.roles[key]; old != nil && st.roleNames[old.Name] == key {
			delete(st.roleNames, old.Name)
		}
		st.roles[key] = &r
		st.roleNames[r.Name] = key
	case kindOrgUser, kindOrgApp:
		org, member, ok := strings.Cut(key, "/")
		if !ok {
			return bad(errors.New("membership key is not org/member"))
		}
		if kind == kindOrgUser {
			setAssignment(st.users, st.userOrgs, org, member, rec.Version)
		} else {
			setAssignment(st.apps, st.appOrgs, org, member, rec.Version)
		}
	case kindOrgUserRole, kindOrgAppRole:
		i := strings.LastIndexByte(key, '/')
		if i < 0 || !strings.Contains(key[:i], "/") {
			return bad(errors.New("role assignment key is not org/member/role"))
		}
		if kind == kindOrgUserRole {
			setAssignment(st.userRoles, st.roleUsers, key[:i], key[i+1:], rec.Version)
		} else {
			setAssignment(st.appRoles, st.roleApps, key[:i], key[i+1:], rec.Version)
		}
	case kindOrgJIT:
		var j OrganizationJIT
		if err := json.Unmarshal(rec.Value, &j); err != nil {
			return bad(err)
		}
		j.Version = rec.Version
		st.jit[key] = &j
	case kindOrgInvitation:
		var inv OrganizationInvitation
		if err := json.Unmarshal(rec.Value, &inv); err != nil {
			return bad(err)
		}
		inv.ID, inv.Version = key, rec.Version
		d.unindexInvitation(st.invitations[key])
		st.invitations[key] = &inv
		if inv.Status == InvitationPending {
			st.pending[pendingKey(inv.OrganizationID, inv.Invitee)] = key
		}
	}
	return nil
}

// removeOrg unpublishes one record of an organization kind that no longer exists.
func (d *Directory) removeOrg(kind, key string) {
	st := &d.st.org
	switch kind {
	case kindOrg:
		delete(st.orgs, key)
	case kindOrgScope:
		if old := st.scopes[key]; old != nil && st.scopeNames[old.Name] == key {
			delete(st.scopeNames, old.Name)
		}
		delete(st.scopes, key)
	case kindOrgRole:
		if old := st.roles[key]; old != nil && st.roleNames[old.Name] == key {
			delete(st.roleNames, old.Name)
		}
		delete(st.roles, key)
	case kindOrgUser, kindOrgApp:
		org, member, _ := strings.Cut(key, "/")
		if kind == kindOrgUser {
			deleteAssignment(st.users, st.userOrgs, org, member)
		} else {
			deleteAssignment(st.apps, st.appOrgs, org, member)
		}
	case kindOrgUserRole, kindOrgAppRole:
		i := strings.LastIndexByte(key, '/')
		if i < 0 {
			return
		}
		if kind == kindOrgUserRole {
			deleteAssignment(st.userRoles, st.roleUsers, key[:i], key[i+1:])
		} else {
			deleteAssignment(st.appRoles, st.roleApps, key[:i], key[i+1:])
		}
	case kindOrgJIT:
		delete(st.jit, key)
	case kindOrgInvitation:
		d.unindexInvitation(st.invitations[key])
		delete(st.invitations, key)
	}
}

func (d *Directory) unindexInvitation(inv *OrganizationInvitation) {
	if inv == nil {
		return
	}
	k := pendingKey(inv.OrganizationID, inv.Invitee)
	if d.st.org.pending[k] == inv.ID {
		delete(d.st.org.pending, k)
	}
}
