package directory

import (
	"context"
	"slices"
	"strings"
)

// kindCookieKey holds Logto's oidc.cookieKeys: random secrets an OpenID Provider may
// sign its cookies with, newest first. The OP's own cookies are not signed
// (http/cookies.go; _interaction is a random id, _session an id and a secret, both
// checked server-side); the demo app seals its cookie with them (http/demo_cookie.go).
// They are kept, listed, rotated and deleted as Logto does, so its Management API
// works unchanged.
const kindCookieKey = "cookie-key"

// EntityCookieKey names a cookie key in NotFoundError.
const EntityCookieKey = "cookie key"

// maxCookieKeys is Logto's clamp on rotation: the new key and the one before it.
const maxCookieKeys = 2

// CookieKey is one cookie-signing secret. Value never leaves the directory through
// the Management API.
type CookieKey struct {
	ID        string `json:"id"`
	Value     string `json:"value"`
	CreatedAt int64  `json:"createdAt"`
	Version   uint64 `json:"-"`
}

// CookieKeys returns the cookie keys newest first (the first one signs, as in Logto).
// The slice is the caller's; the keys are shared and must not be mutated.
func (d *Directory) CookieKeys() []*CookieKey {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cookieKeysLocked()
}

// RotateCookieKey adds a new random cookie key on top and keeps only the newest
// maxCookieKeys (Logto's rotate), in one batch.
func (d *Directory) RotateCookieKey(ctx context.Context) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	id, err := d.newID()
	if err != nil {
		return err
	}
	value, err := d.newSecret()
	if err != nil {
		return err
	}
	now := d.nowMs()
	return d.commit(ctx, func(b *batch) error {
		old := d.cookieKeysLocked()
		// The new key is on top (Logto's list order), even with a clock that has
		// not moved since the last rotation.
		created := now
		if len(old) > 0 && old[0].CreatedAt >= created {
			created = old[0].CreatedAt + 1
		}
		b.put(kindCookieKey, id, 0, &CookieKey{ID: id, Value: value, CreatedAt: created})
		for i, o := range old {
			if i+1 >= maxCookieKeys {
				b.del(kindCookieKey, o.ID, o.Version)
			}
		}
		return nil
	})
}

// RevokeCookieKey is Logto's DELETE /configs/oidc/cookie-keys/{id}: ErrKeyRequired
// when it is the only cookie key, *NotFoundError when there is no such key.
func (d *Directory) RevokeCookieKey(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		if len(d.st.cookieKeys) <= 1 {
			return ErrKeyRequired
		}
		old, ok := d.st.cookieKeys[id]
		if !ok {
			return notFound(EntityCookieKey, id)
		}
		b.del(kindCookieKey, id, old.Version)
		return nil
	})
}

// cookieKeysLocked is CookieKeys for callers holding wmu or mu.
func (d *Directory) cookieKeysLocked() []*CookieKey {
	ks := make([]*CookieKey, 0, len(d.st.cookieKeys))
	for _, k := range d.st.cookieKeys {
		ks = append(ks, k)
	}
	slices.SortFunc(ks, func(a, b *CookieKey) int {
		if a.CreatedAt != b.CreatedAt {
			if a.CreatedAt > b.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return ks
}

// ---- state (callers hold wmu and mu) ----

func (d *Directory) setCookieKey(k *CookieKey) { d.st.cookieKeys[k.ID] = k }

func (d *Directory) deleteCookieKey(id string) { delete(d.st.cookieKeys, id) }
