package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRawResponse(t *testing.T) {
	t.Parallel()
	ok := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"active\":1}\n"
	for _, tc := range []struct {
		name     string
		in       string
		complete bool
		status   int
		body     string
		closing  bool
		err      string
	}{
		{"whole", ok, true, 200, "{\"active\":1}\n", false, ""},
		{"headers cut", ok[:30], false, 0, "", false, ""},
		{"body cut", ok[:len(ok)-3], false, 0, "", false, ""},
		{"close", "HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 2\r\n\r\n{}", true, 401, "{}", true, ""},
		{"http/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", true, 200, "", true, ""},
		{"http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", true, 200, "", false, ""},
		{"204 without length", "HTTP/1.1 204 No Content\r\n\r\n", true, 204, "", false, ""},
		{"no status text", "HTTP/1.1 503\r\nContent-Length: 1\r\n\r\nx", true, 503, "x", false, ""},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", false, 0, "", false, "--engine goroutines"},
		{"until close", "HTTP/1.1 200 OK\r\n\r\n{}", false, 0, "", false, "--engine goroutines"},
		{"informational", "HTTP/1.1 100 Continue\r\n\r\n", false, 0, "", false, "informational"},
		{"bad status", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", false, 0, "", false, "status line"},
		{"not http", "SSH-2.0-OpenSSH\r\n\r\n", false, 0, "", false, "status line"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, 0, "", false, "Content-Length"},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", false, 0, "", false, "Content-Length"},
		{"header without colon", "HTTP/1.1 200 OK\r\nbogus\r\n\r\n", false, 0, "", false, "malformed header"},
	} {
		r, complete, err := parseRawResponse([]byte(tc.in))
		status, body, n, closing := r.status, r.body, r.n, r.closing
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil || complete != tc.complete || status != tc.status || string(body) != tc.body || closing != tc.closing {
			t.Errorf("%s: complete %v status %d body %q closing %v err %v", tc.name, complete, status, body, closing, err)
		}
		if complete && n != len(tc.in) {
			t.Errorf("%s: n %d, want %d", tc.name, n, len(tc.in))
		}
	}
}

// The header fields of a parsed response are found by name, case-insensitively, in the
// header block only (not in the status line or the body).
func TestRawResponseHeader(t *testing.T) {
	t.Parallel()
	in := "HTTP/1.1 401 WWW-Authenticate: no\r\nContent-Length: 24\r\nwww-authenticate:  Bearer error=\"invalid_token\" \r\nWWW-Authenticate: Basic\r\n\r\nX-Body: WWW-Authenticate"
	r, complete, err := parseRawResponse([]byte(in))
	if err != nil || !complete {
		t.Fatalf("complete %v err %v", complete, err)
	}
	if got := r.header("WWW-Authenticate"); got != `Bearer error="invalid_token"` {
		t.Errorf("WWW-Authenticate = %q, want the first field's value, trimmed", got)
	}
	if got := r.header("X-Body"); got != "" {
		t.Errorf("X-Body = %q: a header read from the body", got)
	}
	if got := r.header("content-length"); got != "24" {
		t.Errorf("content-length = %q", got)
	}
}

func FuzzParseRawResponse(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"))
	f.Add([]byte("HTTP/1.0 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\nextra"))
	f.Add([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, complete, err := parseRawResponse(in)
		status, body, n := r.status, r.body, r.n
		if complete {
			_ = r.header("WWW-Authenticate") // never panics on what parsed
		}
		if err != nil && complete {
			t.Fatal("complete with an error")
		}
		if complete && (n > len(in) || status < 200 || status > 999 || len(body) > n) {
			t.Fatalf("n %d of %d, status %d, body %d", n, len(in), status, len(body))
		}
	})
}

// TestRawRequestBytes: what the epoll engine sends is the request net/http's server
// parses back, byte for byte.
func TestRawRequestBytes(t *testing.T) {
	t.Parallel()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "Authorization": {"Basic eDp5"}}
	raw, addr, err := rawRequestBytes(http.MethodPost, "http://127.0.0.1:4444/oidc/token?x=1", h, []byte("grant_type=client_credentials"))
	if err != nil || addr != "127.0.0.1:4444" {
		t.Fatalf("addr %q err %v", addr, err)
	}
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if req.Method != "POST" || req.RequestURI != "/oidc/token?x=1" || req.Host != "127.0.0.1:4444" || req.Close ||
		req.Header.Get("Authorization") != "Basic eDp5" || string(body) != "grant_type=client_credentials" {
		t.Errorf("parsed back as %s %s host %s close %v headers %v body %q", req.Method, req.RequestURI, req.Host, req.Close, req.Header, body)
	}
	if _, _, err := rawRequestBytes(http.MethodPost, "https://127.0.0.1/oidc/token", h, nil); err == nil {
		t.Error("https: want an error")
	}
	if _, _, err := rawRequestBytes(http.MethodPost, "http://127.0.0.1/x", http.Header{"X": {"a\r\nInjected: 1"}}, nil); err == nil {
		t.Error("a header with a line break: want an error")
	}
	if _, addr, _ := rawRequestBytes(http.MethodGet, "http://localhost/x", nil, nil); addr != "localhost:80" {
		t.Errorf("default port: %q", addr)
	}
}

// TestEpollEngineEndToEnd runs client-credentials on the epoll engine against fakeOP:
// closed loop with an exact request count, open loop with errors counted by class, and
// a scenario the engine cannot drive refused with a clear message.
func TestEpollEngineEndToEnd(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the epoll engine is Linux-only (its flag is refused elsewhere: TestParseConfig)")
	}
	op := newFakeOP(t)
	op.failEvery.Store(10)
	op.mu.Lock()
	op.clients["svc"] = fakeClient{secret: "svc-secret"}
	op.mu.Unlock()
	generic := []string{"--target", "generic", "--issuer", op.issuer(), "--client-id", "svc", "--client-secret", "svc-secret",
		"--audience", "https://api.example", "--scope", "read", "--engine", "epoll", "--progress", "0"}
	for _, load := range [][]string{
		{"--concurrency", "5", "--warmup", "0", "--requests", "300"},
		{"--rate", "3000", "--concurrency", "8", "--warmup", "50ms", "--requests", "300"},
	} {
		jsonPath := filepath.Join(t.TempDir(), "run.json")
		code, stdout, stderr := runCommand(t, append(append(append([]string{}, generic...), load...), "--json", jsonPath, "client-credentials")...)
		if code != ExitRequestErrs {
			t.Fatalf("%v: exit %d, want %d (every 10th request fails)\nstdout:\n%s\nstderr:\n%s", load, code, ExitRequestErrs, stdout, stderr)
		}
		rep, err := ReadReport(jsonPath)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Load.Engine != EngineEpoll || !strings.Contains(stdout, "epoll engine") {
			t.Errorf("%v: the report does not name the engine: %q\n%s", load, rep.Load.Engine, stdout)
		}
		if rep.Requests != 300 || rep.OK+rep.Errors != 300 || rep.Errors < 20 || rep.Errors > 40 {
			t.Errorf("%v: requests %d ok %d errors %d, want 300 with about a tenth failed", load, rep.Requests, rep.OK, rep.Errors)
		}
		for _, e := range rep.ErrorsByKind {
			if e.Kind != KindHTTP || e.Status != 503 {
				t.Errorf("%v: error class %+v, want the fake OP's 503s only", load, e)
			}
		}
		if rep.Latency.Count != 300 || rep.Latency.P50Ms <= 0 {
			t.Errorf("%v: latency %+v", load, rep.Latency)
		}
		if (rep.ServiceTime != nil) != (rep.Load.Model == "open") {
			t.Errorf("%v: service time %v in a %s loop", load, rep.ServiceTime, rep.Load.Model)
		}
	}
	code, _, stderr := runCommand(t, "--issuer", op.issuer(), "--admin-client-id", fakeAdminID, "--admin-client-secret", fakeAdminSecret,
		"--engine", "epoll", "--requests", "10", "--mix", "client-credentials=1", "mixed")
	if code != ExitFailed || !strings.Contains(stderr, "cannot run on --engine epoll") {
		t.Errorf("mixed on the epoll engine: exit %d, stderr %q", code, stderr)
	}
}

// rawStub is a RawWorker scenario against a bare TCP listener, for the engine's failure
// paths.
type rawStub struct{ addr string }

func (s *rawStub) Setup(context.Context, *Env) error { return nil }
func (s *rawStub) Do(context.Context) error          { return errors.New("Do on the epoll engine") }
func (s *rawStub) NewWorker(int) (Worker, error)     { return s, nil }
func (s *rawStub) RawAddr() string                   { return s.addr }
func (s *rawStub) RawRequest(context.Context) ([]byte, error) {
	return []byte("GET / HTTP/1.1\r\nHost: stub\r\n\r\n"), nil
}
func (s *rawStub) RawResponse(_ context.Context, r *rawResponse) error {
	return checkTokenResponse(r.status, r.body)
}

// TestEpollEngineFailures: a server that never answers costs each request its timeout,
// and one that hangs up fails each request as a transport error; either way every
// request is counted and the run ends.
func TestEpollEngineFailures(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the epoll engine is Linux-only")
	}
	for _, tc := range []struct {
		name   string
		handle func(net.Conn)
		reason []string
	}{
		{"silent", func(c net.Conn) { _, _ = io.Copy(io.Discard, c) }, []string{"timeout"}},
		// Closed with the request unread: a reset, or an EOF when the close wins the race.
		{"hangs up", func(c net.Conn) { c.Close() }, []string{"eof", "connection reset"}},
		{"garbage", func(c net.Conn) { _, _ = c.Write([]byte("SSH-2.0-x\r\n\r\n")); _, _ = io.Copy(io.Discard, c) }, []string{"other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() { defer c.Close(); tc.handle(c) }()
				}
			}()
			m, err := runLoad(t.Context(), &rawStub{addr: ln.Addr().String()}, LoadConfig{
				Concurrency: 2, Requests: 4, Engine: EngineEpoll, RequestTimeout: 150 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			var failed int64
			for _, f := range m.failed {
				failed += f
			}
			if failed != 4 || m.ok[0] != 0 {
				t.Errorf("ok %v failed %v, want 4 failed", m.ok, m.failed)
			}
			for k, st := range m.errs {
				if k.class.Kind != KindTransport || !slices.Contains(tc.reason, k.class.Code) {
					t.Errorf("error class %+v (%s), want transport %s", k.class, st.sample, tc.reason)
				}
			}
		})
	}
}

// TestEpollEngineIdleClose: a server that closes idle keep-alive connections between
// the open loop's slots costs no request: the engine lets a closed idle connection go
// and dials anew for the next slot.
func TestEpollEngineIdleClose(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the epoll engine is Linux-only")
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"x","token_type":"Bearer"}`)
	}))
	srv.Config.IdleTimeout = 5 * time.Millisecond
	srv.Start()
	defer srv.Close()
	m, err := runLoad(t.Context(), &rawStub{addr: srv.Listener.Addr().String()}, LoadConfig{
		Concurrency: 2, Rate: 40, Requests: 8, Engine: EngineEpoll, RequestTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.ok[0] != 8 || m.failed[0] != 0 || m.unsent != 0 {
		for k, st := range m.errs {
			t.Logf("%+v: %d (%s)", k.class, st.count, st.sample)
		}
		t.Errorf("ok %d failed %d unsent %d, want 8 ok", m.ok[0], m.failed[0], m.unsent)
	}
}
