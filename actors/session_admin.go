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

// revoke deletes the session, revokes the grants revoke selects (see fanOut) and
// returns what the session was.
func (g *sessionGrain) revoke(revoke msg.GrantRevocation, keep []string) proto.Message {
	g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	rec, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, *msg.SessionRecord, error) {
		if cur.GetSecretHash() == "" {
			return nil, nil, errLoginRequired("no live session")
		}
		return nil, sessionView(cur), nil // nil next state: delete
	})
	if err == nil {
		g.fanOut(rec, revoke, keep)
	}
	return g.reply(rec, err)
}

// forgetGrant drops the client entry holding grantID and tells the account index to
// forget the grant; nothing to drop is an Ack that writes nothing.
func (g *sessionGrain) forgetGrant(m *msg.SessionForgetGrant) proto.Message {
	g.clock()
	ctx, cancel := g.budgetCtx()
	defer cancel()
	var account string
	res, err := Update(ctx, g.state, func(cur *msg.SessionRecord) (*msg.SessionRecord, proto.Message, error) {
		account = ""
		held := func(c *msg.SessionClient) bool { return m.GetGrantId() != "" && c.GetGrantId() == m.GetGrantId() }
		if cur.GetSecretHash() == "" || !slices.ContainsFunc(cur.Clients, held) {
			return nil, nil, Keep(&msg.Ack{})
		}
		cur.Clients = slices.DeleteFunc(cur.Clients, held)
		account = cur.GetAccountId()
		return cur, &msg.Ack{}, nil
	})
	if err == nil && account != "" {
		g.env.peers.tell(g.logger, AccountKindName, account, &msg.AccountForget{GrantIds: []string{m.GetGrantId()}})
	}
	return g.reply(res, err)
}

// sessionView is a session as administrative replies carry it: without its secret hash.
func sessionView(cur *msg.SessionRecord) *msg.SessionRecord {
	v := proto.Clone(cur).(*msg.SessionRecord)
	v.SecretHash = ""
	return v
}
