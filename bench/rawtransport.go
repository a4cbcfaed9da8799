package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
)

// rawTransport is the HTTP/1.1 client of a run: it does a whole exchange on the calling
// goroutine, where http.Transport hands every request and response across its
// per-connection read and write goroutines (a few futex wake-ups and selects per
// request: on a machine shared with the server, the load generator's CPU is the
// server's loss). For http:// it keeps idle keep-alive connections per host:port and,
// per request, writes the request through the connection's bufio.Writer with one Flush
// and parses the response with http.ReadResponse from the connection's bufio.Reader (the
// standard library's parser: Content-Length, chunked, bodies a status or HEAD forbids,
// Connection: close). Anything else (https://, a request with its own
// Transfer-Encoding or trailers) goes to fallback.
//
// It never retries: a request that fails on a reused connection is a transport error,
// as a retried refresh-token POST could rotate the token twice. It avoids handing out a
// connection it can tell is dead: one idle past idleTimeout, or, past probeAfter, one
// the server has closed (a non-blocking peek, where the platform allows it).
//
// Deadlines: the request context's deadline, or timeout from the start of RoundTrip if
// that is sooner, becomes the connection's deadline for the whole exchange, body
// included; a cancelled context pulls the deadline into the past, so a blocked read or
// write returns at once, with an error that wraps the context's.
//
// Safe for concurrent use; a connection belongs to one exchange at a time.
type rawTransport struct {
	dial     func(ctx context.Context, network, addr string) (net.Conn, error)
	fallback http.RoundTripper
	// maxIdle bounds the idle connections kept per host:port.
	maxIdle int
	// timeout, when > 0, bounds each exchange from RoundTrip to the end of its body,
	// as http.Client.Timeout does (which, for a RoundTripper net/http does not know,
	// costs a goroutine and a timer per request; see NewClient).
	timeout time.Duration
	// idleTimeout: an idle connection older than this is closed, not reused.
	idleTimeout time.Duration
	// probeAfter: a connection idle for longer is checked for a close by the server
	// before it is reused (one system call); a connection reused sooner is not.
	probeAfter time.Duration

	mu   sync.Mutex
	idle map[string][]*rawConn // per host:port; most recently used last
}

var _ http.RoundTripper = (*rawTransport)(nil)

// newRawTransport returns a transport keeping up to maxIdle idle connections per
// host:port, dialling with dial and sending what it does not handle to fallback.
func newRawTransport(maxIdle int, dial func(ctx context.Context, network, addr string) (net.Conn, error), fallback http.RoundTripper) *rawTransport {
	return &rawTransport{
		dial:        dial,
		fallback:    fallback,
		maxIdle:     max(1, maxIdle),
		idleTimeout: 90 * time.Second,
		probeAfter:  time.Second,
	}
}

// Buffer sizes of a connection: a request of the load is a few hundred bytes; a
// response is read with one system call when it fits.
const (
	rawReadBuffer  = 8 << 10
	rawWriteBuffer = 4 << 10
)

// aLongTimeAgo is a deadline in the past: it fails a pending read or write at once.
var aLongTimeAgo = time.Unix(1, 0)

// rawConn is one keep-alive connection with its buffers, reused across exchanges.
type rawConn struct {
	t    *rawTransport
	addr string // pool key: host:port
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	// abort pulls the deadline into the past (the context's AfterFunc); made once per
	// connection so that an exchange allocates no closure for it.
	abort       func()
	stop        func() bool // the exchange's AfterFunc registration; nil without one
	hasDeadline bool
	idleSince   time.Time
}

// RoundTrip implements http.RoundTripper.
func (t *rawTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Scheme != "http" || len(req.TransferEncoding) > 0 || req.Trailer != nil {
		return t.roundTripFallback(req)
	}
	ctx := req.Context()
	if err := ctx.Err(); err != nil {
		closeRequestBody(req)
		return nil, err
	}
	var deadline time.Time
	if t.timeout > 0 {
		deadline = time.Now().Add(t.timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	c, err := t.conn(ctx, hostPort(req), deadline)
	if err != nil {
		closeRequestBody(req)
		return nil, exchangeError(ctx, err)
	}
	c.begin(ctx, deadline)
	if err := c.writeRequest(req); err != nil {
		c.end(false)
		return nil, exchangeError(ctx, err)
	}
	resp, err := c.readResponse(req)
	if err != nil {
		c.end(false)
		return nil, exchangeError(ctx, err)
	}
	reuse := !resp.Close && !req.Close && resp.StatusCode != http.StatusSwitchingProtocols
	if resp.Body == http.NoBody { // HEAD, 204, 304, Content-Length: 0
		c.end(reuse)
		return resp, nil
	}
	resp.Body = &rawBody{c: c, body: resp.Body, ctx: ctx, remaining: resp.ContentLength, reuse: reuse}
	return resp, nil
}

// roundTripFallback sends req with the fallback transport, under timeout like the rest.
func (t *rawTransport) roundTripFallback(req *http.Request) (*http.Response, error) {
	if t.timeout <= 0 {
		return t.fallback.RoundTrip(req)
	}
	ctx, cancel := context.WithTimeout(req.Context(), t.timeout)
	resp, err := t.fallback.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelOnClose releases a fallback request's timeout context with its body.
type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// CloseIdleConnections closes the idle connections (the fallback's too); connections
// in use are closed or pooled when their exchange ends. http.Client calls it.
func (t *rawTransport) CloseIdleConnections() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, conns := range idle {
		for _, c := range conns {
			_ = c.conn.Close()
		}
	}
	if ci, ok := t.fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

// hostPort is the pool key and dial address of req: the URL's host with port 80 if it
// names none.
func hostPort(req *http.Request) string {
	host := req.URL.Host
	if req.URL.Port() == "" {
		return net.JoinHostPort(req.URL.Hostname(), "80")
	}
	return host
}

// conn returns an idle connection to addr, or dials one (bounded by deadline, if set).
func (t *rawTransport) conn(ctx context.Context, addr string, deadline time.Time) (*rawConn, error) {
	if c := t.idleConn(addr); c != nil {
		return c, nil
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	conn, err := t.dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &rawConn{
		t:    t,
		addr: addr,
		conn: conn,
		br:   bufio.NewReaderSize(conn, rawReadBuffer),
		bw:   bufio.NewWriterSize(conn, rawWriteBuffer),
	}
	c.abort = func() { _ = conn.SetDeadline(aLongTimeAgo) }
	return c, nil
}

// idleConn takes the most recently used idle connection to addr that still looks
// usable, closing the ones that do not; nil when there is none.
func (t *rawTransport) idleConn(addr string) *rawConn {
	var now time.Time
	for {
		t.mu.Lock()
		idle := t.idle[addr]
		n := len(idle)
		if n == 0 {
			t.mu.Unlock()
			return nil
		}
		c := idle[n-1]
		idle[n-1] = nil
		t.idle[addr] = idle[:n-1]
		t.mu.Unlock()

		if now.IsZero() {
			now = time.Now()
		}
		switch idleFor := now.Sub(c.idleSince); {
		case idleFor > t.idleTimeout:
		case idleFor > t.probeAfter && !c.alive():
		default:
			return c
		}
		_ = c.conn.Close()
	}
}

// alive probes an idle connection for a close by the server (connAlive). The last
// exchange's deadline may have passed meanwhile, which would fail the probe: it is
// cleared first.
func (c *rawConn) alive() bool {
	if c.hasDeadline {
		if c.conn.SetDeadline(time.Time{}) != nil {
			return false
		}
		c.hasDeadline = false
	}
	return c.br.Buffered() == 0 && connAlive(c.conn)
}

// putIdle pools c for the next exchange, or closes it when addr has maxIdle already.
func (t *rawTransport) putIdle(c *rawConn) {
	c.idleSince = time.Now()
	t.mu.Lock()
	idle := t.idle[c.addr]
	if len(idle) < t.maxIdle {
		if t.idle == nil {
			t.idle = map[string][]*rawConn{}
		}
		t.idle[c.addr] = append(idle, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	_ = c.conn.Close()
}

// begin sets the exchange's deadline and ties the connection to ctx's cancellation.
func (c *rawConn) begin(ctx context.Context, deadline time.Time) {
	if !deadline.IsZero() {
		_ = c.conn.SetDeadline(deadline)
		c.hasDeadline = true
	} else if c.hasDeadline {
		_ = c.conn.SetDeadline(time.Time{})
		c.hasDeadline = false
	}
	if ctx.Done() != nil {
		c.stop = context.AfterFunc(ctx, c.abort)
	}
}

// end finishes the exchange: the connection goes back to the pool if reuse and the
// context did not fire (its deadline would be in the past) and nothing unread is
// buffered (a server speaking out of turn); otherwise it is closed.
func (c *rawConn) end(reuse bool) {
	if c.stop != nil {
		if !c.stop() {
			reuse = false
		}
		c.stop = nil
	}
	if reuse && c.br.Buffered() == 0 {
		c.t.putIdle(c)
		return
	}
	_ = c.conn.Close()
}

// writeRequest writes req as HTTP/1.1 (RFC 9112 3, 6.2) with one Flush: the request
// line, Host, User-Agent (Go's default unless the request sets one, so the server sees
// what http.Transport sent), the request's headers, Content-Length as http.Transport
// sends it, then the body. It closes req.Body.
func (c *rawConn) writeRequest(req *http.Request) error { return writeHTTP1Request(c.bw, req) }

// writeHTTP1Request is writeRequest's rendering into any buffered writer (the epoll
// engine renders its requests once, with it, into bytes).
func writeHTTP1Request(w *bufio.Writer, req *http.Request) error {
	body, length, err := requestBody(req)
	if err != nil {
		return err
	}
	defer closeRequestBody(req)
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !httpguts.ValidHostHeader(host) {
		return fmt.Errorf("invalid Host %q", host)
	}
	w.WriteString(method)
	w.WriteByte(' ')
	w.WriteString(req.URL.RequestURI())
	w.WriteString(" HTTP/1.1\r\nHost: ")
	w.WriteString(host)
	w.WriteString("\r\n")
	if _, ok := req.Header["User-Agent"]; !ok {
		w.WriteString("User-Agent: Go-http-client/1.1\r\n")
	}
	for k, vs := range req.Header {
		switch k {
		case "Host", "Content-Length", "Transfer-Encoding", "Trailer":
			continue // written by the transport, or not at all
		}
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !httpguts.ValidHeaderFieldValue(v) {
				return fmt.Errorf("invalid header field value for %q", k)
			}
			if k == "User-Agent" && v == "" {
				continue // an empty User-Agent means none, as for http.Transport
			}
			w.WriteString(k)
			w.WriteString(": ")
			w.WriteString(v)
			w.WriteString("\r\n")
		}
	}
	// As http.Transport: Content-Length for a body, and Content-Length: 0 for an empty
	// one except with GET and HEAD (many servers want it on POST, PUT, PATCH, DELETE).
	if length > 0 || (method != http.MethodGet && method != http.MethodHead) {
		w.WriteString("Content-Length: ")
		w.Write(strconv.AppendInt(w.AvailableBuffer(), length, 10))
		w.WriteString("\r\n")
	}
	if req.Close && !httpguts.HeaderValuesContainsToken(req.Header["Connection"], "close") {
		w.WriteString("Connection: close\r\n")
	}
	w.WriteString("\r\n")
	if length > 0 {
		n, err := io.Copy(w, body)
		if err != nil {
			return fmt.Errorf("writing request body: %w", err)
		}
		if n != length {
			return fmt.Errorf("request body: %d bytes, Content-Length %d", n, length)
		}
	}
	return w.Flush()
}

// requestBody is what to send after the header and its length: the body as is when its
// length is known (ContentLength > 0), read into memory when it is not (ContentLength 0
// with a body: http.Transport would send it chunked).
func requestBody(req *http.Request) (io.Reader, int64, error) {
	switch {
	case req.Body == nil || req.Body == http.NoBody:
		return nil, 0, nil
	case req.ContentLength > 0:
		return req.Body, req.ContentLength, nil
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		closeRequestBody(req)
		return nil, 0, fmt.Errorf("reading request body: %w", err)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// closeRequestBody closes req.Body, as RoundTrip must even when it fails.
func closeRequestBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// maxInterim bounds the interim (1xx) responses skipped before the final one.
const maxInterim = 5

// readResponse parses the response to req, skipping interim responses (RFC 9110 15.2;
// 101 Switching Protocols is final: the connection is then not reused).
func (c *rawConn) readResponse(req *http.Request) (*http.Response, error) {
	for range maxInterim + 1 {
		resp, err := http.ReadResponse(c.br, req)
		if err != nil {
			return nil, fmt.Errorf("reading response: %w", err)
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
	return nil, fmt.Errorf("more than %d interim responses", maxInterim)
}

// rawBody is a response body on a pooled connection. The connection goes back to the
// pool when the body is closed after being read to its end (EOF, or all of its
// Content-Length) and the response allows reuse; closed early, or after a read error,
// the connection is closed. Like any response body, one goroutine at a time.
type rawBody struct {
	c         *rawConn // nil once closed
	body      io.ReadCloser
	ctx       context.Context
	remaining int64 // bytes still due by Content-Length; -1 when unknown
	eof       bool
	err       error // sticky read error
	reuse     bool
}

func (b *rawBody) Read(p []byte) (int, error) {
	if b.c == nil {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	if b.remaining > 0 {
		b.remaining -= int64(n)
	}
	switch {
	case err == io.EOF:
		b.eof = true
	case err != nil:
		b.err = exchangeError(b.ctx, err)
		err = b.err
	}
	return n, err
}

// Close ends the exchange. It never reads: a body closed early costs its connection
// (http's own body would drain it first, blocking on a slow server).
func (b *rawBody) Close() error {
	if b.c == nil {
		return nil
	}
	c := b.c
	b.c = nil
	c.end(b.reuse && b.err == nil && (b.eof || b.remaining == 0))
	return nil
}

// exchangeError is err, or, when ctx is done, ctx's error with err as detail: a read
// or write failed by the context's AfterFunc reports the cancellation, not an i/o
// timeout.
func exchangeError(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	return err
}
