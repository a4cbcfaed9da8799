package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/mail"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Logto's /api/organization-invitations. Latch has no email connector yet: an
// invitation created with a messagePayload, and POST /:id/message, answer 501
// connector.not_found exactly as Logto does in a tenant without an email connector
// (and, as Logto, nothing is stored then). Invitations created with
// "messagePayload": false (the default) work fully; accepting one makes the user a
// member with the invitation's roles.

// organizationInvitationJSON is Logto's OrganizationInvitationEntity.
type organizationInvitationJSON struct {
	TenantID          string                     `json:"tenantId"`
	ID                string                     `json:"id"`
	InviterID         *string                    `json:"inviterId"`
	Invitee           string                     `json:"invitee"`
	AcceptedUserID    *string                    `json:"acceptedUserId"`
	OrganizationID    string                     `json:"organizationId"`
	Status            directory.InvitationStatus `json:"status"`
	CreatedAt         int64                      `json:"createdAt"`
	UpdatedAt         int64                      `json:"updatedAt"`
	ExpiresAt         int64                      `json:"expiresAt"`
	OrganizationRoles []roleRefJSON              `json:"organizationRoles"`
}

func (s *Server) invitationView(inv *directory.OrganizationInvitation) organizationInvitationJSON {
	return organizationInvitationJSON{
		TenantID: tenantID, ID: inv.ID, InviterID: inv.InviterID, Invitee: inv.Invitee,
		AcceptedUserID: inv.AcceptedUserID, OrganizationID: inv.OrganizationID,
		Status:    inv.EffectiveStatus(s.now().UnixMilli()),
		CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt, ExpiresAt: inv.ExpiresAt,
		OrganizationRoles: roleRefs(s.dir.OrganizationRolesOf(inv.RoleIDs)),
	}
}

// noEmailConnector is Logto's answer when a message must be sent and no email
// connector is configured.
func noEmailConnector() *APIError {
	return apiErr(http.StatusNotImplemented, "connector.not_found", "Can not find any available connector for type: Email.")
}

// listOrganizationInvitations answers every invitation matching organizationId,
// inviterId and invitee (case-insensitive), newest first, unpaged (as Logto).
func (s *Server) listOrganizationInvitations(r *http.Request, _ httprouter.Params) (int, any, error) {
	q := r.URL.Query()
	invs := s.dir.OrganizationInvitations(directory.InvitationFilter{
		OrganizationID: q.Get("organizationId"), InviterID: q.Get("inviterId"), Invitee: q.Get("invitee"),
	})
	return http.StatusOK, mapSlice(invs, s.invitationView), nil
}

type invitationCreateBody struct {
	InviterID      *string         `json:"inviterId"`
	Invitee        *string         `json:"invitee"`
	OrganizationID *string         `json:"organizationId"`
	ExpiresAt      *int64          `json:"expiresAt"`
	RoleIDs        []string        `json:"organizationRoleIds"`
	MessagePayload json.RawMessage `json:"messagePayload"`
}

// validEmail is a plain address: what mail.ParseAddress accepts and gives back
// unchanged, with a dot in the domain.
func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := len(s) - 1
	for at >= 0 && s[at] != '@' {
		at--
	}
	for i := at + 1; i < len(s)-1; i++ {
		if s[i] == '.' && i > at+1 {
			return true
		}
	}
	return false
}

// createOrganizationInvitation answers 201 with the invitation.
func (s *Server) createOrganizationInvitation(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b invitationCreateBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	switch {
	case b.Invitee == nil || !validEmail(*b.Invitee):
		return 0, nil, invalidInput("`invitee` must be an email address")
	case b.OrganizationID == nil:
		return 0, nil, invalidInput("`organizationId` is required")
	case b.ExpiresAt == nil:
		return 0, nil, invalidInput("`expiresAt` is required")
	}
	sendMail := false
	switch p := string(b.MessagePayload); {
	case p == "" || p == "false":
	case len(p) > 0 && p[0] == '{':
		sendMail = true
	default:
		return 0, nil, invalidInput("`messagePayload` must be an object or false")
	}
	if *b.ExpiresAt <= s.now().UnixMilli() {
		return 0, nil, apiErr(http.StatusBadRequest, "request.invalid_input", "Input is invalid. The value of `expiresAt` must be in the future.")
	}
	// With a message to send, Logto creates the invitation, fails to find an email
	// connector and rolls back: the same checks answer first, then 501.
	inv, err := s.dir.CreateOrganizationInvitation(r.Context(), directory.NewOrganizationInvitation{
		InviterID: b.InviterID, Invitee: *b.Invitee, OrganizationID: *b.OrganizationID,
		ExpiresAt: *b.ExpiresAt, RoleIDs: b.RoleIDs, CheckOnly: sendMail,
	})
	if err != nil {
		return 0, nil, orgError(err)
	}
	if sendMail {
		return 0, nil, noEmailConnector()
	}
	return http.StatusCreated, s.invitationView(inv), nil
}

func (s *Server) getOrganizationInvitation(_ *http.Request, p httprouter.Params) (int, any, error) {
	inv, ok := s.dir.OrganizationInvitation(p.ByName("id"))
	if !ok {
		return 0, nil, notFoundResource()
	}
	return http.StatusOK, s.invitationView(inv), nil
}

func (s *Server) deleteOrganizationInvitation(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteOrganizationInvitation(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, deleteError(err)
	}
	return http.StatusNoContent, nil, nil
}

// sendOrganizationInvitationMessage is POST /:id/message: 404 for a missing
// invitation, else 501 (no email connector).
func (s *Server) sendOrganizationInvitationMessage(r *http.Request, p httprouter.Params) (int, any, error) {
	var b map[string]json.RawMessage
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if _, ok := s.dir.OrganizationInvitation(p.ByName("id")); !ok {
		return 0, nil, notFoundResource()
	}
	return 0, nil, noEmailConnector()
}

// setOrganizationInvitationStatus is PUT /:id/status {status: Accepted | Revoked,
// acceptedUserId}.
func (s *Server) setOrganizationInvitationStatus(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		Status         directory.InvitationStatus `json:"status"`
		AcceptedUserID *string                    `json:"acceptedUserId"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.Status != directory.InvitationAccepted && b.Status != directory.InvitationRevoked {
		return 0, nil, invalidInput("`status` must be Accepted or Revoked")
	}
	inv, err := s.dir.SetOrganizationInvitationStatus(r.Context(), p.ByName("id"), b.Status, valueOf(b.AcceptedUserID))
	if err != nil {
		if errors.Is(err, directory.ErrNotFound) {
			return 0, nil, notFoundResource()
		}
		return 0, nil, orgError(err)
	}
	return http.StatusOK, s.invitationView(inv), nil
}

func valueOf(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
