package actors

import (
	"context"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// exchangeCode is the whole authorization-code exchange (RFC 6749 4.1.3), decided in
// this grain so the edge makes one call and never compensates:
//
//  1. the code is redeemed once (checkCode: found, unexpired by the grain's clock, same
//     client and redirect_uri, PKCE); a replay revokes the grant and tells its families;
//  2. the account must still be active (the injected ActiveAccount predicate): a
//     suspended or deleted account revokes the grant, invalid_grant;
//  3. a requested resource must be one the code holds (RFC 8707 2.2), else
//     invalid_target (the code is spent either way, as before);
//  4. when a refresh token is due (oidcflow.IssuesRefreshToken), the family id is
//     recorded on the grant in the same write, so revoking the grant reaches the family;
//  5. then, at once: the new family is created (RefreshFamilyCreate, a blocking request
//     to a brand-new family id that nothing else knows yet, so it never waits on this
//     grant: no cycle), and the opaque access token is stored when no resource was asked
//     for, with only the scopes an opaque token may carry
//     (oidcflow.OpaqueAccessTokenScopes);
//  6. the account index learns of the family (fire-and-forget: the index is a hint).
//
// If the access token cannot be stored after the family was created, the family is
// revoked (fire-and-forget) and the exchange fails; a family that could not be created
// fails the exchange too. Every secret is drawn here, before the decision, so a retried
// decision uses the same ones.
func (g *grantGrain) exchangeCode(m *msg.GrantExchangeCode) proto.Message {
	now := g.clock()
	familyID, familySecret, err := NewToken(g.env.rand)
	if err != nil {
		return g.reply(nil, err)
	}
	atSecret, err := newSecret(g.env.rand)
	if err != nil {
		return g.reply(nil, err)
	}
	var (
		families   []string
		wantFamily bool
		redeemed   *msg.CodeExchanged
	)
	res, err := g.update(func(cur *msg.GrantRecord) (*msg.GrantRecord, proto.Message, error) {
		families, wantFamily, redeemed = nil, false, nil
		if err := grantAlive(cur); err != nil {
			return nil, nil, err
		}
		code, err := checkCode(cur, m, now)
		if err != nil {
			return nil, nil, err
		}
		if code.GetRedeemed() {
			if x, ok := openExchange(m.GetAttempt(), m.GetCodeSecret(), code.GetSealedExchange()); ok {
				// This very exchange sent again: the cluster re-sends a request whose
				// shard changed leader meanwhile, and the first send was committed. It
				// gets what the first send issued (creating the family and storing the
				// access token again are no-ops when they were done).
				familyID, familySecret, atSecret = x.familyID, x.familySecret, x.accessTokenSecret
				wantFamily = familyID != "" && slices.Contains(cur.RefreshFamilies, familyID)
				redeemed = &msg.CodeExchanged{Code: exchangedCode(code), Grant: grantView(cur)}
				return nil, nil, Keep(redeemed)
			}
			families = slices.Clone(cur.RefreshFamilies)
			revokeGrant(cur)
			g.logger.Warn("authorization code replayed: grant revoked", "client", m.GetClientId(), "families", len(families))
			return cur, FailureOf(g.logger, oauth.InvalidGrant("authorization code already used")), nil
		}
		code.Redeemed = true
		if !g.env.active(cur.GetAccountId()) {
			families = slices.Clone(cur.RefreshFamilies)
			revokeGrant(cur)
			return cur, FailureOf(g.logger, oauth.InvalidGrant("the account is suspended or deleted")), nil
		}
		if r := m.GetResource(); r != "" && !slices.Contains(code.GetResources(), r) {
			pruneGrant(cur, now)
			return cur, FailureOf(g.logger, oauth.InvalidTarget("the resource was not part of the authorization request")), nil
		}
		wantFamily = m.GetRefreshAllowed() && oidcflow.IssuesRefreshToken(code.GetScopes(), false, m.GetRefreshAlways())
		issued := exchangeIssued{accessTokenSecret: atSecret}
		if wantFamily {
			addFamily(cur, familyID)
			issued.familyID, issued.familySecret = familyID, familySecret
		}
		if m.GetAttempt() != "" {
			sealed, err := sealExchange(m.GetAttempt(), m.GetCodeSecret(), issued, g.env.rand)
			if err != nil {
				return nil, nil, err
			}
			code.SealedExchange = sealed
		}
		pruneGrant(cur, now)
		redeemed = &msg.CodeExchanged{Code: exchangedCode(code), Grant: grantView(cur)}
		return cur, redeemed, nil
	})
	if err != nil {
		return g.reply(nil, err)
	}
	if redeemed == nil { // a decided refusal
		g.revokeFamilies(families)
		return res
	}
	code, grant := redeemed.GetCode(), redeemed.GetGrant()

	var created <-chan error
	if wantFamily {
		created = g.createFamily(familyID, familySecret, code, grant, m, now)
	}
	if m.GetResource() == "" {
		at := &msg.AccessTokenRecord{
			Hash:        HashSecret(atSecret),
			Scopes:      oidcflow.OpaqueAccessTokenScopes(code.GetScopes()),
			IssuedAtMs:  now.UnixMilli(),
			ExpiresAtMs: now.Add(g.env.life.AccessToken).UnixMilli(),
		}
		if exp := grant.GetExpiresAtMs(); exp != 0 {
			at.ExpiresAtMs = min(at.ExpiresAtMs, exp)
		}
		err = g.putAccessToken(grant, at, now)
		redeemed.AccessTokenSecret, redeemed.AccessToken = atSecret, at
	}
	if created != nil {
		ferr := <-created
		switch {
		case ferr != nil:
			err = ferr
		case err != nil:
			g.revokeFamilies([]string{familyID})
		default:
			redeemed.FamilyId, redeemed.RefreshSecret = familyID, familySecret
			g.env.peers.tell(g.logger, AccountKindName, grant.GetAccountId(), &msg.AccountTrack{Families: []*msg.AccountEntry{{
				Id: familyID, ExpiresAtMs: grant.GetExpiresAtMs(), CreatedAtMs: now.UnixMilli(),
				ClientId: grant.GetClientId(), ParentId: g.key,
			}}})
		}
	}
	if err != nil {
		return g.reply(nil, err)
	}
	return redeemed
}

// exchangedCode is the redeemed code as the exchange answers it: without its sealed
// answer, which only the grant keeps.
func exchangedCode(code *msg.CodeRecord) *msg.CodeRecord {
	c := proto.Clone(code).(*msg.CodeRecord)
	c.SealedExchange = nil
	return c
}

// checkCode finds the code m presents among cur's and checks it in node-oidc-provider's
// order (its actions/grants/authorization_code.js): unknown -> expired -> client ->
// redirect_uri -> PKCE; the caller then refuses a redeemed one. So only a presenter who
// passes every check (PKCE included) can trigger the replay revocation. Every failure is
// invalid_grant and none of them redeems or revokes anything.
//
//   - RFC 6749 4.1.3: "ensure that the authorization code was issued to the
//     authenticated confidential client, or if the client is public, ensure that the code
//     was issued to "client_id" in the request"; "ensure that the "redirect_uri"
//     parameter is present if the "redirect_uri" parameter was included in the initial
//     authorization request ... and if included ensure that their values are identical".
//   - RFC 7636 4.6: the server compares BASE64URL(SHA256(code_verifier)) with the
//     code_challenge; unequal -> invalid_grant (checkCodePKCE). A verifier for a code
//     issued without a challenge is refused too (an injected code must not pass).
//   - RFC 6749 4.1.2 / 10.5: "If an authorization code is used more than once, the
//     authorization server MUST deny the request and SHOULD revoke (when possible) all
//     tokens previously issued based on that authorization code." The caller does that
//     for a code that passes here but is already redeemed: it revokes the whole grant
//     (opaque access tokens dropped, each refresh family told with RefreshFamilyRevoke,
//     fire-and-forget) and answers invalid_grant "authorization code already used".
func checkCode(cur *msg.GrantRecord, m *msg.GrantExchangeCode, now time.Time) (*msg.CodeRecord, error) {
	h := HashSecret(m.GetCodeSecret())
	i := slices.IndexFunc(cur.Codes, func(c *msg.CodeRecord) bool { return hashesEqual(c.GetHash(), h) })
	if i < 0 {
		return nil, oauth.InvalidGrant("authorization code not found")
	}
	code := cur.Codes[i]
	switch {
	case !now.Before(msTime(code.GetExpiresAtMs())):
		return nil, oauth.InvalidGrant("authorization code is expired")
	case m.GetClientId() != cur.GetClientId():
		return nil, oauth.InvalidGrant("authorization code client mismatch")
	case m.GetRedirectUri() != code.GetRedirectUri():
		return nil, oauth.InvalidGrant("authorization code redirect_uri mismatch")
	}
	if err := checkCodePKCE(code, m.GetCodeVerifier()); err != nil {
		return nil, err
	}
	return code, nil
}

// createFamily asks the new family id's grain to store the family of a redeemed code,
// without waiting; the answer arrives on the returned channel.
func (g *grantGrain) createFamily(familyID, secret string, code *msg.CodeRecord, grant *msg.GrantRecord,
	m *msg.GrantExchangeCode, now time.Time) <-chan error {
	ttl := time.Duration(m.GetRefreshTtlSeconds()) * time.Second
	if ttl <= 0 {
		ttl = g.env.life.RefreshToken
	}
	exp := now.Add(ttl).UnixMilli()
	if ge := grant.GetExpiresAtMs(); ge > 0 {
		exp = min(exp, ge)
	}
	create := &msg.RefreshFamilyCreate{Secret: secret, Record: &msg.RefreshFamilyRecord{
		GrantId:            g.key,
		ClientId:           grant.GetClientId(),
		AccountId:          grant.GetAccountId(),
		AppType:            m.GetAppType(),
		Scopes:             code.GetScopes(),
		Resources:          code.GetResources(),
		CreatedAtMs:        now.UnixMilli(),
		CurrentIssuedAtMs:  now.UnixMilli(),
		CurrentExpiresAtMs: exp,
		GrantExpiresAtMs:   grant.GetExpiresAtMs(),
		TtlSeconds:         int64(ttl / time.Second),
		Rotate:             m.GetRefreshRotate(),
		Sid:                code.GetSid(),
		AuthTime:           code.GetAuthTime(),
		Amr:                code.GetAmr(),
	}}
	done := make(chan error, 1)
	deadline := g.budgetDeadline() // the exchange's: the creation ends with it
	// The goroutine belongs to Peers (Stop cancels and joins it).
	started := g.env.peers.spawn(func(life context.Context) {
		ctx, cancel := context.WithDeadline(life, deadline)
		defer cancel()
		_, err := peerCall[*msg.Ack](ctx, g.env.peers, RefreshKindName, familyID, create)
		if _, ok := oauth.From(err); err != nil && !ok {
			g.logger.Warn("creating the refresh family failed", "family", familyID, "error", err)
			err = oauth.TemporarilyUnavailable("the refresh token could not be stored; retry the sign-in")
		}
		done <- err
	})
	if !started {
		done <- oauth.TemporarilyUnavailable("the node is stopping; retry the sign-in")
	}
	return done
}

// checkCodePKCE applies RFC 7636 4.6 to a code: S256 only.
func checkCodePKCE(code *msg.CodeRecord, verifier string) error {
	if code.GetCodeChallenge() == "" {
		if verifier != "" {
			return oauth.InvalidGrant("PKCE verification failed")
		}
		return nil
	}
	if method := code.GetCodeChallengeMethod(); method != "" && method != oidcflow.PKCEMethodS256 {
		return oauth.InvalidGrant("PKCE verification failed")
	}
	return oidcflow.VerifyPKCE(verifier, code.GetCodeChallenge())
}
