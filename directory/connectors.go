package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// kindConnector holds Logto's connectors rows: one record per configured connector,
// keyed by its id, its value the Connector as JSON. The directory stores a connector's
// config as the opaque JSON object the Management API accepted: the connectors package
// owns each factory's config shape and validates it before a write reaches here.
const kindConnector = "connector"

// EntityConnector names connectors in NotFoundError and ConflictError.
const EntityConnector = "connector"

// Connector types (Logto's ConnectorType).
const (
	ConnectorTypeEmail  = "Email"
	ConnectorTypeSMS    = "SMS"
	ConnectorTypeSocial = "Social"
)

// Connector is one configured connector (Logto's connectors row). It is shared once
// published and must not be mutated.
type Connector struct {
	ID string `json:"id"`
	// ConnectorID is the factory's id (e.g. "simple-mail-transfer-protocol").
	ConnectorID string `json:"connectorId"`
	// Type is the factory's type, kept so the directory can apply Logto's "one email
	// and one SMS connector" rule without knowing the factories.
	Type string `json:"type"`
	// Config is the factory's config object, secrets included: the HTTP layer masks
	// them, never the directory.
	Config      json.RawMessage `json:"config"`
	Metadata    json.RawMessage `json:"metadata"`
	SyncProfile bool            `json:"syncProfile"`
	CreatedAt   int64           `json:"createdAt"`
	Version     uint64          `json:"-"`
}

// NewConnector is a connector to create. ID "" picks one.
type NewConnector struct {
	ID          string
	ConnectorID string
	Type        string
	Config      json.RawMessage
	Metadata    json.RawMessage
	SyncProfile bool
	// SingleInstance refuses a second connector of the same factory (Logto's
	// connector.multiple_instances_not_supported for non-standard factories).
	SingleInstance bool
}

// ConnectorPatch changes a connector; nil leaves a field as it is. Config and
// Metadata replace the stored objects whole (Logto's jsonbMode "replace").
type ConnectorPatch struct {
	Config      json.RawMessage
	Metadata    json.RawMessage
	SyncProfile *bool
}

// ErrConnectorSingleInstance: the factory allows one connector and there is one
// already (Logto's connector.multiple_instances_not_supported).
var ErrConnectorSingleInstance = fmt.Errorf("%w: the connector factory allows one instance", ErrConflict)

// maxConnectorIDLength bounds a caller-chosen connector id (Logto's varchar(128)).
const maxConnectorIDLength = 128

// Connectors returns every connector, oldest first (ties by id).
func (d *Directory) Connectors() []*Connector {
	d.mu.RLock()
	out := make([]*Connector, 0, len(d.st.connectors))
	for _, c := range d.st.connectors {
		out = append(out, c)
	}
	d.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Connector) int {
		if a.CreatedAt != b.CreatedAt {
			if a.CreatedAt < b.CreatedAt {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// ConnectorByID returns the connector with id.
func (d *Directory) ConnectorByID(id string) (*Connector, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	c, ok := d.st.connectors[id]
	return c, ok
}

// CreateConnector stores a connector. An Email or SMS connector replaces every other
// connector of its type in the same batch: Logto keeps one working email and one SMS
// connector ("once we insert a new one, old connectors with same type should be
// deleted").
func (d *Directory) CreateConnector(ctx context.Context, in NewConnector) (*Connector, error) {
	id := in.ID
	if id == "" {
		var err error
		if id, err = d.newID(); err != nil {
			return nil, err
		}
	} else if len(id) > maxConnectorIDLength || strings.ContainsAny(id, "/\x00") {
		return nil, invalid("id", "must be at most %d characters, without / ", maxConnectorIDLength)
	}
	if in.ConnectorID == "" {
		return nil, invalid("connectorId", "is required")
	}
	c := &Connector{ID: id, ConnectorID: in.ConnectorID, Type: in.Type, Config: objectOr(in.Config),
		Metadata: objectOr(in.Metadata), SyncProfile: in.SyncProfile, CreatedAt: d.nowMs()}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		if _, ok := d.st.connectors[id]; ok {
			return conflict(EntityConnector, "id", id)
		}
		for oid, o := range d.st.connectors {
			if in.SingleInstance && o.ConnectorID == in.ConnectorID {
				return ErrConnectorSingleInstance
			}
			if (in.Type == ConnectorTypeEmail || in.Type == ConnectorTypeSMS) && o.Type == in.Type {
				b.del(kindConnector, oid, o.Version)
			}
		}
		b.put(kindConnector, id, 0, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, ok := d.ConnectorByID(id)
	if !ok {
		return nil, notFound(EntityConnector, id)
	}
	return out, nil
}

// UpdateConnector applies p to the connector with id.
func (d *Directory) UpdateConnector(ctx context.Context, id string, p ConnectorPatch) (*Connector, error) {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		cur, ok := d.st.connectors[id]
		if !ok {
			return notFound(EntityConnector, id)
		}
		next := *cur
		if p.Config != nil {
			next.Config = objectOr(p.Config)
		}
		if p.Metadata != nil {
			next.Metadata = objectOr(p.Metadata)
		}
		if p.SyncProfile != nil {
			next.SyncProfile = *p.SyncProfile
		}
		b.put(kindConnector, id, cur.Version, &next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out, ok := d.ConnectorByID(id)
	if !ok {
		return nil, notFound(EntityConnector, id)
	}
	return out, nil
}

// DeleteConnector removes the connector with id.
func (d *Directory) DeleteConnector(ctx context.Context, id string) error {
	d.wmu.Lock()
	defer d.wmu.Unlock()
	return d.commit(ctx, func(b *batch) error {
		cur, ok := d.st.connectors[id]
		if !ok {
			return notFound(EntityConnector, id)
		}
		b.del(kindConnector, id, cur.Version)
		return nil
	})
}

// objectOr returns raw, or {} when it is empty or null.
func objectOr(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return json.RawMessage("{}")
	}
	return raw
}

// ---- state (callers hold wmu and mu) ----

// applyConnector publishes a record of this file's kind; handled is false for any
// other kind.
func (d *Directory) applyConnector(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	if kind != kindConnector {
		return false, nil
	}
	var c Connector
	if err := json.Unmarshal(rec, &c); err != nil {
		return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
	}
	c.ID, c.Version = key, version
	c.Config, c.Metadata = objectOr(c.Config), objectOr(c.Metadata)
	if d.st.connectors == nil {
		d.st.connectors = map[string]*Connector{}
	}
	d.st.connectors[key] = &c
	return true, nil
}

// removeConnector unpublishes it; false for any other kind.
func (d *Directory) removeConnector(kind, key string) bool {
	if kind != kindConnector {
		return false
	}
	delete(d.st.connectors, key)
	return true
}
