package bench

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
)

// ErrorKind is the coarse class of a failed request. Every failure is counted under
// exactly one kind; nothing is dropped.
type ErrorKind string

const (
	// KindTransport: no HTTP response (connection refused or reset, timeout, EOF).
	KindTransport ErrorKind = "transport"
	// KindHTTP: an HTTP response with a non-2xx status and no OAuth error code in its body.
	KindHTTP ErrorKind = "http"
	// KindOAuth: an error response whose JSON body carries an OAuth `error` code
	// (RFC 6749 5.2, RFC 6750 3.1, RFC 7662, OIDC Core 3.1.2.6).
	KindOAuth ErrorKind = "oauth"
	// KindResponse: a 2xx response that is not what the protocol promises (for example a
	// token response without access_token).
	KindResponse ErrorKind = "response"
	// KindOther: anything a scenario returns that is none of the above.
	KindOther ErrorKind = "other"
)

// ErrorClass is the key errors are counted by: a kind plus the HTTP status (HTTP and
// OAuth kinds) and a short code (the OAuth error code, the transport reason, or for an
// HTTP error in a multi-request flow the step and the API's error code, see
// stepStatusError). It is comparable, so counting an error allocates nothing.
type ErrorClass struct {
	Kind   ErrorKind `json:"kind"`
	Status int       `json:"status,omitempty"`
	Code   string    `json:"code,omitempty"`
}

func (c ErrorClass) String() string {
	switch c.Kind {
	case KindHTTP:
		if c.Code != "" { // the step of a multi-request flow, and the API's error code
			return "http " + strconv.Itoa(c.Status) + " (" + c.Code + ")"
		}
		return "http " + strconv.Itoa(c.Status)
	case KindOAuth:
		return "oauth " + c.Code + " (" + strconv.Itoa(c.Status) + ")"
	default:
		if c.Code != "" {
			return string(c.Kind) + ": " + c.Code
		}
		return string(c.Kind)
	}
}

// RequestError is what scenarios return for a failed request. Build it with
// StatusError, ResponseError or TransportError.
type RequestError struct {
	Class ErrorClass
	// Detail is a short human-readable description (OAuth error_description, or the
	// transport error text); kept as a sample per class in the report.
	Detail string
	Err    error
}

func (e *RequestError) Error() string {
	if e.Detail != "" {
		return e.Class.String() + ": " + e.Detail
	}
	if e.Err != nil {
		return e.Class.String() + ": " + e.Err.Error()
	}
	return e.Class.String()
}

func (e *RequestError) Unwrap() error { return e.Err }

// StatusError classifies an unsuccessful HTTP response from its status and body: an
// OAuth error when the body is a JSON object with a well-formed `error` member, an
// HTTP-status error otherwise. body may be truncated or garbage; it never panics.
func StatusError(status int, body []byte) *RequestError {
	if code, desc, ok := ParseOAuthError(body); ok {
		return &RequestError{Class: ErrorClass{Kind: KindOAuth, Status: status, Code: code}, Detail: desc}
	}
	return &RequestError{Class: ErrorClass{Kind: KindHTTP, Status: status}, Detail: snippet(body)}
}

// ResponseError reports a 2xx response that does not hold what the protocol promises.
func ResponseError(status int, what string) *RequestError {
	return &RequestError{Class: ErrorClass{Kind: KindResponse, Status: status, Code: what}}
}

// TransportError wraps an error from http.Client.Do or from reading a response body.
func TransportError(err error) *RequestError {
	return &RequestError{Class: ErrorClass{Kind: KindTransport, Code: transportReason(err)}, Err: err}
}

// Classify maps any error a scenario returned to its class. Errors that are not a
// *RequestError are treated as transport errors when they look like one (net.Error,
// syscall errors, EOF), else KindOther.
func Classify(err error) ErrorClass {
	if re, ok := err.(*RequestError); ok { // the common case, without allocating
		return re.Class
	}
	var re *RequestError
	if errors.As(err, &re) {
		return re.Class
	}
	if reason := transportReason(err); reason != "other" {
		return ErrorClass{Kind: KindTransport, Code: reason}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ErrorClass{Kind: KindTransport, Code: "other"}
	}
	return ErrorClass{Kind: KindOther}
}

// transportReason keeps the number of transport classes small and stable.
func transportReason(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "other"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "out of sockets"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "other"
}

// ParseOAuthError extracts the `error` and `error_description` members of an OAuth
// error response (RFC 6749 5.2). ok is false unless body is a JSON object whose `error`
// is a non-empty string of the characters the RFC allows (%x20-21 / %x23-5B / %x5D-7E),
// at most 128 bytes. Robust against any input: it never panics.
func ParseOAuthError(body []byte) (code, description string, ok bool) {
	var v struct {
		Error            any `json:"error"`
		ErrorDescription any `json:"error_description"`
	}
	if len(body) == 0 || json.Unmarshal(body, &v) != nil {
		return "", "", false
	}
	code, _ = v.Error.(string)
	if code == "" || len(code) > 128 {
		return "", "", false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "", "", false
		}
	}
	description, _ = v.ErrorDescription.(string)
	if len(description) > 200 {
		description = description[:200]
	}
	return code, description, true
}

// snippet is a short, printable prefix of a response body for error samples.
func snippet(b []byte) string {
	const max = 120
	if len(b) > max {
		b = b[:max]
	}
	out := make([]byte, 0, len(b))
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out = append(out, c)
	}
	return string(out)
}
