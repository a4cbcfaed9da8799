// Package hooks is Latch's side of Logto's webhooks: the events a hook may subscribe
// to, the payloads Logto posts (@logto/schemas HookEventPayload), the dispatcher that
// turns one event into one durable outbox entry per subscribed hook, the test sends of
// POST /api/hooks/{id}/test, and the delivery logs (Logto's TriggerHook.<event> audit
// log keys, which /api/hooks/{id}/recent-logs reads).
//
// Delivery itself is the outbox's (package outbox): at least once, retried with
// backoff, across restarts and, with the hot state replicated, node deaths. Each
// request is signed with the hook's signing key (header logto-signature-sha-256:
// HMAC-SHA256 of the raw body, hex).
//
// It depends on directory (the hooks), outbox (the queue) and audit (the delivery
// logs); http and cmd/latch use it.
package hooks

import (
	"slices"
	"time"
)

// Logto's interaction hook events (InteractionHookEvent).
const (
	PostRegister      = "PostRegister"
	PostSignIn        = "PostSignIn"
	PostResetPassword = "PostResetPassword"
	// PostSignInAdaptiveMfaTriggered is accepted in a hook's events; Latch has no
	// adaptive MFA and never emits it.
	PostSignInAdaptiveMfaTriggered = "PostSignInAdaptiveMfaTriggered"
)

// Logto's data hook events Latch emits by name outside the route table.
const (
	UserCreated                   = "User.Created"
	UserDeleted                   = "User.Deleted"
	OrganizationMembershipUpdated = "Organization.Membership.Updated"
)

// Events are the hook events a hook may subscribe to, in Logto's order (hookEvents
// without its dev-feature events). Identifier.Lockout, Message.RateLimited,
// Grant.LimitExceeded and PostSignInAdaptiveMfaTriggered are accepted as Logto does;
// Latch does not emit them (yet).
var events = []string{
	PostRegister, PostSignIn, PostSignInAdaptiveMfaTriggered, PostResetPassword,
	"User.Created", "User.Deleted", "User.Data.Updated", "User.SuspensionStatus.Updated",
	"Role.Created", "Role.Deleted", "Role.Data.Updated", "Role.Scopes.Updated",
	"Scope.Created", "Scope.Deleted", "Scope.Data.Updated",
	"Organization.Created", "Organization.Deleted", "Organization.Data.Updated", "Organization.Membership.Updated",
	"OrganizationRole.Created", "OrganizationRole.Deleted", "OrganizationRole.Data.Updated", "OrganizationRole.Scopes.Updated",
	"OrganizationScope.Created", "OrganizationScope.Deleted", "OrganizationScope.Data.Updated",
	"Identifier.Lockout", "Message.RateLimited", "Grant.LimitExceeded",
}

// Events returns the hook events a hook may subscribe to (a fresh slice).
func Events() []string { return slices.Clone(events) }

// IsEvent reports whether e is one of Events.
func IsEvent(e string) bool { return slices.Contains(events, e) }

// InteractionEvent maps an interaction's event (Logto's InteractionEvent: SignIn,
// Register, ForgotPassword) to its hook event; "" for anything else.
func InteractionEvent(interactionEvent string) string {
	switch interactionEvent {
	case "SignIn":
		return PostSignIn
	case "Register":
		return PostRegister
	case "ForgotPassword":
		return PostResetPassword
	}
	return ""
}

// isInteractionEvent reports whether e is an interaction hook event.
func isInteractionEvent(e string) bool {
	switch e {
	case PostRegister, PostSignIn, PostResetPassword, PostSignInAdaptiveMfaTriggered:
		return true
	}
	return false
}

// Timestamp is a payload's createdAt: JavaScript's Date.toISOString (UTC, ms).
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
