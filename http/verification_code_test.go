package httpapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/latchid/latch/connectors"
	"github.com/latchid/latch/connectors/passcode"
	"github.com/latchid/latch/connectors/smtptest"
	"github.com/latchid/latch/directory"
)

// wire is a client of a Server over real HTTP on 127.0.0.1.
type wire struct {
	t       *testing.T
	base    string
	cookies []*http.Cookie
	bearer  string
}

func newWire(t *testing.T, h http.Handler) *wire {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &wire{t: t, base: srv.URL}
}

func (c *wire) do(method, path string, body any) (*http.Response, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp, raw
}

// call checks the status and decodes a JSON answer into out (when not nil).
func (c *wire) call(method, path string, body any, want int, out any) []byte {
	c.t.Helper()
	resp, raw := c.do(method, path, body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s = %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return raw
}

// fail checks a Logto error answer.
func (c *wire) fail(method, path string, body any, status int, code string) *http.Response {
	c.t.Helper()
	resp, raw := c.do(method, path, body)
	var e APIError
	_ = json.Unmarshal(raw, &e)
	if resp.StatusCode != status || e.Code != code || e.Message == "" {
		c.t.Fatalf("%s %s = %d %s, want %d %s", method, path, resp.StatusCode, raw, status, code)
	}
	return resp
}

func smtpConnectorConfig(srv *smtptest.Server, pass string) map[string]any {
	tpl := func(usage string) map[string]string {
		return map[string]string{"usageType": usage, "contentType": "text/plain", "subject": usage + " code", "content": usage + ": your code is {{code}}."}
	}
	c := map[string]any{
		"host": srv.Host, "port": srv.Port, "fromEmail": "noreply@latch.test",
		"templates": []map[string]string{tpl("SignIn"), tpl("Register"), tpl("ForgotPassword"), tpl("Generic")},
	}
	if pass != "" {
		c["auth"] = map[string]string{"user": "mailer", "pass": pass}
	}
	return c
}

var sixDigits = regexp.MustCompile(`\b(\d{6})\b`)

// mailCode waits for the next mail and returns its usage line and code.
func mailCode(t *testing.T, srv *smtptest.Server) (to, text, code string) {
	t.Helper()
	m := srv.Next(t)
	b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	if err != nil {
		t.Fatal(err)
	}
	got := sixDigits.FindStringSubmatch(string(b))
	if got == nil {
		t.Fatalf("no code in %q", b)
	}
	return strings.Join(m.To, ","), string(b), got[1]
}

func otherCode(code string) string {
	if code == "123456" {
		return "654321"
	}
	return "123456"
}

func TestConnectorsManagementAPI(t *testing.T) {
	e := newMgmtEnv(t)
	c := newWire(t, e.h)
	mail := smtptest.Start(t, smtptest.Options{User: "mailer", Pass: "smtp-secret-1"})

	var factories []map[string]any
	c.call("GET", "/api/connector-factories", nil, 200, &factories)
	ids := map[string]any{}
	for _, f := range factories {
		ids[f["id"].(string)] = f["type"]
	}
	if ids["simple-mail-transfer-protocol"] != "Email" || ids["http-email"] != "Email" || ids["http-sms"] != "SMS" {
		t.Fatalf("factories %v", ids)
	}
	c.call("GET", "/api/connector-factories/http-sms", nil, 200, nil)
	c.fail("GET", "/api/connector-factories/nope", nil, 404, "entity.not_found")

	// Create: the password never comes back.
	var created map[string]any
	raw := c.call("POST", "/api/connectors", map[string]any{"connectorId": "simple-mail-transfer-protocol",
		"config": smtpConnectorConfig(mail, "smtp-secret-1")}, 200, &created)
	id, _ := created["id"].(string)
	if id == "" || created["connectorId"] != "simple-mail-transfer-protocol" || created["type"] != "Email" {
		t.Fatalf("created %s", raw)
	}
	for _, path := range []string{"/api/connectors", "/api/connectors/" + id} {
		got := c.call("GET", path, nil, 200, nil)
		if bytes.Contains(got, []byte("smtp-secret-1")) || !bytes.Contains(got, []byte(connectors.Masked)) {
			t.Fatalf("GET %s shows the secret or no mask: %s", path, got)
		}
	}
	if bytes.Contains(raw, []byte("smtp-secret-1")) {
		t.Fatalf("POST answer shows the secret: %s", raw)
	}
	c.fail("POST", "/api/connectors", map[string]any{"connectorId": "simple-mail-transfer-protocol",
		"config": smtpConnectorConfig(mail, "x")}, 422, "connector.multiple_instances_not_supported")
	c.fail("POST", "/api/connectors", map[string]any{"connectorId": "nope"}, 422, "connector.not_found_with_connector_id")
	c.fail("POST", "/api/connectors", map[string]any{"connectorId": "http-sms", "config": map[string]any{"endpoint": "ftp://x"}}, 400, "connector.invalid_config")
	c.fail("PATCH", "/api/connectors/"+id, map[string]any{"syncProfile": true}, 422, "connector.invalid_type_for_syncing_profile")

	// PATCH with the mask sent back keeps the password: the next mail still
	// authenticates.
	cfg := smtpConnectorConfig(mail, connectors.Masked)
	cfg["fromEmail"] = "codes@latch.test"
	c.call("PATCH", "/api/connectors/"+id, map[string]any{"config": cfg}, 200, nil)
	stored, _ := e.dir.ConnectorByID(id)
	if !bytes.Contains(stored.Config, []byte("smtp-secret-1")) || !bytes.Contains(stored.Config, []byte("codes@latch.test")) {
		t.Fatalf("stored config %s", stored.Config)
	}

	// The test route sends code 000000 with the given config.
	c.call("POST", "/api/connectors/simple-mail-transfer-protocol/test", map[string]any{"email": "ops@example.com", "config": cfg}, 204, nil)
	if to, text, code := mailCode(t, mail); to != "ops@example.com" || code != "000000" || !strings.HasPrefix(text, "Generic:") {
		t.Fatalf("test mail to %s: %q", to, text)
	}
	c.fail("POST", "/api/connectors/simple-mail-transfer-protocol/test", map[string]any{"phone": "15551234567", "config": cfg}, 400, "connector.unexpected_type")
	c.fail("POST", "/api/connectors/simple-mail-transfer-protocol/test", map[string]any{"config": cfg}, 400, "guard.invalid_input")

	// Management API verification codes by email.
	c.call("POST", "/api/verification-codes", map[string]any{"email": "Bob@Example.com"}, 204, nil)
	to, text, code := mailCode(t, mail)
	if to != "bob@example.com" || !strings.HasPrefix(text, "Generic:") {
		t.Fatalf("mail to %s: %q", to, text)
	}
	verify := func(email, code string) map[string]any {
		return map[string]any{"email": email, "verificationCode": code}
	}
	c.fail("POST", "/api/verification-codes/verify", verify("bob@example.com", otherCode(code)), 400, "verification_code.code_mismatch")
	c.fail("POST", "/api/verification-codes/verify", verify("eve@example.com", code), 400, "verification_code.not_found")
	c.call("POST", "/api/verification-codes/verify", verify("bob@example.com", code), 204, nil)
	c.fail("POST", "/api/verification-codes/verify", verify("bob@example.com", code), 400, "verification_code.not_found") // used

	// HTTP SMS: the relay receives the JSON message with the Authorization header.
	type smsReq struct {
		auth string
		body struct {
			To      string            `json:"to"`
			Type    string            `json:"type"`
			Payload map[string]string `json:"payload"`
		}
	}
	got := make(chan smsReq, 4)
	relay := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m smsReq
		m.auth = r.Header.Get("Authorization")
		_ = json.NewDecoder(r.Body).Decode(&m.body)
		got <- m
	}))
	defer relay.Close()
	c.fail("POST", "/api/verification-codes", map[string]any{"phone": "+1 555 123 4567"}, 501, "connector.not_found")
	var sms map[string]any
	raw = c.call("POST", "/api/connectors", map[string]any{"connectorId": "http-sms",
		"config": map[string]any{"endpoint": relay.URL + "/send", "authorization": "Bearer relay-secret-2"}}, 200, &sms)
	if bytes.Contains(raw, []byte("relay-secret-2")) {
		t.Fatalf("authorization shown: %s", raw)
	}
	c.call("POST", "/api/verification-codes", map[string]any{"phone": "+1 555 123 4567"}, 204, nil)
	m := <-got
	if m.auth != "Bearer relay-secret-2" || m.body.To != "15551234567" || m.body.Type != "Generic" || len(m.body.Payload["code"]) != 6 {
		t.Fatalf("relay got %+v", m)
	}
	c.call("POST", "/api/verification-codes/verify", map[string]any{"phone": "15551234567", "verificationCode": m.body.Payload["code"]}, 204, nil)

	// A new email connector replaces the SMTP one (one email connector, as Logto).
	c.call("POST", "/api/connectors", map[string]any{"connectorId": "http-email", "config": map[string]any{"endpoint": relay.URL}}, 200, nil)
	var list []map[string]any
	c.call("GET", "/api/connectors", nil, 200, &list)
	if len(list) != 2 {
		t.Fatalf("connectors %v", list)
	}
	for _, l := range list {
		if l["connectorId"] == "simple-mail-transfer-protocol" {
			t.Fatal("the SMTP connector was not replaced")
		}
	}
	c.call("DELETE", "/api/connectors/"+sms["id"].(string), nil, 204, nil)
	c.fail("GET", "/api/connectors/"+sms["id"].(string), nil, 404, "entity.not_found")
	c.fail("DELETE", "/api/connectors/"+sms["id"].(string), nil, 404, "entity.not_exists_with_id")
}

// addSMTPConnector configures an SMTP connector to srv directly in the directory.
func addSMTPConnector(t *testing.T, dir *directory.Directory, srv *smtptest.Server) {
	t.Helper()
	cfg, _ := json.Marshal(smtpConnectorConfig(srv, ""))
	if _, err := dir.CreateConnector(t.Context(), directory.NewConnector{ConnectorID: "simple-mail-transfer-protocol",
		Type: directory.ConnectorTypeEmail, Config: cfg, SingleInstance: true}); err != nil {
		t.Fatal(err)
	}
}

func TestExperienceVerificationCode(t *testing.T) {
	e := newExpEnv(t)
	mail := smtptest.Start(t, smtptest.Options{})
	addSMTPConnector(t, e.dir, mail)
	c := newWire(t, e.h)
	c.cookies = []*http.Cookie{{Name: cookieInteraction, Value: e.uid}}
	const path = "/api/experience/verification/verification-code"
	ident := map[string]string{"type": "email", "value": "Carol@Example.com"}
	send := map[string]any{"identifier": ident, "interactionEvent": "Register"}

	c.fail("POST", path, send, 404, "session.interaction_not_found") // PUT /api/experience first
	e.start("Register")
	c.fail("POST", path, map[string]any{"identifier": map[string]string{"type": "username", "value": "x"}, "interactionEvent": "Register"}, 400, "guard.invalid_input")

	var out struct {
		VerificationID string `json:"verificationId"`
	}
	c.call("POST", path, send, 200, &out)
	to, text, code := mailCode(t, mail)
	if to != "carol@example.com" || !strings.HasPrefix(text, "Register:") || out.VerificationID == "" {
		t.Fatalf("mail to %s: %q (id %q)", to, text, out.VerificationID)
	}
	verify := func(id, code string) map[string]any {
		return map[string]any{"identifier": ident, "verificationId": id, "code": code}
	}
	if _, err := e.s.VerifiedIdentifier(t.Context(), e.uid, out.VerificationID); err == nil {
		t.Fatal("an unverified record is usable")
	}
	c.fail("POST", path+"/verify", verify(out.VerificationID, otherCode(code)), 400, "verification_code.code_mismatch")
	c.fail("POST", path+"/verify", verify("not-an-id", code), 404, "session.verification_session_not_found")
	c.fail("POST", path+"/verify", map[string]any{"identifier": map[string]string{"type": "email", "value": "dave@example.com"},
		"verificationId": out.VerificationID, "code": code}, 400, "verification_code.email_mismatch")

	// Another interaction cannot use this one's record.
	other := *c
	other.cookies = []*http.Cookie{{Name: cookieInteraction, Value: e.newInteraction()}}
	e.uid, e.cookie = other.cookies[0].Value, true
	e.start("Register")
	other.fail("POST", path+"/verify", verify(out.VerificationID, code), 404, "session.verification_session_not_found")

	var ok struct {
		VerificationID string `json:"verificationId"`
	}
	c.call("POST", path+"/verify", verify(out.VerificationID, code), 200, &ok)
	if ok.VerificationID != out.VerificationID {
		t.Fatalf("verify answered %q", ok.VerificationID)
	}
	c.fail("POST", path+"/verify", verify(out.VerificationID, code), 400, "verification_code.not_found") // reused
	uid := c.cookies[0].Value
	got, err := e.s.VerifiedIdentifier(t.Context(), uid, out.VerificationID)
	if err != nil || got != (passcode.Identifier{Type: passcode.Email, Value: "carol@example.com"}) {
		t.Fatalf("VerifiedIdentifier = %v, %v", got, err)
	}
	if _, err := e.s.VerifiedIdentifier(t.Context(), other.cookies[0].Value, out.VerificationID); err == nil {
		t.Fatal("another interaction reads the record")
	}

	// Expired: ten minutes after the send the code is refused.
	c.call("POST", path, send, 200, &out)
	_, _, code = mailCode(t, mail)
	e.clock.Advance(passcode.CodeTTL)
	c.fail("POST", path+"/verify", verify(out.VerificationID, code), 400, "verification_code.expired")

	// Five wrong codes kill a record.
	c.call("POST", path, send, 200, &out)
	_, _, code = mailCode(t, mail)
	for range passcode.MaxAttempts {
		c.fail("POST", path+"/verify", verify(out.VerificationID, otherCode(code)), 400, "verification_code.code_mismatch")
	}
	c.fail("POST", path+"/verify", verify(out.VerificationID, code), 400, "verification_code.exceed_max_try")

	// Logto's per-recipient limit: five sends an hour, then 429 with Retry-After.
	for range passcode.DefaultRecipientLimit.Max - 3 {
		c.call("POST", path, send, 200, nil)
		mailCode(t, mail)
	}
	resp := c.fail("POST", path, send, 429, "request.message_rate_limited")
	if resp.Header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
}

func TestAccountVerificationCode(t *testing.T) {
	e := newAccountEnv(t)
	mail := smtptest.Start(t, smtptest.Options{})
	addSMTPConnector(t, e.dir, mail)
	email := "acct@example.com"
	if _, err := e.dir.UpdateUser(t.Context(), e.user.ID, func(u *directory.User) error { u.PrimaryEmail = &email; return nil }); err != nil {
		t.Fatal(err)
	}
	c := newWire(t, e.h)
	c.bearer = e.issue(e.spa).opaque
	const path = "/api/verifications/verification-code"

	send := func(addr string) (id, code string) {
		var out struct {
			VerificationRecordID string `json:"verificationRecordId"`
			ExpiresAt            string `json:"expiresAt"`
		}
		c.call("POST", path, map[string]any{"identifier": map[string]string{"type": "email", "value": addr}}, 201, &out)
		if out.VerificationRecordID == "" || out.ExpiresAt == "" {
			t.Fatalf("answer %+v", out)
		}
		_, _, code = mailCode(t, mail)
		return out.VerificationRecordID, code
	}
	verify := func(addr, id, code string) map[string]any {
		return map[string]any{"identifier": map[string]string{"type": "email", "value": addr}, "verificationId": id, "code": code}
	}

	// The primary email, verified, proves the user: the id is a verification record.
	id, code := send(email)
	c.fail("POST", path+"/verify", verify(email, id, otherCode(code)), 400, "verification_code.code_mismatch")
	if _, err := e.dir.VerificationRecordFor(id, e.user.ID); err == nil {
		t.Fatal("a record before its code was verified")
	}
	c.call("POST", path+"/verify", verify(email, id, code), 200, nil)
	if _, err := e.dir.VerificationRecordFor(id, e.user.ID); err != nil {
		t.Fatalf("verified primary email gives no verification record: %v", err)
	}
	c.fail("POST", path+"/verify", verify(email, "unknown-id", code), 400, "verification_record.not_found")

	// Another address (a new email, to be bound later) is verified but proves nothing
	// about the user.
	id2, code2 := send("new@example.com")
	c.call("POST", path+"/verify", verify("new@example.com", id2, code2), 200, nil)
	if _, err := e.dir.VerificationRecordFor(id2, e.user.ID); err == nil {
		t.Fatal("a non-primary address became a verification record")
	}
	got, err := e.s.codes.VerifiedIdentifier(t.Context(), accountBinding(e.user.ID), id2)
	if err != nil || got.Value != "new@example.com" {
		t.Fatalf("VerifiedIdentifier = %v, %v", got, err)
	}
}
