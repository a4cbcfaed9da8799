package actors

import (
	"net/http"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
)

// maxVerifications bounds the verifications one interaction keeps.
const maxVerifications = 16

// Interaction events (Logto's InteractionEvent).
const (
	InteractionEventSignIn         = "SignIn"
	InteractionEventRegister       = "Register"
	InteractionEventForgotPassword = "ForgotPassword"
)

// interactionGrain is one Interaction (kind "interaction", keyed by interaction uid): a
// pending authorization request and its Experience API state, Lifetimes.Interaction
// (1 h) from its creation on the grain's clock. Its
// errors are Logto's ("session.not_found", ...; see errors.go), passed through by the
// Experience API.
type interactionGrain struct {
	grainBase[*msg.InteractionRecord]
}

func (g *interactionGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.init(m, expiryAt(func(r *msg.InteractionRecord) int64 { return r.GetExpiresAtMs() }))
	case *msg.InteractionCreate:
		c.Respond(g.create(m))
	case *msg.InteractionGet:
		c.Respond(g.get())
	case *msg.InteractionSetEvent:
		c.Respond(g.mutate(func(cur *msg.InteractionRecord, _ time.Time) error {
			if m.GetStartOver() {
				cur.Verifications = nil
				cur.AccountId = ""
				cur.ProfileUsername = ""
				cur.ProfilePasswordHash = ""
				cur.Submitted = false
				cur.LoginAtMs = 0
				cur.Amr = nil
				cur.Event = ""
			}
			return setEvent(cur, m.GetEvent())
		}))
	case *msg.InteractionAddVerification:
		c.Respond(g.mutate(func(cur *msg.InteractionRecord, now time.Time) error {
			return addVerification(cur, m.GetVerification(), now)
		}))
	case *msg.InteractionIdentify:
		c.Respond(g.mutate(func(cur *msg.InteractionRecord, _ time.Time) error { return identify(cur, m) }))
	case *msg.InteractionSetProfile:
		c.Respond(g.mutate(func(cur *msg.InteractionRecord, _ time.Time) error {
			if m.GetUsername() != "" {
				cur.ProfileUsername = m.GetUsername()
			}
			if m.GetPasswordHash() != "" {
				cur.ProfilePasswordHash = m.GetPasswordHash()
			}
			return nil
		}))
	case *msg.InteractionSubmit:
		c.Respond(g.mutate(func(cur *msg.InteractionRecord, now time.Time) error { return submit(cur, m, now) }))
	case *msg.InteractionConsume:
		c.Respond(g.consume(m))
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		cluster.Unhandled(c)
	}
}

func (g *interactionGrain) create(m *msg.InteractionCreate) proto.Message {
	now := g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.InteractionRecord) (*msg.InteractionRecord, *msg.InteractionRecord, error) {
		if cur.GetUid() != "" {
			if sameInteractionCreate(cur, m.GetRecord()) {
				// The same create again (the cluster re-sends a request whose shard changed
				// leader meanwhile, and the first send was committed): nobody but the creator
				// knows the uid before this answer, so nothing changed it since.
				return nil, nil, Keep(proto.Clone(cur))
			}
			return nil, nil, errExists("interaction")
		}
		next := proto.Clone(m.GetRecord()).(*msg.InteractionRecord)
		if next == nil {
			next = &msg.InteractionRecord{}
		}
		next.Uid = g.key
		if next.CreatedAtMs == 0 {
			next.CreatedAtMs = now.UnixMilli()
		}
		next.ExpiresAtMs = next.CreatedAtMs + g.env.life.Interaction.Milliseconds()
		if next.ExpiresAtMs <= now.UnixMilli() {
			return nil, nil, errInvalidInput("interaction created_at_ms is more than its TTL in the past")
		}
		return next, proto.Clone(next).(*msg.InteractionRecord), nil
	})
	return g.reply(rec, err)
}

// sameInteractionCreate reports whether cur is what the create of rec stored: rec with
// cur's uid, and cur's times where rec left them to the grain.
func sameInteractionCreate(cur, rec *msg.InteractionRecord) bool {
	want := proto.Clone(rec).(*msg.InteractionRecord)
	if want == nil {
		want = &msg.InteractionRecord{}
	}
	want.Uid = cur.GetUid()
	if want.CreatedAtMs == 0 {
		want.CreatedAtMs = cur.GetCreatedAtMs()
	}
	want.ExpiresAtMs = cur.GetExpiresAtMs()
	return proto.Equal(cur, want)
}

func (g *interactionGrain) get() proto.Message {
	cur, err := g.read(g.clock())
	if err != nil {
		return g.reply(nil, err)
	}
	if cur.GetUid() == "" || cur.GetConsumedBy() != "" {
		return g.reply(nil, errSessionNotFound())
	}
	return proto.Clone(cur)
}

// mutate changes the live interaction with change and replies with the result; an
// absent or expired interaction is session.not_found.
func (g *interactionGrain) mutate(change func(cur *msg.InteractionRecord, now time.Time) error) proto.Message {
	now := g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.InteractionRecord) (*msg.InteractionRecord, *msg.InteractionRecord, error) {
		if cur.GetUid() == "" || cur.GetConsumedBy() != "" {
			return nil, nil, errSessionNotFound()
		}
		if err := change(cur, now); err != nil {
			return nil, nil, err
		}
		return cur, proto.Clone(cur).(*msg.InteractionRecord), nil
	})
	return g.reply(rec, err)
}

// consume returns the submitted interaction and deletes it: resuming at
// /oidc/auth/<uid> is one-time.
func (g *interactionGrain) consume(m *msg.InteractionConsume) proto.Message {
	now := g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.InteractionRecord) (*msg.InteractionRecord, *msg.InteractionRecord, error) {
		switch {
		case cur.GetUid() == "":
			return nil, nil, errSessionNotFound()
		case cur.GetConsumedBy() != "":
			if m.GetAttempt() != "" && cur.GetConsumedBy() == m.GetAttempt() {
				return nil, nil, Keep(consumedView(cur))
			}
			return nil, nil, errSessionNotFound()
		case !cur.GetSubmitted():
			return nil, nil, logtoError(CodeInteractionNotSubmitted, http.StatusBadRequest,
				"The interaction is not submitted yet.")
		case m.GetAttempt() == "":
			return nil, cur, nil // nil next state: delete
		}
		// Kept, marked, for the consume sent again, then swept.
		cur.ConsumedBy = m.GetAttempt()
		cur.ExpiresAtMs = min(cur.GetExpiresAtMs(), now.Add(consumedKeep).UnixMilli())
		return cur, consumedView(cur), nil
	})
	return g.reply(rec, err)
}

// consumedKeep is how long a consumed interaction stays, marked, so that the same
// consume sent again (within the request's budget of a few seconds) answers as the
// first did.
const consumedKeep = 30 * time.Second

// consumedView is a consumed record as the consume answers it.
func consumedView(cur *msg.InteractionRecord) *msg.InteractionRecord {
	v := proto.Clone(cur).(*msg.InteractionRecord)
	v.ConsumedBy = ""
	return v
}

// setEvent follows Logto's ExperienceInteraction.setInteractionEvent: SignIn, Register
// or ForgotPassword, and ForgotPassword cannot be interchanged with the others.
func setEvent(cur *msg.InteractionRecord, event string) error {
	switch event {
	case InteractionEventSignIn, InteractionEventRegister, InteractionEventForgotPassword:
	default:
		return errInvalidInput("interactionEvent must be SignIn, Register or ForgotPassword")
	}
	if cur.Event != "" && (event == InteractionEventForgotPassword) != (cur.Event == InteractionEventForgotPassword) {
		return logtoError(CodeNotSupportedForForgotPassword, http.StatusBadRequest,
			"This operation is not supported for forgot password.")
	}
	cur.Event = event
	return nil
}

// addVerification records a proof. Like Logto's setVerificationRecord, a proof of the
// same type (or id) replaces the previous one.
func addVerification(cur *msg.InteractionRecord, v *msg.Verification, now time.Time) error {
	if v.GetId() == "" || v.GetType() == "" {
		return errInvalidInput("verification id and type are required")
	}
	v = proto.Clone(v).(*msg.Verification)
	if v.VerifiedAtMs == 0 {
		v.VerifiedAtMs = now.UnixMilli()
	}
	cur.Verifications = slices.DeleteFunc(cur.Verifications, func(o *msg.Verification) bool {
		return o.GetId() == v.GetId() || o.GetType() == v.GetType()
	})
	cur.Verifications = append(cur.Verifications, v)
	if n := len(cur.Verifications); n > maxVerifications {
		cur.Verifications = cur.Verifications[n-maxVerifications:]
	}
	return nil
}

// identify sets account_id, as Logto's ExperienceInteraction.identifyUser: the event
// must be set; from a verification, it must exist (404
// session.verification_session_not_found) and name a user (404 user.user_not_exist);
// a different user already identified is 409 session.identity_conflict.
func identify(cur *msg.InteractionRecord, m *msg.InteractionIdentify) error {
	if cur.GetEvent() == "" {
		return logtoError(CodeInteractionNotFound, http.StatusNotFound, "Interaction event is not set.")
	}
	account := m.GetAccountId()
	if id := m.GetVerificationId(); id != "" {
		i := slices.IndexFunc(cur.Verifications, func(v *msg.Verification) bool { return v.GetId() == id })
		if i < 0 {
			return logtoError(CodeVerificationSessionNotFound, http.StatusNotFound, "The verification session not found.")
		}
		account = cur.Verifications[i].GetUserId()
		if account == "" {
			return logtoError(CodeUserNotExist, http.StatusNotFound, "The user does not exist.")
		}
	}
	if account == "" {
		return errInvalidInput("verificationId or account id is required")
	}
	if cur.AccountId != "" && cur.AccountId != account {
		return logtoError(CodeIdentityConflict, http.StatusConflict, "Identity conflict detected. Please go back and sign in again.")
	}
	cur.AccountId = account
	return nil
}

// submit finishes the sign-in: an identified user is required (Logto answers 404
// session.identifier_not_found otherwise).
func submit(cur *msg.InteractionRecord, m *msg.InteractionSubmit, now time.Time) error {
	if cur.GetAccountId() == "" {
		return logtoError(CodeIdentifierNotFound, http.StatusNotFound, "User identifier not found. Please go back and sign in again.")
	}
	cur.Submitted = true
	cur.LoginAtMs = m.GetLoginAtMs()
	if cur.LoginAtMs == 0 {
		cur.LoginAtMs = now.UnixMilli()
	}
	cur.Amr = slices.Clone(m.GetAmr())
	return nil
}
