package connectors_test

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/smtptest"
	"github.com/latchid/latch/directory"
	"github.com/latchid/latch/persistence"
)

func now() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }

func newRegistry(t *testing.T) (*connectors.Registry, *directory.Directory) {
	t.Helper()
	store, err := persistence.OpenPebble(persistence.PebbleConfig{Dir: "db", FS: vfs.NewMem(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	dir, err := directory.Open(t.Context(), directory.Config{Store: store, Now: now, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := connectors.New(connectors.Config{Directory: dir, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return reg, dir
}

// smtpConfig is a valid SMTP config for srv.
func smtpConfig(srv *smtptest.Server, extra map[string]any) json.RawMessage {
	c := map[string]any{
		"host": srv.Host, "port": srv.Port, "fromEmail": "Latch <noreply@latch.test>",
		"templates": []map[string]string{
			{"usageType": "SignIn", "contentType": "text/plain", "subject": "Sign in", "content": "Your sign-in code is {{code}}."},
			{"usageType": "Register", "contentType": "text/plain", "subject": "Register", "content": "Your sign-up code is {{code}}."},
			{"usageType": "ForgotPassword", "contentType": "text/plain", "subject": "Reset", "content": "Your reset code is {{code}}."},
			{"usageType": "Generic", "contentType": "text/html", "subject": "Code {{code}}", "content": "<p>Your code is <b>{{code}}</b></p>"},
		},
	}
	for k, v := range extra {
		c[k] = v
	}
	raw, _ := json.Marshal(c)
	return raw
}

func body(t *testing.T, m smtptest.Message) string {
	t.Helper()
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func smtpFactory(t *testing.T, reg *connectors.Registry) connectors.Factory {
	t.Helper()
	f, ok := reg.Factory("simple-mail-transfer-protocol")
	if !ok {
		t.Fatal("no SMTP factory")
	}
	return f
}

func TestSMTPDeliversOverEachTransport(t *testing.T) {
	reg, _ := newRegistry(t)
	f := smtpFactory(t, reg)
	for _, tc := range []struct {
		name    string
		mode    smtptest.Mode
		extra   func(*smtptest.Server) map[string]any
		wantTLS bool
	}{
		{"plain with auth on loopback", smtptest.Plain, func(*smtptest.Server) map[string]any { return nil }, false},
		{"starttls", smtptest.StartTLS, func(s *smtptest.Server) map[string]any {
			return map[string]any{"tls": map[string]string{"ca": s.CAPEM}, "requireTLS": true}
		}, true},
		{"implicit tls", smtptest.Implicit, func(s *smtptest.Server) map[string]any {
			return map[string]any{"secure": true, "tls": map[string]string{"ca": s.CAPEM}}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Options{Mode: tc.mode, User: "mailer", Pass: "s3cret"})
			extra := tc.extra(srv)
			if extra == nil {
				extra = map[string]any{}
			}
			extra["auth"] = map[string]string{"user": "mailer", "pass": "s3cret"}
			cfg := smtpConfig(srv, extra)
			if err := f.Validate(cfg); err != nil {
				t.Fatal(err)
			}
			err := f.Send(t.Context(), cfg, connectors.Message{To: "bob@example.com", UsageType: "SignIn", Payload: map[string]string{"code": "123456"}})
			if err != nil {
				t.Fatal(err)
			}
			m := srv.Next(t)
			if m.TLS != tc.wantTLS || m.AuthUser != "mailer" || m.From != "noreply@latch.test" || len(m.To) != 1 || m.To[0] != "bob@example.com" {
				t.Fatalf("message %+v", m)
			}
			if got := body(t, m); !strings.Contains(got, "Your sign-in code is 123456.") {
				t.Fatalf("body %q", got)
			}
			if m.Parsed.Header.Get("Subject") != "Sign in" {
				t.Fatalf("subject %q", m.Parsed.Header.Get("Subject"))
			}
		})
	}
}

func TestSMTPTemplates(t *testing.T) {
	reg, _ := newRegistry(t)
	f := smtpFactory(t, reg)
	srv := smtptest.Start(t, smtptest.Options{})
	cfg := smtpConfig(srv, nil)
	// OrganizationInvitation has no template here: the Generic one (HTML) is used, and
	// a payload value is HTML-escaped in it.
	err := f.Send(t.Context(), cfg, connectors.Message{To: "bob@example.com", UsageType: "OrganizationInvitation", Payload: map[string]string{"code": "<b>1</b>"}})
	if err != nil {
		t.Fatal(err)
	}
	m := srv.Next(t)
	if got := body(t, m); !strings.Contains(got, "&lt;b&gt;1&lt;/b&gt;") || !strings.Contains(m.Parsed.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("body %q header %v", got, m.Parsed.Header)
	}
	// Logto's rule: SignIn, Register, ForgotPassword and Generic templates are required.
	var c map[string]any
	_ = json.Unmarshal(cfg, &c)
	c["templates"] = []map[string]string{{"usageType": "SignIn", "contentType": "text/plain", "subject": "s", "content": "{{code}}"}}
	bad, _ := json.Marshal(c)
	var ce *connectors.Error
	if err := f.Validate(bad); !errors.As(err, &ce) || ce.Code != connectors.CodeInvalidConfig || !strings.Contains(ce.Description, "Register, ForgotPassword, Generic") {
		t.Fatalf("validate = %v", err)
	}
}

// TestSMTPNoCredentialsInClear: a server that offers no TLS, reached at an address
// that is not loopback, gets no password.
func TestSMTPNoCredentialsInClear(t *testing.T) {
	var ip string
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			ip = n.IP.String()
			break
		}
	}
	if ip == "" {
		t.Skip("no non-loopback IPv4 address")
	}
	reg, _ := newRegistry(t)
	f := smtpFactory(t, reg)
	srv := smtptest.Start(t, smtptest.Options{Addr: ip + ":0", User: "mailer", Pass: "s3cret"})
	cfg := smtpConfig(srv, map[string]any{"auth": map[string]string{"user": "mailer", "pass": "s3cret"}})
	err := f.Send(t.Context(), cfg, connectors.Message{To: "bob@example.com", UsageType: "SignIn", Payload: map[string]string{"code": "1"}})
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Code != connectors.CodeGeneral || !strings.Contains(ce.Description, "unencrypted") {
		t.Fatalf("send = %v", err)
	}
	select {
	case m := <-srv.Messages:
		t.Fatalf("a message went out: %+v", m)
	default:
	}
}

func TestHTTPConnectors(t *testing.T) {
	type got struct {
		auth string
		body map[string]any
	}
	received := make(chan got, 4)
	fail := false
	h := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b map[string]any
		_ = json.NewDecoder(r.Body).Decode(&b)
		received <- got{r.Header.Get("Authorization"), b}
		if fail {
			http.Error(w, "quota exceeded", http.StatusTooManyRequests)
		}
	}))
	defer h.Close()
	reg, dir := newRegistry(t)
	f, _ := reg.Factory("http-sms")
	cfg := json.RawMessage(`{"endpoint":"` + h.URL + `/sms","authorization":"Bearer relay-token"}`)
	if _, err := dir.CreateConnector(t.Context(), directory.NewConnector{ConnectorID: "http-sms", Type: f.Type(), Config: cfg}); err != nil {
		t.Fatal(err)
	}
	if err := reg.Send(t.Context(), connectors.SMS, "15551234567", "Register", "654321"); err != nil {
		t.Fatal(err)
	}
	g := <-received
	p, _ := g.body["payload"].(map[string]any)
	if g.auth != "Bearer relay-token" || g.body["to"] != "15551234567" || g.body["type"] != "Register" || p["code"] != "654321" {
		t.Fatalf("received %+v", g)
	}
	fail = true
	err := reg.Send(t.Context(), connectors.SMS, "15551234567", "SignIn", "1")
	var ce *connectors.Error
	if !errors.As(err, &ce) || ce.Code != connectors.CodeGeneral || !strings.Contains(ce.Description, "quota exceeded") {
		t.Fatalf("send = %v", err)
	}
	<-received
	// No email connector is configured.
	if err := reg.Send(t.Context(), connectors.Email, "a@b.c", "SignIn", "1"); !errors.As(err, &ce) || ce.Code != connectors.CodeNotFound {
		t.Fatalf("send email = %v", err)
	}
}

func TestMaskAndUnmask(t *testing.T) {
	reg, _ := newRegistry(t)
	f := smtpFactory(t, reg)
	stored := json.RawMessage(`{"host":"h","auth":{"user":"u","pass":"hunter2"}}`)
	masked := connectors.Mask(f, stored)
	if strings.Contains(string(masked), "hunter2") || !strings.Contains(string(masked), connectors.Masked) {
		t.Fatalf("masked %s", masked)
	}
	back := connectors.Unmask(f, json.RawMessage(`{"host":"h2","auth":{"user":"u","pass":"`+connectors.Masked+`"}}`), stored)
	if !strings.Contains(string(back), "hunter2") || !strings.Contains(string(back), "h2") {
		t.Fatalf("unmasked %s", back)
	}
	changed := connectors.Unmask(f, json.RawMessage(`{"auth":{"user":"u","pass":"new"}}`), stored)
	if !strings.Contains(string(changed), `"new"`) {
		t.Fatalf("a new password was replaced: %s", changed)
	}
}
