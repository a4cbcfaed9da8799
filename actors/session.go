package actors

import (
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
)

// SessionTTL is Logto's session TTL (ttl.Session, 14 days): the default lifetime of a
// new session and of each extension.
const SessionTTL = 14 * 24 * time.Hour

// maxSessionClients bounds the clients one session remembers (oldest dropped).
const maxSessionClients = 64

// sessionGrain is one OP browser session (kind "session", keyed by session id). The
// _session cookie is "<session id>.<secret>"; the grain keeps SHA-256(secret) and
// compares in constant time. Every request but Create presents the secret: absent,
// expired or mismatching is login_required (400; see errLoginRequired).
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
		c.Respond(g.end(m))
	case *msg.SessionPeek:
		c.Respond(g.peek())
	case *msg.SessionRevoke:
		c.Respond(g.revoke())
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
			next.ExpiresAtMs = now.Add(SessionTTL).UnixMilli()
		}
		if next.ExpiresAtMs <= now.UnixMilli() {
			return nil, nil, oauth.InvalidRequest("session expires_at_ms is in the past")
		}
		return next, proto.Clone(next).(*msg.SessionRecord), nil
	})
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
// (SessionTTL from now when 0); a session never gets shorter.
func (g *sessionGrain) addClient(m *msg.SessionAddClient) proto.Message {
	now := g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		if err := checkSession(cur, m.GetSecret()); err != nil {
			return nil, nil, err
		}
		cl := m.GetClient()
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
			exp = now.Add(SessionTTL).UnixMilli()
		}
		cur.ExpiresAtMs = max(cur.ExpiresAtMs, exp)
		return cur, proto.Clone(cur).(*msg.SessionRecord), nil
	})
	return g.reply(rec, err)
}

// end deletes the session and returns what it was, for the logout fan-out.
func (g *sessionGrain) end(m *msg.SessionEnd) proto.Message {
	g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		if err := checkSession(cur, m.GetSecret()); err != nil {
			return nil, nil, err
		}
		return nil, cur, nil
	})
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
