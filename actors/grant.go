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

// Bounds of one grant record, which is rewritten whole on every mutation. Expired codes
// and tokens are pruned on every mutation; beyond these counts the oldest go first. A
// dropped family id only loses the revocation message: the family still asks the grant
// (GrantCheck) before every use.
const (
	maxGrantCodes    = 64
	maxGrantFamilies = 64
)

// grantGrain is one Grant (kind "grant", keyed by grant id): what one account granted
// one client in one browser session. It issues and redeems authorization codes and
// holds opaque access tokens; codes and tokens are "<grant id>.<secret>" and only
// SHA-256(secret) is kept.
//
// A revoked grant stays as a tombstone (no codes, no tokens) until its expiry, so the
// same id cannot come back to life and revive its refresh families. Revoked or expired,
// it answers invalid_grant to every request except GrantRevoke (Ack) and
// GrantLookupAccessToken (invalid_token). It waits on another grain only in a code
// exchange, to create the brand-new refresh family (grant_exchange.go); revocations
// reach its refresh families as fire-and-forget messages.
type grantGrain struct {
	grainBase[*msg.GrantRecord]
	tokens accessTokenCache
}

func (g *grantGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.init(m, expiryAt(func(r *msg.GrantRecord) int64 { return r.GetExpiresAtMs() }))
	case *msg.GrantEnsure:
		c.Respond(g.ensure(m))
	case *msg.GrantIssueCode:
		c.Respond(g.issueCode(m))
	case *msg.GrantExchangeCode:
		c.Respond(g.exchangeCode(m))
	case *msg.GrantLookupAccessToken:
		c.Respond(g.lookupAccessToken(m))
	case *msg.GrantCheck:
		c.Respond(g.check(m))
	case *msg.GrantRevoke:
		c.Respond(g.revoke())
	case *msg.GrantRevokeAccessToken:
		c.Respond(g.revokeAccessToken(m))
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		cluster.Unhandled(c)
	}
}

// ensure creates the grant or merges scopes and resources into it; its expiry only
// grows, up to the expires_at_ms given (the grant lifetime from now when 0).
func (g *grantGrain) ensure(m *msg.GrantEnsure) proto.Message {
	now := g.clock()
	return g.reply(g.update(func(cur *msg.GrantRecord) (*msg.GrantRecord, proto.Message, error) {
		if cur.GetClientId() == "" {
			if m.GetAccountId() == "" || m.GetClientId() == "" {
				return nil, nil, oauth.InvalidRequest("grant needs account_id and client_id")
			}
			cur.AccountId, cur.ClientId, cur.CreatedAtMs = m.GetAccountId(), m.GetClientId(), now.UnixMilli()
		} else {
			if cur.GetRevoked() {
				return nil, nil, oauth.InvalidGrant("grant revoked")
			}
			if (m.GetAccountId() != "" && m.GetAccountId() != cur.GetAccountId()) ||
				(m.GetClientId() != "" && m.GetClientId() != cur.GetClientId()) {
				return nil, nil, oauth.InvalidGrant("grant belongs to another account or client")
			}
		}
		cur.Scopes = union(cur.Scopes, m.GetScopes())
		cur.Resources = union(cur.Resources, m.GetResources())
		exp := m.GetExpiresAtMs()
		if exp == 0 {
			exp = now.Add(g.env.life.Grant).UnixMilli()
		}
		cur.ExpiresAtMs = max(cur.ExpiresAtMs, exp)
		if cur.ExpiresAtMs <= now.UnixMilli() {
			return nil, nil, oauth.InvalidRequest("grant expires_at_ms is in the past")
		}
		if m.GetSessionId() != "" {
			cur.SessionId = m.GetSessionId()
		}
		if m.GetSid() != "" {
			cur.Sid = m.GetSid()
		}
		pruneGrant(cur, now)
		return cur, grantView(cur), nil
	}))
}

// issueCode stores a code (its hash) for one redemption; its expiry is the code lifetime from now
// when 0, never past the grant's.
func (g *grantGrain) issueCode(m *msg.GrantIssueCode) proto.Message {
	now := g.clock()
	return g.reply(g.update(func(cur *msg.GrantRecord) (*msg.GrantRecord, proto.Message, error) {
		if err := grantAlive(cur); err != nil {
			return nil, nil, err
		}
		code := proto.Clone(m.GetCode()).(*msg.CodeRecord)
		if code.GetHash() == "" {
			return nil, nil, oauth.InvalidRequest("code needs a hash")
		}
		if i := slices.IndexFunc(cur.Codes, func(c *msg.CodeRecord) bool { return c.GetHash() == code.GetHash() }); i >= 0 {
			if sameCodeIssue(cur.Codes[i], code) {
				// The same issue again: the cluster re-sends a request whose shard changed
				// leader meanwhile, and the first send was committed.
				return nil, nil, Keep(&msg.Ack{})
			}
			return nil, nil, oauth.InvalidRequest("code already issued")
		}
		code.Redeemed = false
		if code.ExpiresAtMs == 0 {
			code.ExpiresAtMs = now.Add(g.env.life.Code).UnixMilli()
		}
		code.ExpiresAtMs = min(code.ExpiresAtMs, cur.GetExpiresAtMs())
		pruneGrant(cur, now)
		cur.Codes = append(cur.Codes, code)
		if n := len(cur.Codes); n > maxGrantCodes {
			cur.Codes = cur.Codes[n-maxGrantCodes:]
		}
		return cur, &msg.Ack{}, nil
	}))
}

// sameCodeIssue reports whether stored is what issuing code stored: not redeemed, and
// equal but for the expiry the grain fills in.
func sameCodeIssue(stored, code *msg.CodeRecord) bool {
	if stored.GetRedeemed() {
		return false
	}
	want := proto.Clone(code).(*msg.CodeRecord)
	want.Redeemed, want.ExpiresAtMs = false, stored.GetExpiresAtMs()
	return proto.Equal(stored, want)
}

// storeAccessToken stores at for the live grant cur, first recording family (when it
// is new to the grant) so that revoking the grant reaches the family.
func (g *grantGrain) storeAccessToken(cur *msg.GrantRecord, at *msg.AccessTokenRecord, family string, now time.Time) error {
	if at.GetHash() == "" {
		return oauth.InvalidRequest("access token needs a hash")
	}
	if family != "" && !slices.Contains(cur.GetRefreshFamilies(), family) {
		if _, err := g.update(func(cur *msg.GrantRecord) (*msg.GrantRecord, proto.Message, error) {
			if err := grantAlive(cur); err != nil {
				return nil, nil, err
			}
			addFamily(cur, family)
			pruneGrant(cur, now)
			return cur, &msg.Ack{}, nil
		}); err != nil {
			return err
		}
	}
	return g.putAccessToken(cur, at, now)
}

// lookupAccessToken finds a live opaque access token of a live grant (RFC 6750 3.1:
// otherwise invalid_token). It writes nothing.
func (g *grantGrain) lookupAccessToken(m *msg.GrantLookupAccessToken) proto.Message {
	now := g.clock()
	cur, err := g.read(now)
	if err != nil {
		return g.reply(nil, err)
	}
	invalid := oauth.InvalidToken("access token is invalid or expired")
	if cur.GetClientId() == "" || cur.GetRevoked() {
		return g.reply(nil, invalid)
	}
	at, _, ok, err := g.getAccessToken(HashSecret(m.GetSecret()), now)
	if err != nil {
		return g.reply(nil, err)
	}
	if !ok {
		return g.reply(nil, invalid)
	}
	return &msg.AccessTokenInfo{AccessToken: at, Grant: grantView(cur)}
}

// check answers whether the grant is alive. It writes nothing, unless the check carries
// an access token to store (a refresh), which is stored before the reply.
func (g *grantGrain) check(m *msg.GrantCheck) proto.Message {
	now := g.clock()
	cur, err := g.read(now)
	if err == nil {
		err = grantAlive(cur)
	}
	if at := m.GetAccessToken(); err == nil && at != nil {
		err = g.storeAccessToken(cur, at, m.GetFamilyId(), now)
	}
	if err != nil {
		return g.reply(nil, err)
	}
	return grantView(cur)
}

// revoke revokes the grant and its tokens and tells its refresh families. Revoking an
// absent or revoked grant is an Ack that writes nothing (RFC 7009 2.2: invalid tokens
// do not cause an error).
func (g *grantGrain) revoke() proto.Message {
	g.clock()
	var families []string
	res, err := g.update(func(cur *msg.GrantRecord) (*msg.GrantRecord, proto.Message, error) {
		families = nil
		if cur.GetClientId() == "" || cur.GetRevoked() {
			return nil, nil, Keep(&msg.Ack{})
		}
		families = slices.Clone(cur.RefreshFamilies)
		revokeGrant(cur)
		return cur, &msg.Ack{}, nil
	})
	if err != nil {
		families = nil
	} else {
		g.tokens = nil // unreachable now: lookups refuse a revoked grant first
	}
	g.revokeFamilies(families)
	return g.reply(res, err)
}

// revokeFamilies tells each family it is revoked, without waiting (a family waits on
// its grant in GrantCheck, so the grant must never wait on a family).
func (g *grantGrain) revokeFamilies(families []string) {
	for _, f := range families {
		g.env.peers.tell(g.logger, RefreshKindName, f, &msg.RefreshFamilyRevoke{})
	}
}

// grantAlive is nil for a live grant, else invalid_grant.
func grantAlive(cur *msg.GrantRecord) error {
	switch {
	case cur.GetClientId() == "":
		return oauth.InvalidGrant("grant not found or expired")
	case cur.GetRevoked():
		return oauth.InvalidGrant("grant revoked")
	}
	return nil
}

// revokeGrant turns cur into a tombstone.
func revokeGrant(cur *msg.GrantRecord) {
	cur.Revoked = true
	cur.Codes = nil
	cur.AccessTokens = nil
}

// addFamily records a refresh family id (for the revocation fan-out).
func addFamily(cur *msg.GrantRecord, family string) {
	if family == "" || slices.Contains(cur.RefreshFamilies, family) {
		return
	}
	cur.RefreshFamilies = append(cur.RefreshFamilies, family)
	if n := len(cur.RefreshFamilies); n > maxGrantFamilies {
		cur.RefreshFamilies = cur.RefreshFamilies[n-maxGrantFamilies:]
	}
}

// pruneGrant drops expired codes and tokens and keeps the newest within the bounds, so
// the record stays small.
func pruneGrant(cur *msg.GrantRecord, now time.Time) {
	nowMs := now.UnixMilli()
	cur.Codes = slices.DeleteFunc(cur.Codes, func(c *msg.CodeRecord) bool { return c.GetExpiresAtMs() <= nowMs })
	cur.AccessTokens = nil // tokens are records of their own (GrantAccessTokenKind)
}

// grantView is a grant as replies carry it: without its codes and tokens (hashes the
// caller has no use for, and the bulk of the record). They are set aside while cur is
// cloned rather than cloned and dropped (introspection clones a grant per request);
// cur is the grain's own, so nothing else sees the moment they are away.
func grantView(cur *msg.GrantRecord) *msg.GrantRecord {
	codes, tokens := cur.Codes, cur.AccessTokens
	cur.Codes, cur.AccessTokens = nil, nil
	v := proto.Clone(cur).(*msg.GrantRecord)
	cur.Codes, cur.AccessTokens = codes, tokens
	return v
}

// union appends to a the elements of b it lacks, keeping order.
func union(a, b []string) []string {
	for _, s := range b {
		if s != "" && !slices.Contains(a, s) {
			a = append(a, s)
		}
	}
	return a
}
