// Package audit records Latch's audit logs with Logto's log keys and shapes
// (@logto/schemas LogKey, LogContextPayload; Logto's /api/logs): every Experience API
// step, every token exchange by grant type and every Management API write.
//
// Entries are written off the request path: Writer.Record hands an Entry to a bounded
// queue and returns at once (a full queue drops the entry and counts it); one goroutine
// batches the queue and writes each batch as ONE compressed record (batch.go) with one
// persistence.Store.Apply, so a batch lands in one shard of the cluster's sharded
// store. A node that dies loses at most the entries it had not written yet: the batch
// being filled (up to BatchSize entries or FlushInterval of traffic) and what waits in
// the queue behind it. Reader reads them back for /api/logs.
//
// The package sits just above persistence: it imports no other Latch package.
package audit

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Kind is the store kind of audit log records. A record is a batch, its key the batch
// id; its entries' ids are "<batch id>-<n>", so an id names the record that holds it.
const Kind = "audit-log"

// Result is Logto's LogResult.
type Result string

// Logto's LogResult values.
const (
	Success Result = "Success"
	Error   Result = "Error"
)

// Logto's token log keys (@logto/schemas token.LogKey).
const (
	KeyExchangeByAuthorizationCode = "ExchangeTokenBy.AuthorizationCode"
	KeyExchangeByRefreshToken      = "ExchangeTokenBy.RefreshToken"
	KeyExchangeByClientCredentials = "ExchangeTokenBy.ClientCredentials"
	KeyExchangeByUnknown           = "ExchangeTokenBy.Unknown"
)

// ExchangeKey is Logto's ExchangeTokenBy.<type> key of an OAuth grant_type
// (getExchangeByType: any other grant, token exchange included, is Unknown).
func ExchangeKey(grantType string) string {
	switch grantType {
	case "authorization_code":
		return KeyExchangeByAuthorizationCode
	case "refresh_token":
		return KeyExchangeByRefreshToken
	case "client_credentials":
		return KeyExchangeByClientCredentials
	}
	return KeyExchangeByUnknown
}

// ManagementKeyPrefix starts the key of a Management API write. Logto keeps no audit
// log of Management API writes (its AuditLogKey is Unknown | Interaction.* |
// ExchangeTokenBy.* | RevokeToken); Latch records them under its own keys
// "ManagementApi.Create" (POST), "ManagementApi.Update" (PATCH, PUT) and
// "ManagementApi.Delete" (DELETE), in Logto's payload shape plus method, path, status.
const ManagementKeyPrefix = "ManagementApi."

// ManagementKey is the key of a Management API write by method; "" for a read.
func ManagementKey(method string) string {
	switch method {
	case "POST":
		return ManagementKeyPrefix + "Create"
	case "PATCH", "PUT":
		return ManagementKeyPrefix + "Update"
	case "DELETE":
		return ManagementKeyPrefix + "Delete"
	}
	return ""
}

// AccountKeyPrefix starts the key of an Account API write (/api/my-account/**): like
// a Management API write, Logto keeps no audit log of it; Latch records it as
// "AccountApi.Create" (POST), "AccountApi.Update" (PATCH, PUT) or "AccountApi.Delete"
// (DELETE), with method, path, status and the signed-in user's userId.
const AccountKeyPrefix = "AccountApi."

// AccountKey is the key of an Account API write by method; "" for a read.
func AccountKey(method string) string {
	if k := ManagementKey(method); k != "" {
		return AccountKeyPrefix + strings.TrimPrefix(k, ManagementKeyPrefix)
	}
	return ""
}

// ErrorInfo is a log's error: Logto's RequestError fields (code, message).
type ErrorInfo struct {
	Code    string `json:"code,omitempty"`
	Message string `json:"message"`
}

// Identifier is the identifier a sign-in step named (Logto appends it to the step's
// log; the password never is).
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

// TokenTypes are the tokens a token exchange issued (Logto's payload.tokenTypes).
type TokenTypes uint8

// The token types of TokenTypes.
const (
	AccessToken TokenTypes = 1 << iota
	RefreshToken
	IDToken
)

func (t TokenTypes) names() []string {
	var out []string
	if t&AccessToken != 0 {
		out = append(out, "AccessToken")
	}
	if t&RefreshToken != 0 {
		out = append(out, "RefreshToken")
	}
	if t&IDToken != 0 {
		out = append(out, "IdToken")
	}
	return out
}

// Entry is one audit log entry as the request that caused it knows it. It is a plain
// value (no pointers to build, no map): building one costs the request goroutine no
// allocation; the Writer encodes it off the request path.
type Entry struct {
	// Key is Logto's log key, e.g. "Interaction.SignIn.Submit",
	// "ExchangeTokenBy.RefreshToken".
	Key string
	// Result is Success unless set to Error.
	Result Result
	// Error is the failure, when Result is Error.
	Error ErrorInfo

	UserID, ApplicationID, SessionID string
	IP, UserAgent                    string
	// CreatedAt is when it happened; zero: when Record was called.
	CreatedAt time.Time

	// Details beyond Logto's LogContextPayload, each optional.
	InteractionEvent string     // payload.interactionEvent
	Identifier       Identifier // payload.identifier
	VerificationID   string     // payload.verificationId
	GrantType        string     // payload.params.grant_type
	Scope            string     // payload.scope
	TokenTypes       TokenTypes // payload.tokenTypes
	Method, Path     string     // payload.method, payload.path (Management API writes)
	Status           int        // payload.status: the HTTP status answered

	// A webhook delivery attempt (Logto's TriggerHook.<event> log): the hook, the
	// payload posted (JSON) and the receiver's answer (status 0: none).
	HookID             string
	HookRequestBody    []byte
	HookResponseStatus int
	HookResponseBody   []byte

	// Token is a JWT the request was verified with (a Management API write's
	// bearer; the token endpoint sets UserID itself). When UserID or ApplicationID
	// is empty the Writer reads them from its claims (sub; client_id, else a single
	// aud), off the request goroutine; a sub equal to the client id (a
	// machine-to-machine token) names no user. The signature is not checked again;
	// the token is never stored.
	Token string
}

// Log is one stored audit log in Logto's shape (the Logs table minus tenantId):
// {id, key, payload, createdAt (epoch ms)}.
type Log struct {
	ID        string  `json:"id"`
	Key       string  `json:"key"`
	Payload   Payload `json:"payload"`
	CreatedAt int64   `json:"createdAt"`
}

// Payload is Logto's LogContextPayload plus the details Latch records.
type Payload struct {
	Key              string      `json:"key"`
	Result           Result      `json:"result"`
	Error            *ErrorInfo  `json:"error,omitempty"`
	IP               string      `json:"ip,omitempty"`
	UserAgent        string      `json:"userAgent,omitempty"`
	ApplicationID    string      `json:"applicationId,omitempty"`
	SessionID        string      `json:"sessionId,omitempty"`
	UserID           string      `json:"userId,omitempty"`
	InteractionEvent string      `json:"interactionEvent,omitempty"`
	Identifier       *Identifier `json:"identifier,omitempty"`
	VerificationID   string      `json:"verificationId,omitempty"`
	Params           *Params     `json:"params,omitempty"`
	TokenTypes       []string    `json:"tokenTypes,omitempty"`
	Scope            string      `json:"scope,omitempty"`
	Method           string      `json:"method,omitempty"`
	Path             string      `json:"path,omitempty"`
	Status           int         `json:"status,omitempty"`
	// Webhook delivery logs (Logto's hook log payload: hookId, hookRequest, response).
	HookID      string        `json:"hookId,omitempty"`
	HookRequest *HookRequest  `json:"hookRequest,omitempty"`
	Response    *HookResponse `json:"response,omitempty"`
}

// HookRequest is a webhook log's payload.hookRequest: the body that was posted.
type HookRequest struct {
	Body json.RawMessage `json:"body"`
}

// HookResponse is a webhook log's payload.response: the receiver's status and body
// (JSON when it parses, else a string, as Logto's parseResponse).
type HookResponse struct {
	StatusCode int             `json:"statusCode"`
	Body       json.RawMessage `json:"body"`
}

// KeyTriggerHookPrefix starts Logto's webhook delivery log keys ("TriggerHook.<event>").
const KeyTriggerHookPrefix = "TriggerHook."

// maxHookBody bounds the request and response bodies a webhook log keeps.
const maxHookBody = 32 << 10

// Params is payload.params of a token exchange (Logto logs the request's parameters;
// Latch logs the grant type only, never a code, token or secret).
type Params struct {
	GrantType string `json:"grant_type"`
}

// maxField bounds each free-form string of a stored log (user agent, path, error
// message, ...): a request cannot make an entry arbitrarily large.
const maxField = 1024

func clip(s string) string {
	if len(s) > maxField {
		return s[:maxField]
	}
	return s
}

// toLog builds the stored form of e under id.
func toLog(id string, e Entry) Log {
	for _, f := range []*string{&e.Key, &e.Error.Code, &e.Error.Message, &e.UserID, &e.ApplicationID, &e.SessionID,
		&e.IP, &e.UserAgent, &e.InteractionEvent, &e.Identifier.Type, &e.Identifier.Value, &e.VerificationID,
		&e.GrantType, &e.Scope, &e.Method, &e.Path} {
		*f = clip(*f)
	}
	p := Payload{
		Key: e.Key, Result: e.Result,
		IP: e.IP, UserAgent: e.UserAgent,
		ApplicationID: e.ApplicationID, SessionID: e.SessionID, UserID: e.UserID,
		InteractionEvent: e.InteractionEvent, VerificationID: e.VerificationID,
		TokenTypes: e.TokenTypes.names(), Scope: e.Scope,
		Method: e.Method, Path: e.Path, Status: e.Status,
	}
	if p.Result == "" {
		p.Result = Success
	}
	if e.Error != (ErrorInfo{}) {
		ei := e.Error
		p.Error = &ei
	}
	if e.Identifier != (Identifier{}) {
		ident := e.Identifier
		p.Identifier = &ident
	}
	if e.GrantType != "" {
		p.Params = &Params{GrantType: e.GrantType}
	}
	if e.HookID != "" {
		p.HookID = clip(e.HookID)
		p.HookRequest = &HookRequest{Body: jsonOrString(e.HookRequestBody)}
		if e.HookResponseStatus != 0 {
			p.Response = &HookResponse{StatusCode: e.HookResponseStatus, Body: jsonOrString(e.HookResponseBody)}
		}
	}
	if e.Token != "" && (p.UserID == "" || p.ApplicationID == "") {
		sub, client := jwtParties(e.Token)
		if p.ApplicationID == "" {
			p.ApplicationID = clip(client)
		}
		if p.UserID == "" && sub != client {
			p.UserID = clip(sub)
		}
	}
	return Log{ID: id, Key: e.Key, Payload: p, CreatedAt: e.CreatedAt.UnixMilli()}
}

// jsonOrString is b when it is JSON of at most maxHookBody bytes, else b (cut to
// maxHookBody) as a JSON string.
func jsonOrString(b []byte) json.RawMessage {
	if len(b) <= maxHookBody && json.Valid(b) {
		return json.RawMessage(b)
	}
	if len(b) > maxHookBody {
		b = b[:maxHookBody]
	}
	out, _ := json.Marshal(strings.ToValidUTF8(string(b), "\uFFFD"))
	return out
}

// jwtParties reads sub and the client (client_id, else a single aud) from a JWT's
// payload without checking its signature (the request already did, or minted it).
func jwtParties(tok string) (sub, client string) {
	_, rest, ok := strings.Cut(tok, ".")
	if !ok {
		return "", ""
	}
	body, _, ok := strings.Cut(rest, ".")
	if !ok {
		return "", ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return "", ""
	}
	sub, clientID, aud, ok := scanClaims(raw)
	if !ok { // something scanClaims does not read: let encoding/json decide
		var c struct {
			Sub      string          `json:"sub"`
			ClientID string          `json:"client_id"`
			Aud      json.RawMessage `json:"aud"`
		}
		if json.Unmarshal(raw, &c) != nil {
			return "", ""
		}
		sub, clientID = c.Sub, c.ClientID
		_ = json.Unmarshal(c.Aud, &aud) // a single audience only
	}
	if clientID != "" {
		return sub, clientID
	}
	return sub, aud
}

// scanClaims reads the top-level string members sub, client_id and aud of a compact
// JSON object (as Latch's tokens are encoded) in one pass. Nested objects and arrays
// are skipped, so a claim inside custom data never counts. ok is false for anything
// it does not expect (an escape inside a wanted string, malformed input).
func scanClaims(b []byte) (sub, clientID, aud string, ok bool) {
	i := 0
	ws := func() {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
			i++
		}
	}
	// str reads a string at b[i] == '"'; escaped reports a backslash inside.
	str := func() (s []byte, escaped, good bool) {
		start := i + 1
		for j := start; j < len(b); j++ {
			switch b[j] {
			case '\\':
				escaped = true
				j++
			case '"':
				i = j + 1
				return b[start:j], escaped, true
			}
		}
		return nil, false, false
	}
	// skip skips a non-string value at b[i].
	skip := func() bool {
		depth := 0
		for i < len(b) {
			switch c := b[i]; c {
			case '"':
				if _, _, good := str(); !good {
					return false
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth == 0 {
					return true
				}
				depth--
			case ',':
				if depth == 0 {
					return true
				}
			}
			i++
		}
		return false
	}
	ws()
	if i >= len(b) || b[i] != '{' {
		return "", "", "", false
	}
	i++
	for {
		ws()
		if i < len(b) && b[i] == '}' {
			return sub, clientID, aud, true
		}
		if i >= len(b) || b[i] != '"' {
			return "", "", "", false
		}
		key, kesc, good := str()
		if !good || kesc {
			return "", "", "", false
		}
		ws()
		if i >= len(b) || b[i] != ':' {
			return "", "", "", false
		}
		i++
		ws()
		if i < len(b) && b[i] == '"' {
			v, esc, good := str()
			if !good {
				return "", "", "", false
			}
			var dst *string
			switch string(key) {
			case "sub":
				dst = &sub
			case "client_id":
				dst = &clientID
			case "aud":
				dst = &aud
			}
			if dst != nil {
				if esc {
					return "", "", "", false
				}
				*dst = string(v)
			}
		} else if !skip() {
			return "", "", "", false
		}
		ws()
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return sub, clientID, aud, true
		}
		return "", "", "", false
	}
}
