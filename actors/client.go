package actors

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Client is how the HTTP edge reaches the grains: one method per grain request, each a
// thin Call with the caller's deadline. It holds no state beyond the node and is safe
// for concurrent use.
//
// Errors: a grain's decision comes back as *oauth.Error (compare with errors.Is, e.g.
// errors.Is(err, oauth.InvalidGrant(""))), with the status to answer. Interaction
// methods answer Logto codes in Code ("session.not_found", ...; see errors.go), which
// the Experience API passes through as {"code", "message"}. An unreachable grain is an
// error matching cluster.ErrUnavailable (503 temporarily_unavailable); anything else is
// a server_error.
//
// Token strings are "<grain key>.<secret>" (NewToken, SplitToken); grains keep only
// HashSecret(secret). Records in replies are copies: callers may keep or change them.
type Client struct {
	node *cluster.Node
}

// NewClient wraps a started cluster member.
func NewClient(n *cluster.Node) *Client { return &Client{node: n} }

// ms converts t to protobuf milliseconds; the zero time is 0 ("the grain's clock").
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// ---- Interaction (kind "interaction", keyed by uid; Logto error codes) ----

// CreateInteraction stores a new interaction under rec.Uid; it lives Lifetimes.Interaction
// from rec.CreatedAtMs (now when 0). A taken uid is invalid_request (409).
func (c *Client) CreateInteraction(ctx context.Context, rec *msg.InteractionRecord) (*msg.InteractionRecord, error) {
	if rec.GetUid() == "" {
		return nil, errInvalidInput("interaction uid is required")
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, rec.GetUid(), &msg.InteractionCreate{Record: rec})
}

// Interaction reads a live interaction: session.not_found (404) when absent or expired.
func (c *Client) Interaction(ctx context.Context, uid string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid, &msg.InteractionGet{})
}

// SetInteractionEvent sets the event: SignIn, Register or ForgotPassword (else
// guard.invalid_input 400; ForgotPassword and the others cannot be interchanged:
// session.not_supported_for_forgot_password 400).
func (c *Client) SetInteractionEvent(ctx context.Context, uid, event string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid, &msg.InteractionSetEvent{Event: event})
}

// StartInteraction starts the interaction over with event, as Logto's PUT
// /api/experience does: earlier verifications, the identified account and the Register
// profile are cleared; the authorization request is kept.
func (c *Client) StartInteraction(ctx context.Context, uid, event string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid, &msg.InteractionSetEvent{Event: event, StartOver: true})
}

// AddVerification records a proof (id and type required); one of the same type or id
// is replaced, as in Logto.
func (c *Client) AddVerification(ctx context.Context, uid string, v *msg.Verification) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid, &msg.InteractionAddVerification{Verification: v})
}

// Identify sets the interaction's account: from the verification verificationID (which
// must exist, 404 session.verification_session_not_found, and name a user, 404
// user.user_not_exist) or, when verificationID is empty, accountID (after Register
// created the user). The event must be set (404 session.interaction_not_found); another
// account already identified is 409 session.identity_conflict.
func (c *Client) Identify(ctx context.Context, uid, verificationID, accountID string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid,
		&msg.InteractionIdentify{VerificationId: verificationID, AccountId: accountID})
}

// SetInteractionProfile records Register profile fields; empty arguments leave a field
// as it is.
func (c *Client) SetInteractionProfile(ctx context.Context, uid, username, passwordHash string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid,
		&msg.InteractionSetProfile{Username: username, PasswordHash: passwordHash})
}

// SubmitInteraction marks the sign-in finished at loginAt (now when zero) with amr. An
// unidentified interaction is 404 session.identifier_not_found.
func (c *Client) SubmitInteraction(ctx context.Context, uid string, loginAt time.Time, amr []string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid,
		&msg.InteractionSubmit{LoginAtMs: ms(loginAt), Amr: amr})
}

// ConsumeInteraction returns the submitted interaction and consumes it (one-time resume
// at /oidc/auth/<uid>). Not submitted: 400 session.interaction_not_submitted (the
// interaction stays); absent or already consumed: 404 session.not_found.
func (c *Client) ConsumeInteraction(ctx context.Context, uid string) (*msg.InteractionRecord, error) {
	if uid == "" {
		return nil, errSessionNotFound()
	}
	return Call[*msg.InteractionRecord](ctx, c.node, InteractionKindName, uid, &msg.InteractionConsume{
		Attempt: rand.Text(), // one per consume, the same on each send of it
	})
}

// ---- Session (kind "session", keyed by session id; cookie "<id>.<secret>") ----

// CreateSession stores a new session: rec needs account_id and secret_hash
// (HashSecret(secret)); expires_at_ms defaults to Lifetimes.Session from now. A taken id is
// invalid_request (409).
func (c *Client) CreateSession(ctx context.Context, id string, rec *msg.SessionRecord) (*msg.SessionRecord, error) {
	if id == "" {
		return nil, oauth.InvalidRequest("session id is required")
	}
	return Call[*msg.SessionRecord](ctx, c.node, SessionKindName, id, &msg.SessionCreate{Record: rec})
}

// Session returns the live session whose secret matches; absent, expired or a wrong
// secret is login_required (400).
func (c *Client) Session(ctx context.Context, id, secret string) (*msg.SessionRecord, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	return Call[*msg.SessionRecord](ctx, c.node, SessionKindName, id, &msg.SessionGet{Secret: secret})
}

// AddSessionClient upserts cl (by client_id) and extends the session to expiresAt
// (Lifetimes.Session from now when zero; never shortens). login_required as Session.
func (c *Client) AddSessionClient(ctx context.Context, id, secret string, cl *msg.SessionClient, expiresAt time.Time) (*msg.SessionRecord, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	return Call[*msg.SessionRecord](ctx, c.node, SessionKindName, id,
		&msg.SessionAddClient{Secret: secret, Client: cl, ExpiresAtMs: ms(expiresAt)})
}

// EndSession deletes the session and returns what it was (its clients, for logout).
// login_required as Session.
func (c *Client) EndSession(ctx context.Context, id, secret string) (*msg.SessionRecord, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	return Call[*msg.SessionRecord](ctx, c.node, SessionKindName, id, &msg.SessionEnd{Secret: secret})
}

// ---- Grant (kind "grant", keyed by grant id; codes and opaque tokens "<grant id>.<secret>") ----

// EnsureGrant creates the grant (account_id and client_id required, expiry Lifetimes.Grant from
// now when 0) or merges scopes and resources into it, extending its expiry up to
// g.ExpiresAtMs. A revoked grant, or one of another account or client, is
// invalid_grant: use a new grant id. Replies carry the grant without codes and tokens.
func (c *Client) EnsureGrant(ctx context.Context, grantID string, g *msg.GrantEnsure) (*msg.GrantRecord, error) {
	if grantID == "" {
		return nil, oauth.InvalidRequest("grant id is required")
	}
	if g == nil {
		g = &msg.GrantEnsure{}
	}
	return Call[*msg.GrantRecord](ctx, c.node, GrantKindName, grantID, g)
}

// IssueCode stores an authorization code: code.Hash = HashSecret(secret), expiry Lifetimes.Code
// (60 s) when 0. invalid_grant when the grant is revoked or expired.
func (c *Client) IssueCode(ctx context.Context, grantID string, code *msg.CodeRecord) error {
	if grantID == "" {
		return oauth.InvalidGrant("grant not found or expired")
	}
	_, err := Call[*msg.Ack](ctx, c.node, GrantKindName, grantID, &msg.GrantIssueCode{Code: code})
	return err
}

// LookupAccessToken finds a live opaque access token by its secret; otherwise
// invalid_token (401). The grain decides expiry by its own clock.
func (c *Client) LookupAccessToken(ctx context.Context, grantID, secret string) (*msg.AccessTokenInfo, error) {
	if grantID == "" {
		return nil, oauth.InvalidToken("access token is invalid or expired")
	}
	return Call[*msg.AccessTokenInfo](ctx, c.node, GrantKindName, grantID, &msg.GrantLookupAccessToken{Secret: secret})
}

// CheckGrant returns the grant if it is alive; invalid_grant otherwise.
func (c *Client) CheckGrant(ctx context.Context, grantID string) (*msg.GrantRecord, error) {
	if grantID == "" {
		return nil, oauth.InvalidGrant("grant not found or expired")
	}
	return Call[*msg.GrantRecord](ctx, c.node, GrantKindName, grantID, &msg.GrantCheck{})
}

// RevokeGrant revokes the grant, its codes and opaque access tokens, and tells its
// refresh families (asynchronously; each family also checks its grant before every
// use). Idempotent: an absent or revoked grant is no error.
func (c *Client) RevokeGrant(ctx context.Context, grantID string) error {
	if grantID == "" {
		return nil
	}
	_, err := Call[*msg.Ack](ctx, c.node, GrantKindName, grantID, &msg.GrantRevoke{})
	return err
}

// ---- RefreshFamily (kind "refresh", keyed by family id; tokens "<family id>.<secret>") ----

// UseRefreshToken presents a refresh token for clientID (the grain decides expiry by
// its own clock). Rotation, the 3 s reuse window and reuse detection (which revokes the family
// and its grant) are decided by the grain; see refreshGrain.use. Every refusal is
// invalid_grant; temporarily_unavailable (503) when the grant could not be checked.
// The client must use RefreshUsed.NextSecret next ("<familyID>.<NextSecret>").
// A non-empty resource or scopes must have been granted to the family (invalid_target /
// invalid_scope otherwise); that is checked before any rotation. A non-nil accessToken
// (hash, issued and expiry times) is the opaque access token the response will carry:
// the family's grant stores it, with the request's scopes or else the family's, as part
// of the use, so a refresh is one call.
func (c *Client) UseRefreshToken(ctx context.Context, familyID, secret, clientID, resource string, scopes []string,
	accessToken *msg.AccessTokenRecord) (*msg.RefreshUsed, error) {
	if familyID == "" {
		return nil, oauth.InvalidGrant("refresh token not found")
	}
	return Call[*msg.RefreshUsed](ctx, c.node, RefreshKindName, familyID,
		&msg.RefreshFamilyUse{Secret: secret, ClientId: clientID, Resource: resource, Scopes: scopes, AccessToken: accessToken})
}

// RevokeRefreshFamily revokes the family. Idempotent. It does not revoke the grant
// (RFC 7009 2.1 lets the server do so; call RevokeGrant as well for that).
func (c *Client) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	if familyID == "" {
		return nil
	}
	_, err := Call[*msg.Ack](ctx, c.node, RefreshKindName, familyID, &msg.RefreshFamilyRevoke{})
	return err
}
