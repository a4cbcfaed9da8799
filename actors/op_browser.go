package actors

import (
	"context"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
)

// Adapters that implement op's interfaces of the browser flows (authorize, resume, end
// session, the Experience API) and of the Management API's sessions and grants over the
// grains. Every proto conversion of those flows lives here; each method is one Client
// call with the caller's deadline. Errors are the grains' (see Client).

var (
	_ op.SessionGrains    = BrowserSessions{}
	_ op.GrantGrains      = BrowserGrants{}
	_ op.GrantAdmin       = BrowserGrants{}
	_ op.Interactions     = BrowserInteractions{}
	_ op.InteractionSteps = BrowserInteractions{}
	_ op.AccountGrains    = AccountAdmin{}
)

// BrowserSessions is the Session grain for op.Browser.
type BrowserSessions struct{ c *Client }

// BrowserGrants is the Grant grain for op.Browser and op.Sessions.
type BrowserGrants struct{ c *Client }

// BrowserInteractions is the Interaction grain for op.Browser and the Experience API.
type BrowserInteractions struct{ c *Client }

// AccountAdmin is the account index and the administrative Session requests for
// op.Sessions.
type AccountAdmin struct{ c *Client }

// BrowserSessions returns the Session grain adapter.
func (c *Client) BrowserSessions() BrowserSessions { return BrowserSessions{c} }

// BrowserGrants returns the Grant grain adapter of the browser flows.
func (c *Client) BrowserGrants() BrowserGrants { return BrowserGrants{c} }

// BrowserInteractions returns the Interaction grain adapter.
func (c *Client) BrowserInteractions() BrowserInteractions { return BrowserInteractions{c} }

// AccountAdmin returns the account index adapter.
func (c *Client) AccountAdmin() AccountAdmin { return AccountAdmin{c} }

// ---- Session ----

func (a BrowserSessions) Create(ctx context.Context, s op.NewSession) (*op.Session, error) {
	rec, err := a.c.CreateSession(ctx, s.ID, &msg.SessionRecord{
		AccountId:  s.AccountID,
		SecretHash: HashSecret(s.Secret),
		LoginAtMs:  ms(s.LoginAt),
		Amr:        s.AMR,
	})
	if err != nil {
		return nil, err
	}
	return sessionFromProto(s.ID, rec), nil
}

func (a BrowserSessions) Session(ctx context.Context, id, secret string) (*op.Session, error) {
	rec, err := a.c.Session(ctx, id, secret)
	if err != nil {
		return nil, err
	}
	return sessionFromProto(id, rec), nil
}

func (a BrowserSessions) AddClient(ctx context.Context, id, secret string, cl op.SessionClient) (*op.Session, error) {
	rec, err := a.c.AddSessionClient(ctx, id, secret,
		&msg.SessionClient{ClientId: cl.ClientID, GrantId: cl.GrantID, Sid: cl.SID}, zeroTime)
	if err != nil {
		return nil, err
	}
	return sessionFromProto(id, rec), nil
}

func (a BrowserSessions) End(ctx context.Context, id, secret string, revoke op.GrantRevocation, keep []string) (*op.Session, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	rec, err := Call[*msg.SessionRecord](ctx, a.c.node, SessionKindName, id,
		&msg.SessionEnd{Secret: secret, RevokeGrants: revocationToProto(revoke), KeepClientIds: keep})
	if err != nil {
		return nil, err
	}
	return sessionFromProto(id, rec), nil
}

// ---- Grant ----

func (a BrowserGrants) Ensure(ctx context.Context, grantID string, g op.GrantEnsure) error {
	_, err := a.c.EnsureGrant(ctx, grantID, &msg.GrantEnsure{
		AccountId: g.AccountID, ClientId: g.ClientID,
		Scopes: g.Scopes, Resources: g.Resources,
		SessionId: g.SessionID, Sid: g.SID,
	})
	return err
}

func (a BrowserGrants) IssueCode(ctx context.Context, grantID string, code op.AuthCode) error {
	return a.c.IssueCode(ctx, grantID, &msg.CodeRecord{
		Hash:                HashSecret(code.Secret),
		RedirectUri:         code.RedirectURI,
		CodeChallenge:       code.CodeChallenge,
		CodeChallengeMethod: code.CodeChallengeMethod,
		Nonce:               code.Nonce,
		Scopes:              code.Scopes,
		Resources:           code.Resources,
		AuthTime:            code.AuthTime.Unix(),
		Sid:                 code.SID,
		Amr:                 code.AMR,
	})
}

func (a BrowserGrants) CheckGrant(ctx context.Context, id string) (*op.UserGrant, error) {
	rec, err := a.c.CheckGrant(ctx, id)
	if err != nil {
		return nil, err
	}
	g := grantFromProto(id, rec)
	return &g, nil
}

func (a BrowserGrants) RevokeGrant(ctx context.Context, id string) error {
	return a.c.RevokeGrant(ctx, id)
}

func (a BrowserGrants) ForgetSessionGrant(ctx context.Context, sessionID, grantID string) error {
	return a.c.ForgetSessionGrant(ctx, sessionID, grantID)
}

// ---- Interaction ----

func (a BrowserInteractions) Create(ctx context.Context, it *op.Interaction) error {
	rec := &msg.InteractionRecord{
		Uid:       it.UID,
		Request:   authRequestToProto(it.Request),
		SessionId: it.SessionID,
		// An interaction created signed in already (the consent page for a live
		// session, op/consent.go).
		AccountId: it.AccountID,
		Submitted: it.Submitted,
		Amr:       it.AMR,
	}
	if !it.LoginAt.IsZero() {
		rec.LoginAtMs = it.LoginAt.UnixMilli()
	}
	_, err := a.c.CreateInteraction(ctx, rec)
	return err
}

func (a BrowserInteractions) Interaction(ctx context.Context, uid string) (*op.Interaction, error) {
	return interactionFromProto(a.c.Interaction(ctx, uid))
}

func (a BrowserInteractions) Submit(ctx context.Context, uid string, amr []string) (*op.Interaction, error) {
	return interactionFromProto(a.c.SubmitInteraction(ctx, uid, zeroTime, amr))
}

func (a BrowserInteractions) Consume(ctx context.Context, uid string) (*op.Interaction, error) {
	return interactionFromProto(a.c.ConsumeInteraction(ctx, uid))
}

func (a BrowserInteractions) SetEvent(ctx context.Context, uid, event string, startOver bool) (*op.Interaction, error) {
	if startOver {
		return interactionFromProto(a.c.StartInteraction(ctx, uid, event))
	}
	return interactionFromProto(a.c.SetInteractionEvent(ctx, uid, event))
}

func (a BrowserInteractions) AddVerification(ctx context.Context, uid string, v op.Verification) (*op.Interaction, error) {
	return interactionFromProto(a.c.AddVerification(ctx, uid, &msg.Verification{
		Id:              v.ID,
		Type:            v.Type,
		UserId:          v.UserID,
		VerifiedAtMs:    ms(v.VerifiedAt),
		IdentifierType:  v.IdentifierType,
		IdentifierValue: v.IdentifierValue,
	}))
}

func (a BrowserInteractions) Identify(ctx context.Context, uid, verificationID, accountID string) (*op.Interaction, error) {
	return interactionFromProto(a.c.Identify(ctx, uid, verificationID, accountID))
}

func (a BrowserInteractions) SetProfile(ctx context.Context, uid, username, passwordHash string) (*op.Interaction, error) {
	return interactionFromProto(a.c.SetInteractionProfile(ctx, uid, username, passwordHash))
}

// ---- Account index and administrative Session requests ----

func (a AccountAdmin) AccountSessions(ctx context.Context, accountID string) ([]op.Session, error) {
	ss, err := a.c.AccountSessions(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]op.Session, 0, len(ss))
	for _, s := range ss {
		out = append(out, *sessionFromProto(s.ID, s.Record))
	}
	return out, nil
}

func (a AccountAdmin) AccountGrants(ctx context.Context, accountID string) ([]op.UserGrant, error) {
	gs, err := a.c.AccountGrants(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]op.UserGrant, 0, len(gs))
	for _, g := range gs {
		out = append(out, grantFromProto(g.ID, g.Record))
	}
	return out, nil
}

func (a AccountAdmin) PeekSession(ctx context.Context, id string) (*op.Session, error) {
	rec, err := a.c.PeekSession(ctx, id)
	if err != nil {
		return nil, err
	}
	return sessionFromProto(id, rec), nil
}

func (a AccountAdmin) RevokeSession(ctx context.Context, id string, revoke op.GrantRevocation, keep []string) (*op.Session, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	rec, err := Call[*msg.SessionRecord](ctx, a.c.node, SessionKindName, id,
		&msg.SessionRevoke{RevokeGrants: revocationToProto(revoke), KeepClientIds: keep})
	if err != nil {
		return nil, err
	}
	return sessionFromProto(id, rec), nil
}

func (a AccountAdmin) RevokeAccount(ctx context.Context, accountID string) ([]op.Session, error) {
	ended, err := a.c.RevokeAccount(ctx, accountID)
	out := make([]op.Session, 0, len(ended))
	for _, e := range ended {
		out = append(out, *sessionFromProto(e.ID, e.Record))
	}
	return out, err
}

// ---- Conversions ----

var zeroTime = msTime(0)

func revocationToProto(r op.GrantRevocation) msg.GrantRevocation {
	switch r {
	case op.RevokeOnline:
		return msg.GrantRevocation_GRANT_REVOCATION_ONLINE
	case op.RevokeAll:
		return msg.GrantRevocation_GRANT_REVOCATION_ALL
	}
	return msg.GrantRevocation_GRANT_REVOCATION_NONE
}

func sessionFromProto(id string, r *msg.SessionRecord) *op.Session {
	s := &op.Session{
		ID:        id,
		AccountID: r.GetAccountId(),
		LoginAt:   msTime(r.GetLoginAtMs()),
		AMR:       r.GetAmr(),
		CreatedAt: msTime(r.GetCreatedAtMs()),
		ExpiresAt: msTime(r.GetExpiresAtMs()),
	}
	for _, cl := range r.GetClients() {
		s.Clients = append(s.Clients, op.SessionClient{ClientID: cl.GetClientId(), GrantID: cl.GetGrantId(), SID: cl.GetSid()})
	}
	return s
}

func grantFromProto(id string, r *msg.GrantRecord) op.UserGrant {
	return op.UserGrant{
		ID:        id,
		AccountID: r.GetAccountId(),
		ClientID:  r.GetClientId(),
		SessionID: r.GetSessionId(),
		Scopes:    r.GetScopes(),
		Resources: r.GetResources(),
		CreatedAt: msTime(r.GetCreatedAtMs()),
		ExpiresAt: msTime(r.GetExpiresAtMs()),
	}
}

func interactionFromProto(r *msg.InteractionRecord, err error) (*op.Interaction, error) {
	if err != nil {
		return nil, err
	}
	it := &op.Interaction{
		UID:                 r.GetUid(),
		Request:             authRequestFromProto(r.GetRequest()),
		SessionID:           r.GetSessionId(),
		Event:               r.GetEvent(),
		AccountID:           r.GetAccountId(),
		ProfileUsername:     r.GetProfileUsername(),
		ProfilePasswordHash: r.GetProfilePasswordHash(),
		Submitted:           r.GetSubmitted(),
		LoginAt:             msTime(r.GetLoginAtMs()),
		AMR:                 r.GetAmr(),
		CreatedAt:           msTime(r.GetCreatedAtMs()),
		ExpiresAt:           msTime(r.GetExpiresAtMs()),
	}
	for _, v := range r.GetVerifications() {
		it.Verifications = append(it.Verifications, op.Verification{
			ID: v.GetId(), Type: v.GetType(), UserID: v.GetUserId(), VerifiedAt: msTime(v.GetVerifiedAtMs()),
			IdentifierType: v.GetIdentifierType(), IdentifierValue: v.GetIdentifierValue(),
		})
	}
	return it, nil
}

func authRequestToProto(r *oidcflow.AuthRequest) *msg.AuthRequest {
	if r == nil {
		return nil
	}
	return &msg.AuthRequest{
		ClientId:            r.ClientID,
		RedirectUri:         r.RedirectURI,
		Scopes:              r.Scopes,
		State:               r.State,
		Nonce:               r.Nonce,
		CodeChallenge:       r.CodeChallenge,
		CodeChallengeMethod: r.CodeChallengeMethod,
		Resources:           r.Resources,
		Prompts:             r.Prompts,
		LoginHint:           r.LoginHint,
		ResponseMode:        r.ResponseMode,
		MaxAge:              r.MaxAge,
		UiLocales:           r.UILocales,
	}
}

func authRequestFromProto(p *msg.AuthRequest) *oidcflow.AuthRequest {
	return &oidcflow.AuthRequest{
		ClientID:            p.GetClientId(),
		RedirectURI:         p.GetRedirectUri(),
		Scopes:              p.GetScopes(),
		State:               p.GetState(),
		Nonce:               p.GetNonce(),
		CodeChallenge:       p.GetCodeChallenge(),
		CodeChallengeMethod: p.GetCodeChallengeMethod(),
		Resources:           p.GetResources(),
		Prompts:             p.GetPrompts(),
		LoginHint:           p.GetLoginHint(),
		ResponseMode:        p.GetResponseMode(),
		MaxAge:              p.GetMaxAge(),
		UILocales:           p.GetUiLocales(),
	}
}
