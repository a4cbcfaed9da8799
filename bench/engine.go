package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// Engines of a run (--engine). EngineGoroutines is the default: one goroutine per
// worker, every request through net/http's client (rawTransport). EngineEpoll drives
// every worker's connection from a few event loops (one per GOMAXPROCS), wrk-style: raw
// sockets and epoll, no goroutine, channel or thread hand-off per request. It costs the
// machine a fraction of the CPU per request (measured here: wrk 15 us per
// client-credentials request, the goroutine engine 64-77 us), CPU that a load generator
// sharing the machine with the server takes from the server. It serves the scenarios
// whose workers are RawWorkers, over http:// with Content-Length responses (what
// net/http servers, Latch among them, send for small bodies).
const (
	EngineGoroutines = "goroutines"
	EngineEpoll      = "epoll"
)

// RawWorker is a Worker the epoll engine can drive: it hands out each request as
// complete HTTP/1.1 bytes and checks each complete response, with the same checks and
// error classes as its Do. Both run on the event loop: whatever they block on (a
// worker that signs in again after a failure, as Do would) holds up the loop's other
// connections too, and their latencies show it.
type RawWorker interface {
	Worker
	// RawRequest returns the next request (valid until the next call on this worker),
	// or the error Do would return without sending one (a failed bootstrap), which is
	// counted as that request's.
	RawRequest(ctx context.Context) ([]byte, error)
	// RawResponse checks a response of the request RawRequest returned last; a non-nil
	// error is counted as Do's would be.
	RawResponse(ctx context.Context, resp *rawResponse) error
}

// RawTarget is what a scenario whose workers are RawWorkers implements: the host:port
// its raw requests go to.
type RawTarget interface {
	RawAddr() string
}

// rawRequestBytes renders a request for the epoll engine once, exactly as the goroutine
// engine's transport writes it (writeHTTP1Request): keep-alive, Content-Length. It
// returns the bytes and the URL's host:port; only http:// URLs are taken.
func rawRequestBytes(method, rawURL string, header http.Header, body []byte) ([]byte, string, error) {
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	addr := rawHostPort(req)
	if addr == "" {
		return nil, "", fmt.Errorf("the epoll engine needs an http:// URL, got %q", rawURL)
	}
	if header != nil {
		req.Header = header
	}
	var b bytes.Buffer
	if err := writeHTTP1Request(bufio.NewWriter(&b), req); err != nil {
		return nil, "", err
	}
	return b.Bytes(), addr, nil
}

// rawResponse is one complete HTTP/1.1 response as the epoll engine read it; its slices
// point into the connection's buffer and are valid only during RawResponse.
type rawResponse struct {
	status int
	head   []byte // the header fields, one per CRLF-ended line, after the status line
	body   []byte
	// n is the length of the whole response; closing, whether the server will close
	// the connection after it.
	n       int
	closing bool
}

// header returns the first value of the header field name (case-insensitive), trimmed,
// or "".
func (r *rawResponse) header(name string) string {
	for rest := r.head; len(rest) > 0; {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		if k, v, ok := bytes.Cut(h, []byte(":")); ok && bytes.EqualFold(k, []byte(name)) {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// rawAddrOf is the host:port of an http:// URL, or "" for any other (the epoll engine
// speaks plain HTTP/1.1 only).
func rawAddrOf(rawURL string) string {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return ""
	}
	return rawHostPort(req)
}

// rawHostPort is the host:port of req when the epoll engine can send it (http://), else
// "".
func rawHostPort(req *http.Request) string {
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		return ""
	}
	return hostPort(req)
}

// errChunked is what the epoll engine reports for a response it cannot frame.
var errChunked = errors.New("response without Content-Length (chunked or until close): use --engine goroutines for this target")

// parseRawResponse finds one complete HTTP/1.1 response at the start of in. It returns
// complete=false when more bytes are needed; otherwise the response, whose slices are
// inside in. A response it cannot frame (no Content-Length, chunked) or a malformed one
// is an error. Never panics.
func parseRawResponse(in []byte) (r rawResponse, complete bool, err error) {
	end := bytes.Index(in, []byte("\r\n\r\n"))
	if end < 0 {
		if len(in) > 64<<10 {
			return r, false, errors.New("response headers over 64 KiB")
		}
		return r, false, nil
	}
	line, rest, _ := bytes.Cut(in[:end], []byte("\r\n"))
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return r, false, fmt.Errorf("malformed status line %q", snippet(line))
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil || status < 100 || status > 999 || (len(line) > 12 && line[12] != ' ') {
		return r, false, fmt.Errorf("malformed status line %q", snippet(line))
	}
	r.status, r.head = status, rest
	r.closing = line[7] == '0' // HTTP/1.0 closes unless told otherwise
	length := -1
	for len(rest) > 0 {
		var h []byte
		h, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return r, false, fmt.Errorf("malformed header %q", snippet(h))
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			l, err := strconv.Atoi(string(v))
			if err != nil || l < 0 || (length >= 0 && l != length) {
				return r, false, fmt.Errorf("bad Content-Length %q", snippet(v))
			}
			length = l
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			return r, false, errChunked
		case bytes.EqualFold(k, []byte("Connection")):
			r.closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	if status < 200 {
		return r, false, fmt.Errorf("informational response %d", status)
	}
	if status == 204 || status == 304 {
		length = 0
	}
	if length < 0 {
		return r, false, errChunked
	}
	if length > 16<<20 {
		return r, false, fmt.Errorf("response body of %d bytes", length)
	}
	r.n = end + 4 + length
	if len(in) < r.n {
		return rawResponse{}, false, nil
	}
	r.body = in[end+4 : r.n]
	return r, true, nil
}
