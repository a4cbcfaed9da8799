package op

import (
	"context"
	"time"

	"github.com/latchid/latch/oidcflow"
)

// Interaction is a pending sign-in (the Interaction grain, keyed by UID): the
// authorization request /oidc/auth stored and the Experience API state. It lives
// Lifetimes.Interaction from its creation, on the grain's clock.
type Interaction struct {
	UID     string
	Request *oidcflow.AuthRequest
	// SessionID is the live browser session seen at /oidc/auth, if any.
	SessionID string
	// Event is "", "SignIn", "Register" or "ForgotPassword" (Logto's InteractionEvent).
	Event         string
	Verifications []Verification
	// AccountID is the identified user.
	AccountID string
	// The Register profile, collected before identification (never the plaintext
	// password).
	ProfileUsername     string
	ProfilePasswordHash string
	// Submitted: the user is signed in at LoginAt with AMR; Resume may continue.
	Submitted bool
	LoginAt   time.Time
	AMR       []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Verification is one proof recorded by the Experience API, e.g. a checked password.
type Verification struct {
	ID string
	// Type is Logto's verification type, e.g. "Password".
	Type string
	// UserID is the account the proof is for.
	UserID          string
	VerifiedAt      time.Time
	IdentifierType  string
	IdentifierValue string
}

// Interactions is the Interaction grain as the OP flows and the Experience API read and
// finish it. Its errors are Logto's, as *oauth.Error with a Logto code
// ("session.not_found" 404, ...), which the Experience API passes through.
type Interactions interface {
	// Create stores a new interaction under it.UID (creation time and expiry on the
	// grain's clock).
	Create(ctx context.Context, it *Interaction) error
	// Interaction reads a live interaction.
	Interaction(ctx context.Context, uid string) (*Interaction, error)
	// Submit marks the sign-in finished now (the grain's clock) with amr; an
	// unidentified interaction is session.identifier_not_found.
	Submit(ctx context.Context, uid string, amr []string) (*Interaction, error)
	// Consume returns the submitted interaction and deletes it (resume is one-time).
	Consume(ctx context.Context, uid string) (*Interaction, error)
}

// InteractionSteps are the Experience API's changes to an interaction.
type InteractionSteps interface {
	// SetEvent sets the event; startOver first clears verifications, the identified
	// account and the profile (Logto's PUT /api/experience).
	SetEvent(ctx context.Context, uid, event string, startOver bool) (*Interaction, error)
	// AddVerification records a proof (one of the same type or id is replaced).
	AddVerification(ctx context.Context, uid string, v Verification) (*Interaction, error)
	// Identify sets the account: from verificationID, or accountID when it is empty.
	Identify(ctx context.Context, uid, verificationID, accountID string) (*Interaction, error)
	// SetProfile stages Register profile fields; empty arguments keep a field.
	SetProfile(ctx context.Context, uid, username, passwordHash string) (*Interaction, error)
}
