package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/op"
)

// Logto's OIDC key types (LogtoOidcConfigKeyType) in /api/configs/oidc/{keyType}.
const (
	keyTypePrivate = "private-keys"
	keyTypeCookie  = "cookie-keys"
)

// Logto's SupportedSigningKeyAlgorithm: the key type (JWK kty) of a private key.
const (
	signingKeyRSA = "RSA"
	signingKeyEC  = "EC"
)

// oidcKeyView is Logto's OidcConfigKeysResponse: never the key material itself.
// SigningKeyAlgorithm is set for private keys only.
type oidcKeyView struct {
	ID                  string `json:"id"`
	CreatedAt           int64  `json:"createdAt"`
	SigningKeyAlgorithm string `json:"signingKeyAlgorithm,omitempty"`
}

// oidcKeyType reads and checks the :keyType parameter (Logto's koaGuard: 400
// guard.invalid_input for anything else).
func oidcKeyType(p httprouter.Params) (string, error) {
	switch t := p.ByName("keyType"); t {
	case keyTypePrivate, keyTypeCookie:
		return t, nil
	default:
		return "", invalidInput(fmt.Sprintf("invalid `keyType`: expected %q or %q", keyTypePrivate, keyTypeCookie))
	}
}

// kty is Logto's signingKeyAlgorithm of a stored signing key.
func kty(alg string) string {
	if strings.HasPrefix(alg, "ES") {
		return signingKeyEC
	}
	return signingKeyRSA
}

// oidcKeys lists the keys of keyType as Logto does, signing key first. The Next
// signing key (published ahead of the rotation that will promote it) is not listed,
// so the list keeps Logto's shape: the signing key, then the previous one.
func (s *Server) oidcKeys(keyType string) []oidcKeyView {
	out := []oidcKeyView{}
	if keyType == keyTypeCookie {
		for _, k := range s.dir.CookieKeys() {
			out = append(out, oidcKeyView{ID: k.ID, CreatedAt: k.CreatedAt})
		}
		return out
	}
	for _, k := range s.dir.SigningKeys() {
		if k.Status == directory.KeyNext {
			continue // published in the JWKS but not yet a key of Logto's list
		}
		out = append(out, oidcKeyView{ID: k.ID, CreatedAt: k.CreatedAt, SigningKeyAlgorithm: kty(k.Alg)})
	}
	return out
}

// listOIDCKeys is Logto's GET /api/configs/oidc/{keyType}.
func (s *Server) listOIDCKeys(_ *http.Request, p httprouter.Params) (int, any, error) {
	keyType, err := oidcKeyType(p)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, s.oidcKeys(keyType), nil
}

// rotateOIDCKeys is Logto's POST /api/configs/oidc/{keyType}/rotate: a new key on top,
// the previous one kept (the old Current signing key stays published as Previous, so
// no token in flight stops verifying), older ones dropped, in one replicated directory
// write. The body's signingKeyAlgorithm (RSA | EC, default EC as in Logto) picks the
// new private key's type: RSA is RS256; EC keeps the current EC algorithm (ES256 or
// ES384), else ES256.
func (s *Server) rotateOIDCKeys(r *http.Request, p httprouter.Params) (int, any, error) {
	keyType, err := oidcKeyType(p)
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		SigningKeyAlgorithm *string `json:"signingKeyAlgorithm"`
	}
	if err := decodeBody(r, &body); err != nil {
		return 0, nil, err
	}
	if keyType == keyTypeCookie {
		if err := s.dir.RotateCookieKey(r.Context()); err != nil {
			return 0, nil, mgmtError(err)
		}
		return http.StatusOK, s.oidcKeys(keyType), nil
	}
	want := signingKeyEC
	if body.SigningKeyAlgorithm != nil {
		want = *body.SigningKeyAlgorithm
	}
	var alg string
	switch want {
	case signingKeyRSA:
		alg = oidcflow.AlgRS256
	case signingKeyEC:
		alg = oidcflow.AlgES256
		if cur, ok := s.dir.CurrentSigningKey(); ok && (cur.Alg == oidcflow.AlgES256 || cur.Alg == oidcflow.AlgES384) {
			alg = cur.Alg
		}
	default:
		e := invalidInput(fmt.Sprintf("invalid `signingKeyAlgorithm`: expected %q or %q", signingKeyRSA, signingKeyEC))
		e.Data = map[string]string{"field": "signingKeyAlgorithm"}
		return 0, nil, e
	}
	sk, err := op.RotateSigningKey(r.Context(), s.dir, alg, s.rand)
	if err != nil {
		return 0, nil, mgmtError(err)
	}
	s.log.Info("rotated the signing key", "kid", sk.ID, "alg", alg)
	return http.StatusOK, s.oidcKeys(keyType), nil
}

// deleteOIDCKey is Logto's DELETE /api/configs/oidc/{keyType}/{keyId}: 422
// oidc.key_required when it is the only key of its type, 404 oidc.key_not_found
// when there is no such key, else 204. Deleting the Current signing key makes the next
// one sign (directory.RevokeSigningKey), as in Logto.
func (s *Server) deleteOIDCKey(r *http.Request, p httprouter.Params) (int, any, error) {
	keyType, err := oidcKeyType(p)
	if err != nil {
		return 0, nil, err
	}
	id := p.ByName("keyId")
	if keyType == keyTypeCookie {
		err = s.dir.RevokeCookieKey(r.Context(), id)
	} else {
		err = s.dir.RevokeSigningKey(r.Context(), id)
	}
	switch {
	case err == nil:
		return http.StatusNoContent, nil, nil
	case errors.Is(err, directory.ErrKeyRequired):
		return 0, nil, apiErr(http.StatusUnprocessableEntity, "oidc.key_required", "At least one key is required.")
	case errors.Is(err, directory.ErrNotFound):
		return 0, nil, apiErr(http.StatusNotFound, "oidc.key_not_found", fmt.Sprintf("The key with ID %s is not found.", id))
	}
	return 0, nil, mgmtError(err)
}
