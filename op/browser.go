package op

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"time"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/outbox"
)

// Browser runs the browser-side flows of the OpenID Provider: authorize (authorize.go),
// resume after sign-in (resume.go) and end session (end_session.go), over the Session,
// Grant and Interaction grains reached through the small interfaces below. Every field
// is a dependency; nothing is global. Safe for concurrent use once built.
type Browser struct {
	// Issuer is the OP's issuer, <endpoint>/oidc.
	Issuer    string
	Directory *directory.Directory
	// Keys verifies id_token_hint at the end-session endpoint (*oidcflow.KeyRing).
	Keys oidcflow.Verifier
	// Lifetimes is the one lifetime policy; the cookies of interactions and sessions
	// live as long as the grains they name.
	Lifetimes    oidcflow.Lifetimes
	Sessions     SessionGrains
	Grants       GrantGrains
	Interactions Interactions
	// Steps are the Experience API's requests to the Interaction grain (interaction.go).
	Steps InteractionSteps
	// Logouts queues back-channel logouts (*outbox.Worker); nil disables back-channel
	// logout (logged when a client would have got one).
	Logouts LogoutQueue
	Now     func() time.Time
	Rand    io.Reader
	Logger  *slog.Logger
}

// Validate reports every missing dependency at once.
func (b *Browser) Validate() error {
	var errs []error
	if b.Issuer == "" {
		errs = append(errs, errors.New("op: Browser.Issuer is required"))
	}
	if b.Directory == nil {
		errs = append(errs, errors.New("op: Browser.Directory is required"))
	}
	if b.Keys == nil {
		errs = append(errs, errors.New("op: Browser.Keys is required"))
	}
	if b.Sessions == nil || b.Grants == nil || b.Interactions == nil || b.Steps == nil {
		errs = append(errs, errors.New("op: Browser.Sessions, Grants, Interactions and Steps are required"))
	}
	if b.Now == nil || b.Rand == nil {
		errs = append(errs, errors.New("op: Browser.Now and Rand are required"))
	}
	if b.Lifetimes == (oidcflow.Lifetimes{}) {
		errs = append(errs, errors.New("op: Browser.Lifetimes is required (oidcflow.DefaultLifetimes())"))
	}
	return errors.Join(errs...)
}

func (b *Browser) log() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

// ---- Domain types the flows exchange with the grains ----

// Session is an OP browser session (the Session grain), without its secret.
type Session struct {
	ID        string
	AccountID string
	LoginAt   time.Time
	AMR       []string
	// Clients are the clients signed in through the session, oldest first.
	Clients   []SessionClient
	CreatedAt time.Time
	ExpiresAt time.Time
}

// SessionClient is one client signed in through a session: its grant and the sid put
// in its ID tokens (Back-Channel Logout 1.0).
type SessionClient struct {
	ClientID string
	GrantID  string
	SID      string
	// PersistsLogout: the grant holds offline_access, so it survives logout. Filled by
	// Sessions (the Management API view) only.
	PersistsLogout bool
}

// NewSession is a session to create; the grain keeps only a hash of Secret and decides
// its creation time and expiry (Lifetimes.Session) on its own clock.
type NewSession struct {
	ID, Secret string
	AccountID  string
	LoginAt    time.Time
	AMR        []string
}

// GrantRevocation says which grants of an ending session's clients the Session grain
// revokes.
type GrantRevocation int

const (
	// RevokeNone keeps every grant.
	RevokeNone GrantRevocation = iota
	// RevokeOnline revokes the grants without offline_access (RP-initiated logout).
	RevokeOnline
	// RevokeAll revokes every grant (but those of the clients the caller keeps).
	RevokeAll
)

// SessionGrains is the Session grain as the browser flows use it. A session that is
// absent, expired or whose secret does not match is an *oauth.Error login_required.
type SessionGrains interface {
	Create(ctx context.Context, s NewSession) (*Session, error)
	Session(ctx context.Context, id, secret string) (*Session, error)
	// AddClient records cl in the session (one entry per client) and extends it by
	// Lifetimes.Session on the grain's clock; the grain tells the account index of a
	// new grant.
	AddClient(ctx context.Context, id, secret string, cl SessionClient) (*Session, error)
	// End deletes the session; the grain then revokes the grants revoke selects (but
	// those of keepClients) and updates the account index. It returns what the session
	// was.
	End(ctx context.Context, id, secret string, revoke GrantRevocation, keepClients []string) (*Session, error)
}

// GrantEnsure creates a grant or merges scopes and resources into it.
type GrantEnsure struct {
	AccountID, ClientID string
	Scopes, Resources   []string
	SessionID, SID      string
}

// AuthCode is an authorization code to store; the grain keeps only a hash of Secret and
// decides its expiry (Lifetimes.Code).
type AuthCode struct {
	Secret              string
	RedirectURI         string
	CodeChallenge       string
	CodeChallengeMethod string
	Nonce               string
	Scopes, Resources   []string
	AuthTime            time.Time
	SID                 string
	// AMR are the RFC 8176 methods of the sign-in (the ID token's amr).
	AMR []string
}

// GrantGrains is the Grant grain as the browser flows use it. A revoked or expired
// grant, or one of another account or client, is *oauth.Error invalid_grant.
type GrantGrains interface {
	Ensure(ctx context.Context, grantID string, g GrantEnsure) error
	IssueCode(ctx context.Context, grantID string, c AuthCode) error
}

// LogoutQueue takes back-channel logouts for delivery; *outbox.Worker implements it.
// Enqueue returns once the logouts are durable and does not wait for their delivery.
type LogoutQueue interface {
	Enqueue(ctx context.Context, logouts ...outbox.Logout) error
}

var _ LogoutQueue = (*outbox.Worker)(nil)

// ---- Results shared by the flows ----

// CookieUpdate is a browser cookie the edge sets: Value for MaxAge.
type CookieUpdate struct {
	Value  string
	MaxAge time.Duration
}

// ClientResponse is an authorization response to deliver to the client at RedirectURI
// in ResponseMode (query, fragment or form_post): a code or an error.
type ClientResponse struct {
	RedirectURI  string
	ResponseMode string
	Params       url.Values
}

// isLoginRequired: the Session grain's answer for an absent, expired or foreign
// session.
func isLoginRequired(err error) bool {
	e, ok := oauth.From(err)
	return err != nil && ok && e.Code == oauth.CodeLoginRequired
}

// unavailable reports a failure to reach a grain (or an internal failure), as opposed
// to the grain's decision.
func unavailable(err error) bool {
	e, ok := oauth.From(err)
	return !ok || e.Code == oauth.CodeServerError || e.Code == oauth.CodeTemporarilyUnavailable
}

func loginRequired(desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeLoginRequired, Description: desc, Status: 400}
}

func consentRequired(desc string) *oauth.Error {
	return &oauth.Error{Code: oauth.CodeConsentRequired, Description: desc, Status: 400}
}
