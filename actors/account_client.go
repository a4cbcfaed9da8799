package actors

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/oidcflow/oauth"
)

// Facade of the account index and of the administrative Session requests
// (lifecycle.proto). Like the rest of Client, each method is a thin Call with the
// caller's deadline; the list and revoke helpers fan out to the indexed grains in
// parallel from the caller's goroutine (never from a grain, so no grain waits on
// another).

// fanOut bounds the grain calls one list or revoke helper has in flight.
const fanOut = 16

// ---- Session, administrative (no secret) ----

// PeekSession returns the live session without its secret hash; absent or expired is
// login_required (400).
func (c *Client) PeekSession(ctx context.Context, id string) (*msg.SessionRecord, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	return Call[*msg.SessionRecord](ctx, c.node, SessionKindName, id, &msg.SessionPeek{})
}

// RevokeSession ends the session without its secret and returns what it was (its
// clients, for the logout fan-out); absent or expired is login_required (400).
func (c *Client) RevokeSession(ctx context.Context, id string) (*msg.SessionRecord, error) {
	if id == "" {
		return nil, errLoginRequired("no live session")
	}
	return Call[*msg.SessionRecord](ctx, c.node, SessionKindName, id, &msg.SessionRevoke{})
}

// ForgetSessionGrant removes the client entry of sessionID that holds grantID. An
// absent session or entry is no error.
func (c *Client) ForgetSessionGrant(ctx context.Context, sessionID, grantID string) error {
	if sessionID == "" || grantID == "" {
		return nil
	}
	_, err := Call[*msg.Ack](ctx, c.node, SessionKindName, sessionID, &msg.SessionForgetGrant{GrantId: grantID})
	return err
}

// ---- Account index (kind "account", keyed by user id) ----

// TrackAccount adds entries to accountID's index (or extends them: the later expiry
// wins). Entries without expiry live Lifetimes.Session (sessions) or Lifetimes.Grant (grants,
// families) from now.
func (c *Client) TrackAccount(ctx context.Context, accountID string, t *msg.AccountTrack) error {
	if accountID == "" {
		return oauth.InvalidRequest("account id is required")
	}
	_, err := Call[*msg.Ack](ctx, c.node, AccountKindName, accountID, t)
	return err
}

// ForgetAccount removes entries from accountID's index.
func (c *Client) ForgetAccount(ctx context.Context, accountID string, f *msg.AccountForget) error {
	if accountID == "" || len(f.GetSessionIds())+len(f.GetGrantIds())+len(f.GetFamilyIds()) == 0 {
		return nil
	}
	_, err := Call[*msg.Ack](ctx, c.node, AccountKindName, accountID, f)
	return err
}

// AccountIndex returns accountID's unexpired index entries, live targets or not.
func (c *Client) AccountIndex(ctx context.Context, accountID string) (*msg.AccountRecord, error) {
	if accountID == "" {
		return &msg.AccountRecord{}, nil
	}
	return Call[*msg.AccountRecord](ctx, c.node, AccountKindName, accountID, &msg.AccountList{})
}

// AccountSession is a live session of an account.
type AccountSession struct {
	ID     string
	Record *msg.SessionRecord // without its secret hash
}

// AccountGrant is a live (unrevoked, unexpired) grant of an account.
type AccountGrant struct {
	ID     string
	Record *msg.GrantRecord // without codes and tokens
}

// AccountSessions returns accountID's live sessions, in index order. Indexed sessions
// that ended, expired or belong to someone else are removed from the index.
func (c *Client) AccountSessions(ctx context.Context, accountID string) ([]AccountSession, error) {
	idx, err := c.AccountIndex(ctx, accountID)
	if err != nil {
		return nil, err
	}
	recs := make([]*msg.SessionRecord, len(idx.GetSessions()))
	dead := make([]bool, len(recs))
	err = parallel(ctx, len(recs), func(ctx context.Context, i int) error {
		rec, err := c.PeekSession(ctx, idx.GetSessions()[i].GetId())
		switch {
		case errors.Is(err, errLoginRequired("")):
			dead[i] = true
		case err != nil:
			return err
		case rec.GetAccountId() != accountID:
			dead[i] = true
		default:
			recs[i] = rec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []AccountSession
	forget := &msg.AccountForget{}
	for i, e := range idx.GetSessions() {
		if dead[i] {
			forget.SessionIds = append(forget.SessionIds, e.GetId())
		} else {
			out = append(out, AccountSession{ID: e.GetId(), Record: recs[i]})
		}
	}
	c.heal(ctx, accountID, forget)
	return out, nil
}

// AccountGrants returns accountID's live grants, in index order. Indexed grants that
// were revoked, expired or belong to someone else are removed from the index.
func (c *Client) AccountGrants(ctx context.Context, accountID string) ([]AccountGrant, error) {
	idx, err := c.AccountIndex(ctx, accountID)
	if err != nil {
		return nil, err
	}
	recs := make([]*msg.GrantRecord, len(idx.GetGrants()))
	dead := make([]bool, len(recs))
	err = parallel(ctx, len(recs), func(ctx context.Context, i int) error {
		rec, err := c.CheckGrant(ctx, idx.GetGrants()[i].GetId())
		switch {
		case errors.Is(err, oauth.InvalidGrant("")):
			dead[i] = true
		case err != nil:
			return err
		case rec.GetAccountId() != accountID:
			dead[i] = true
		default:
			recs[i] = rec
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var out []AccountGrant
	forget := &msg.AccountForget{}
	for i, e := range idx.GetGrants() {
		if dead[i] {
			forget.GrantIds = append(forget.GrantIds, e.GetId())
		} else {
			out = append(out, AccountGrant{ID: e.GetId(), Record: recs[i]})
		}
	}
	c.heal(ctx, accountID, forget)
	return out, nil
}

// heal removes dead entries from the index; failing only leaves them for next time.
func (c *Client) heal(ctx context.Context, accountID string, f *msg.AccountForget) {
	_ = c.ForgetAccount(ctx, accountID, f)
}

// EndedSession is a session that RevokeAccount ended, with what it was (its clients,
// for back-channel logout).
type EndedSession struct {
	ID     string
	Record *msg.SessionRecord
}

// RevokeAccount ends every indexed session of accountID and revokes every indexed grant
// (with its codes and opaque access tokens) and refresh family, plus the grants of the
// ended sessions' clients, in parallel; it returns when each has answered. Revoked
// targets leave the index. It returns the sessions it ended (absent ones are skipped)
// and every failure, joined: callers may simply retry, as every step is idempotent.
//
// Suspension and deletion call it so that the account's tokens and sessions stop at
// once, and stay stopped if the account is later restored.
func (c *Client) RevokeAccount(ctx context.Context, accountID string) ([]EndedSession, error) {
	idx, err := c.AccountIndex(ctx, accountID)
	if err != nil {
		return nil, err
	}
	sessions := idx.GetSessions()
	ended := make([]*msg.SessionRecord, len(sessions))
	errs := make([]error, 0, 3)
	done := &msg.AccountForget{}

	sessErr := parallel(ctx, len(sessions), func(ctx context.Context, i int) error {
		rec, err := c.RevokeSession(ctx, sessions[i].GetId())
		if err != nil && !errors.Is(err, errLoginRequired("")) {
			return err
		}
		ended[i] = rec
		return nil
	})
	errs = append(errs, sessErr)
	var out []EndedSession
	grants := make([]string, 0, len(idx.GetGrants()))
	for _, e := range idx.GetGrants() {
		grants = append(grants, e.GetId())
	}
	for i, rec := range ended {
		if rec == nil {
			continue
		}
		out = append(out, EndedSession{ID: sessions[i].GetId(), Record: rec})
		for _, cl := range rec.GetClients() {
			if g := cl.GetGrantId(); g != "" && !slices.Contains(grants, g) {
				grants = append(grants, g)
			}
		}
	}
	if sessErr == nil {
		for _, e := range sessions {
			done.SessionIds = append(done.SessionIds, e.GetId())
		}
	}

	var mu sync.Mutex
	grantErr := parallel(ctx, len(grants), func(ctx context.Context, i int) error {
		if err := c.RevokeGrant(ctx, grants[i]); err != nil {
			return err
		}
		mu.Lock()
		done.GrantIds = append(done.GrantIds, grants[i])
		mu.Unlock()
		return nil
	})
	families := idx.GetFamilies()
	famErr := parallel(ctx, len(families), func(ctx context.Context, i int) error {
		if err := c.RevokeRefreshFamily(ctx, families[i].GetId()); err != nil {
			return err
		}
		mu.Lock()
		done.FamilyIds = append(done.FamilyIds, families[i].GetId())
		mu.Unlock()
		return nil
	})
	errs = append(errs, grantErr, famErr)
	if err := c.ForgetAccount(ctx, accountID, done); err != nil {
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

// parallel runs fn(ctx, i) for i in [0, n) with at most fanOut in flight and returns
// the failures, joined. Every goroutine it starts has returned when it returns; once
// ctx ends it starts no more (the rest fail with ctx's error).
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	sem := make(chan struct{}, fanOut)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			errs[i] = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(ctx, i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
