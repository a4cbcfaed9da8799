package actors

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
)

// Administrative requests of the Session grain (lifecycle.proto): no secret is
// presented, so only trusted callers send them (the Management API and account
// revocation, never a browser). Like every Session request they are decided inside the
// grain, one at a time.

// peek returns the live session without its secret hash; absent or expired is
// login_required.
func (g *sessionGrain) peek() proto.Message {
	cur, err := g.read(g.clock())
	if err != nil {
		return g.reply(nil, err)
	}
	if cur.GetSecretHash() == "" {
		return g.reply(nil, errLoginRequired("no live session"))
	}
	return sessionView(cur)
}

// revoke deletes the session and returns what it was (for the logout fan-out).
func (g *sessionGrain) revoke() proto.Message {
	g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		if cur.GetSecretHash() == "" {
			return nil, nil, errLoginRequired("no live session")
		}
		return nil, sessionView(cur), nil // nil next state: delete
	})
	return g.reply(rec, err)
}

// forgetGrant drops the client entry holding grantID; nothing to drop is an Ack that
// writes nothing.
func (g *sessionGrain) forgetGrant(m *msg.SessionForgetGrant) proto.Message {
	g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	res, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, proto.Message, error) {
		held := func(c *msg.SessionClient) bool { return m.GetGrantId() != "" && c.GetGrantId() == m.GetGrantId() }
		if cur.GetSecretHash() == "" || !slices.ContainsFunc(cur.Clients, held) {
			return nil, nil, Keep(&msg.Ack{})
		}
		cur.Clients = slices.DeleteFunc(cur.Clients, held)
		return cur, &msg.Ack{}, nil
	})
	return g.reply(res, err)
}

// sessionView is a session as administrative replies carry it: without its secret hash.
func sessionView(cur *msg.SessionRecord) *msg.SessionRecord {
	v := proto.Clone(cur).(*msg.SessionRecord)
	v.SecretHash = ""
	return v
}
