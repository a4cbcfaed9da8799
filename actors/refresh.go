package actors

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	protocluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// maxConsumedTokens bounds the consumed tokens a family remembers for reuse detection
// (the oldest go first; each also leaves when it would have expired). A token dropped
// early is merely unknown when presented again: invalid_grant, without revoking. The
// family record is rewritten on every rotation, so this bound is paid on every refresh
// (128 cost about a fifth of refresh throughput); 16 covers the realistic window in
// which a stolen token is replayed against a client that keeps refreshing.
const maxConsumedTokens = 16

// refreshGrain is one RefreshFamily (kind "refresh", keyed by family id): the chain of
// refresh tokens grown from one original token, "<family id>.<secret>" each, of which
// it keeps SHA-256(secret). Every rule is decided here, one request at a time:
// rotation (oidcflow.RefreshRotation), the 3 s reuse window and reuse detection.
//
// OAuth 2.0 Security BCP (RFC 9700) 4.14.2: "If a refresh token is compromised and
// subsequently used by both the attacker and the legitimate client, one of them will
// present an invalidated refresh token, which will inform the authorization server of
// the breach. The authorization server cannot determine which party submitted the
// invalid refresh token, but it will revoke the active refresh token. This stops the
// attack at the cost of forcing the legitimate client to obtain a fresh authorization
// grant." RFC 6749 10.4: "the authorization server could employ refresh token rotation
// in which a new refresh token is issued with every access token refresh response. The
// previous refresh token is invalidated but retained by the authorization server."
// RFC 6749 6: the server must "validate the refresh token" and "ensure that the refresh
// token was issued to the authenticated client"; "The authorization server MAY issue a
// new refresh token, in which case the client MUST discard the old refresh token and
// replace it with the new refresh token."
//
// Before each use the family asks its grant whether it is alive (GrantCheck), a
// blocking request (Grant waits on a RefreshFamily only to create a brand-new one; see
// Peers for every blocking edge). On
// reuse it revokes itself and tells the grant (GrantRevoke, fire-and-forget).
//
// The successor handed out by the newest rotation is kept in memory only (successor),
// never in the record: a stored live secret would let anyone who reads the store (a
// backup, a replica's disk, a support dump) use the token. An activation that did not
// make the rotation (the member restarted, or the grain moved) therefore cannot answer
// within the reuse window: it refuses (invalid_grant) without revoking, and the client
// keeps the successor the first answer gave it.
type refreshGrain struct {
	grainBase[*msg.RefreshFamilyRecord]
	successor string // secret of the current token when this activation rotated to it
}

func (g *refreshGrain) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *protocluster.ClusterInit:
		g.init(m, expiryAt(func(r *msg.RefreshFamilyRecord) int64 { return r.GetCurrentExpiresAtMs() }))
	case *msg.RefreshFamilyCreate:
		c.Respond(g.create(m))
	case *msg.RefreshFamilyUse:
		c.Respond(g.use(m))
	case *msg.RefreshFamilyRevoke:
		c.Respond(g.revoke())
	case *msg.RefreshFamilyInspect:
		c.Respond(g.inspect(m))
	case *msg.RefreshFamilyRevokeToken:
		c.Respond(g.revokeToken(m))
	case actor.SystemMessage, actor.AutoReceiveMessage:
	default:
		cluster.Unhandled(c)
	}
}

// create stores a new family whose first token has secret. Defaults: created now, the
// first token issued at creation and valid ttl_seconds (14 days when 0), the family
// bounded by grant_expires_at_ms (the grant lifetime after creation when 0).
func (g *refreshGrain) create(m *msg.RefreshFamilyCreate) proto.Message {
	now := g.clock()
	return g.reply(g.update(func(cur *msg.RefreshFamilyRecord) (*msg.RefreshFamilyRecord, proto.Message, error) {
		if cur.GetCurrentHash() != "" {
			if cur.GetGeneration() <= 1 && len(cur.GetConsumed()) == 0 && !cur.GetRevoked() &&
				hashesEqual(cur.GetCurrentHash(), HashSecret(m.GetSecret())) {
				// The same create again (the cluster re-sends a request whose shard changed
				// leader meanwhile, and the first send was committed); the first token's
				// secret, known only to the creator, proves it.
				return nil, nil, Keep(&msg.Ack{})
			}
			return nil, nil, errExists("refresh family")
		}
		rec := proto.Clone(m.GetRecord()).(*msg.RefreshFamilyRecord)
		if rec.GetGrantId() == "" || rec.GetClientId() == "" || m.GetSecret() == "" {
			return nil, nil, oauth.InvalidRequest("refresh family needs grant_id, client_id and a secret")
		}
		rec.CurrentHash = HashSecret(m.GetSecret())
		if rec.CreatedAtMs == 0 {
			rec.CreatedAtMs = now.UnixMilli()
		}
		if rec.CurrentIssuedAtMs == 0 {
			rec.CurrentIssuedAtMs = rec.CreatedAtMs
		}
		if rec.TtlSeconds <= 0 {
			rec.TtlSeconds = int64(g.env.life.RefreshToken / time.Second)
		}
		if rec.GrantExpiresAtMs == 0 {
			rec.GrantExpiresAtMs = msTime(rec.CreatedAtMs).Add(g.env.life.Grant).UnixMilli()
		}
		if rec.CurrentExpiresAtMs == 0 {
			rec.CurrentExpiresAtMs = msTime(rec.CurrentIssuedAtMs).Add(time.Duration(rec.TtlSeconds) * time.Second).UnixMilli()
		}
		rec.CurrentExpiresAtMs = min(rec.CurrentExpiresAtMs, rec.GrantExpiresAtMs)
		if rec.CurrentExpiresAtMs <= now.UnixMilli() {
			return nil, nil, oauth.InvalidRequest("refresh token would already be expired")
		}
		rec.Generation = max(rec.Generation, 1)
		rec.Consumed, rec.Revoked = nil, false
		return rec, &msg.Ack{}, nil
	}))
}

// tokenKind is what a presented secret is to a family.
type tokenKind int

const (
	tokenUnknown tokenKind = iota
	tokenCurrent
	tokenConsumed
)

// classify finds the presented token (by hash) among the current and the unexpired
// consumed tokens; i indexes cur.Consumed.
func classify(cur *msg.RefreshFamilyRecord, hash string, now time.Time) (kind tokenKind, i int) {
	if hashesEqual(cur.GetCurrentHash(), hash) {
		return tokenCurrent, -1
	}
	for i, c := range cur.GetConsumed() {
		if hashesEqual(c.GetHash(), hash) && (c.GetExpiresAtMs() == 0 || now.Before(msTime(c.GetExpiresAtMs()))) {
			return tokenConsumed, i
		}
	}
	return tokenUnknown, -1
}

// precheck holds the failures that need neither the grant nor a write, in
// node-oidc-provider's order (refresh_token.js): not found -> client mismatch ->
// expired; plus a family already revoked.
func precheck(cur *msg.RefreshFamilyRecord, kind tokenKind, clientID string, now time.Time) error {
	switch {
	case kind == tokenUnknown:
		return oauth.InvalidGrant("refresh token not found")
	case clientID != cur.GetClientId():
		return oauth.InvalidGrant("client mismatch")
	case cur.GetRevoked():
		return oauth.InvalidGrant("refresh token revoked")
	case kind == tokenCurrent && !now.Before(msTime(cur.GetCurrentExpiresAtMs())):
		return oauth.InvalidGrant("refresh token is expired")
	}
	return nil
}

// use presents a refresh token:
//
//   - unknown, another client's, revoked or expired: invalid_grant; a resource or scope
//     that was not granted: invalid_target / invalid_scope (the token stays usable);
//   - the grant must be alive (GrantCheck), else the family is revoked: invalid_grant;
//   - the account must be active (Options.ActiveAccount), checked before anything
//     rotates; else the family is revoked: invalid_grant;
//   - the current token: oidcflow.RefreshRotation decides. Rotating makes a new secret
//     the current token (generation+1, a fresh TTL except for SPAs) and keeps the old
//     hash as consumed; the grain keeps the successor's secret in memory (never in its
//     record) for the reuse window (Lifetimes.RefreshReuse). Not rotating answers the presented secret with its
//     expiry unchanged;
//   - a consumed token within the reuse window of its rotation: the newest token (the
//     end of the chain of rotations since), no new rotation; invalid_grant, without
//     revoking, when this activation does not know that token (see refreshGrain);
//   - a consumed token after the window: reuse. The family is revoked and its grant told
//     (GrantRevoke); invalid_grant "refresh token already used".
//
// The grant check runs while the family writes its record, so a refresh waits for one
// durable write, not two in a row: the check carries the new opaque access token
// (m.access_token) for the grant to store. If the grant then turns out dead, the family
// revokes itself (the rotation it just wrote no longer matters) and answers
// invalid_grant; an access token the grant stored for a refused use stays unknown to
// anyone (its secret is never sent) and expires. If the grant cannot be asked at all,
// the rotation is undone before the family answers temporarily_unavailable, so the
// client's retry finds its token current. The successor is forgotten once the window
// passed.
func (g *refreshGrain) use(m *msg.RefreshFamilyUse) proto.Message {
	now := g.clock()
	hash := HashSecret(m.GetSecret())
	cur, err := g.read(now)
	if err != nil {
		return g.reply(nil, err)
	}
	kind, i := classify(cur, hash, now)
	if err := precheck(cur, kind, m.GetClientId(), now); err != nil {
		return g.reply(nil, err)
	}
	if err := checkTarget(cur, m); err != nil {
		return g.reply(nil, err)
	}
	// Reuse needs no grant: the family revokes itself and tells the grant.
	var grant <-chan error
	within := false
	if kind == tokenConsumed && i >= 0 {
		_, _, w := g.windowSuccessor(cur, cur.Consumed[i], now, m.GetSecret())
		within = w == windowKnown
	}
	if (kind == tokenCurrent || within) && !g.env.active(cur.GetAccountId()) {
		// Suspension is checked before anything rotates (nothing to compensate after).
		g.markRevoked(now)
		return g.reply(nil, oauth.InvalidGrant("the account is suspended or deleted"))
	}
	if kind == tokenCurrent || within {
		// The application's access control (Logto's assertUserHasApplicationAccess),
		// before anything rotates; the family stays usable.
		if err := g.env.appAccess(cur.GetClientId(), cur.GetAccountId()); err != nil {
			return g.reply(nil, err)
		}
	}
	if org := m.GetOrganizationId(); org != "" && (kind == tokenCurrent || within) {
		// Logto's refresh_token grant (RFC 0001): organization access, then the
		// family's scope, both before anything rotates; the family stays usable.
		if err := checkOrganization(cur, org, g.env.orgAccess); err != nil {
			return g.reply(nil, err)
		}
	}
	var atSecret string
	if m.GetIssueAccessToken() {
		if atSecret, err = newSecret(g.env.rand); err != nil {
			return g.reply(nil, err)
		}
		m = proto.Clone(m).(*msg.RefreshFamilyUse)
		m.AccessToken = &msg.AccessTokenRecord{
			Hash:        HashSecret(atSecret),
			IssuedAtMs:  now.UnixMilli(),
			ExpiresAtMs: now.Add(g.env.life.AccessToken).UnixMilli(),
		}
	}
	if kind == tokenCurrent || within {
		grant = g.checkGrant(cur, m)
	}

	var reused, rotated bool
	res, err := g.update(func(cur *msg.RefreshFamilyRecord) (*msg.RefreshFamilyRecord, proto.Message, error) {
		reused, rotated = false, false
		kind, i := classify(cur, hash, now)
		if err := precheck(cur, kind, m.GetClientId(), now); err != nil {
			return nil, nil, err
		}
		if err := checkTarget(cur, m); err != nil {
			return nil, nil, err
		}
		dirty := scrubFamily(cur, now, g.env.life.RefreshReuse)
		if kind == tokenConsumed {
			i = slices.IndexFunc(cur.Consumed, func(c *msg.ConsumedToken) bool { return hashesEqual(c.GetHash(), hash) })
		}
		if kind == tokenConsumed && i >= 0 {
			switch secret, exp, w := g.windowSuccessor(cur, cur.Consumed[i], now, m.GetSecret()); w {
			case windowKnown:
				used := &msg.RefreshUsed{Family: familyView(cur), NextSecret: secret, NextExpiresAtMs: exp, Rotated: true}
				if c := cur.Consumed[len(cur.Consumed)-1]; !c.GetHandedOut() {
					// Written (the version moves on): an undo of the rotation by an
					// activation that lost the shard meanwhile can no longer apply.
					c.HandedOut = true
					return cur, used, nil
				}
				return keepUnlessDirty(cur, used, dirty)
			case windowUnknown:
				return nil, nil, oauth.InvalidGrant("refresh token already rotated; use the newest refresh token")
			}
		}
		if kind == tokenConsumed {
			reused = true
			revokeFamily(cur)
			return cur, FailureOf(g.logger, oauth.InvalidGrant("refresh token already used")), nil
		}

		d := oidcflow.RefreshRotation(oidcflow.RefreshRotationInput{
			AppType:         cur.GetAppType(),
			RotateSetting:   cur.GetRotate(),
			FamilyCreatedAt: msTime(cur.GetCreatedAtMs()),
			TokenIssuedAt:   msTime(cur.GetCurrentIssuedAtMs()),
			TokenExpiresAt:  msTime(cur.GetCurrentExpiresAtMs()),
			GrantExpiresAt:  msTime(cur.GetGrantExpiresAtMs()),
			Now:             now,
			TTL:             time.Duration(cur.GetTtlSeconds()) * time.Second,
		})
		if !d.Rotate {
			used := &msg.RefreshUsed{Family: familyView(cur), NextSecret: m.GetSecret(), NextExpiresAtMs: cur.GetCurrentExpiresAtMs()}
			return keepUnlessDirty(cur, used, dirty)
		}
		secret, err := newSecret(g.env.rand)
		if err != nil {
			return nil, nil, err
		}
		next := d.NextExpiresAt.UnixMilli()
		sealed, err := sealSuccessor(m.GetSecret(), secret, g.env.rand)
		if err != nil {
			return nil, nil, err
		}
		cur.Consumed = append(cur.Consumed, &msg.ConsumedToken{
			Hash:            cur.GetCurrentHash(),
			RotatedAtMs:     now.UnixMilli(),
			ExpiresAtMs:     cur.GetCurrentExpiresAtMs(),
			SealedSuccessor: sealed,
		})
		if n := len(cur.Consumed); n > maxConsumedTokens {
			cur.Consumed = cur.Consumed[n-maxConsumedTokens:]
		}
		cur.CurrentHash = HashSecret(secret)
		cur.CurrentIssuedAtMs = now.UnixMilli()
		cur.CurrentExpiresAtMs = next
		cur.Generation++
		rotated = true
		return cur, &msg.RefreshUsed{Family: familyView(cur), NextSecret: secret, NextExpiresAtMs: next, Rotated: true}, nil
	})
	if err == nil && reused {
		g.successor = ""
	}
	if err == nil && reused {
		g.logger.Warn("refresh token reused after rotation: family revoked, revoking its grant", "grant", cur.GetGrantId())
		g.env.peers.tell(g.logger, GrantKindName, cur.GetGrantId(), &msg.GrantRevoke{})
	}
	if _, failed := res.(*msg.Failure); err != nil || failed || grant == nil {
		return g.reply(res, err)
	}
	if err := <-grant; err != nil {
		switch {
		case errors.Is(err, oauth.InvalidGrant("")):
			g.successor = ""
			g.markRevoked(now)
		case rotated:
			// The grant could not be asked (temporarily_unavailable): nobody has seen
			// the new token, so the rotation is undone and the client's retry presents
			// a current token again, not one consumed (reuse, after the window).
			g.undoRotation(cur, cur.GetGeneration()+1)
		}
		return g.reply(nil, err)
	}
	if used, ok := res.(*msg.RefreshUsed); ok {
		used.Scopes = useScopes(cur, m)
		if atSecret != "" {
			at := proto.Clone(m.GetAccessToken()).(*msg.AccessTokenRecord)
			at.Hash, at.Scopes = "", oidcflow.OpaqueAccessTokenScopes(used.Scopes)
			if exp := cur.GetGrantExpiresAtMs(); exp != 0 {
				at.ExpiresAtMs = min(at.ExpiresAtMs, exp)
			}
			used.AccessTokenSecret, used.AccessToken = atSecret, at
		}
		if rotated {
			// Handed out only now that the grant said yes: a rotation undone above
			// leaves the previous successor, whose token is current again.
			g.successor = used.GetNextSecret()
		}
	}
	return g.reply(res, nil)
}

// checkOrganization is what a refresh with organization_id must pass: the account's
// access to the organization (access), then the family's urn:logto:scope:organizations
// (insufficient_scope, "refresh token missing required scope").
func checkOrganization(cur *msg.RefreshFamilyRecord, orgID string, access func(orgID, accountID string) error) error {
	if err := access(orgID, cur.GetAccountId()); err != nil {
		return err
	}
	if !slices.Contains(cur.GetScopes(), oidcflow.ScopeOrganizations) {
		return oauth.InsufficientScope("refresh token missing required scope")
	}
	return nil
}

// useScopes are the scopes of a refresh: the requested ones (checkTarget made sure
// they were granted), else the family's.
func useScopes(cur *msg.RefreshFamilyRecord, m *msg.RefreshFamilyUse) []string {
	if len(m.GetScopes()) > 0 {
		return m.GetScopes()
	}
	return cur.GetScopes()
}

// undoRotation puts back prev, the family as it was before a rotation to generation
// whose token was never handed out; a family that has moved on since, or whose
// successor was handed out on a retry meanwhile (handed_out), stays as it is.
//
// The undo is the one write not fenced by serving (State.Fence): when the family's
// shard moved while the use waited for its grant, the client's retry of the presented
// token reaches the new leader, maybe after the reuse window, and must find it current.
// The write is conditional on the version this activation read, and answering the
// successor to a retry moves the version on, so the undo applies only while nobody
// holds the successor.
func (g *refreshGrain) undoRotation(prev *msg.RefreshFamilyRecord, generation uint32) {
	fence := g.state.Fence
	g.state.Fence = nil
	defer func() { g.state.Fence = fence }()
	_, err := g.update(func(cur *msg.RefreshFamilyRecord) (*msg.RefreshFamilyRecord, proto.Message, error) {
		n := len(cur.GetConsumed())
		if cur.GetGeneration() != generation || cur.GetRevoked() || (n > 0 && cur.Consumed[n-1].GetHandedOut()) {
			return nil, nil, Keep(&msg.Ack{})
		}
		return proto.Clone(prev).(*msg.RefreshFamilyRecord), &msg.Ack{}, nil
	})
	if err != nil {
		g.logger.Warn("undoing a rotation whose grant could not be checked failed", "error", err)
		return
	}
	g.logger.Info("rotation undone: its grant could not be checked", "generation", generation)
}

// checkTarget refuses, before anything is written, a resource (RFC 8707 2.2) or scope
// (RFC 6749 6) the family was not granted, so the client keeps its token.
func checkTarget(cur *msg.RefreshFamilyRecord, m *msg.RefreshFamilyUse) error {
	if r := m.GetResource(); r != "" && !slices.Contains(cur.GetResources(), r) {
		return oauth.InvalidTarget("the resource was not granted")
	}
	if !oidcflow.SubsetScopes(m.GetScopes(), cur.GetScopes()) {
		return oauth.InvalidScope("scope exceeds what was granted")
	}
	return nil
}

// keepUnlessDirty replies without a write unless scrubbing changed the record.
func keepUnlessDirty(cur *msg.RefreshFamilyRecord, reply proto.Message, dirty bool) (*msg.RefreshFamilyRecord, proto.Message, error) {
	if dirty {
		return cur, reply, nil
	}
	return nil, nil, Keep(reply)
}

// checkGrant asks the grant, without waiting, whether it is alive and still the
// family's, and has it store m's access token (with the family's scopes unless the
// request narrowed them). The answer arrives on the returned channel: nil, or the error
// the use must answer with.
func (g *refreshGrain) checkGrant(cur *msg.RefreshFamilyRecord, m *msg.RefreshFamilyUse) <-chan error {
	check := &msg.GrantCheck{}
	if at := m.GetAccessToken(); at != nil {
		at = proto.Clone(at).(*msg.AccessTokenRecord)
		at.Scopes = oidcflow.OpaqueAccessTokenScopes(useScopes(cur, m))
		check.AccessToken, check.FamilyId = at, g.key
	}
	grantID, clientID, accountID := cur.GetGrantId(), cur.GetClientId(), cur.GetAccountId()
	// The use's deadline, less what undoing the rotation needs if the check fails (the
	// grant's shard failing over): a rotation nobody saw must be undone in time, or the
	// client's retry after the reuse window would read as reuse.
	deadline := g.budgetDeadline()
	if d := deadline.Add(-undoReserve); time.Until(d) > undoReserve/4 {
		deadline = d
	}
	done := make(chan error, 1)
	unavailable := oauth.TemporarilyUnavailable("the grant could not be checked; retry later")
	// The goroutine belongs to Peers (Stop cancels and joins it): a use that fails
	// before reading done leaves it behind.
	started := g.env.peers.spawn(func(life context.Context) {
		ctx, cancel := context.WithDeadline(life, deadline)
		defer cancel()
		grant, err := peerCall[*msg.GrantRecord](ctx, g.env.peers, GrantKindName, grantID, check)
		var oe *oauth.Error
		switch {
		case errors.As(err, &oe):
			err = oe
		case err != nil:
			g.logger.Warn("grant check failed", "grant", grantID, "error", err)
			err = unavailable
		case grant.GetClientId() != clientID || (accountID != "" && grant.GetAccountId() != accountID):
			err = oauth.InvalidGrant("grant mismatch")
		}
		done <- err
	})
	if !started {
		g.logger.Warn("grant check impossible: no Peers, or the node is stopping", "grant", grantID)
		done <- unavailable
	}
	return done
}

// markRevoked revokes the family after its grant turned out dead.
func (g *refreshGrain) markRevoked(now time.Time) {
	_, err := g.update(func(cur *msg.RefreshFamilyRecord) (*msg.RefreshFamilyRecord, proto.Message, error) {
		if cur.GetCurrentHash() == "" || cur.GetRevoked() {
			return nil, nil, Keep(&msg.Ack{})
		}
		scrubFamily(cur, now, g.env.life.RefreshReuse)
		revokeFamily(cur)
		return cur, &msg.Ack{}, nil
	})
	if err != nil {
		g.logger.Warn("revoking the family of a dead grant failed", "error", err)
	}
}

// revoke revokes the family (idempotent; an absent family is an Ack too).
func (g *refreshGrain) revoke() proto.Message {
	now := g.clock()
	g.successor = ""
	return g.reply(g.update(func(cur *msg.RefreshFamilyRecord) (*msg.RefreshFamilyRecord, proto.Message, error) {
		if cur.GetCurrentHash() == "" || cur.GetRevoked() {
			return nil, nil, Keep(&msg.Ack{})
		}
		scrubFamily(cur, now, g.env.life.RefreshReuse)
		revokeFamily(cur)
		return cur, &msg.Ack{}, nil
	}))
}

// revokeFamily marks cur revoked.
func revokeFamily(cur *msg.RefreshFamilyRecord) {
	cur.Revoked = true
}

// scrubFamily drops consumed tokens that would have expired by now, and the fields a
// consumed token no longer has (successor_secret, a live secret that records written
// by older releases hold: unmarshalling keeps it as an unknown field, which a rewrite
// would store again); it reports whether anything changed.
func scrubFamily(cur *msg.RefreshFamilyRecord, now time.Time, window time.Duration) bool {
	dirty := false
	cur.Consumed = slices.DeleteFunc(cur.Consumed, func(c *msg.ConsumedToken) bool {
		gone := c.GetExpiresAtMs() != 0 && !now.Before(msTime(c.GetExpiresAtMs()))
		dirty = dirty || gone
		return gone
	})
	for _, c := range cur.Consumed {
		if len(c.GetSealedSuccessor()) > 0 && !now.Before(msTime(c.GetRotatedAtMs()).Add(window)) {
			c.SealedSuccessor = nil // its reuse window passed: nothing may open it any more
			dirty = true
		}
	}
	for _, c := range cur.Consumed {
		if len(c.ProtoReflect().GetUnknown()) > 0 {
			c.ProtoReflect().SetUnknown(nil)
			dirty = true
		}
	}
	return dirty
}

// undoReserve is the part of a refresh's budget kept for undoing its rotation when the
// grant check fails.
const undoReserve = time.Second

// windowAnswer is what a consumed token gets from windowSuccessor.
type windowAnswer int

const (
	windowPassed  windowAnswer = iota // rotated the reuse window ago or more: reuse
	windowKnown                       // within the window: answer the successor
	windowUnknown                     // within the window, successor not in memory: refuse
)

// windowSuccessor returns what consumed token c answers with while within the reuse
// window: the family's newest token, whose secret this activation keeps in memory, and
// its expiry. Every token rotated after c is younger still, so the chain of rotations
// from c ends on the current token. Within the window, a successor this activation did
// not hand out (another activation rotated, or the member restarted) is windowUnknown.
// Once the newest rotation is older than the window, the successor is forgotten.
func (g *refreshGrain) windowSuccessor(cur *msg.RefreshFamilyRecord, c *msg.ConsumedToken, now time.Time, presented string) (secret string, expiresAtMs int64, w windowAnswer) {
	n := len(cur.GetConsumed())
	if n == 0 || !now.Before(msTime(cur.Consumed[n-1].GetRotatedAtMs()).Add(g.env.life.RefreshReuse)) {
		g.successor = ""
	}
	if !now.Before(msTime(c.GetRotatedAtMs()).Add(g.env.life.RefreshReuse)) {
		return "", 0, windowPassed
	}
	if g.successor == "" || !hashesEqual(HashSecret(g.successor), cur.GetCurrentHash()) {
		// Another activation rotated (before a failover, a restart, or a move): the
		// newest consumed token's record carries its successor sealed under the
		// presented secret.
		s, ok := openSuccessor(presented, c.GetSealedSuccessor())
		if !ok || c != cur.Consumed[n-1] || !hashesEqual(HashSecret(s), cur.GetCurrentHash()) {
			return "", 0, windowUnknown
		}
		g.successor = s
	}
	return g.successor, cur.GetCurrentExpiresAtMs(), windowKnown
}

// familyView is a family as replies carry it: without consumed tokens.
// The consumed tokens are set aside while cur is cloned rather than cloned and dropped
// (they were most of a refresh's allocations); cur is the grain's own, so nothing else
// sees the moment they are away.
func familyView(cur *msg.RefreshFamilyRecord) *msg.RefreshFamilyRecord {
	consumed := cur.Consumed
	cur.Consumed = nil
	v := proto.Clone(cur).(*msg.RefreshFamilyRecord)
	cur.Consumed = consumed
	return v
}
