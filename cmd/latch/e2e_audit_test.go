package main

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// auditLog is one entry of /api/logs as a client reads it (Logto's Log).
type auditLog struct {
	ID        string `json:"id"`
	TenantID  string `json:"tenantId"`
	Key       string `json:"key"`
	CreatedAt int64  `json:"createdAt"`
	Payload   struct {
		Key           string `json:"key"`
		Result        string `json:"result"`
		UserID        string `json:"userId"`
		ApplicationID string `json:"applicationId"`
		SessionID     string `json:"sessionId"`
		IP            string `json:"ip"`
		UserAgent     string `json:"userAgent"`
		Method        string `json:"method"`
		Path          string `json:"path"`
		Status        int    `json:"status"`
		Error         *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		Identifier *struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		} `json:"identifier"`
		TokenTypes []string `json:"tokenTypes"`
		Params     *struct {
			GrantType string `json:"grant_type"`
		} `json:"params"`
	} `json:"payload"`
}

// logs lists /api/logs (or another list path) with q and returns the page and
// Total-Number.
func (n *testNode) logs(admin, path string, q url.Values) ([]auditLog, int) {
	n.t.Helper()
	var out []auditLog
	status, h := n.api(admin, "GET", path+"?"+q.Encode(), nil, &out)
	if status != http.StatusOK {
		n.t.Fatalf("GET %s?%s = %d", path, q.Encode(), status)
	}
	total, err := strconv.Atoi(h.Get("Total-Number"))
	if err != nil {
		n.t.Fatalf("GET %s: Total-Number %q", path, h.Get("Total-Number"))
	}
	return out, total
}

// waitLogs polls /api/logs with q until it lists at least want entries (the writer
// flushes every 200 ms).
func (n *testNode) waitLogs(admin string, q url.Values, want int) []auditLog {
	n.t.Helper()
	var got []auditLog
	waitFor(n.t, "audit logs "+q.Encode(), func() bool {
		got, _ = n.logs(admin, "/api/logs", q)
		return len(got) >= want
	})
	return got
}

// TestAuditLogsEndToEnd: a failed sign-in, a sign-in, the code exchange, a refresh and
// a Management API write each leave a Logto-shaped audit log, found through
// /api/logs' filters, /api/logs/:id and /api/users/:userId/logs.
func TestAuditLogsEndToEnd(t *testing.T) {
	e := newBrowserEnvWith(t, func(c *serveConfig) { c.AuditLogs = true })
	n, ctx := e.n, t.Context()
	admin := n.adminToken(ctx)
	start := time.Now().Add(-time.Second)

	// A failed sign-in (wrong password), then a sign-in, a code exchange and a refresh.
	b := newBrowser(t, n.endpoint)
	web := e.webConfig()
	v := oauth2.GenerateVerifier()
	loc := b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "consent")))
	if loc.Path != "/sign-in" {
		t.Fatalf("authorize -> %s", loc)
	}
	if st, _ := b.experience("PUT", "/api/experience", map[string]any{"interactionEvent": "SignIn"}); st != http.StatusNoContent {
		t.Fatalf("PUT /api/experience = %d", st)
	}
	if st, _ := b.experience("POST", "/api/experience/verification/password", map[string]any{
		"identifier": map[string]any{"type": "username", "value": browserUser}, "password": "wrong-password-1",
	}); st != http.StatusUnprocessableEntity {
		t.Fatalf("wrong password = %d, want 422", st)
	}
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(ctx, code, oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}
	tok.Expiry = time.Now().Add(-time.Minute) // force the refresh
	if _, err := web.TokenSource(ctx, tok).Token(); err != nil {
		t.Fatal(err)
	}
	// A refresh with a token that does not exist: an error entry.
	if st, _, _ := n.postToken(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope.nope"}}, e.web.ID, e.web.Secret); st != http.StatusBadRequest {
		t.Fatalf("bad refresh = %d, want 400", st)
	}
	// A Management API write.
	n.mustAPI(admin, "PATCH", "/api/users/"+e.userID, map[string]any{"name": "Alice Audited"}, http.StatusOK, nil)

	// The failed sign-in: the password step, an Error with Logto's code, the identifier
	// but never the password.
	failed := n.waitLogs(admin, url.Values{"logKey": {"Interaction.SignIn.Verification.Password.Submit"}}, 2)
	var sawError, sawSuccess bool
	for _, l := range failed {
		p := l.Payload
		if p.Key != l.Key || p.ApplicationID != e.web.ID || p.SessionID == "" || p.IP != "127.0.0.1" || p.UserAgent == "" ||
			p.Identifier == nil || p.Identifier.Value != browserUser {
			t.Errorf("password step log %+v", l)
		}
		switch p.Result {
		case "Error":
			sawError = p.Error != nil && p.Error.Code == "session.invalid_credentials" && p.UserID == ""
		case "Success":
			sawSuccess = p.UserID == e.userID && p.Error == nil
		}
	}
	if !sawError || !sawSuccess {
		t.Errorf("want one failed and one passed password step: %+v", failed)
	}

	// The sign-in: Interaction.SignIn.Submit for the user, filtered by userId too.
	submit := n.waitLogs(admin, url.Values{"logKey": {"Interaction.SignIn.Submit"}, "userId": {e.userID}}, 1)
	if len(submit) != 1 || submit[0].Payload.Result != "Success" || submit[0].Payload.ApplicationID != e.web.ID {
		t.Errorf("sign-in submit logs %+v", submit)
	}
	for _, k := range []string{"Interaction.SignIn.Update", "Interaction.SignIn.Identifier.Submit"} {
		n.waitLogs(admin, url.Values{"logKey": {k}}, 1)
	}

	// The code exchange and the refreshes, by grant type, for the web app.
	exch := n.waitLogs(admin, url.Values{"logKey": {"ExchangeTokenBy.AuthorizationCode"}, "applicationId": {e.web.ID}}, 1)
	if p := exch[0].Payload; p.Result != "Success" || p.UserID != e.userID || p.Params == nil || p.Params.GrantType != "authorization_code" || len(p.TokenTypes) != 3 {
		t.Errorf("code exchange log %+v", exch[0])
	}
	refresh := n.waitLogs(admin, url.Values{"logKey": {"ExchangeTokenBy.RefreshToken"}, "applicationId": {e.web.ID}}, 2)
	if refresh[0].CreatedAt < refresh[1].CreatedAt {
		t.Errorf("not newest first: %d before %d", refresh[0].CreatedAt, refresh[1].CreatedAt)
	}
	var okRefresh, badRefresh bool
	for _, l := range refresh {
		switch l.Payload.Result {
		case "Success":
			okRefresh = l.Payload.UserID == e.userID
		case "Error":
			badRefresh = l.Payload.Error != nil && l.Payload.Error.Code == "invalid_grant"
		}
	}
	if !okRefresh || !badRefresh {
		t.Errorf("refresh logs %+v", refresh)
	}
	// The admin's client-credentials tokens are logged, with no user.
	cc := n.waitLogs(admin, url.Values{"logKey": {"ExchangeTokenBy.ClientCredentials"}, "applicationId": {testAdminID}}, 1)
	if cc[0].Payload.UserID != "" {
		t.Errorf("client credentials log names a user: %+v", cc[0])
	}

	// The Management API write, by the admin app.
	writes := n.waitLogs(admin, url.Values{"logKey": {"ManagementApi.Update"}}, 1)
	if p := writes[0].Payload; p.Method != "PATCH" || p.Path != "/api/users/"+e.userID || p.Status != 200 || p.ApplicationID != testAdminID || p.Result != "Success" {
		t.Errorf("management write log %+v", writes[0])
	}

	// Paging, the time filter, one log by id, a user's logs, and errors in Logto's shape.
	page, total := n.logs(admin, "/api/logs", url.Values{"page_size": {"2"}})
	if len(page) != 2 || total < 10 {
		t.Errorf("page of %d, Total-Number %d", len(page), total)
	}
	if later, _ := n.logs(admin, "/api/logs", url.Values{"startTime": {strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)}}); len(later) != 0 {
		t.Errorf("%d logs after a future startTime", len(later))
	}
	if since, _ := n.logs(admin, "/api/logs", url.Values{"startTime": {strconv.FormatInt(start.UnixMilli(), 10)}}); len(since) == 0 {
		t.Error("no logs since the test started")
	}
	var one auditLog
	n.mustAPI(admin, "GET", "/api/logs/"+writes[0].ID, nil, http.StatusOK, &one)
	if one.ID != writes[0].ID || one.Key != "ManagementApi.Update" || one.TenantID != "default" {
		t.Errorf("GET /api/logs/:id = %+v", one)
	}
	var apiErr struct{ Code string }
	if st, _ := n.api(admin, "GET", "/api/logs/"+writes[0].ID+"x", nil, &apiErr); st != http.StatusNotFound || apiErr.Code != "entity.not_exists_with_id" {
		t.Errorf("unknown log id = %d %q, want 404 entity.not_exists_with_id", st, apiErr.Code)
	}
	if st, _ := n.api(admin, "GET", "/api/logs?startTime=yesterday", nil, &apiErr); st != http.StatusBadRequest || apiErr.Code != "guard.invalid_input" {
		t.Errorf("bad startTime = %d %q", st, apiErr.Code)
	}
	if st, _ := n.api("", "GET", "/api/logs", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("GET /api/logs without a token = %d, want 401", st)
	}
	mine, _ := n.logs(admin, "/api/users/"+e.userID+"/logs", url.Values{"logKey": {"ExchangeTokenBy.RefreshToken"}})
	if len(mine) != 1 || mine[0].Payload.UserID != e.userID {
		t.Errorf("user's refresh logs %+v", mine)
	}
	if st, _ := n.api(admin, "GET", "/api/users/nobody/logs", nil, nil); st != http.StatusNotFound {
		t.Errorf("logs of an unknown user = %d, want 404", st)
	}
}

// TestAuditLogsFlushOnStopAndOff: a graceful stop writes the last batch (the write is
// listed after a restart); with --audit-logs=false nothing more is recorded, and what
// was is still listed.
func TestAuditLogsFlushOnStopAndOff(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, func(c *serveConfig) { c.AuditLogs = true })
	admin := n.adminToken(t.Context())
	n.mustAPI(admin, "POST", "/api/users", map[string]any{"username": "logged_once"}, http.StatusOK, nil)
	n.stop() // at once: the entries are in the batch being filled

	n = startNodeOn(t, dir, "127.0.0.1:0", nil) // AuditLogs false
	admin = n.adminToken(t.Context())
	got, total := n.logs(admin, "/api/logs", nil)
	keys := map[string]int{}
	for _, l := range got {
		keys[l.Key]++
	}
	if total != 2 || keys["ExchangeTokenBy.ClientCredentials"] != 1 || keys["ManagementApi.Create"] != 1 {
		t.Errorf("after a restart with audit logs off: %v (Total-Number %d), want the first run's token and user creation only", keys, total)
	}
}
