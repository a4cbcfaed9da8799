package directory

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchid/latch/persistence"
)

// Personal access tokens and subject tokens (Logto's personal_access_tokens and
// subject_tokens tables): the two kinds of subject token the token-exchange grant
// (RFC 8693) accepts for a user.
//
//   - A user's personal access tokens are one record, kind "user-pats" keyed by user
//     id, so "name unique per user" is decided by the record's version: two nodes that
//     both add the same name cannot both commit. The value ("pat_" + 32 random
//     characters, ~190 bits) is returned once, at creation; only its SHA-256 is kept.
//     A lookup hashes the presented value and finds it in an in-memory index: with a
//     high-entropy secret the hash is the lookup key, and no comparison of secrets
//     happens that a timing could reveal.
//   - A subject token (POST /api/subject-tokens, impersonation by an administrator) is
//     its own record, kind "subject-token" keyed by the SHA-256 of its value; expired
//     ones are deleted by later creations (sweepSubjectTokens). It is used once: ConsumeSubjectToken marks it
//     consumed by a write conditional on the version read, so of two nodes presenting
//     the same token at once exactly one commit wins; the other fails with a version
//     conflict and is refused.

// Store kinds of this file (in directoryKinds).
const (
	kindUserPATs     = "user-pats"
	kindSubjectToken = "subject-token"
)

// EntityPAT is the entity name of personal access tokens in errors.
const EntityPAT = "personal access token"

// SubjectTokenTTL is a subject token's lifetime (Logto's subjectTokenExpiresIn, 600 s).
const SubjectTokenTTL = 10 * time.Minute

// Prefixes of the token values, as Logto's.
const (
	PATPrefix          = "pat_"
	SubjectTokenPrefix = "sub_"
)

// Errors of the token lookups, for the token-exchange grant's invalid_grant.
var (
	ErrTokenUnknown  = errors.New("directory: subject token not found")
	ErrTokenExpired  = errors.New("directory: subject token is expired")
	ErrTokenConsumed = errors.New("directory: subject token is already consumed")
)

// PersonalAccessToken is one of a user's personal access tokens, without its value.
type PersonalAccessToken struct {
	UserID    string `json:"-"`
	Name      string `json:"name"`
	Hash      string `json:"hash"`
	CreatedAt int64  `json:"createdAt"`
	// ExpiresAt is in ms since the epoch; nil: never.
	ExpiresAt *int64 `json:"expiresAt,omitempty"`
}

// userPATs is the stored record of a user's tokens.
type userPATs struct {
	Tokens []PersonalAccessToken `json:"tokens"`
}

// SubjectToken is a stored subject token, without its value.
type SubjectToken struct {
	Hash       string          `json:"-"`
	UserID     string          `json:"userId"`
	Context    json.RawMessage `json:"context,omitempty"`
	CreatorID  string          `json:"creatorId,omitempty"`
	CreatedAt  int64           `json:"createdAt"`
	ExpiresAt  int64           `json:"expiresAt"`
	ConsumedAt int64           `json:"consumedAt,omitempty"`
	Version    uint64          `json:"-"`
}

// tokenState is the in-memory side of this file's kinds.
type tokenState struct {
	pats        map[string][]PersonalAccessToken // userID -> tokens
	patVersions map[string]uint64                // userID -> record version
	patByHash   map[string]PersonalAccessToken   // value hash -> token
	subjects    map[string]*SubjectToken         // value hash -> token
}

func newTokenState() tokenState {
	return tokenState{
		pats: map[string][]PersonalAccessToken{}, patVersions: map[string]uint64{},
		patByHash: map[string]PersonalAccessToken{}, subjects: map[string]*SubjectToken{},
	}
}

func tokenHash(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// applyTokens publishes a record of this file's kinds; handled is false for any other
// kind. Callers hold wmu and mu.
func (d *Directory) applyTokens(kind, key string, rec persistence.Record) (handled bool, err error) {
	st := &d.st.tok
	switch kind {
	case kindUserPATs:
		var v userPATs
		if err := json.Unmarshal(rec.Value, &v); err != nil {
			return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
		}
		d.removeTokens(kind, key)
		for i := range v.Tokens {
			v.Tokens[i].UserID = key
			st.patByHash[v.Tokens[i].Hash] = v.Tokens[i]
		}
		st.pats[key], st.patVersions[key] = v.Tokens, rec.Version
		return true, nil
	case kindSubjectToken:
		var t SubjectToken
		if err := json.Unmarshal(rec.Value, &t); err != nil {
			return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
		}
		t.Hash, t.Version = key, rec.Version
		st.subjects[key] = &t
		return true, nil
	}
	return false, nil
}

// removeTokens unpublishes a record of this file's kinds; false for any other kind.
func (d *Directory) removeTokens(kind, key string) bool {
	st := &d.st.tok
	switch kind {
	case kindUserPATs:
		for _, t := range st.pats[key] {
			delete(st.patByHash, t.Hash)
		}
		delete(st.pats, key)
		delete(st.patVersions, key)
		return true
	case kindSubjectToken:
		delete(st.subjects, key)
		return true
	}
	return false
}

// PersonalAccessTokens lists a user's tokens (without values), oldest first.
func (d *Directory) PersonalAccessTokens(userID string) ([]PersonalAccessToken, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if _, ok := d.st.users[userID]; !ok {
		return nil, notFound(EntityUser, userID)
	}
	return slices.Clone(d.st.tok.pats[userID]), nil
}

// CreatePersonalAccessToken adds a token called name to the user and returns it with
// its value, visible only here. name must be unique within the user (ConflictError);
// expiresAt (ms since the epoch), when set, must be in the future.
func (d *Directory) CreatePersonalAccessToken(ctx context.Context, userID, name string, expiresAt *int64) (PersonalAccessToken, string, error) {
	if err := validName("name", name); err != nil {
		return PersonalAccessToken{}, "", err
	}
	if expiresAt != nil && *expiresAt <= d.nowMs() {
		return PersonalAccessToken{}, "", invalid("expiresAt", "The value of `expiresAt` must be in the future.")
	}
	secret, err := d.newSecret()
	if err != nil {
		return PersonalAccessToken{}, "", err
	}
	value := PATPrefix + secret
	tok := PersonalAccessToken{UserID: userID, Name: name, Hash: tokenHash(value), CreatedAt: d.nowMs(), ExpiresAt: clonePtr(expiresAt)}
	err = d.updatePATs(ctx, userID, func(list []PersonalAccessToken) ([]PersonalAccessToken, error) {
		if slices.ContainsFunc(list, func(t PersonalAccessToken) bool { return t.Name == name }) {
			return nil, conflict(EntityPAT, "name", name)
		}
		return append(list, tok), nil
	})
	if err != nil {
		return PersonalAccessToken{}, "", err
	}
	return tok, value, nil
}

// RenamePersonalAccessToken renames the user's token name to newName (unique within
// the user) and returns it.
func (d *Directory) RenamePersonalAccessToken(ctx context.Context, userID, name, newName string) (PersonalAccessToken, error) {
	if err := validName("name", newName); err != nil {
		return PersonalAccessToken{}, err
	}
	var out PersonalAccessToken
	err := d.updatePATs(ctx, userID, func(list []PersonalAccessToken) ([]PersonalAccessToken, error) {
		i := slices.IndexFunc(list, func(t PersonalAccessToken) bool { return t.Name == name })
		if i < 0 {
			return nil, notFound(EntityPAT, name)
		}
		if newName != name && slices.ContainsFunc(list, func(t PersonalAccessToken) bool { return t.Name == newName }) {
			return nil, conflict(EntityPAT, "name", newName)
		}
		list[i].Name = newName
		out = list[i]
		return list, nil
	})
	return out, err
}

// DeletePersonalAccessToken revokes the user's token called name: the next exchange
// of its value is refused on every node that applied the deletion.
func (d *Directory) DeletePersonalAccessToken(ctx context.Context, userID, name string) error {
	return d.updatePATs(ctx, userID, func(list []PersonalAccessToken) ([]PersonalAccessToken, error) {
		i := slices.IndexFunc(list, func(t PersonalAccessToken) bool { return t.Name == name })
		if i < 0 {
			return nil, notFound(EntityPAT, name)
		}
		return slices.Delete(list, i, i+1), nil
	})
}

// updatePATs rewrites the user's token record with change's result, conditional on
// the record's version (and the user's), in one batch.
func (d *Directory) updatePATs(ctx context.Context, userID string, change func([]PersonalAccessToken) ([]PersonalAccessToken, error)) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		u, ok := d.st.users[userID]
		if !ok {
			return notFound(EntityUser, userID)
		}
		next, err := change(slices.Clone(d.st.tok.pats[userID]))
		if err != nil {
			return err
		}
		b.check(kindUser, userID, u.Version)
		ver := d.st.tok.patVersions[userID]
		if len(next) == 0 {
			if ver != 0 {
				b.del(kindUserPATs, userID, ver)
			}
			return nil
		}
		b.put(kindUserPATs, userID, ver, userPATs{Tokens: next})
		return nil
	})
}

// PersonalAccessTokenByValue finds the live token whose value is value, at now:
// ErrTokenUnknown (no such token, or its user is gone), ErrTokenExpired.
func (d *Directory) PersonalAccessTokenByValue(value string) (PersonalAccessToken, error) {
	d.mu.RLock()
	t, ok := d.st.tok.patByHash[tokenHash(value)]
	_, user := d.st.users[t.UserID]
	d.mu.RUnlock()
	if !ok || !user {
		return PersonalAccessToken{}, ErrTokenUnknown
	}
	if t.ExpiresAt != nil && *t.ExpiresAt <= d.nowMs() {
		return PersonalAccessToken{}, ErrTokenExpired
	}
	return t, nil
}

// CreateSubjectToken stores a one-use subject token for userID (Logto's POST
// /api/subject-tokens), valid SubjectTokenTTL, and returns it with its value. creatorID
// is the calling application, for audit.
func (d *Directory) CreateSubjectToken(ctx context.Context, userID string, context json.RawMessage, creatorID string) (SubjectToken, string, error) {
	id, err := d.newID()
	if err != nil {
		return SubjectToken{}, "", err
	}
	// Logto's subject tokens are "sub_" + a 21-character id; Latch adds a secret so
	// the value is a bearer secret, not a guessable id.
	secret, err := d.newSecret()
	if err != nil {
		return SubjectToken{}, "", err
	}
	value := SubjectTokenPrefix + id + secret
	if len(context) == 0 {
		context = json.RawMessage("{}")
	}
	now := d.now()
	t := SubjectToken{Hash: tokenHash(value), UserID: userID, Context: context, CreatorID: creatorID,
		CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(SubjectTokenTTL).UnixMilli()}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err = d.commitSweeping(ctx, func(b *batch) error {
		u, ok := d.st.users[userID]
		if !ok {
			return notFound(EntityUser, userID)
		}
		b.check(kindUser, userID, u.Version)
		b.put(kindSubjectToken, t.Hash, 0, t)
		d.sweepSubjectTokens(b, t.CreatedAt)
		return nil
	})
	if err != nil {
		return SubjectToken{}, "", err
	}
	return t, value, nil
}

// maxSweptSubjectTokens bounds the expired subject tokens one creation deletes.
const maxSweptSubjectTokens = 16

// sweepSubjectTokens deletes, in the creating batch, up to maxSweptSubjectTokens
// subject tokens expired at nowMs. Replicated records cannot carry a store TTL (apply
// must not depend on a node's clock), so the expiry decided here, once, by the writer
// is what removes them: every creation sweeps more than it adds, so the records stay
// bounded by the tokens created in the last SubjectTokenTTL. Callers hold wmu.
func (d *Directory) sweepSubjectTokens(b *batch, nowMs int64) {
	n := 0
	for h, t := range d.st.tok.subjects {
		if n == maxSweptSubjectTokens {
			return
		}
		if t.ExpiresAt <= nowMs {
			b.del(kindSubjectToken, h, t.Version)
			n++
		}
	}
}

// putSubjectToken writes t at expected version expect.
func (d *Directory) putSubjectToken(b *batch, t SubjectToken, expect uint64) {
	b.put(kindSubjectToken, t.Hash, expect, t)
}

// ConsumeSubjectToken uses the subject token whose value is value, once: it must
// exist (ErrTokenUnknown), be unexpired at now (ErrTokenExpired) and unused
// (ErrTokenConsumed). The consumption is a write conditional on the version read, so
// of two concurrent uses (on one node or two) only one succeeds; the loser gets
// ErrTokenConsumed.
func (d *Directory) ConsumeSubjectToken(ctx context.Context, value string) (SubjectToken, error) {
	h := tokenHash(value)
	d.wmu.Lock()
	defer d.wmu.Unlock()
	var used SubjectToken
	err := d.commit(ctx, func(b *batch) error {
		cur, ok := d.st.tok.subjects[h]
		if !ok {
			return ErrTokenUnknown
		}
		now := d.nowMs()
		if cur.ExpiresAt <= now {
			return ErrTokenExpired
		}
		if cur.ConsumedAt != 0 {
			return ErrTokenConsumed
		}
		used = *cur
		used.ConsumedAt = now
		d.putSubjectToken(b, used, cur.Version)
		return nil
	})
	if errors.Is(err, persistence.ErrConflict) {
		// Another node's consumption won the race.
		return SubjectToken{}, ErrTokenConsumed
	}
	if err != nil {
		return SubjectToken{}, err
	}
	return used, nil
}

// SubjectTokenByValue reads, without using it, the subject token whose value is
// value: the same checks as ConsumeSubjectToken against this node's memory, so a
// token-exchange request can be refused for another reason before it costs the token.
func (d *Directory) SubjectTokenByValue(value string) (SubjectToken, error) {
	d.mu.RLock()
	cur, ok := d.st.tok.subjects[tokenHash(value)]
	var t SubjectToken
	if ok {
		t = *cur
	}
	d.mu.RUnlock()
	switch {
	case !ok:
		return SubjectToken{}, ErrTokenUnknown
	case t.ExpiresAt <= d.nowMs():
		return SubjectToken{}, ErrTokenExpired
	case t.ConsumedAt != 0:
		return SubjectToken{}, ErrTokenConsumed
	}
	return t, nil
}

// cascadeUserTokens deletes, in the batch deleting the user, the user's personal
// access tokens and subject tokens (Logto's on delete cascade). Callers hold wmu.
func (d *Directory) cascadeUserTokens(b *batch, userID string) {
	if ver := d.st.tok.patVersions[userID]; ver != 0 {
		b.del(kindUserPATs, userID, ver)
	}
	for h, t := range d.st.tok.subjects {
		if t.UserID == userID {
			b.del(kindSubjectToken, h, t.Version)
		}
	}
}
