package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
)

// Personal access tokens (Logto's admin-user/personal-access-token.ts) and subject
// tokens (subject-token.ts): the subject tokens of the token-exchange grant.

// personalAccessTokenJSON is Logto's PersonalAccessTokens row. Logto returns the value
// in every listing; Latch keeps only a hash, so the value appears only on creation.
type personalAccessTokenJSON struct {
	TenantID  string  `json:"tenantId"`
	UserID    string  `json:"userId"`
	Name      string  `json:"name"`
	Value     *string `json:"value,omitempty"`
	CreatedAt int64   `json:"createdAt"`
	ExpiresAt *int64  `json:"expiresAt"`
}

func patView(t directory.PersonalAccessToken) personalAccessTokenJSON {
	return personalAccessTokenJSON{TenantID: tenantID, UserID: t.UserID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt}
}

// patError is mgmtError with Logto's codes for token names.
func patError(err error) error {
	var ce *directory.ConflictError
	var nf *directory.NotFoundError
	switch {
	case errors.As(err, &ce) && ce.Entity == directory.EntityPAT:
		return apiErr(http.StatusUnprocessableEntity, "user.personal_access_token_name_exists", "Personal access token name already exists.")
	case errors.As(err, &nf) && nf.Entity == directory.EntityPAT:
		return apiErr(http.StatusNotFound, "entity.not_found", fmt.Sprintf("The %s `%s` does not exist.", nf.Entity, nf.ID))
	}
	return mgmtError(err)
}

func (s *Server) listPersonalAccessTokens(r *http.Request, p httprouter.Params) (int, any, error) {
	list, err := s.dir.PersonalAccessTokens(p.ByName("userId"))
	if err != nil {
		return 0, nil, patError(err)
	}
	out := make([]personalAccessTokenJSON, len(list))
	for i, t := range list {
		out[i] = patView(t)
	}
	return http.StatusOK, out, nil
}

func (s *Server) createPersonalAccessToken(r *http.Request, p httprouter.Params) (int, any, error) {
	var b struct {
		Name      string `json:"name"`
		ExpiresAt *int64 `json:"expiresAt"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	tok, value, err := s.dir.CreatePersonalAccessToken(r.Context(), p.ByName("userId"), b.Name, b.ExpiresAt)
	var ie *directory.InvalidError
	if errors.As(err, &ie) && ie.Field == "expiresAt" {
		return 0, nil, apiErr(http.StatusBadRequest, "request.invalid_input", "Input is invalid. "+ie.Message)
	}
	if err != nil {
		return 0, nil, patError(err)
	}
	v := patView(tok)
	v.Value = &value
	return http.StatusCreated, v, nil
}

type patRenameBody struct {
	CurrentName *string `json:"currentName"`
	Name        string  `json:"name"`
}

// renamePersonalAccessToken is PATCH .../personal-access-tokens/:name (the legacy
// form) and PATCH .../personal-access-tokens with currentName in the body.
func (s *Server) renamePersonalAccessToken(r *http.Request, p httprouter.Params) (int, any, error) {
	var b patRenameBody
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	current := p.ByName("name")
	if current == "" {
		current = b.Name // Logto: currentName omitted updates in place
		if b.CurrentName != nil {
			current = *b.CurrentName
		}
	}
	tok, err := s.dir.RenamePersonalAccessToken(r.Context(), p.ByName("userId"), current, b.Name)
	if err != nil {
		return 0, nil, patError(err)
	}
	return http.StatusOK, patView(tok), nil
}

// deletePersonalAccessToken is DELETE .../personal-access-tokens/:name; POST
// .../personal-access-tokens/delete (Logto's newer form, the name in the body) shares
// its tree position with POST ... and is told apart by postPersonalAccessTokensSub.
func (s *Server) deletePersonalAccessToken(r *http.Request, p httprouter.Params) (int, any, error) {
	if err := s.dir.DeletePersonalAccessToken(r.Context(), p.ByName("userId"), p.ByName("name")); err != nil {
		return 0, nil, patError(err)
	}
	return http.StatusNoContent, nil, nil
}

// postPersonalAccessTokensSub is POST .../personal-access-tokens/delete {"name"}.
func (s *Server) postPersonalAccessTokensSub(r *http.Request, p httprouter.Params) (int, any, error) {
	if p.ByName("name") != "delete" {
		return 0, nil, apiErr(http.StatusNotFound, "entity.not_found", "Not found.")
	}
	var b struct {
		Name string `json:"name"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if err := s.dir.DeletePersonalAccessToken(r.Context(), p.ByName("userId"), b.Name); err != nil {
		return 0, nil, patError(err)
	}
	return http.StatusNoContent, nil, nil
}

// createSubjectToken is Logto's POST /api/subject-tokens: a one-use token to
// impersonate userId through the token-exchange grant, valid 600 s.
func (s *Server) createSubjectToken(r *http.Request, _ httprouter.Params) (int, any, error) {
	var b struct {
		UserID  string          `json:"userId"`
		Context json.RawMessage `json:"context"`
	}
	if err := decodeBody(r, &b); err != nil {
		return 0, nil, err
	}
	if b.UserID == "" {
		return 0, nil, invalidInput("`userId` is required")
	}
	if c := strings.TrimSpace(string(b.Context)); c != "" && c != "null" && !strings.HasPrefix(c, "{") {
		return 0, nil, invalidInput("`context` must be a JSON object")
	}
	if strings.TrimSpace(string(b.Context)) == "null" {
		b.Context = nil
	}
	_, value, err := s.dir.CreateSubjectToken(r.Context(), b.UserID, b.Context, s.managementCaller(r))
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusCreated, map[string]any{
		"subjectToken": value,
		"expiresIn":    int(directory.SubjectTokenTTL.Seconds()),
	}, nil
}

// managementCaller is the client_id (else sub) of the Management API token of r,
// already authorized by s.management, for audit.
func (s *Server) managementCaller(r *http.Request) string {
	_, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	payload, _, err := s.keys.Verify(strings.TrimSpace(tok))
	if err != nil {
		return ""
	}
	var c struct {
		ClientID string `json:"client_id"`
		Sub      string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	if c.ClientID != "" {
		return c.ClientID
	}
	return c.Sub
}
