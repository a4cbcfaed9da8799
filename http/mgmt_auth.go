package httpapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
)

// mgmtClaims is what the Management API reads from its bearer JWT.
type mgmtClaims struct {
	Iss   string   `json:"iss"`
	Aud   audience `json:"aud"`
	Exp   int64    `json:"exp"`
	Nbf   int64    `json:"nbf"`
	Scope string   `json:"scope"`
}

// audience accepts RFC 7519 4.1.3's string or array form.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// authorizeManagement applies Logto OSS's rule: a bearer JWT access token from this
// issuer for the Management API resource with scope "all". No or bad token -> 401;
// a good token for another audience or without the scope -> 403.
func (s *Server) authorizeManagement(r *http.Request) *APIError {
	h := r.Header.Get("Authorization")
	if h == "" {
		return apiErr(http.StatusUnauthorized, "auth.authorization_header_missing", "Authorization header is missing.")
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return apiErr(http.StatusUnauthorized, "auth.authorization_token_type_not_supported", "Authorization type is not supported.")
	}
	payload, typ, err := s.keys.Verify(strings.TrimSpace(tok))
	if err != nil || typ != oidcflow.TypAccessToken {
		return apiErr(http.StatusUnauthorized, "auth.unauthorized", "Unauthorized. Please check credentials and its scope.")
	}
	var c mgmtClaims
	if err := json.Unmarshal(payload, &c); err != nil {
		return apiErr(http.StatusUnauthorized, "auth.unauthorized", "Unauthorized. Please check credentials and its scope.")
	}
	now := s.now().Unix()
	if c.Iss != s.issuer || c.Exp <= now || (c.Nbf != 0 && c.Nbf > now) {
		return apiErr(http.StatusUnauthorized, "auth.unauthorized", "Unauthorized. Please check credentials and its scope.")
	}
	if !slices.Contains(c.Aud, directory.ManagementAPIIndicator) {
		return apiErr(http.StatusForbidden, "auth.forbidden", "Forbidden. Please check your permissions.")
	}
	if !slices.Contains(strings.Fields(c.Scope), directory.ManagementAPIScopeAll) {
		return apiErr(http.StatusForbidden, "auth.forbidden", "Forbidden. Please check your permissions.")
	}
	return nil
}
