package directory

import (
	"context"
	"encoding/json"
	"fmt"
)

// kindJwtCustomizer holds Logto's two custom JWT configs (logto_configs rows
// jwt.accessToken and jwt.clientCredentials), keyed by JwtCustomizerKey.
const kindJwtCustomizer = "jwt-customizer"

// Logto's LogtoJwtTokenKey: the key of each custom JWT config.
const (
	JwtCustomizerAccessToken       = "jwt.accessToken"
	JwtCustomizerClientCredentials = "jwt.clientCredentials"
)

// JwtCustomizerKeys lists the keys in Logto's order (Object.values(LogtoJwtTokenKey)).
var JwtCustomizerKeys = []string{JwtCustomizerAccessToken, JwtCustomizerClientCredentials}

// JwtCustomizer is one custom JWT config. Value is the JSON document the Management
// API accepted (Logto's accessTokenJwtCustomizerGuard or clientCredentials one),
// kept as sent so a read answers it back unchanged; the http layer validates it and
// the script runner decodes the fields it needs. Shared once published: never mutate.
type JwtCustomizer struct {
	Key     string          `json:"-"`
	Value   json.RawMessage `json:"value"`
	Version uint64          `json:"-"`
}

// JwtCustomizer returns the config stored under key.
func (d *Directory) JwtCustomizer(key string) (*JwtCustomizer, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	c, ok := d.st.jwtCustomizers[key]
	return c, ok
}

// PutJwtCustomizer stores value under key (Logto's upsertJwtCustomizer), replacing any
// earlier one in one replicated write. created reports there was none.
func (d *Directory) PutJwtCustomizer(ctx context.Context, key string, value json.RawMessage) (created bool, err error) {
	if !validJwtCustomizerKey(key) {
		return false, fmt.Errorf("%w: unknown jwt customizer key %q", ErrInvalid, key)
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err = d.commit(ctx, func(b *batch) error {
		var expect uint64
		if cur, ok := d.JwtCustomizer(key); ok {
			expect = cur.Version
		}
		created = expect == 0
		b.put(kindJwtCustomizer, key, expect, &JwtCustomizer{Value: value})
		return nil
	})
	return created, err
}

// DeleteJwtCustomizer removes the config under key; ErrNotFound when there is none.
func (d *Directory) DeleteJwtCustomizer(ctx context.Context, key string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		cur, ok := d.JwtCustomizer(key)
		if !ok {
			return ErrNotFound
		}
		b.del(kindJwtCustomizer, key, cur.Version)
		return nil
	})
}

func validJwtCustomizerKey(key string) bool {
	return key == JwtCustomizerAccessToken || key == JwtCustomizerClientCredentials
}

// ---- state (callers hold wmu and mu) ----

// applyJwtCustomizer publishes a record of this file's kind; handled is false for
// any other kind.
func (d *Directory) applyJwtCustomizer(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	if kind != kindJwtCustomizer {
		return false, nil
	}
	var c JwtCustomizer
	if err := json.Unmarshal(rec, &c); err != nil {
		return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
	}
	c.Key, c.Version = key, version
	if d.st.jwtCustomizers == nil {
		d.st.jwtCustomizers = map[string]*JwtCustomizer{}
	}
	d.st.jwtCustomizers[key] = &c
	return true, nil
}

// removeJwtCustomizer unpublishes it; false for any other kind.
func (d *Directory) removeJwtCustomizer(kind, key string) bool {
	if kind != kindJwtCustomizer {
		return false
	}
	delete(d.st.jwtCustomizers, key)
	return true
}
