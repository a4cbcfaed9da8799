package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// kindHook holds Logto's hooks rows (webhooks): one record per hook, keyed by its id,
// its value the Hook as JSON. The directory stores what the Management API accepted;
// which events exist and what a payload carries is the hooks package's business.
const kindHook = "hook"

// EntityHook names hooks in NotFoundError: Logto's table name, so that its message
// reads "The hooks with ID `x` does not exist." as Logto's does.
const EntityHook = "hooks"

// HookConfig is Logto's HookConfig: where and how a hook's events are posted.
type HookConfig struct {
	URL string `json:"url"`
	// Headers are added to every request (after Logto's user-agent, before the
	// signature header, which they cannot replace).
	Headers map[string]string `json:"headers,omitempty"`
	// Retries is Logto's deprecated retry count (0-3), kept for the round trip only:
	// Latch's outbox decides retries.
	Retries *int `json:"retries,omitempty"`
}

// Hook is one webhook (Logto's hooks row minus tenantId). It is shared once published
// and must not be mutated.
type Hook struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Event is Logto's deprecated single event (nil: none); Events wins when set.
	Event      *string    `json:"event"`
	Events     []string   `json:"events"`
	Config     HookConfig `json:"config"`
	SigningKey string     `json:"signingKey"`
	Enabled    bool       `json:"enabled"`
	CreatedAt  int64      `json:"createdAt"`
	Version    uint64     `json:"-"`
}

// Subscribes reports whether h, enabled, receives event (Logto's filter: events when
// non-empty, else the legacy single event).
func (h *Hook) Subscribes(event string) bool {
	if !h.Enabled {
		return false
	}
	if len(h.Events) > 0 {
		return slices.Contains(h.Events, event)
	}
	return h.Event != nil && *h.Event == event
}

// NewHook is a hook to create; the id and the signing key are generated.
type NewHook struct {
	Name    string
	Event   *string
	Events  []string
	Config  HookConfig
	Enabled bool
}

// HookPatch changes a hook; a nil field is left as it is. Config replaces the stored
// config whole (Logto's jsonbMode "replace"). ClearEvent sets Event to null.
type HookPatch struct {
	Name       *string
	Event      *string
	ClearEvent bool
	Events     []string
	Config     *HookConfig
	Enabled    *bool
	// RotateSigningKey replaces the signing key with a fresh one.
	RotateSigningKey bool
}

// Hooks returns every hook, newest first (Logto orders hooks by createdAt desc), ties
// by id.
func (d *Directory) Hooks() []*Hook {
	d.mu.RLock()
	out := make([]*Hook, 0, len(d.st.hooks))
	for _, h := range d.st.hooks {
		out = append(out, h)
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Hook) int {
		if a.CreatedAt != b.CreatedAt {
			if a.CreatedAt > b.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// HookByID returns the hook with id.
func (d *Directory) HookByID(id string) (*Hook, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	h, ok := d.st.hooks[id]
	return h, ok
}

// CreateHook stores a new hook with a fresh id and signing key (Logto's
// generateStandardId and generateStandardSecret).
func (d *Directory) CreateHook(ctx context.Context, in NewHook) (*Hook, error) {
	if err := validHookConfig(in.Config); err != nil {
		return nil, err
	}
	id, err := d.newID()
	if err != nil {
		return nil, err
	}
	key, err := d.newSecret()
	if err != nil {
		return nil, err
	}
	h := &Hook{ID: id, Name: in.Name, Event: in.Event, Events: nonNil(in.Events), Config: in.Config,
		SigningKey: key, Enabled: in.Enabled, CreatedAt: d.nowMs()}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err = d.commit(ctx, func(b *batch) error {
		if _, ok := d.st.hooks[id]; ok {
			return conflict(EntityHook, "id", id)
		}
		b.put(kindHook, id, 0, h)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, ok := d.HookByID(id)
	if !ok {
		return nil, notFound(EntityHook, id)
	}
	return out, nil
}

// UpdateHook applies p to the hook with id.
func (d *Directory) UpdateHook(ctx context.Context, id string, p HookPatch) (*Hook, error) {
	if p.Config != nil {
		if err := validHookConfig(*p.Config); err != nil {
			return nil, err
		}
	}
	var newKey string
	if p.RotateSigningKey {
		var err error
		if newKey, err = d.newSecret(); err != nil {
			return nil, err
		}
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		cur, ok := d.st.hooks[id]
		if !ok {
			return notFound(EntityHook, id)
		}
		next := *cur
		if p.Name != nil {
			next.Name = *p.Name
		}
		if p.ClearEvent {
			next.Event = nil
		} else if p.Event != nil {
			next.Event = p.Event
		}
		if p.Events != nil {
			next.Events = p.Events
		}
		if p.Config != nil {
			next.Config = *p.Config
		}
		if p.Enabled != nil {
			next.Enabled = *p.Enabled
		}
		if newKey != "" {
			next.SigningKey = newKey
		}
		b.put(kindHook, id, cur.Version, &next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, ok := d.HookByID(id)
	if !ok {
		return nil, notFound(EntityHook, id)
	}
	return out, nil
}

// DeleteHook removes the hook with id.
func (d *Directory) DeleteHook(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		cur, ok := d.st.hooks[id]
		if !ok {
			return notFound(EntityHook, id)
		}
		b.del(kindHook, id, cur.Version)
		return nil
	})
}

// validHookConfig: Logto's guard only asks for a string url; Latch also needs it to be
// an absolute http(s) URL to post to, which the HTTP layer checks before this.
func validHookConfig(c HookConfig) error {
	if c.URL == "" {
		return invalid("config.url", "is required")
	}
	if c.Retries != nil && (*c.Retries < 0 || *c.Retries > 3) {
		return invalid("config.retries", "must be between 0 and 3")
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ---- state (callers hold wmu and mu) ----

// applyHook publishes a record of this file's kind; handled is false for any other
// kind.
func (d *Directory) applyHook(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	if kind != kindHook {
		return false, nil
	}
	var h Hook
	if err := json.Unmarshal(rec, &h); err != nil {
		return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
	}
	h.ID, h.Version = key, version
	h.Events = nonNil(h.Events)
	if d.st.hooks == nil {
		d.st.hooks = map[string]*Hook{}
	}
	d.st.hooks[key] = &h
	return true, nil
}

// removeHook unpublishes it; false for any other kind.
func (d *Directory) removeHook(kind, key string) bool {
	if kind != kindHook {
		return false
	}
	delete(d.st.hooks, key)
	return true
}
