package directory

import (
	"bytes"
	"context"
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
