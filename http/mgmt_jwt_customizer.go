package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/customjwt"
	"github.com/latchid/latch/directory"
)

// Logto's LogtoJwtTokenKeyType: the {tokenTypePath} of /api/configs/jwt-customizer.
const (
	jwtTypeAccessToken       = "access-token"
	jwtTypeClientCredentials = "client-credentials"
)

// jwtCustomizerGeneralMessage is Logto's jwt_customizer.general phrase.
const jwtCustomizerGeneralMessage = "An error occurred while customizing the token claims. Please try again later."

// jwtCustomizerKey maps {tokenTypePath} to the config's key (LogtoJwtTokenKey); 400
// guard.invalid_input for anything else, as Logto's z.nativeEnum.
func jwtCustomizerKey(tokenType string) (string, error) {
	switch tokenType {
	case jwtTypeAccessToken:
		return directory.JwtCustomizerAccessToken, nil
	case jwtTypeClientCredentials:
		return directory.JwtCustomizerClientCredentials, nil
	default:
		e := invalidInput(fmt.Sprintf("invalid `tokenTypePath`: expected %q or %q", jwtTypeAccessToken, jwtTypeClientCredentials))
		e.Data = map[string]string{"field": "tokenTypePath"}
		return "", e
	}
}

// validateJwtCustomizer is Logto's accessTokenJwtCustomizerGuard /
// clientCredentialsJwtCustomizerGuard at the top level (strict: an unknown key is
// refused): script (string, required), environmentVariables (string record),
// contextSample and tokenSample (objects; an access-token contextSample needs user),
// blockIssuanceOnError (boolean). Nested samples are kept as sent.
func validateJwtCustomizer(key string, doc map[string]json.RawMessage) error {
	bad := func(field, msg string) error {
		e := invalidInput(fmt.Sprintf("`%s` %s", field, msg))
		e.Data = map[string]string{"field": field}
		return e
	}
	var script *string
	if raw, ok := doc["script"]; !ok || json.Unmarshal(raw, &script) != nil || script == nil {
		return bad("script", "is required and must be a string")
	}
	for k, raw := range doc {
		switch k {
		case "script":
		case "environmentVariables":
			var v map[string]string
			if json.Unmarshal(raw, &v) != nil || v == nil {
				return bad(k, "must be an object of strings")
			}
		case "blockIssuanceOnError":
			var v *bool
			if json.Unmarshal(raw, &v) != nil || v == nil {
				return bad(k, "must be a boolean")
			}
		case "tokenSample":
			var v map[string]json.RawMessage
			if json.Unmarshal(raw, &v) != nil || v == nil {
				return bad(k, "must be an object")
			}
		case "contextSample":
			var v map[string]json.RawMessage
			if json.Unmarshal(raw, &v) != nil || v == nil {
				return bad(k, "must be an object")
			}
			if key == directory.JwtCustomizerAccessToken {
				var u map[string]json.RawMessage
				if json.Unmarshal(v["user"], &u) != nil || u == nil {
					return bad("contextSample.user", "is required and must be an object")
				}
			}
		default:
			return bad(k, "is not a recognized key") // zod .strict()
		}
	}
	return nil
}

// jwtCustomizerRequest reads a PUT or PATCH: the config's key from the path, then the
// body, checked as a whole config.
func jwtCustomizerRequest(r *http.Request, p httprouter.Params) (string, map[string]json.RawMessage, error) {
	key, err := jwtCustomizerKey(p.ByName("tokenTypePath"))
	if err != nil {
		return "", nil, err
	}
	var doc map[string]json.RawMessage
	if err := decodeBody(r, &doc); err != nil {
		return "", nil, err
	}
	if err := validateJwtCustomizer(key, doc); err != nil {
		return "", nil, err
	}
	return key, doc, nil
}

func jwtCustomizerNotFound(key string) *APIError {
	return apiErr(http.StatusNotFound, "entity.not_exists_with_id", fmt.Sprintf("The logto_config with ID `%s` does not exist.", key))
}

// putJwtCustomizer is Logto's PUT /api/configs/jwt-customizer/{tokenTypePath}:
// replaces the config, 201 when there was none, 200 otherwise, answering it.
func (s *Server) putJwtCustomizer(r *http.Request, p httprouter.Params) (int, any, error) {
	key, doc, err := jwtCustomizerRequest(r, p)
	if err != nil {
		return 0, nil, err
	}
	raw, err := json.Marshal(doc)
	if err != nil {
		return 0, nil, err
	}
	created, err := s.dir.PutJwtCustomizer(r.Context(), key, raw)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return status, json.RawMessage(raw), nil
}

// patchJwtCustomizer is Logto's PATCH: the body (checked as a whole config, so
// script is required) over the stored config, key by key; 404 when there is none.
func (s *Server) patchJwtCustomizer(r *http.Request, p httprouter.Params) (int, any, error) {
	key, doc, err := jwtCustomizerRequest(r, p)
	if err != nil {
		return 0, nil, err
	}
	cur, ok := s.dir.JwtCustomizer(key)
	if !ok {
		return 0, nil, jwtCustomizerNotFound(key)
	}
	var merged map[string]json.RawMessage
	if err := json.Unmarshal(cur.Value, &merged); err != nil || merged == nil {
		merged = map[string]json.RawMessage{}
	}
	for k, v := range doc {
		merged[k] = v
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return 0, nil, err
	}
	if _, err := s.dir.PutJwtCustomizer(r.Context(), key, raw); err != nil {
		return 0, nil, mgmtError(err)
	}
	return http.StatusOK, json.RawMessage(raw), nil
}

// getJwtCustomizer is Logto's GET /api/configs/jwt-customizer/{tokenTypePath}.
func (s *Server) getJwtCustomizer(_ *http.Request, p httprouter.Params) (int, any, error) {
	key, err := jwtCustomizerKey(p.ByName("tokenTypePath"))
	if err != nil {
		return 0, nil, err
	}
	cur, ok := s.dir.JwtCustomizer(key)
	if !ok {
		return 0, nil, jwtCustomizerNotFound(key)
	}
	return http.StatusOK, cur.Value, nil
}

// listJwtCustomizers is Logto's GET /api/configs/jwt-customizer: [{key, value}] of
// the configs that exist, access token first.
func (s *Server) listJwtCustomizers(_ *http.Request, _ httprouter.Params) (int, any, error) {
	type item struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	out := []item{}
	for _, key := range directory.JwtCustomizerKeys {
		if cur, ok := s.dir.JwtCustomizer(key); ok {
			out = append(out, item{Key: key, Value: cur.Value})
		}
	}
	return http.StatusOK, out, nil
}

// deleteJwtCustomizer is Logto's DELETE: 204, or 404 entity.not_found.
func (s *Server) deleteJwtCustomizer(r *http.Request, p httprouter.Params) (int, any, error) {
	key, err := jwtCustomizerKey(p.ByName("tokenTypePath"))
	if err != nil {
		return 0, nil, err
	}
	switch err := s.dir.DeleteJwtCustomizer(r.Context(), key); {
	case err == nil:
		return http.StatusNoContent, nil, nil
	case errors.Is(err, directory.ErrNotFound):
		return 0, nil, apiErr(http.StatusNotFound, "entity.not_found", "The resource does not exist.")
	default:
		return 0, nil, mgmtError(err)
	}
}

// testJwtCustomizer is Logto's POST /api/configs/jwt-customizer/test: runs the
// script on the given token and context samples and answers the claims. A denial
// is 403 jwt_customizer.general with data {message, error: {code: AccessDenied,
// message}}; any other failure 422 jwt_customizer.general with data {message}.
func (s *Server) testJwtCustomizer(r *http.Request, _ httprouter.Params) (int, any, error) {
	var body struct {
		TokenType            string            `json:"tokenType"`
		Script               *string           `json:"script"`
		EnvironmentVariables map[string]string `json:"environmentVariables"`
		Token                map[string]any    `json:"token"`
		Context              map[string]any    `json:"context"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	field := func(f, msg string) error {
		e := invalidInput(fmt.Sprintf("`%s` %s", f, msg))
		e.Data = map[string]string{"field": f}
		return e
	}
	switch {
	case body.TokenType != jwtTypeAccessToken && body.TokenType != jwtTypeClientCredentials:
		return 0, nil, field("tokenType", fmt.Sprintf("must be %q or %q", jwtTypeAccessToken, jwtTypeClientCredentials))
	case body.Script == nil:
		return 0, nil, field("script", "is required")
	case body.Token == nil:
		return 0, nil, field("token", "is required")
	case body.Context == nil:
		return 0, nil, field("context", "is required")
	}
	claims, err := s.jwtRunner.Run(customjwt.Input{
		Script: *body.Script, Token: body.Token, Context: body.Context, EnvironmentVariables: body.EnvironmentVariables,
	})
	if err == nil {
		return http.StatusOK, claims, nil
	}
	var se *customjwt.Error
	if !errors.As(err, &se) {
		return 0, nil, err
	}
	if se.Kind == customjwt.KindDenied {
		e := apiErr(http.StatusForbidden, "jwt_customizer.general", jwtCustomizerGeneralMessage)
		e.Data = map[string]any{"message": se.Message, "error": map[string]string{"code": "AccessDenied", "message": se.Message}}
		return 0, nil, e
	}
	e := apiErr(http.StatusUnprocessableEntity, "jwt_customizer.general", jwtCustomizerGeneralMessage)
	e.Data = map[string]any{"message": se.Message}
	return 0, nil, e
}
