package main

import (
	"io"
	"mime/quotedprintable"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latchid/latch/connectors/smtptest"
)

// TestVerificationCodeByEmailEndToEnd: an SMTP connector configured through the
// Management API of a running node, a code sent by the Experience API to a real SMTP
// server, and the code checked after the node restarted (codes live in the node's
// store, not in its memory).
func TestVerificationCodeByEmailEndToEnd(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	admin := n.adminToken(t.Context())
	mail := smtptest.Start(t, smtptest.Options{User: "mailer", Pass: "e2e-smtp-pass"})
	tpl := func(usage string) map[string]string {
		return map[string]string{"usageType": usage, "contentType": "text/plain", "subject": usage, "content": usage + " code {{code}}"}
	}
	var conn struct {
		ID     string
		Config struct{ Auth struct{ Pass string } }
	}
	n.mustAPI(admin, "POST", "/api/connectors", map[string]any{"connectorId": "simple-mail-transfer-protocol", "config": map[string]any{
		"host": mail.Host, "port": mail.Port, "fromEmail": "noreply@latch.test",
		"auth":      map[string]string{"user": "mailer", "pass": "e2e-smtp-pass"},
		"templates": []map[string]string{tpl("SignIn"), tpl("Register"), tpl("ForgotPassword"), tpl("Generic")},
	}}, 200, &conn)
	if conn.ID == "" || conn.Config.Auth.Pass != "********" {
		t.Fatalf("connector %+v", conn)
	}

	b := newBrowser(t, n.endpoint)
	loc := b.redirect(e.webConfig().AuthCodeURL("st-code", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if loc.Path != "/sign-in" || !b.hasCookie("_interaction") {
		t.Fatalf("authorize -> %s", loc)
	}
	if st, body := b.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		t.Fatalf("PUT /api/experience = %d %v", st, body)
	}
	ident := map[string]any{"type": "email", "value": "alice@browser.example"}
	st, body := b.experience("POST", "/api/experience/verification/verification-code", map[string]any{"identifier": ident, "interactionEvent": "SignIn"})
	id, _ := body["verificationId"].(string)
	if st != http.StatusOK || id == "" {
		t.Fatalf("send = %d %v", st, body)
	}
	m := mail.Next(t)
	text, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(m.Body)))
	code := regexp.MustCompile(`\d{6}`).FindString(string(text))
	if m.AuthUser != "mailer" || len(m.To) != 1 || m.To[0] != "alice@browser.example" || !strings.HasPrefix(string(text), "SignIn code ") || code == "" {
		t.Fatalf("mail %+v: %q", m, text)
	}

	n.stop()
	startNodeOn(t, n.cfg.Data, strings.TrimPrefix(n.endpoint, "http://"), nil)

	verify := map[string]any{"identifier": ident, "verificationId": id, "code": code}
	if st, body := b.experience("POST", "/api/experience/verification/verification-code/verify", verify); st != http.StatusOK || body["verificationId"] != id {
		t.Fatalf("verify after restart = %d %v", st, body)
	}
	if st, body := b.experience("POST", "/api/experience/verification/verification-code/verify", verify); st != http.StatusBadRequest || body["code"] != "verification_code.not_found" {
		t.Fatalf("reused code = %d %v", st, body)
	}
}
