package hooks

import "encoding/json"

// Application is a payload's application: pick(application, id, type, name,
// description).
type Application struct {
	ID          string  `json:"id"`
	Type        string  `json:"type"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// Payload is Logto's HookEventPayload, interaction and data kinds in one struct: a
// field a kind does not carry stays empty and is omitted.
//
//   - Interaction events (PostSignIn, ...): event, createdAt, interactionEvent,
//     sessionId, userAgent, userId, userIp, user, application.
//   - Management API data events (User.Created, Role.Deleted, ...): event, createdAt,
//     userAgent, ip, path, method, status, params, matchedRoute, data (the route's
//     response body; for User.Deleted the deleted user).
//   - Organization.Membership.Updated: the Management API fields and organizationId,
//     addedUserIds, removedUserIds, addedApplicationIds, removedApplicationIds (each
//     omitted when empty, at most MembershipDeltaCap ids).
//
// HookID is set per hook by the Dispatcher.
type Payload struct {
	Event     string `json:"event"`
	CreatedAt string `json:"createdAt"`

	InteractionEvent string          `json:"interactionEvent,omitempty"`
	SessionID        string          `json:"sessionId,omitempty"`
	UserAgent        string          `json:"userAgent,omitempty"`
	UserID           string          `json:"userId,omitempty"`
	UserIP           string          `json:"userIp,omitempty"`
	User             json.RawMessage `json:"user,omitempty"`
	IP               string          `json:"ip,omitempty"`
	ApplicationID    string          `json:"applicationId,omitempty"` // data events of the Experience API
	Application      *Application    `json:"application,omitempty"`

	Path         string            `json:"path,omitempty"`
	Method       string            `json:"method,omitempty"`
	Status       int               `json:"status,omitempty"`
	Params       map[string]string `json:"params,omitempty"`
	MatchedRoute string            `json:"matchedRoute,omitempty"`
	Data         json.RawMessage   `json:"data,omitempty"`

	OrganizationID        string   `json:"organizationId,omitempty"`
	AddedUserIDs          []string `json:"addedUserIds,omitempty"`
	RemovedUserIDs        []string `json:"removedUserIds,omitempty"`
	AddedApplicationIDs   []string `json:"addedApplicationIds,omitempty"`
	RemovedApplicationIDs []string `json:"removedApplicationIds,omitempty"`

	HookID string `json:"hookId"`
}

// MembershipDeltaCap bounds each id list of Organization.Membership.Updated (Logto's
// MEMBERSHIP_DELTA_CAP).
const MembershipDeltaCap = 5000

// CapDelta cuts ids to MembershipDeltaCap.
func CapDelta(ids []string) []string {
	if len(ids) > MembershipDeltaCap {
		return ids[:MembershipDeltaCap]
	}
	return ids
}
