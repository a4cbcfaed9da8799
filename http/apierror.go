package httpapi

import (
	"encoding/json"
	"net/http"
)

// APIError is the Management / Experience / Account API error in Logto's JSON shape:
// {"code": "<domain>.<reason>", "message": "...", "data"?: ...}.
type APIError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (seconds).
	RetryAfter string `json:"-"`
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// apiErr builds an *APIError.
func apiErr(status int, code, message string) *APIError {
	return &APIError{Status: status, Code: code, Message: message}
}

// writeJSON writes v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeAPIError writes err in Logto's shape; anything that is not an *APIError is
// logged by the caller and shown as a generic 500.
func writeAPIError(w http.ResponseWriter, err *APIError) {
	if err.RetryAfter != "" {
		w.Header().Set("Retry-After", err.RetryAfter)
	}
	writeJSON(w, err.Status, err)
}

// errDirectoryUnavailable answers a directory write that could not be replicated
// (directory.ErrUnavailable: no Raft leader or no quorum before the request's
// deadline): 503 with Retry-After. Reads, sign-in and token issuance do not write to
// the directory and keep working on the nodes that remain. Logto has no code for
// this; it follows its entity.* family.
func errDirectoryUnavailable() *APIError {
	return &APIError{Status: http.StatusServiceUnavailable, Code: "entity.unavailable",
		Message:    "The directory cannot accept changes right now: too few cluster nodes are reachable to replicate the write. Nothing was changed; retry later.",
		RetryAfter: RetryAfterSeconds}
}
