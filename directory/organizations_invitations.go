package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/latchid/latch/persistence"
)

// ---- just-in-time provisioning ----

// OrganizationJITSettings returns the organization's just-in-time email domains (in
// insertion order) and roles (by name). A missing organization is a *NotFoundError.
func (d *Directory) OrganizationJITSettings(orgID string) (domains []string, roles []*OrganizationRole, err error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.st.org.orgs[orgID]; !ok {
		return nil, nil, notFound(EntityOrganization, orgID)
	}
	j := d.st.org.jit[orgID]
	if j == nil {
		return []string{}, []*OrganizationRole{}, nil
	}
	ids := map[string]uint64{}
	for _, id := range j.RoleIDs {
		ids[id] = 0
	}
	return slices.Clone(j.EmailDomains), d.orgRolesOf(ids), nil
}

// putJIT writes next as the organization's just-in-time record (old may be nil),
// deleting the record when next is empty. Callers hold wmu.
func (d *Directory) putJIT(b *batch, orgID string, old, next *OrganizationJIT) {
	var ver uint64
	if old != nil {
		ver = old.Version
	}
	switch {
	case next.empty() && old != nil:
		b.del(kindOrgJIT, orgID, ver)
	case !next.empty():
		b.put(kindOrgJIT, orgID, ver, next)
	}
}

// changeJIT stores the organization's just-in-time settings as change leaves them.
// change gets a copy and the batch (to add checks) and may return an error.
func (d *Directory) changeJIT(ctx context.Context, orgID string, change func(b *batch, j *OrganizationJIT) error) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		if err := d.checkOrg(b, orgID); err != nil {
			return err
		}
		old := d.st.org.jit[orgID]
		next := old.clone()
		if err := change(b, next); err != nil {
			return err
		}
		if old != nil && slices.Equal(old.EmailDomains, next.EmailDomains) && slices.Equal(old.RoleIDs, next.RoleIDs) {
			return nil
		}
		d.putJIT(b, orgID, old, next)
		return nil
	})
}

func validEmailDomain(s string) error {
	if s == "" || len(s) > 128 || strings.ContainsAny(s, "/@ \t\r\n") {
		return invalid("emailDomain", "must be a domain name of at most 128 bytes")
	}
	return nil
}

// AddOrganizationJITEmailDomain adds an email domain; one the organization has is a
// *ConflictError (Logto's unique primary key), a missing organization a
// *RelationTargetError.
func (d *Directory) AddOrganizationJITEmailDomain(ctx context.Context, orgID, domain string) error {
	if err := validEmailDomain(domain); err != nil {
		return err
	}
	return d.changeJIT(ctx, orgID, func(_ *batch, j *OrganizationJIT) error {
		if slices.Contains(j.EmailDomains, domain) {
			return conflict(EntityOrganizationJITDomain, "emailDomain", domain)
		}
		j.EmailDomains = append(j.EmailDomains, domain)
		return nil
	})
}

// ReplaceOrganizationJITEmailDomains sets the email domains.
func (d *Directory) ReplaceOrganizationJITEmailDomains(ctx context.Context, orgID string, domains []string) error {
	for _, dom := range domains {
		if err := validEmailDomain(dom); err != nil {
			return err
		}
	}
	if len(dedupe(domains)) != len(domains) {
		return conflict(EntityOrganizationJITDomain, "emailDomain", "")
	}
	d.wmu.Lock()
	_, exists := d.st.org.orgs[orgID]
	d.wmu.Unlock()
	if !exists && len(domains) == 0 {
		return nil // Logto deletes nothing and inserts nothing
	}
	return d.changeJIT(ctx, orgID, func(_ *batch, j *OrganizationJIT) error {
		j.EmailDomains = cloneStrings(domains)
		return nil
	})
}

// RemoveOrganizationJITEmailDomain removes an email domain (*NotFoundError when
// absent).
func (d *Directory) RemoveOrganizationJITEmailDomain(ctx context.Context, orgID, domain string) error {
	d.wmu.Lock()
	j := d.st.org.jit[orgID]
	has := j != nil && slices.Contains(j.EmailDomains, domain)
	d.wmu.Unlock()
	if !has {
		return notFound(EntityOrganizationJITDomain, domain)
	}
	return d.changeJIT(ctx, orgID, func(_ *batch, j *OrganizationJIT) error {
		j.EmailDomains = slices.DeleteFunc(j.EmailDomains, func(s string) bool { return s == domain })
		return nil
	})
}

// checkJITRoles: every id names an organization role (*RelationTargetError).
func (d *Directory) checkJITRoles(b *batch, ids []string) error {
	return checkRelTargets(d, b, rolesOf, kindOrgRole, EntityOrganizationRole, func(r *OrganizationRole) uint64 { return r.Version }, ids)
}

// AddOrganizationJITRoles adds roles, skipping those the organization has.
func (d *Directory) AddOrganizationJITRoles(ctx context.Context, orgID string, roleIDs []string) error {
	roleIDs = dedupe(roleIDs)
	return d.changeJIT(ctx, orgID, func(b *batch, j *OrganizationJIT) error {
		if err := d.checkJITRoles(b, roleIDs); err != nil {
			return err
		}
		for _, id := range roleIDs {
			if !slices.Contains(j.RoleIDs, id) {
				j.RoleIDs = append(j.RoleIDs, id)
			}
		}
		return nil
	})
}

// ReplaceOrganizationJITRoles sets the roles.
func (d *Directory) ReplaceOrganizationJITRoles(ctx context.Context, orgID string, roleIDs []string) error {
	roleIDs = dedupe(roleIDs)
	d.wmu.Lock()
	_, exists := d.st.org.orgs[orgID]
	d.wmu.Unlock()
	if !exists && len(roleIDs) == 0 {
		return nil
	}
	return d.changeJIT(ctx, orgID, func(b *batch, j *OrganizationJIT) error {
		if err := d.checkJITRoles(b, roleIDs); err != nil {
			return err
		}
		j.RoleIDs = roleIDs
		return nil
	})
}

// RemoveOrganizationJITRole removes a role (*NotFoundError when absent).
func (d *Directory) RemoveOrganizationJITRole(ctx context.Context, orgID, roleID string) error {
	d.wmu.Lock()
	j := d.st.org.jit[orgID]
	has := j != nil && slices.Contains(j.RoleIDs, roleID)
	d.wmu.Unlock()
	if !has {
		return notFound(EntityOrganizationJITRole, roleID)
	}
	return d.changeJIT(ctx, orgID, func(_ *batch, j *OrganizationJIT) error {
		j.RoleIDs = slices.DeleteFunc(j.RoleIDs, func(s string) bool { return s == roleID })
		return nil
	})
}

// ---- invitations ----

// NewOrganizationInvitation is the input of CreateOrganizationInvitation.
type NewOrganizationInvitation struct {
	InviterID      *string
	Invitee        string // an email address (the HTTP layer checks its syntax)
	OrganizationID string
	ExpiresAt      int64 // ms since epoch; must be in the future
	RoleIDs        []string
	// CheckOnly runs every check and writes nothing (nil invitation, nil error when
	// the invitation could be created). Logto sends the invitation mail inside the
	// transaction that creates it; a caller that cannot send it reports that only
	// after the checks Logto makes first.
	CheckOnly bool
}

// errChecked ends a CheckOnly build.
var errChecked = errors.New("directory: checked")

// OrganizationInvitation returns the invitation with id.
func (d *Directory) OrganizationInvitation(id string) (*OrganizationInvitation, bool) {
	d.mu.RLock()
	inv, ok := d.st.org.invitations[id]
	d.mu.RUnlock()
	return inv, ok
}

// InvitationFilter selects invitations; empty fields match all.
type InvitationFilter struct {
	OrganizationID, InviterID, Invitee string // Invitee compared case-insensitively
}

// OrganizationInvitations returns the invitations that match f, newest first.
func (d *Directory) OrganizationInvitations(f InvitationFilter) []*OrganizationInvitation {
	d.mu.RLock()
	var out []*OrganizationInvitation
	for _, inv := range d.st.org.invitations {
		if (f.OrganizationID == "" || inv.OrganizationID == f.OrganizationID) &&
			(f.InviterID == "" || deref(inv.InviterID) == f.InviterID) &&
			(f.Invitee == "" || strings.EqualFold(inv.Invitee, f.Invitee)) {
			out = append(out, inv)
		}
	}
	d.mu.RUnlock()
	sortByCreated(out, func(i *OrganizationInvitation) int64 { return i.CreatedAt }, func(i *OrganizationInvitation) string { return i.ID })
	return out
}

// OrganizationRolesOf resolves organization role ids to the roles that exist, by name.
func (d *Directory) OrganizationRolesOf(ids []string) []*OrganizationRole {
	m := make(map[string]uint64, len(ids))
	for _, id := range ids {
		m[id] = 0
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.orgRolesOf(m)
}

// CreateOrganizationInvitation creates a Pending invitation. Refused: an expiry not
// in the future (*InvalidError), an invitee whose primary email already belongs to a
// member (*InvitationError), a missing organization, inviter or role
// (*RelationTargetError), and a second Pending invitation of the invitee to the
// organization (*ConflictError); a Pending one that has expired is marked Expired in
// the same batch first, as Logto does.
func (d *Directory) CreateOrganizationInvitation(ctx context.Context, in NewOrganizationInvitation) (*OrganizationInvitation, error) {
	if in.ExpiresAt <= d.nowMs() {
		return nil, invalid("expiresAt", "must be in the future")
	}
	in.RoleIDs = dedupe(in.RoleIDs)
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var id string
	err := d.commit(ctx, func(b *batch) error {
		st := &d.st.org
		for userID := range st.users[in.OrganizationID] {
			if u := d.st.users[userID]; u != nil && deref(u.PrimaryEmail) == in.Invitee {
				return &InvitationError{Reason: "The invitee is already a member of the organization."}
			}
		}
		if err := d.checkOrg(b, in.OrganizationID); err != nil {
			return err
		}
		if in.InviterID != nil {
			u, ok := d.st.users[*in.InviterID]
			if !ok {
				return relTarget(EntityUser, *in.InviterID)
			}
			b.check(kindUser, u.ID, u.Version)
		}
		if err := d.checkJITRoles(b, in.RoleIDs); err != nil {
			return err
		}
		now := d.nowMs()
		pk := pendingKey(in.OrganizationID, in.Invitee)
		if prev, ok := st.invitations[st.pending[pk]]; ok && prev.EffectiveStatus(now) == InvitationPending {
			return conflict(EntityOrganizationInvitation, "invitee", in.Invitee)
		}
		if in.CheckOnly {
			return errChecked
		}
		var err error
		if id, err = d.newID(); err != nil {
			return err
		}
		if prev, ok := st.invitations[st.pending[pk]]; ok {
			if prev.EffectiveStatus(now) == InvitationPending {
				return conflict(EntityOrganizationInvitation, "invitee", in.Invitee)
			}
			// The expired invitation gives its claim to the new one: one conditional
			// write of the index record (a batch names a record once).
			next := prev.clone()
			next.Status, next.UpdatedAt = InvitationExpired, now
			b.put(kindOrgInvitation, prev.ID, prev.Version, next)
			rec, err := d.store.Get(ctx, kindIdxOrgInvitation, pk)
			if err != nil {
				return fmt.Errorf("directory: reading %s/%s: %w", kindIdxOrgInvitation, pk, err)
			}
			b.muts = append(b.muts, persistence.Mutation{Kind: kindIdxOrgInvitation, Key: pk, Expect: rec.Version, Value: []byte(id)})
		} else {
			b.claim(kindIdxOrgInvitation, pk, id)
		}
		b.put(kindOrgInvitation, id, 0, &OrganizationInvitation{
			ID: id, InviterID: clonePtr(in.InviterID), Invitee: in.Invitee, OrganizationID: in.OrganizationID,
			Status: InvitationPending, RoleIDs: in.RoleIDs, CreatedAt: now, UpdatedAt: now, ExpiresAt: in.ExpiresAt,
		})
		return nil
	})
	if errors.Is(err, errChecked) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return published(d.st.org.invitations, EntityOrganizationInvitation, id)
}

// SetOrganizationInvitationStatus revokes or accepts a Pending invitation (one that
// is Accepted, Revoked or past its expiry is an *InvitationError). Accepting needs
// acceptedUserID, a user whose primary email is the invitee (case-insensitively);
// it makes the user a member with the invitation's roles, in the same batch.
func (d *Directory) SetOrganizationInvitationStatus(ctx context.Context, id string, status InvitationStatus, acceptedUserID string) (*OrganizationInvitation, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		inv, ok := d.st.org.invitations[id]
		if !ok {
			return notFound(EntityOrganizationInvitation, id)
		}
		now := d.nowMs()
		if inv.EffectiveStatus(now) != InvitationPending {
			return &InvitationError{Reason: "The status of the invitation cannot be changed anymore."}
		}
		next := inv.clone()
		next.Status, next.UpdatedAt = status, now
		switch status {
		case InvitationRevoked:
		case InvitationAccepted:
			if acceptedUserID == "" {
				return &InvitationError{Reason: "The `acceptedUserId` is required when accepting an invitation."}
			}
			u, ok := d.st.users[acceptedUserID]
			if !ok {
				return notFound(EntityUser, acceptedUserID)
			}
			if !strings.EqualFold(deref(u.PrimaryEmail), inv.Invitee) {
				return &InvitationError{Reason: "The accepted user must have the same email as the invitee."}
			}
			next.AcceptedUserID = &acceptedUserID
			if err := d.acceptInvitation(b, inv, acceptedUserID, now); err != nil {
				return err
			}
		default:
			return invalid("status", "must be Accepted or Revoked")
		}
		b.put(kindOrgInvitation, id, inv.Version, next)
		b.release(kindIdxOrgInvitation, pendingKey(inv.OrganizationID, inv.Invitee))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return published(d.st.org.invitations, EntityOrganizationInvitation, id)
}

// acceptInvitation adds the membership (if missing) and the invitation's roles that
// still exist and fit a user. Callers hold wmu.
func (d *Directory) acceptInvitation(b *batch, inv *OrganizationInvitation, userID string, now int64) error {
	st := &d.st.org
	o, ok := st.orgs[inv.OrganizationID]
	if !ok {
		return relTarget(EntityOrganization, inv.OrganizationID)
	}
	b.check(kindOrg, o.ID, o.Version)
	val := assignmentValue{CreatedAt: now}
	mk := memberKey(o.ID, userID)
	if ver, member := st.users[o.ID][userID]; member {
		b.check(kindOrgUser, mk, ver)
	} else {
		b.check(kindUser, userID, d.st.users[userID].Version)
		b.put(kindOrgUser, mk, 0, val)
	}
	for _, roleID := range inv.RoleIDs {
		if err := d.checkAssignable(b, RoleUser, roleID); err != nil {
			return err
		}
		if _, has := st.userRoles[mk][roleID]; !has {
			b.put(kindOrgUserRole, memberKey(mk, roleID), 0, val)
		}
	}
	return nil
}

// DeleteOrganizationInvitation deletes an invitation.
func (d *Directory) DeleteOrganizationInvitation(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		if _, ok := d.st.org.invitations[id]; !ok {
			return notFound(EntityOrganizationInvitation, id)
		}
		d.delInvitation(b, id)
		return nil
	})
}

// ProvisionOrganizationsByEmailDomain is Logto's just-in-time provisioning by email
// domain, for the sign-up flow to call once the user exists: the user joins every
// organization that lists the domain of email (compared case-insensitively; Logto
// compares it as stored) with that organization's just-in-time roles, in one batch.
// It returns the ids of the organizations the user newly joined. Logto does not run
// it for users created through the Management API, and neither does Latch.
func (d *Directory) ProvisionOrganizationsByEmailDomain(ctx context.Context, userID, email string) ([]string, error) {
	_, domain, ok := strings.Cut(email, "@")
	if !ok || domain == "" {
		return nil, nil
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var joined []string
	err := d.commit(ctx, func(b *batch) error {
		joined = nil
		st := &d.st.org
		u, ok := d.st.users[userID]
		if !ok {
			return notFound(EntityUser, userID)
		}
		b.check(kindUser, userID, u.Version)
		val := assignmentValue{CreatedAt: d.nowMs()}
		for orgID, j := range st.jit {
			if _, exists := st.orgs[orgID]; !exists ||
				!slices.ContainsFunc(j.EmailDomains, func(s string) bool { return strings.EqualFold(s, domain) }) {
				continue
			}
			b.check(kindOrgJIT, orgID, j.Version)
			mk := memberKey(orgID, userID)
			if ver, member := st.users[orgID][userID]; member {
				b.check(kindOrgUser, mk, ver)
			} else {
				b.put(kindOrgUser, mk, 0, val)
				joined = append(joined, orgID)
			}
			for _, roleID := range j.RoleIDs {
				if r, ok := st.roles[roleID]; !ok || r.Type != RoleUser {
					continue // a MachineToMachine JIT role cannot go to a user
				}
				if _, has := st.userRoles[mk][roleID]; !has {
					b.put(kindOrgUserRole, memberKey(mk, roleID), 0, val)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(joined)
	return joined, nil
}
