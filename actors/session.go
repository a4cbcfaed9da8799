package actors

import (
	"slices"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// maxSessionClients bounds the clients one session remembers (oldest dropped).
const maxSessionClients = 64

// sessionGrain is one OP browser session (kind "session", keyed by session id). The
// _session cookie is "<session id>.<secret>"; the grain keeps SHA-256(secret) and
// compares in constant time. Every request but Create presents the secret: absent,
// expired or mismatching is login_required (400; see errLoginRequired).
//
// Its lifetime (Lifetimes.Session, extended by each sign-in through it) is decided on
// the grain's clock. Its cross-grain effects are decided here (session_fanout.go): the
// account index is told of the session and of the grants of its clients as they are
// added, and ending the session revokes the grants the logout selects.
type sessionGrain struct {
	grainBase[*msg.SessionRecord]
}

func (g *sessionGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.init(m, expiryAt(func(r *msg.SessionRecord) int64 { return r.GetExpiresAtMs() }))
	case *msg.SessionCreate:
		c.Respond(g.create(m))
	case *msg.SessionGet:
		c.Respond(g.get(m))
	case *msg.SessionAddClient:
		c.Respond(g.addClient(m))
	case *msg.SessionEnd:
		c.Respond(g.end(m.GetSecret(), m.GetRevokeGrants(), m.GetKeepClientIds()))
	case *msg.SessionPeek:
		c.Respond(g.peek())
	case *msg.SessionRevoke:
		c.Respond(g.revoke(m.GetRevokeGrants(), m.GetKeepClientIds()))
	case *msg.SessionForgetGrant:
		c.Respond(g.forgetGrant(m))
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		cluster.Unhandled(c)
	}
}

func (g *sessionGrain) create(m *msg.SessionCreate) proto.Message {
	now := g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		if cur.GetSecretHash() != "" {
			if r := m.GetRecord(); hashesEqual(cur.GetSecretHash(), r.GetSecretHash()) && cur.GetAccountId() == r.GetAccountId() {
				// The same create again: the cluster re-sends a request whose shard changed
				// leader meanwhile, and the first send was committed. Only the creator knows
				// the secret, so the hash proves it is that create.
				return nil, nil, Keep(proto.Clone(cur))
			}
			return nil, nil, errExists("session")
		}
		next := proto.Clone(m.GetRecord()).(*msg.SessionRecord)
		if next == nil || next.GetSecretHash() == "" || next.GetAccountId() == "" {
			return nil, nil, oauth.InvalidRequest("session needs account_id and secret_hash")
		}
		if next.CreatedAtMs == 0 {
			next.CreatedAtMs = now.UnixMilli()
		}
		if next.LoginAtMs == 0 {
			next.LoginAtMs = next.CreatedAtMs
		}
		if next.ExpiresAtMs == 0 {
			next.ExpiresAtMs = now.Add(g.env.life.Session).UnixMilli()
		}
		if next.ExpiresAtMs <= now.UnixMilli() {
			return nil, nil, oauth.InvalidRequest("session expires_at_ms is in the past")
		}
		return next, proto.Clone(next).(*msg.SessionRecord), nil
	})
	if err == nil {
		g.track(rec, nil)
	}
	return g.reply(rec, err)
}

func (g *sessionGrain) get(m *msg.SessionGet) proto.Message {
	cur, err := g.read(g.clock())
	if err != nil {
		return g.reply(nil, err)
	}
	if err := checkSession(cur, m.GetSecret()); err != nil {
		return g.reply(nil, err)
	}
	return proto.Clone(cur)
}

// addClient upserts a client by client_id and extends the session to expires_at_ms
// (Lifetimes.Session from now when 0); a session never gets shorter. A client entry with
// a new grant is told to the account index, with the session's new expiry.
func (g *sessionGrain) addClient(m *msg.SessionAddClient) proto.Message {
	now := g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	var newGrant *msg.SessionClient
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		newGrant = nil
		if err := checkSession(cur, m.GetSecret()); err != nil {
			return nil, nil, err
		}
		cl := m.GetClient()
		if cl.GetGrantId() != "" && !slices.ContainsFunc(cur.Clients, func(o *msg.SessionClient) bool {
			return o.GetClientId() == cl.GetClientId() && o.GetGrantId() == cl.GetGrantId()
		}) {
			newGrant = cl
		}
		if cl.GetClientId() == "" {
			return nil, nil, oauth.InvalidRequest("session client needs client_id")
		}
		cur.Clients = slices.DeleteFunc(cur.Clients, func(o *msg.SessionClient) bool { return o.GetClientId() == cl.GetClientId() })
		cur.Clients = append(cur.Clients, proto.Clone(cl).(*msg.SessionClient))
		if n := len(cur.Clients); n > maxSessionClients {
			cur.Clients = cur.Clients[n-maxSessionClients:]
		}
		exp := m.GetExpiresAtMs()
		if exp == 0 {
			exp = now.Add(g.env.life.Session).UnixMilli()
		}
		cur.ExpiresAtMs = max(cur.ExpiresAtMs, exp)
		return cur, proto.Clone(cur).(*msg.SessionRecord), nil
	})
	if err == nil && newGrant != nil {
		g.track(rec, newGrant)
	}
	return g.reply(rec, err)
}

// end deletes the session, then revokes the grants revoke selects (see fanOut), and
// returns what the session was (its clients, for back-channel logout).
func (g *sessionGrain) end(secret string, revoke msg.GrantRevocation, keep []string) proto.Message {
	g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		if err := checkSession(cur, secret); err != nil {
			return nil, nil, err
		}
		return nil, cur, nil
	})
	if err == nil {
		g.fanOut(rec, revoke, keep)
	}
	return g.reply(rec, err)
}

// checkSession: the session must exist (an expired one reads as absent) and
// SHA-256(secret) must equal secret_hash (constant-time). Both failures answer the same,
// so the answer does not tell whether a session id exists.
func checkSession(cur *msg.SessionRecord, secret string) error {
	if cur.GetSecretHash() == "" || !secretMatches(secret, cur.GetSecretHash()) {
		return errLoginRequired("no live session")
	}
	return nil
}
