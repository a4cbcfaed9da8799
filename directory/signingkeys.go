package directory

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
)

// Signing key statuses (Logto's oidc.privateKeys rotation states).
const (
	KeyCurrent  = "Current"
	KeyNext     = "Next"
	KeyPrevious = "Previous"
)

func keyStatusRank(s string) int {
	switch s {
	case KeyCurrent:
		return 0
	case KeyNext:
		return 1
	case KeyPrevious:
		return 2
	}
	return 3
}

// SigningKeys returns every signing key, Current first, then Next, then Previous
// (newest first within a status). Hot path: the slice is a snapshot rebuilt on each
// key write, shared by all callers, and must not be mutated.
func (d *Directory) SigningKeys() []*SigningKey {
	d.mu.RLock()
	ks := d.st.keyList
	d.mu.RUnlock()
	return ks
}

// PutSigningKey creates or replaces the key with k.ID (generated, and written to k.ID,
// when empty). The directory stores its own copy: k stays the caller's.
func (d *Directory) PutSigningKey(ctx context.Context, k *SigningKey) error {
	if k == nil {
		return invalid("signingKey", "must not be nil")
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if k.ID == "" {
		id, err := d.newID()
		if err != nil {
			return err
		}
		k.ID = id
	} else if err := validExternalID(k.ID); err != nil {
		return err
	}
	if len(bytes.TrimSpace(k.JWK)) == 0 {
		return invalid("jwk", "must not be empty")
	}
	c := *k
	c.JWK = bytes.Clone(k.JWK)
	if c.CreatedAt == 0 {
		c.CreatedAt = d.nowMs()
	}
	c.Version = 0
	return d.commit(ctx, func(b *batch) error {
		var expect uint64 // a key another node created meanwhile is replaced
		if old, ok := d.st.keys[c.ID]; ok {
			expect = old.Version
		}
		b.put(kindSigningKey, c.ID, expect, &c)
		return nil
	})
}

// DeleteSigningKey deletes the key with id.
func (d *Directory) DeleteSigningKey(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	old, ok := d.st.keys[id]
	if !ok {
		return notFound(EntitySigningKey, id)
	}
	return d.commit(ctx, func(b *batch) error {
		b.del(kindSigningKey, id, old.Version)
		return nil
	})
}

// ---- state (callers hold wmu and mu) ----

func (d *Directory) setSigningKey(k *SigningKey) {
	d.st.keys[k.ID] = k
	d.rebuildKeyList()
}

func (d *Directory) deleteSigningKey(id string) {
	delete(d.st.keys, id)
	d.rebuildKeyList()
}

// rebuildKeyList publishes a fresh slice, so the one readers hold never changes.
func (d *Directory) rebuildKeyList() {
	ks := make([]*SigningKey, 0, len(d.st.keys))
	for _, k := range d.st.keys {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b *SigningKey) int {
		if ra, rb := keyStatusRank(a.Status), keyStatusRank(b.Status); ra != rb {
			return ra - rb
		}
		if a.CreatedAt != b.CreatedAt {
			if a.CreatedAt > b.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	d.st.keyList = ks
}

// ErrKeyRequired: deleting the key would leave no key of its type (Logto's
// oidc.key_required: a tenant always keeps at least one private key and one cookie
// key).
var ErrKeyRequired = errors.New("directory: at least one key of this type is required")

// maxPreviousKeys is how many Previous signing keys a rotation keeps. Logto keeps the
// new key and the one before it ([new, ...existing].slice(0, 2)), so tokens signed by
// the key just replaced keep verifying until they expire, and a key two rotations old
// is dropped.
const maxPreviousKeys = 1

// RotateSigningKey makes k the Current signing key in one batch, so every node
// switches at the same log index: the old Current key becomes Previous (still
// published and verifying: a rotation never invalidates a token in flight), and of
// the older Previous keys only the newest maxPreviousKeys-1 are kept (Logto's
// two-key clamp). k may name an existing Next key (already published, so clients
// and other nodes that cached the JWKS know it): it is promoted. next, when not nil,
// becomes the one Next key (other Next keys are dropped): published from now on, it
// is what the following rotation promotes, so no node ever meets a token signed with
// a key it has not published yet, however late it applies that rotation. The
// directory stores its own copies; k.ID is generated when empty.
func (d *Directory) RotateSigningKey(ctx context.Context, k, next *SigningKey) error {
	if k == nil {
		return invalid("signingKey", "must not be nil")
	}
	if next != nil {
		if err := validExternalID(next.ID); err != nil {
			return err
		}
		if next.ID == k.ID || len(bytes.TrimSpace(next.JWK)) == 0 {
			return invalid("nextSigningKey", "must be another key with a JWK")
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	if k.ID == "" {
		id, err := d.newID()
		if err != nil {
			return err
		}
		k.ID = id
	} else if err := validExternalID(k.ID); err != nil {
		return err
	}
	if len(bytes.TrimSpace(k.JWK)) == 0 {
		return invalid("jwk", "must not be empty")
	}
	now := d.nowMs()
	return d.commit(ctx, func(b *batch) error {
		c := *k
		c.JWK = bytes.Clone(k.JWK)
		c.Status = KeyCurrent
		c.Version = 0
		var expect uint64
		if old, ok := d.st.keys[c.ID]; ok {
			expect = old.Version
			if c.CreatedAt == 0 {
				c.CreatedAt = old.CreatedAt
			}
		}
		if c.CreatedAt == 0 {
			c.CreatedAt = now
		}
		b.put(kindSigningKey, c.ID, expect, &c)
		if next != nil {
			n := *next
			n.JWK = bytes.Clone(next.JWK)
			n.Status = KeyNext
			n.Version = 0
			if n.CreatedAt == 0 {
				n.CreatedAt = now
			}
			b.put(kindSigningKey, n.ID, 0, &n)
		}
		kept := 0
		// keyList is Current first, then Next, then Previous newest first: the
		// demoted Current keys are the newest Previous ones.
		for _, old := range d.st.keyList {
			if old.ID == c.ID {
				continue
			}
			if old.Status == KeyNext {
				if next != nil {
					b.del(kindSigningKey, old.ID, old.Version) // replaced by next
				}
				continue
			}
			if kept < maxPreviousKeys {
				kept++
				if old.Status != KeyPrevious {
					demoted := *old
					demoted.Status = KeyPrevious
					b.put(kindSigningKey, old.ID, old.Version, &demoted)
				}
				continue
			}
			b.del(kindSigningKey, old.ID, old.Version)
		}
		return nil
	})
}

// RevokeSigningKey is Logto's DELETE /configs/oidc/private-keys/{id}: ErrKeyRequired
// when it is the only listed signing key, *NotFoundError when there is no such key
// (or it is the unlisted Next key). Deleting
// the Current key (e.g. a compromised one) promotes the first remaining key (a Next
// key, else the newest Previous one) to Current in the same batch, as Logto then signs
// with the next key of its list; tokens the deleted key signed stop verifying.
func (d *Directory) RevokeSigningKey(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		listed := 0 // the keys of Logto's list: Current and Previous
		for _, k := range d.st.keyList {
			if k.Status != KeyNext {
				listed++
			}
		}
		if listed <= 1 {
			return ErrKeyRequired
		}
		old, ok := d.st.keys[id]
		if !ok || old.Status == KeyNext {
			return notFound(EntitySigningKey, id) // the Next key is not listed either
		}
		b.del(kindSigningKey, id, old.Version)
		if old.Status != KeyCurrent {
			return nil
		}
		for _, k := range d.st.keyList {
			if k.ID == id {
				continue
			}
			if k.Status == KeyCurrent { // another Current key already signs
				return nil
			}
			promoted := *k
			promoted.Status = KeyCurrent
			b.put(kindSigningKey, k.ID, k.Version, &promoted)
			return nil
		}
		return nil
	})
}

// CurrentSigningKey is the key that signs (the first Current key), if any.
func (d *Directory) CurrentSigningKey() (*SigningKey, bool) {
	ks := d.SigningKeys()
	if len(ks) == 0 || ks[0].Status != KeyCurrent {
		return nil, false
	}
	return ks[0], true
}
