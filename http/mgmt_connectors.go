package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/directory"
)

// Logto's /api/connector-factories and /api/connectors (routes/connector/index.ts,
// config-testing.ts), for Latch's passwordless factories (connectors package). A
// connector's config is returned with its secrets masked (connectors.Mask); a PATCH
// or test that sends the mask back keeps the stored secret.
//
// httprouter allows one wildcard name per segment, so POST
// /api/connectors/{factoryId}/test is registered as /api/connectors/:id/test.
func (s *Server) connectorRoutes() []mgmtRoute {
	return []mgmtRoute{
		{"GET", "/api/connector-factories", s.listConnectorFactories},
		{"GET", "/api/connector-factories/:id", s.getConnectorFactory},
		{"GET", "/api/connectors", s.listConnectors},
		{"POST", "/api/connectors", s.createConnector},
		{"GET", "/api/connectors/:id", s.getConnector},
		{"PATCH", "/api/connectors/:id", s.patchConnector},
		{"DELETE", "/api/connectors/:id", s.deleteConnector},
		{"POST", "/api/connectors/:id/test", s.testConnector},
		{"POST", "/api/verification-codes", s.sendManagementVerificationCode},          // mgmt_verification_code.go
		{"POST", "/api/verification-codes/verify", s.verifyManagementVerificationCode}, // mgmt_verification_code.go
	}
}

// factoryView is Logto's ConnectorFactoryResponse: {type, ...metadata, isDemo}.
func factoryView(f connectors.Factory) map[string]any {
	out := metadataMap(f)
	out["type"] = f.Type()
	out["isDemo"] = false
	return out
}

func metadataMap(f connectors.Factory) map[string]any {
	raw, _ := json.Marshal(f.Metadata())
	out := map[string]any{}
	_ = json.Unmarshal(raw, &out)
	return out
}

// connectorView is Logto's ConnectorResponse: {type, ...factory metadata, id,
// connectorId, syncProfile, metadata, isDemo, config}, with the config's secrets
// masked.
func connectorView(f connectors.Factory, c *directory.Connector) map[string]any {
	out := metadataMap(f)
	out["type"] = f.Type()
	out["id"] = c.ID
	out["connectorId"] = c.ConnectorID
	out["syncProfile"] = c.SyncProfile
	out["metadata"] = json.RawMessage(c.Metadata)
	out["isDemo"] = false
	out["config"] = connectors.Mask(f, c.Config)
	return out
}

func (s *Server) listConnectorFactories(_ *http.Request, _ httprouter.Params) (int, any, error) {
	fs := s.conns.Factories()
	out := make([]map[string]any, 0, len(fs))
	for _, f := range fs {
		out = append(out, factoryView(f))
	}
	return http.StatusOK, out, nil
}

func (s *Server) getConnectorFactory(_ *http.Request, p httprouter.Params) (int, any, error) {
	f, ok := s.conns.Factory(p.ByName("id"))
	if !ok {
		return 0, nil, apiErr(http.StatusNotFound, "entity.not_found", "The connector factory does not exist.")
	}
	return http.StatusOK, factoryView(f), nil
}

func (s *Server) listConnectors(r *http.Request, _ httprouter.Params) (int, any, error) {
	target := r.URL.Query().Get("target")
	out := []map[string]any{}
	for _, c := range s.dir.Connectors() {
		f, ok := s.conns.Factory(c.ConnectorID)
		if !ok {
			continue // a factory this build does not have
		}
		if target != "" && f.Metadata().Target != target {
			continue
		}
		out = append(out, connectorView(f, c))
	}
	return http.StatusOK, out, nil
}

func errConnectorNotFound(id string) *APIError {
	return apiErr(http.StatusNotFound, "entity.not_found", fmt.Sprintf("The connector with ID `%s` does not exist.", id))
}

func (s *Server) connectorByID(id string) (*directory.Connector, connectors.Factory, error) {
	c, ok := s.dir.ConnectorByID(id)
	if !ok {
		return nil, nil, errConnectorNotFound(id)
	}
	f, ok := s.conns.Factory(c.ConnectorID)
	if !ok {
		return nil, nil, errConnectorNotFound(id)
	}
	return c, f, nil
}

func (s *Server) getConnector(_ *http.Request, p httprouter.Params) (int, any, error) {
	c, f, err := s.connectorByID(p.ByName("id"))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, connectorView(f, c), nil
}

// connectorBody is Logto's Connectors.createGuard pick (config, connectorId,
// metadata, syncProfile, id?).
type connectorBody struct {
	ID          *string         `json:"id"`
	ConnectorID string          `json:"connectorId"`
	Config      json.RawMessage `json:"config"`
	Metadata    json.RawMessage `json:"metadata"`
	SyncProfile *bool           `json:"syncProfile"`
}

// jsonObjectOrAbsent checks that raw, when given, is a JSON object.
func jsonObjectOrAbsent(field string, raw json.RawMessage) error {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || string(t) == "null" || t[0] == '{' {
		return nil
	}
	return invalidInput(fmt.Sprintf("`%s` must be a JSON object", field))
}

func present(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && string(t) != "null"
}

func (s *Server) createConnector(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b connectorBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.ConnectorID == "" {
		return 0, nil, invalidInput("`connectorId` is required")
	}
	for field, raw := range map[string]json.RawMessage{"config": b.Config, "metadata": b.Metadata} {
		if err := jsonObjectOrAbsent(field, raw); err != nil {
			return 0, nil, err
		}
	}
	f, ok := s.conns.Factory(b.ConnectorID)
	if !ok {
		return 0, nil, apiErr(http.StatusUnprocessableEntity, "connector.not_found_with_connector_id", "Can not find connector with given standard connector id.")
	}
	if present(b.Metadata) {
		return 0, nil, errNonStandardMetadata()
	}
	if b.SyncProfile != nil && *b.SyncProfile && f.Type() != directory.ConnectorTypeSocial {
		return 0, nil, errSyncProfileType()
	}
	if present(b.Config) {
		if err := f.Validate(b.Config); err != nil {
			return 0, nil, connectorError(err, false)
		}
	}
	in := directory.NewConnector{ConnectorID: b.ConnectorID, Type: f.Type(), Config: b.Config, SingleInstance: true}
	if b.ID != nil {
		if *b.ID == "" {
			return 0, nil, invalidInput("`id` must not be empty")
		}
		in.ID = *b.ID
	}
	c, err := s.dir.CreateConnector(r.Context(), in)
	if err != nil {
		if errors.Is(err, directory.ErrConnectorSingleInstance) {
			return 0, nil, apiErr(http.StatusUnprocessableEntity, "connector.multiple_instances_not_supported", "Can not create multiple instance with picked standard connector.")
		}
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, connectorView(f, c), nil
}

func errNonStandardMetadata() *APIError {
	return apiErr(http.StatusBadRequest, "connector.cannot_overwrite_metadata_for_non_standard_connector", "This connector's 'metadata' cannot be overwritten.")
}

func errSyncProfileType() *APIError {
	return apiErr(http.StatusUnprocessableEntity, "connector.invalid_type_for_syncing_profile", "You can only sync user profile with social connectors.")
}

func (s *Server) patchConnector(r *http.Request, p httprouter.Params) (int, any, error) {
	c, f, err := s.connectorByID(p.ByName("id"))
	if err != nil {
		return 0, nil, err
	}
	var b connectorBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	for field, raw := range map[string]json.RawMessage{"config": b.Config, "metadata": b.Metadata} {
		if err := jsonObjectOrAbsent(field, raw); err != nil {
			return 0, nil, err
		}
	}
	if present(b.Metadata) {
		return 0, nil, errNonStandardMetadata()
	}
	if b.SyncProfile != nil && *b.SyncProfile && f.Type() != directory.ConnectorTypeSocial {
		return 0, nil, errSyncProfileType()
	}
	var patch directory.ConnectorPatch
	if present(b.Config) {
		cfg := connectors.Unmask(f, b.Config, c.Config)
		if err := f.Validate(cfg); err != nil {
			return 0, nil, connectorError(err, false)
		}
		patch.Config = cfg
	}
	if b.SyncProfile != nil {
		patch.SyncProfile = b.SyncProfile
	}
	next, err := s.dir.UpdateConnector(r.Context(), c.ID, patch)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, connectorView(f, next), nil
}

func (s *Server) deleteConnector(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeleteConnector(r.Context(), p.ByName("id")); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusNoContent, nil, nil
}

// connectorTestBody is Logto's config-testing guard.
type connectorTestBody struct {
	Phone  *string         `json:"phone"`
	Email  *string         `json:"email"`
	Config json.RawMessage `json:"config"`
}

// testConnector is POST /api/connectors/{factoryId}/test: send a Generic message with
// code 000000 to phone or email with the given config (not the stored one), 204 when
// it went out. Masked secrets in config are taken from the stored connector of that
// factory, so the Admin Console can test an edited config without re-typing them.
func (s *Server) testConnector(r *http.Request, p httprouter.Params) (int, any, error) {
	var b connectorTestBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if !present(b.Config) || bytes.TrimSpace(b.Config)[0] != '{' {
		return 0, nil, invalidInput("`config` must be a JSON object")
	}
	var to, want string
	switch {
	case b.Phone != nil:
		to, want = strings.TrimSpace(*b.Phone), connectors.SMS
		if n := strings.TrimPrefix(to, "+"); n == "" || strings.Trim(n, "0123456789") != "" {
			return 0, nil, invalidInput("`phone` must be a phone number")
		}
	case b.Email != nil:
		to, want = strings.TrimSpace(*b.Email), connectors.Email
		if a, err := mail.ParseAddress(to); err != nil || a.Address != to {
			return 0, nil, invalidInput("`email` must be an email address")
		}
	default:
		return 0, nil, invalidInput("`phone` or `email` is required")
	}
	factoryID := p.ByName("id")
	f, ok := s.conns.Factory(factoryID)
	if !ok || (f.Type() != connectors.Email && f.Type() != connectors.SMS) {
		return 0, nil, apiErr(http.StatusBadRequest, "connector.not_found", fmt.Sprintf("Cannot find any available connector for type: %s.", want))
	}
	if f.Type() != want {
		return 0, nil, apiErr(http.StatusBadRequest, "connector.unexpected_type", "The connector's type is unexpected.")
	}
	cfg := b.Config
	for _, c := range s.dir.Connectors() {
		if c.ConnectorID == factoryID {
			cfg = connectors.Unmask(f, cfg, c.Config)
			break
		}
	}
	if err := s.conns.Test(r.Context(), f, to, cfg); err != nil {
		return 0, nil, connectorError(err, false)
	}
	return http.StatusNoContent, nil, nil
}

// connectorError answers a connector failure in Logto's shape. On a public route
// (public set) the provider's details are logged by the Registry and not shown.
func connectorError(err error, public bool) error {
	var ce *connectors.Error
	if !errors.As(err, &ce) {
		return err
	}
	detail := func(e *APIError) *APIError {
		if !public && ce.Description != "" {
			e.Data = map[string]string{"details": ce.Description}
		}
		return e
	}
	switch ce.Code {
	case connectors.CodeNotFound:
		msg := ce.Description
		if msg == "" {
			msg = "Cannot find any available connector."
		}
		return apiErr(http.StatusNotImplemented, "connector.not_found", msg)
	case connectors.CodeInvalidConfig:
		return detail(apiErr(http.StatusBadRequest, "connector.invalid_config", "The connector's config is invalid."))
	case connectors.CodeTemplateNotFound:
		return detail(apiErr(http.StatusBadRequest, "connector.template_not_found", "Unable to find correct template in connector config."))
	case connectors.CodeUnexpectedType:
		return apiErr(http.StatusBadRequest, "connector.unexpected_type", "The connector's type is unexpected.")
	}
	msg := "Error occurred in connector: the message could not be sent."
	if !public && ce.Description != "" {
		msg = "Error occurred in connector: " + ce.Description
	}
	return apiErr(http.StatusBadRequest, "connector.general", msg)
}
