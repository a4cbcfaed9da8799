package bench

import (
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// NewClient returns the HTTP client every request of a run goes through: keep-alive
// connections, at least one idle connection kept per load goroutine (so a closed loop of
// N goroutines settles on N connections and never re-dials), no proxy (a benchmark
// measures the OP, not a proxy), no transparent gzip, and a per-request timeout.
//
// http:// goes through rawTransport, which costs the load generator a fraction of
// http.Transport's CPU per request (the generator shares the machine with the server it
// measures); https:// through an http.Transport tuned the same way. The timeout is the
// transport's, not http.Client.Timeout: for a transport it does not know, net/http
// enforces that one with a goroutine and a timer per request. It bounds the same span,
// from the send to the end of the response body.
func NewClient(conns int, timeout time.Duration) *http.Client {
	if conns < 1 {
		conns = 1
	}
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	rt := newRawTransport(conns+16, dialer.DialContext, newStdTransport(conns, dialer))
	rt.timeout = timeout
	return &http.Client{
		Transport: rt,
		// A redirect from a token endpoint is a misconfiguration to see, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// newStdTransport is the http.Transport of a run of conns load goroutines: rawTransport's
// fallback (https), and the reference its benchmark compares with.
func newStdTransport(conns int, dialer *net.Dialer) *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		MaxIdleConns:          conns + 16,
		MaxIdleConnsPerHost:   conns + 16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       8 << 10,
		ReadBufferSize:        8 << 10,
	}
}

// maxDrain bounds how much of an oversized response body is read (and discarded) so the
// connection can be reused.
const maxDrain = 1 << 20

// readBody reads resp.Body into buf[:0] (growing nothing: at most cap(buf) bytes are
// kept), discards the rest up to maxDrain, and closes the body so the connection returns
// to the pool. truncated reports whether the body was longer than cap(buf).
func readBody(resp *http.Response, buf []byte) (body []byte, truncated bool, err error) {
	defer resp.Body.Close()
	buf = buf[:cap(buf)]
	n, err := io.ReadFull(resp.Body, buf)
	switch {
	case err == nil:
		// buf full: more may follow.
		m, derr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
		if derr != nil {
			return buf[:n], m > 0, derr
		}
		return buf[:n], m > 0, nil
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return buf[:n], false, nil
	default:
		return buf[:n], false, err
	}
}
