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
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countedServer is an httptest server on 127.0.0.1 that counts the connections it
// accepted and closed.
type countedServer struct {
	*httptest.Server
	opened, closed atomic.Int64
}

func newCountedServer(t *testing.T, h http.Handler) *countedServer {
	t.Helper()
	s := &countedServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.opened.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.closed.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// newTestRawTransport is the transport NewClient builds, without timeout, with fallback
// for what it does not handle itself.
func newTestRawTransport(t *testing.T, fallback http.RoundTripper) *rawTransport {
	t.Helper()
	if fallback == nil {
		fallback = http.DefaultTransport
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	rt := newRawTransport(48, d.DialContext, fallback)
	t.Cleanup(rt.CloseIdleConnections)
	return rt
}

// get sends a request and reads the whole body; the body is closed.
func get(t *testing.T, c *http.Client, ctx context.Context, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return resp, string(b)
}

// waitUntil polls cond (never a fixed sleep) for up to 5 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (t *rawTransport) idleCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, conns := range t.idle {
		n += len(conns)
	}
	return n
}

// TestRawTransportResponses: every kind of response framing is read right, and the
// connection is reused after each unless the response says otherwise.
func TestRawTransportResponses(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"active":true}`))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := range 5 {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush() // no Content-Length: chunked
		}
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "0")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "42") // a HEAD response has no body whatever it says
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		_, _ = w.Write([]byte("bye"))
	})
	mux.HandleFunc("/interim", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		_, _ = w.Write([]byte("final"))
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("x"), 100<<10))
	})

	tests := []struct {
		name, method, path string
		n                  int // requests, sequential
		wantStatus         int
		wantBody           string
		wantConns          int64 // server-side connections for the n requests
	}{
		{"keep-alive", "GET", "/json", 200, 200, `{"active":true}`, 1},
		{"chunked", "GET", "/chunked", 20, 200, "part 0;part 1;part 2;part 3;part 4;", 1},
		{"content-length 0", "POST", "/empty", 20, 200, "", 1},
		{"204", "DELETE", "/nocontent", 20, 204, "", 1},
		{"HEAD", "HEAD", "/head", 20, 200, "", 1},
		{"1xx then final", "GET", "/interim", 20, 200, "final", 1},
		{"larger than the buffer", "GET", "/big", 5, 200, strings.Repeat("x", 100<<10), 1},
		{"Connection: close", "GET", "/close", 5, 200, "bye", 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCountedServer(t, mux)
			c := &http.Client{Transport: newTestRawTransport(t, nil)}
			for i := range tt.n {
				resp, body := get(t, c, t.Context(), tt.method, srv.URL+tt.path)
				if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
					t.Fatalf("request %d: %d %.40q, want %d %.40q", i, resp.StatusCode, body, tt.wantStatus, tt.wantBody)
				}
			}
			if got := srv.opened.Load(); got != tt.wantConns {
				t.Errorf("%d requests used %d connections, want %d", tt.n, got, tt.wantConns)
			}
		})
	}
}

// TestRawTransportNoBodyNeedsNoClose: a response without a body (HEAD, 204) gives its
// connection back at once, even if the caller never closes the body.
func TestRawTransportNoBodyNeedsNoClose(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	rt := newTestRawTransport(t, nil)
	for range 10 {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Body != http.NoBody {
			t.Fatalf("204 body %T, want http.NoBody", resp.Body)
		}
	}
	if got := srv.opened.Load(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// TestRawTransportEarlyClose: a body closed before its end costs its connection: the
// next request dials anew, and never reads the rest of the old response.
func TestRawTransportEarlyClose(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			_, _ = w.Write(bytes.Repeat([]byte("x"), 64<<10))
			return
		}
		_, _ = w.Write([]byte("small"))
	}))
	rt := newTestRawTransport(t, nil)
	c := &http.Client{Transport: rt}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/big", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var p [10]byte
	if _, err := io.ReadFull(resp.Body, p[:]); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if _, err := resp.Body.Read(p[:]); !errors.Is(err, http.ErrBodyReadAfterClose) {
		t.Errorf("read after close: %v", err)
	}
	if n := rt.idleCount(); n != 0 {
		t.Errorf("%d idle connections after an early close, want 0", n)
	}
	if _, body := get(t, c, t.Context(), "GET", srv.URL+"/small"); body != "small" {
		t.Errorf("next response %.40q, want small", body)
	}
	if got := srv.opened.Load(); got != 2 {
		t.Errorf("%d connections, want 2 (the first one dropped)", got)
	}
	waitUntil(t, "the server to see the dropped connection closed", func() bool { return srv.closed.Load() >= 1 })
}

// TestRawTransportExactContentLength: a body read to exactly its Content-Length (no
// EOF seen yet) counts as fully read: the connection is reused.
func TestRawTransportExactContentLength(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("0123456789"))
	}))
	c := &http.Client{Transport: newTestRawTransport(t, nil)}
	for range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p [10]byte
		if _, err := io.ReadFull(resp.Body, p[:]); err != nil || string(p[:]) != "0123456789" {
			t.Fatalf("%q %v", p, err)
		}
		_ = resp.Body.Close()
	}
	if got := srv.opened.Load(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// TestRawTransportServerClosedIdle: the server closes a pooled connection. With the
// probe, the next request notices and dials anew; without it, the next request fails
// promptly (a transport error, not retried: it might not be idempotent) and the one
// after it dials anew. Never a hang.
func TestRawTransportServerClosedIdle(t *testing.T) {
	for _, probe := range []bool{true, false} {
		t.Run(fmt.Sprintf("probe=%t", probe), func(t *testing.T) {
			srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("ok"))
			}))
			rt := newTestRawTransport(t, nil)
			rt.probeAfter = time.Hour
			if probe {
				rt.probeAfter = 0
			}
			c := &http.Client{Transport: rt}
			get(t, c, t.Context(), "GET", srv.URL)
			srv.CloseClientConnections()
			waitUntil(t, "the server to close the idle connection", func() bool { return srv.closed.Load() == 1 })
			rt.mu.Lock()
			pooled := rt.idle[srv.Listener.Addr().String()][0].conn
			rt.mu.Unlock()
			waitUntil(t, "the close to reach the client", func() bool { return !connAlive(pooled) })

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader("grant_type=refresh_token"))
			resp, err := c.Do(req)
			switch {
			case probe && err != nil:
				t.Fatalf("with the probe, the dead connection should have been skipped: %v", err)
			case probe:
				_ = resp.Body.Close()
			case err == nil:
				t.Fatal("without the probe, a request on the closed connection succeeded (retried?)")
			case ctx.Err() != nil:
				t.Fatalf("hung until the context deadline: %v", err)
			case Classify(TransportError(err)).Kind != KindTransport:
				t.Fatalf("error %v is not a transport error", err)
			default:
				t.Logf("request on the closed connection: %v (%s)", err, Classify(TransportError(err)))
				get(t, c, t.Context(), "GET", srv.URL)
			}
			if got := srv.opened.Load(); got != 2 {
				t.Errorf("%d connections, want 2", got)
			}
		})
	}
}

// TestRawTransportProbeAfterDeadline: the probe of a connection whose last deadline has
// passed while it idled does not mistake the deadline for a dead connection.
func TestRawTransportProbeAfterDeadline(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	rt := newTestRawTransport(t, nil)
	rt.probeAfter = 0
	rt.timeout = 10 * time.Millisecond
	c := &http.Client{Transport: rt}
	get(t, c, t.Context(), "GET", srv.URL)
	passed := time.Now().Add(rt.timeout)
	waitUntil(t, "the deadline to pass", func() bool { return time.Now().After(passed) })
	get(t, c, t.Context(), "GET", srv.URL)
	if got := srv.opened.Load(); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// opaqueReader hides bytes.Reader's type, so a request built on it has no known length.
type opaqueReader struct{ r io.Reader }

func (o opaqueReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestRawTransportRequest: what the server receives is what the request said.
func TestRawTransportRequest(t *testing.T) {
	type seen struct {
		method, uri, host, ua string
		header                http.Header
		contentLength         int64
		hasContentLength      bool
		te                    []string
		body                  string
		close                 bool
	}
	got := make(chan seen, 1)
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Error(err)
		}
		_, hasCL := r.Header["Content-Length"]
		got <- seen{r.Method, r.RequestURI, r.Host, r.UserAgent(), r.Header, r.ContentLength, hasCL, r.TransferEncoding, string(b), r.Close}
	}))
	form := "token=a.b&token_type_hint=access_token"
	tests := []struct {
		name  string
		build func() *http.Request
		check func(t *testing.T, s seen)
	}{
		{"form POST with headers", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL+"/oidc/token/introspection?x=1&y=%2F", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Authorization", "Basic d2ViOnM=")
			r.Header["X-Multi"] = []string{"one", "two"}
			return r
		}, func(t *testing.T, s seen) {
			if s.method != "POST" || s.uri != "/oidc/token/introspection?x=1&y=%2F" || s.body != form ||
				s.contentLength != int64(len(form)) || len(s.te) != 0 {
				t.Errorf("got %+v", s)
			}
			if s.header.Get("Authorization") != "Basic d2ViOnM=" || s.header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
				strings.Join(s.header["X-Multi"], ",") != "one,two" {
				t.Errorf("headers %v", s.header)
			}
			if s.host != srv.Listener.Addr().String() || s.ua != "Go-http-client/1.1" {
				t.Errorf("Host %q, User-Agent %q", s.host, s.ua)
			}
		}},
		{"unknown length is sent with Content-Length", func() *http.Request {
			r, _ := http.NewRequest("PUT", srv.URL+"/api/experience", opaqueReader{strings.NewReader(`{"interactionEvent":"SignIn"}`)})
			return r
		}, func(t *testing.T, s seen) {
			if s.body != `{"interactionEvent":"SignIn"}` || s.contentLength != int64(len(s.body)) || len(s.te) != 0 {
				t.Errorf("got %+v", s)
			}
		}},
		{"POST without body says Content-Length: 0", func() *http.Request {
			r, _ := http.NewRequest("POST", srv.URL+"/api/experience/submit", nil)
			return r
		}, func(t *testing.T, s seen) {
			if !s.hasContentLength || s.contentLength != 0 || s.body != "" {
				t.Errorf("got %+v", s)
			}
		}},
		{"GET without body sends no Content-Length", func() *http.Request {
			r, _ := http.NewRequest("GET", srv.URL+"/oidc/me", nil)
			return r
		}, func(t *testing.T, s seen) {
			if s.hasContentLength {
				t.Errorf("got %+v", s)
			}
		}},
		{"own User-Agent and Host, Close", func() *http.Request {
			r, _ := http.NewRequest("GET", srv.URL+"/", nil)
			r.Header.Set("User-Agent", "latch-bench")
			r.Host = "op.test"
			r.Close = true
			return r
		}, func(t *testing.T, s seen) {
			if s.ua != "latch-bench" || s.host != "op.test" || !s.close {
				t.Errorf("got %+v", s)
			}
		}},
	}
	c := &http.Client{Transport: newTestRawTransport(t, nil)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.build().WithContext(t.Context())
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			tt.check(t, <-got)
		})
	}
}

// TestRawTransportRejectsHeaderInjection: a header value with CR LF is refused before
// anything is sent.
func TestRawTransportRejectsHeaderInjection(t *testing.T) {
	var hits atomic.Int64
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	rt := newTestRawTransport(t, nil)
	for _, h := range [][2]string{{"X-Evil", "a\r\nInjected: 1"}, {"Bad Name", "v"}} {
		req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL, nil)
		req.Header[h[0]] = []string{h[1]}
		if resp, err := rt.RoundTrip(req); err == nil {
			_ = resp.Body.Close()
			t.Errorf("header %q: %q accepted", h[0], h[1])
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests reached the server", hits.Load())
	}
}

// TestRawTransportCancel: a cancelled or expired context ends an exchange blocked on a
// stalled server at once, waiting for the headers or in the middle of the body, with an
// error that wraps the context's.
func TestRawTransportCancel(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 4)
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.Header().Set("Content-Length", "100")
			_, _ = w.Write([]byte("first part"))
			w.(http.Flusher).Flush()
		}
		arrived <- struct{}{}
		<-release
	}))
	t.Cleanup(func() { close(release) }) // before srv.Close, which waits for the handlers
	tests := []struct {
		name    string
		path    string
		timeout time.Duration // transport timeout
		ctx     func(t *testing.T) (context.Context, context.CancelFunc)
		want    error
	}{
		{"cancel while waiting for headers", "/headers", 0, func(t *testing.T) (context.Context, context.CancelFunc) {
			return context.WithCancel(t.Context())
		}, context.Canceled},
		{"cancel in the body", "/body", 0, func(t *testing.T) (context.Context, context.CancelFunc) {
			return context.WithCancel(t.Context())
		}, context.Canceled},
		{"context deadline", "/headers", 0, func(t *testing.T) (context.Context, context.CancelFunc) {
			return context.WithTimeout(t.Context(), 50*time.Millisecond)
		}, nil},
		{"transport timeout", "/body", 50 * time.Millisecond, func(t *testing.T) (context.Context, context.CancelFunc) {
			return context.WithCancel(t.Context())
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newTestRawTransport(t, nil)
			rt.timeout = tt.timeout
			c := &http.Client{Transport: rt}
			ctx, cancel := tt.ctx(t)
			defer cancel()
			if tt.want == context.Canceled {
				go func() {
					<-arrived
					cancel()
				}()
			}
			start := time.Now()
			req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+tt.path, nil)
			resp, err := c.Do(req)
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
			took := time.Since(start)
			if tt.want == nil {
				<-arrived
			}
			switch {
			case err == nil:
				t.Fatal("no error")
			case took > 2*time.Second:
				t.Errorf("took %v to give up", took)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("error %v does not wrap %v", err, tt.want)
			case tt.want == nil && Classify(TransportError(err)).Code != "timeout":
				t.Errorf("error %v classified %s, want a timeout", err, Classify(TransportError(err)))
			}
			if n := rt.idleCount(); n != 0 {
				t.Errorf("%d idle connections after an aborted exchange, want 0", n)
			}
		})
	}
}

// TestRawTransportConcurrent: 32 goroutines share the transport (run with -race); no
// goroutine ever holds more than one connection, so there are at most 32.
func TestRawTransportConcurrent(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, _ = w.Write(b)
	}))
	c := NewClient(32, 10*time.Second)
	t.Cleanup(c.CloseIdleConnections)
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			buf := make([]byte, 0, 256)
			for i := range 50 {
				want := strconv.Itoa(g) + "/" + strconv.Itoa(i)
				req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL, strings.NewReader(want))
				resp, err := c.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				body, _, err := readBody(resp, buf)
				if err != nil || string(body) != want {
					t.Errorf("got %q %v, want %q", body, err, want)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := srv.opened.Load(); got > 32 {
		t.Errorf("%d connections for 32 goroutines", got)
	}
}

// TestRawTransportHTTPSFallback: https goes to the fallback transport, and nothing of it
// lands in the raw pool.
func TestRawTransportHTTPSFallback(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Error("plain request on the TLS server")
		}
		_, _ = w.Write([]byte("tls"))
	}))
	defer srv.Close()
	rt := newTestRawTransport(t, srv.Client().Transport)
	rt.timeout = 10 * time.Second
	c := &http.Client{Transport: rt}
	for range 3 {
		if _, body := get(t, c, t.Context(), "GET", srv.URL); body != "tls" {
			t.Fatalf("body %q", body)
		}
	}
	if n := rt.idleCount(); n != 0 {
		t.Errorf("%d connections in the raw pool", n)
	}
}

// TestRawTransportCloseIdle: CloseIdleConnections (http.Client's, at the end of a run)
// closes the pooled connections.
func TestRawTransportCloseIdle(t *testing.T) {
	srv := newCountedServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	c := NewClient(4, time.Second)
	get(t, c, t.Context(), "GET", srv.URL)
	c.CloseIdleConnections()
	waitUntil(t, "the server to see the connection closed", func() bool { return srv.closed.Load() == 1 })
}

// cannedServer answers every HTTP/1.1 request on a keep-alive connection with the same
// bytes and allocates nothing per request, so a benchmark's allocations and most of its
// CPU are the client's.
func cannedServer(b *testing.B, response string) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	serve := func(conn net.Conn) {
		defer conn.Close()
		br := bufio.NewReader(conn)
		for {
			length := 0
			for {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if len(line) <= 2 {
					break
				}
				if v, ok := bytes.CutPrefix(bytes.ToLower(line[:len(line)-2]), []byte("content-length: ")); ok {
					length, _ = strconv.Atoi(string(v))
				}
			}
			if _, err := br.Discard(length); err != nil {
				return
			}
			if _, err := io.WriteString(conn, response); err != nil {
				return
			}
		}
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
	return "http://" + ln.Addr().String()
}

// BenchmarkTransport compares, on an introspection-sized exchange (form POST, small
// JSON answer), the http.Transport NewClient used to build, rawTransport with the
// timeout on the http.Client, and rawTransport as NewClient builds it now. cpu-ns/op is
// the process's CPU time (client and canned server) per request.
func BenchmarkTransport(b *testing.B) {
	body := `{"active":true,"client_id":"web","sub":"u1","scope":"openid profile","exp":1893456000}`
	url := cannedServer(b, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "+
		strconv.Itoa(len(body))+"\r\nCache-Control: no-store\r\n\r\n"+body) + "/oidc/token/introspection"
	form := []byte("token=Z2lkLjAxMjM0NTY3ODk.c2VjcmV0c2VjcmV0c2VjcmV0&token_type_hint=access_token")
	header := http.Header{}
	header.Set("Content-Type", "application/x-www-form-urlencoded")
	header.Set("Accept", "application/json")
	header.Set("Authorization", "Basic d2ViOnNlY3JldA==")
	clients := []struct {
		name   string
		client func(conns int) *http.Client
	}{
		{"std", func(conns int) *http.Client {
			d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
			return &http.Client{Transport: newStdTransport(conns, d), Timeout: 10 * time.Second}
		}},
		{"raw+client-timeout", func(conns int) *http.Client {
			c := NewClient(conns, 0)
			c.Timeout = 10 * time.Second
			return c
		}},
		{"raw", func(conns int) *http.Client { return NewClient(conns, 10*time.Second) }},
	}
	exchange := func(b *testing.B, c *http.Client, buf []byte) {
		req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, url, bytes.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		req.Header = header
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		got, _, err := readBody(resp, buf)
		if err != nil || len(got) != len(body) {
			b.Fatalf("%q %v", got, err)
		}
	}
	for _, cl := range clients {
		b.Run(cl.name, func(b *testing.B) {
			c := cl.client(1)
			defer c.CloseIdleConnections()
			buf := make([]byte, 0, 4<<10)
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				exchange(b, c, buf)
			}
			reportCPU(b, cpu)
		})
		b.Run(cl.name+"/parallel", func(b *testing.B) {
			c := cl.client(16)
			defer c.CloseIdleConnections()
			b.SetParallelism(4) // with GOMAXPROCS 2..4: 8..16 goroutines, like --concurrency 16
			b.ReportAllocs()
			cpu := processCPU()
			b.RunParallel(func(pb *testing.PB) {
				buf := make([]byte, 0, 4<<10)
				for pb.Next() {
					exchange(b, c, buf)
				}
			})
			reportCPU(b, cpu)
		})
	}
}

// reportCPU reports the process's CPU time since start per iteration, where known.
func reportCPU(b *testing.B, start time.Duration) {
	if end := processCPU(); end > 0 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}
