package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

// testNode is one real `latch serve` on a loopback port with its own data directory.
type testNode struct {
	t        *testing.T
	cfg      serveConfig
	endpoint string
	out      *syncBuffer
	cancel   context.CancelFunc
	done     chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const (
	testAdminID     = "e2e-admin"
	testAdminSecret = "e2e-admin-secret-0123456789"
)

// startNode runs serve on 127.0.0.1 with a fresh port; data survives in dataDir so a test
// can restart a node on the same data.
func startNode(t *testing.T, dataDir string, mutate func(*serveConfig)) *testNode {
	t.Helper()
	return startNodeOn(t, dataDir, "127.0.0.1:0", mutate)
}

// startNodeOn is startNode listening on addr (a node restarted on the address it had
// keeps its issuer).
func startNodeOn(t *testing.T, dataDir, addr string, mutate func(*serveConfig)) *testNode {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String()
	cfg := serveConfig{
		Data: dataDir, HTTP: ln.Addr().String(), Endpoint: endpoint, Gossip: "127.0.0.1:0",
		SigningAlg: "ES256", AdminClientID: testAdminID, AdminClientSecret: testAdminSecret,
		Durability: "sync", LogLevel: "warn", Argon2MemoryKiB: 64,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &testNode{t: t, cfg: cfg, endpoint: endpoint, out: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- serve(ctx, cfg, n.out, n.out, ln) }()
	t.Cleanup(n.stop)
	n.waitReady()
	return n
}

func (n *testNode) waitReady() {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-n.done:
			n.t.Fatalf("serve exited early: %v\n%s", err, n.out.String())
		default:
		}
		resp, err := http.Get(n.endpoint + "/api/status")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatalf("node not ready\n%s", n.out.String())
}

// stop cancels serve and waits for a clean return (in-flight requests finish, store closed).
func (n *testNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	n.cancel = nil
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("serve returned %v\n%s", err, n.out.String())
		}
	case <-time.After(30 * time.Second):
		n.t.Errorf("serve did not stop\n%s", n.out.String())
	}
}

func (n *testNode) issuer() string { return n.endpoint + "/oidc" }

// clientToken obtains an access token with x/oauth2's client-credentials flow.
func (n *testNode) clientToken(ctx context.Context, id, secret, resource string, scopes ...string) (string, error) {
	cc := clientcredentials.Config{
		ClientID: id, ClientSecret: secret, TokenURL: n.issuer() + "/token", Scopes: scopes,
		EndpointParams: url.Values{"resource": {resource}},
	}
	tok, err := cc.Token(ctx)
	if err != nil {
		return "", err
	}
	return tok.AccessToken, nil
}

func (n *testNode) adminToken(ctx context.Context) string {
	n.t.Helper()
	tok, err := n.clientToken(ctx, testAdminID, testAdminSecret, "https://default.logto.app/api", "all")
	if err != nil {
		n.t.Fatalf("admin token: %v", err)
	}
	return tok
}

// api calls the Management API and decodes the JSON answer into out (when non-nil).
func (n *testNode) api(token, method, path string, body any, out any) (int, http.Header) {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.endpoint+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			n.t.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// mustAPI is api that fails the test unless the status is want.
func (n *testNode) mustAPI(token, method, path string, body any, want int, out any) {
	n.t.Helper()
	var raw json.RawMessage
	status, _ := n.api(token, method, path, body, &raw)
	if status != want {
		n.t.Fatalf("%s %s = %d, want %d: %s", method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			n.t.Fatalf("decode %s: %v", raw, err)
		}
	}
}

// createApp creates an application (POST /api/applications, 200) and decodes it into
// out; its default secret's value is under "secret" in that answer only (Latch keeps
// only its hash, so neither GET /api/applications/:id nor its secrets list show it).
func (n *testNode) createApp(token string, body map[string]any, out any) {
	n.t.Helper()
	n.mustAPI(token, "POST", "/api/applications", body, http.StatusOK, out)
}

// postToken posts a raw token request and returns status, headers and the decoded body.
func (n *testNode) postToken(form url.Values, basicID, basicSecret string) (int, http.Header, map[string]any) {
	n.t.Helper()
	req, _ := http.NewRequest("POST", n.issuer()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicID != "" {
		req.SetBasicAuth(basicID, basicSecret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		n.t.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, resp.Header, body
}
