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
	writeJSON(w, err.Status, err)
}
