package directory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Verification records (Logto's verification_records for the Account API): proof that
// a user re-authenticated a moment ago, presented by id in the logto-verification-id
// header of a sensitive Account API call.
//
// Each is its own replicated record, kind "verification-record" keyed by the SHA-256
// of its id, so every node can check it and no store reader learns a usable id. The
// id is 21 characters of the directory's id alphabet plus a secret: a bearer value,
// not a guessable id. Expired records are deleted by later creations
// (sweepVerificationRecords), as subject tokens are: apply must not read a clock.
const kindVerificationRecord = "verification-record"

// VerificationRecordTTL is a record's lifetime (Logto's expirationTime, 10 minutes).
const VerificationRecordTTL = 10 * time.Minute

// Verification record types (Logto's VerificationType).
const VerificationTypePassword = "Password"

// ErrVerificationRecordNotFound: no live record with that id for that user (Logto's
// verification_record.not_found).
var ErrVerificationRecordNotFound = errors.New("directory: verification record not found")

// VerificationRecord is a stored verification record, without its id.
type VerificationRecord struct {
	Hash      string `json:"-"`
	UserID    string `json:"userId"`
	Type      string `json:"type"`
	Verified  bool   `json:"verified"`
	CreatedAt int64  `json:"createdAt"`
	ExpiresAt int64  `json:"expiresAt"`
	// Data is a ceremony's state (a WebAuthn registration: its session data, then the
	// proven credential); no secret of the user.
	Data    json.RawMessage `json:"data,omitempty"`
	Version uint64          `json:"-"`
}

// maxSweptVerificationRecords bounds the expired records one creation deletes.
const maxSweptVerificationRecords = 16

// CreateVerificationRecord stores a verified record of type typ for userID, valid
// VerificationRecordTTL, and returns it with its id. The caller has just verified
// the factor (VerifyUserPassword for a password).
func (d *Directory) CreateVerificationRecord(ctx context.Context, userID, typ string) (VerificationRecord, string, error) {
	id, err := d.newID()
	if err != nil {
		return VerificationRecord{}, "", err
	}
	secret, err := d.newSecret()
	if err != nil {
		return VerificationRecord{}, "", err
	}
	return d.StoreVerificationRecord(ctx, id+secret, userID, typ)
}

// StoreVerificationRecord is CreateVerificationRecord for an id the caller chose: a
// verification proven through another record (a verification code's record, whose id
// the caller already holds) becomes a verification record under that same id. The id
// must be as unguessable as CreateVerificationRecord's.
func (d *Directory) StoreVerificationRecord(ctx context.Context, value, userID, typ string) (VerificationRecord, string, error) {
	now := d.now()
	v := VerificationRecord{Hash: tokenHash(value), UserID: userID, Type: typ, Verified: true,
		CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(VerificationRecordTTL).UnixMilli()}
	return d.putVerificationRecord(ctx, value, v)
}

// CreatePendingVerificationRecord stores an unverified record of typ for userID with a
// ceremony's data (a WebAuthn registration's session), valid VerificationRecordTTL;
// VerificationRecordFor does not accept it. UpdateVerificationRecord proves it.
func (d *Directory) CreatePendingVerificationRecord(ctx context.Context, userID, typ string, data json.RawMessage) (VerificationRecord, string, error) {
	id, err := d.newID()
	if err != nil {
		return VerificationRecord{}, "", err
	}
	secret, err := d.newSecret()
	if err != nil {
		return VerificationRecord{}, "", err
	}
	now := d.now()
	v := VerificationRecord{Hash: tokenHash(id + secret), UserID: userID, Type: typ, Data: data,
		CreatedAt: now.UnixMilli(), ExpiresAt: now.Add(VerificationRecordTTL).UnixMilli()}
	return d.putVerificationRecord(ctx, id+secret, v)
}

// VerificationRecordOfType returns the live record with id of userID and typ, verified
// or not (ErrVerificationRecordNotFound otherwise).
func (d *Directory) VerificationRecordOfType(id, userID, typ string) (VerificationRecord, error) {
	d.mu.RLock()
	r, ok := d.st.verifications[tokenHash(id)]
	d.mu.RUnlock()
	if !ok || r.UserID != userID || r.Type != typ || r.ExpiresAt <= d.now().UnixMilli() {
		return VerificationRecord{}, ErrVerificationRecordNotFound
	}
	return *r, nil
}

// UpdateVerificationRecord replaces the data of the record prev (as
// VerificationRecordOfType returned it) and marks it verified, if it is unchanged
// since (persistence.ErrConflict otherwise: a record is proven once).
func (d *Directory) UpdateVerificationRecord(ctx context.Context, prev VerificationRecord, data json.RawMessage) error {
	next := prev
	next.Data, next.Verified = data, true
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		b.put(kindVerificationRecord, prev.Hash, prev.Version, next)
		return nil
	})
}

// DeleteVerificationRecord spends the record prev, if it is unchanged since
// (persistence.ErrConflict otherwise).
func (d *Directory) DeleteVerificationRecord(ctx context.Context, prev VerificationRecord) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		b.del(kindVerificationRecord, prev.Hash, prev.Version)
		return nil
	})
}

// putVerificationRecord creates v under value's hash, sweeping expired records.
func (d *Directory) putVerificationRecord(ctx context.Context, value string, v VerificationRecord) (VerificationRecord, string, error) {
	var err error
	userID := v.UserID
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err = d.commitSweeping(ctx, func(b *batch) error {
		u, ok := d.st.users[userID]
		if !ok {
			return notFound(EntityUser, userID)
		}
		b.check(kindUser, userID, u.Version)
		b.put(kindVerificationRecord, v.Hash, 0, v)
		n := 0
		for h, r := range d.st.verifications {
			if n == maxSweptVerificationRecords {
				break
			}
			if r.ExpiresAt <= v.CreatedAt {
				b.del(kindVerificationRecord, h, r.Version)
				n++
			}
		}
		return nil
	})
	if err != nil {
		return VerificationRecord{}, "", err
	}
	return v, value, nil
}

// VerificationRecordFor returns the live, verified record with id that belongs to
// userID (Logto's findUserActiveVerificationRecordById), from this node's memory, or
// ErrVerificationRecordNotFound.
func (d *Directory) VerificationRecordFor(id, userID string) (VerificationRecord, error) {
	d.mu.RLock()
	r, ok := d.st.verifications[tokenHash(id)]
	d.mu.RUnlock()
	if !ok || r.UserID != userID || !r.Verified || r.ExpiresAt <= d.now().UnixMilli() {
		return VerificationRecord{}, ErrVerificationRecordNotFound
	}
	return *r, nil
}

// ---- state (callers hold wmu and mu) ----

// applyVerificationRecord publishes a record of this file's kind; handled is false
// for any other kind.
func (d *Directory) applyVerificationRecord(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	if kind != kindVerificationRecord {
		return false, nil
	}
	var v VerificationRecord
	if err := json.Unmarshal(rec, &v); err != nil {
		return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
	}
	v.Hash, v.Version = key, version
	if d.st.verifications == nil {
		d.st.verifications = map[string]*VerificationRecord{}
	}
	d.st.verifications[key] = &v
	return true, nil
}

// removeVerificationRecord unpublishes it; false for any other kind.
func (d *Directory) removeVerificationRecord(kind, key string) bool {
	if kind != kindVerificationRecord {
		return false
	}
	delete(d.st.verifications, key)
	return true
}
