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

// AccountKindName is the grain kind of the per-account index.
const AccountKindName = "account"

// maxAccountEntries bounds each list of one account index (sessions, grants, families);
// beyond it the oldest entries go. The index is rewritten whole on every change, so it
// stays small; an entry dropped early only means RevokeAccount cannot reach that target
// directly (a suspended or deleted account is still refused wherever its tokens or its
// session are used).
const maxAccountEntries = 256

// accountGrain is the index of one account (kind "account", keyed by user id): the ids
// of the sessions, grants and refresh families created for it, so the Management API can
// list them and suspension or deletion can revoke them all.
//
// The index is a hint, never the truth: entries are added by the HTTP edge as targets
// are created, and a listed entry whose target has ended is removed (AccountForget) by
// whoever noticed. Expired entries are dropped on every write and never listed; the
// record expires with its last entry, so an idle account leaves nothing behind. It never
// waits on another grain.
type accountGrain struct {
	grainBase[*msg.AccountRecord]
}

func (g *accountGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.init(m, expiryAt(func(r *msg.AccountRecord) int64 { return r.GetExpiresAtMs() }))
	case *msg.AccountTrack:
		c.Respond(g.track(m))
	case *msg.AccountList:
		c.Respond(g.list())
	case *msg.AccountForget:
		c.Respond(g.forget(m))
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		cluster.Unhandled(c)
	}
}

// track adds or extends entries. Defaults: created now; a session lives Lifetimes.Session and a
// grant or family Lifetimes.Grant from now when no expiry is given.
func (g *accountGrain) track(m *msg.AccountTrack) proto.Message {
	now := g.clock()
	for _, list := range [][]*msg.AccountEntry{m.GetSessions(), m.GetGrants(), m.GetFamilies()} {
		for _, e := range list {
			if e.GetId() == "" {
				return g.reply(nil, oauth.InvalidRequest("account entry needs an id"))
			}
		}
	}
	return g.reply(g.update(func(cur *msg.AccountRecord) (*msg.AccountRecord, proto.Message, error) {
		pruneAccount(cur, now)
		cur.Sessions = mergeEntries(cur.Sessions, m.GetSessions(), now, g.env.life.Session)
		cur.Grants = mergeEntries(cur.Grants, m.GetGrants(), now, g.env.life.Grant)
		cur.Families = mergeEntries(cur.Families, m.GetFamilies(), now, g.env.life.Grant)
		return sealAccount(cur), &msg.Ack{}, nil
	}))
}

// list returns the unexpired entries; it writes nothing.
func (g *accountGrain) list() proto.Message {
	now := g.clock()
	cur, err := g.read(now)
	if err != nil {
		return g.reply(nil, err)
	}
	v := proto.Clone(cur).(*msg.AccountRecord)
	pruneAccount(v, now)
	return v
}

// forget removes entries by id; removing nothing writes nothing.
func (g *accountGrain) forget(m *msg.AccountForget) proto.Message {
	now := g.clock()
	return g.reply(g.update(func(cur *msg.AccountRecord) (*msg.AccountRecord, proto.Message, error) {
		n := entryCount(cur)
		drop := func(ids []string) func(*msg.AccountEntry) bool {
			return func(e *msg.AccountEntry) bool { return slices.Contains(ids, e.GetId()) }
		}
		cur.Sessions = slices.DeleteFunc(cur.Sessions, drop(m.GetSessionIds()))
		cur.Grants = slices.DeleteFunc(cur.Grants, drop(m.GetGrantIds()))
		cur.Families = slices.DeleteFunc(cur.Families, drop(m.GetFamilyIds()))
		if entryCount(cur) == n {
			return nil, nil, Keep(&msg.Ack{})
		}
		pruneAccount(cur, now)
		return sealAccount(cur), &msg.Ack{}, nil
	}))
}

// mergeEntries upserts add into list by id (the later expiry and the earlier creation
// win; empty fields are filled) and keeps the newest maxAccountEntries.
func mergeEntries(list, add []*msg.AccountEntry, now time.Time, ttl time.Duration) []*msg.AccountEntry {
	nowMs := now.UnixMilli()
	for _, e := range add {
		e = proto.Clone(e).(*msg.AccountEntry)
		if e.ExpiresAtMs == 0 {
			e.ExpiresAtMs = now.Add(ttl).UnixMilli()
		}
		if e.ExpiresAtMs <= nowMs {
			continue
		}
		if e.CreatedAtMs == 0 {
			e.CreatedAtMs = nowMs
		}
		i := slices.IndexFunc(list, func(o *msg.AccountEntry) bool { return o.GetId() == e.GetId() })
		if i < 0 {
			list = append(list, e)
			continue
		}
		o := list[i]
		o.ExpiresAtMs = max(o.ExpiresAtMs, e.ExpiresAtMs)
		o.CreatedAtMs = min(o.CreatedAtMs, e.CreatedAtMs)
		if o.ClientId == "" {
			o.ClientId = e.ClientId
		}
		if o.ParentId == "" {
			o.ParentId = e.ParentId
		}
	}
	if n := len(list); n > maxAccountEntries {
		list = list[n-maxAccountEntries:]
	}
	return list
}

// pruneAccount drops the entries expired at now.
func pruneAccount(cur *msg.AccountRecord, now time.Time) {
	nowMs := now.UnixMilli()
	gone := func(e *msg.AccountEntry) bool { return e.GetExpiresAtMs() <= nowMs }
	cur.Sessions = slices.DeleteFunc(cur.Sessions, gone)
	cur.Grants = slices.DeleteFunc(cur.Grants, gone)
	cur.Families = slices.DeleteFunc(cur.Families, gone)
}

// sealAccount sets the record's expiry to its last entry's, or returns nil (delete the
// record) when no entry is left.
func sealAccount(cur *msg.AccountRecord) *msg.AccountRecord {
	var exp int64
	for _, list := range [][]*msg.AccountEntry{cur.Sessions, cur.Grants, cur.Families} {
		for _, e := range list {
			exp = max(exp, e.GetExpiresAtMs())
		}
	}
	if exp == 0 {
		return nil
	}
	cur.ExpiresAtMs = exp
	return cur
}

func entryCount(cur *msg.AccountRecord) int {
	return len(cur.GetSessions()) + len(cur.GetGrants()) + len(cur.GetFamilies())
}
