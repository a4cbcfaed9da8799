package httpapi

import (
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// getAccountCenter is GET /api/account-center: the Account API settings, Logto's
// defaults (disabled, every field Off) until the first change.
func (s *Server) getAccountCenter(*http.Request, httprouter.Params) (int, any, error) {
	return http.StatusOK, s.dir.AccountCenter(), nil
}

// accountCenterBody is Logto's PATCH /account-center body guard: every key optional,
// only deleteAccountUrl nullable.
type accountCenterBody struct {
	Enabled                opt[bool]              `json:"enabled"`
	Fields                 opt[map[string]string] `json:"fields"`
	WebauthnRelatedOrigins opt[[]string]          `json:"webauthnRelatedOrigins"`
	DeleteAccountURL       opt[string]            `json:"deleteAccountUrl"`
	CustomCSS              opt[string]            `json:"customCss"`
}

// patchAccountCenter is PATCH /api/account-center.
func (s *Server) patchAccountCenter(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b accountCenterBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	var p directory.AccountCenterPatch
	for name, null := range map[string]bool{"enabled": b.Enabled.Null, "fields": b.Fields.Null,
		"webauthnRelatedOrigins": b.WebauthnRelatedOrigins.Null, "customCss": b.CustomCSS.Null} {
		if null {
			return 0, nil, invalidInput("`" + name + "` must not be null")
		}
	}
	if b.Enabled.Set {
		p.Enabled = &b.Enabled.V
	}
	if b.Fields.Set {
		p.Fields = b.Fields.V
		if p.Fields == nil {
			p.Fields = map[string]string{}
		}
	}
	if b.WebauthnRelatedOrigins.Set {
		p.WebauthnSet, p.WebauthnRelatedOrigins = true, b.WebauthnRelatedOrigins.V
	}
	if b.DeleteAccountURL.Set {
		p.DeleteAccountURLSet = true
		if !b.DeleteAccountURL.Null {
			p.DeleteAccountURL = &b.DeleteAccountURL.V
		}
	}
	if b.CustomCSS.Set {
		p.CustomCSS = &b.CustomCSS.V
	}
	ac, err := s.dir.UpdateAccountCenter(r.Context(), p)
	if err != nil {
		var ae *directory.AccountCenterError
		if errors.As(err, &ae) {
			return 0, nil, invalidInput(ae.Message)
		}
		return 0, nil, err
	}
	return http.StatusOK, ac, nil
}
