package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// kindAccountCenter holds Logto's account_centers row: one record, key "default"
// (Logto keeps one per tenant, id "default").
const (
	kindAccountCenter = "account-center"
	accountCenterKey  = "default"
)

// Account center field controls (Logto's AccountCenterControlValue).
const (
	AccountCenterOff      = "Off"
	AccountCenterReadOnly = "ReadOnly"
	AccountCenterEdit     = "Edit"
)

// AccountCenterFields are the fields a control may name (Logto's
// accountCenterFieldControlGuard); a field left out is Off.
var AccountCenterFields = []string{"name", "avatar", "profile", "email", "phone", "password", "username",
	"social", "customData", "mfa", "passkey", "session", "trustedDevice"}

// AccountCenter is the Account API settings, in Logto's AccountCenters shape. It is
// shared once published and must not be mutated.
type AccountCenter struct {
	TenantID               string            `json:"tenantId"`
	ID                     string            `json:"id"`
	Enabled                bool              `json:"enabled"`
	Fields                 map[string]string `json:"fields"`
	WebauthnRelatedOrigins []string          `json:"webauthnRelatedOrigins"`
	DeleteAccountURL       *string           `json:"deleteAccountUrl"`
	CustomCSS              *string           `json:"customCss"`
	ProfileFields          json.RawMessage   `json:"profileFields"`
	Version                uint64            `json:"-"`
}

// Control is the control of field: Off unless set.
func (a *AccountCenter) Control(field string) string {
	if c, ok := a.Fields[field]; ok {
		return c
	}
	return AccountCenterOff
}

// AccountCenterPatch is a PATCH /api/account-center body after decoding: nil leaves
// a setting as it is. DeleteAccountURL set to "" clears it (Logto stores null).
type AccountCenterPatch struct {
	Enabled                *bool
	Fields                 map[string]string
	WebauthnRelatedOrigins []string
	WebauthnSet            bool
	DeleteAccountURL       *string
	DeleteAccountURLSet    bool
	CustomCSS              *string
}

// AccountCenterError is a change Logto's guard refuses (guard.invalid_input, 400).
type AccountCenterError struct{ Message string }

func (e *AccountCenterError) Error() string { return "guard.invalid_input: " + e.Message }

// AccountCenter returns the settings: the stored record, or Logto's defaults
// (findDefaultAccountCenter creates it disabled with no field controls) at version 0.
func (d *Directory) AccountCenter() *AccountCenter {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.accountCenterLocked()
}

func (d *Directory) accountCenterLocked() *AccountCenter {
	if d.st.accountCenter != nil {
		return d.st.accountCenter
	}
	return &AccountCenter{TenantID: "default", ID: accountCenterKey, Fields: map[string]string{},
		WebauthnRelatedOrigins: []string{}, ProfileFields: json.RawMessage("null")}
}

// validate checks p as Logto's koaGuard does.
func (p AccountCenterPatch) validate() error {
	for k, v := range p.Fields {
		if !slices.Contains(AccountCenterFields, k) {
			continue // zod strips unknown keys; the caller drops them
		}
		if v != AccountCenterOff && v != AccountCenterReadOnly && v != AccountCenterEdit {
			return &AccountCenterError{Message: fmt.Sprintf("`fields.%s` must be Off, ReadOnly or Edit", k)}
		}
	}
	if p.DeleteAccountURL != nil {
		v := *p.DeleteAccountURL
		if len(v) > 2048 {
			return &AccountCenterError{Message: "`deleteAccountUrl` must be at most 2048 characters"}
		}
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (!strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://")) || u.Host == "" {
				return &AccountCenterError{Message: "deleteAccountUrl must be a valid http(s) URL"}
			}
		}
	}
	return nil
}

// UpdateAccountCenter is Logto's PATCH /account-center: each given setting replaces
// the stored one (fields as a whole, unknown field names dropped; origins
// deduplicated; an empty deleteAccountUrl stored as null), in one batch.
func (d *Directory) UpdateAccountCenter(ctx context.Context, p AccountCenterPatch) (*AccountCenter, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	d.wmu.Lock()
	defer d.wmu.Unlock()
	err := d.commit(ctx, func(b *batch) error {
		cur := d.accountCenterLocked()
		next := *cur
		if p.Enabled != nil {
			next.Enabled = *p.Enabled
		}
		if p.Fields != nil {
			next.Fields = map[string]string{}
			for k, v := range p.Fields {
				if slices.Contains(AccountCenterFields, k) {
					next.Fields[k] = v
				}
			}
		}
		if p.WebauthnSet {
			next.WebauthnRelatedOrigins = []string{}
			for _, o := range p.WebauthnRelatedOrigins {
				if !slices.Contains(next.WebauthnRelatedOrigins, o) {
					next.WebauthnRelatedOrigins = append(next.WebauthnRelatedOrigins, o)
				}
			}
		}
		if p.DeleteAccountURLSet {
			next.DeleteAccountURL = nil
			if p.DeleteAccountURL != nil && *p.DeleteAccountURL != "" {
				v := *p.DeleteAccountURL
				next.DeleteAccountURL = &v
			}
		}
		if p.CustomCSS != nil {
			v := *p.CustomCSS
			next.CustomCSS = &v
		}
		b.put(kindAccountCenter, accountCenterKey, cur.Version, &next)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d.AccountCenter(), nil
}

// ---- state (callers hold wmu and mu) ----

// applyAccountCenter publishes a record of this file's kind; handled is false for
// any other kind.
func (d *Directory) applyAccountCenter(kind, key string, rec []byte, version uint64) (handled bool, err error) {
	if kind != kindAccountCenter {
		return false, nil
	}
	var a AccountCenter
	if err := json.Unmarshal(rec, &a); err != nil {
		return true, fmt.Errorf("directory: decoding %s/%s: %w", kind, key, err)
	}
	if a.Fields == nil {
		a.Fields = map[string]string{}
	}
	if a.WebauthnRelatedOrigins == nil {
		a.WebauthnRelatedOrigins = []string{}
	}
	if len(a.ProfileFields) == 0 {
		a.ProfileFields = json.RawMessage("null")
	}
	a.Version = version
	d.st.accountCenter = &a
	return true, nil
}

// removeAccountCenter unpublishes it; false for any other kind.
func (d *Directory) removeAccountCenter(kind string) bool {
	if kind != kindAccountCenter {
		return false
	}
	d.st.accountCenter = nil
	return true
}
