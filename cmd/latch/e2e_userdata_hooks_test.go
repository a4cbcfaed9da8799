package main

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"
)

// TestUserDataUpdatedOutsideManagementAPI: a user's own changes emit Logto's
// User.Data.Updated at a real receiver, signed with the hook's key, as Logto sends
// them: through the Account API (data: the user as it is now, userAgent, ip; a write
// that leaves the user as it was emits nothing) with an AccountApi.* audit log, a
// password reset's submit and an MFA factor bound during a sign-in through the
// Experience API (with the interaction's interactionEvent, sessionId, applicationId).
// And lastSignInAt is null until the user signs in, then set at each sign-in.
func TestUserDataUpdatedOutsideManagementAPI(t *testing.T) {
	e := newFlowsEnvWith(t, func(c *serveConfig) { c.AuditLogs = true })
	n, admin := e.n, e.admin
	rc := &webhookReceiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	var hook hookBody
	n.mustAPI(admin, "POST", "/api/hooks", map[string]any{
		"events": []string{"User.Data.Updated"}, "config": map[string]any{"url": srv.URL},
	}, http.StatusCreated, &hook)
	type userJSON struct {
		Name         *string `json:"name"`
		LastSignInAt *int64  `json:"lastSignInAt"`
	}
	getUser := func() userJSON {
		t.Helper()
		var u userJSON
		n.mustAPI(admin, "GET", "/api/users/"+e.userID, nil, http.StatusOK, &u)
		return u
	}

	// lastSignInAt: null before the first sign-in (the user was created by the
	// Management API), set by it, moved by the next.
	if u := getUser(); u.LastSignInAt != nil {
		t.Fatalf("lastSignInAt before any sign-in = %d", *u.LastSignInAt)
	}
	start := time.Now().UnixMilli()
	web := e.webConfig()
	web.Scopes = append(web.Scopes, "urn:logto:scope:sessions")
	b := newBrowser(t, n.endpoint)
	verifier := oauth2.GenerateVerifier()
	b.redirect(web.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	code := codeFrom(t, b.redirect(b.signIn(browserUser, browserPassword)), e.webCB, "st", n.issuer())
	tok, err := web.Exchange(t.Context(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	first := getUser().LastSignInAt
	if first == nil || *first < start {
		t.Fatalf("lastSignInAt after a sign-in = %v, want >= %d", first, start)
	}
	n.mustAPI(admin, "PATCH", "/api/account-center", map[string]any{"enabled": true, "fields": map[string]string{
		"name": "Edit", "profile": "Edit", "session": "Edit",
	}}, http.StatusOK, nil)
	if me := mustMyAccount(t, n, tok.AccessToken, "", "GET", "/api/my-account", nil, 200, ""); me["lastSignInAt"] != float64(*first) {
		t.Fatalf("GET /api/my-account lastSignInAt = %v, want %d", me["lastSignInAt"], *first)
	}

	// Account API: a name change emits the user as it is now.
	mustMyAccount(t, n, tok.AccessToken, "", "PATCH", "/api/my-account", map[string]any{"name": "Alice Renamed"}, 200, "")
	d := rc.wait(t, "User.Data.Updated", func(d webhookDelivery) bool {
		data, _ := d.payload["data"].(map[string]any)
		return data["name"] == "Alice Renamed"
	})
	data, _ := d.payload["data"].(map[string]any)
	if !validSignature(d, hook.SigningKey) || str(data["id"]) != e.userID || str(d.payload["hookId"]) != hook.ID ||
		str(d.payload["ip"]) != "127.0.0.1" || str(d.payload["userAgent"]) == "" || str(d.payload["createdAt"]) == "" {
		t.Errorf("User.Data.Updated from PATCH /api/my-account: %s", d.raw)
	}
	if _, ok := data["passwordEncrypted"]; ok {
		t.Errorf("the payload carries the password hash: %s", d.raw)
	}
	for _, k := range []string{"path", "matchedRoute", "interactionEvent"} {
		if _, ok := d.payload[k]; ok {
			t.Errorf("Account API User.Data.Updated carries %s (Logto's has only the user, userAgent, ip): %s", k, d.raw)
		}
	}
	// A refused write emits nothing; a profile change does.
	mustMyAccount(t, n, tok.AccessToken, "", "PATCH", "/api/my-account", map[string]any{"avatar": "https://img.example/a.png"}, 400, "account_center.field_not_editable")
	mustMyAccount(t, n, tok.AccessToken, "", "PATCH", "/api/my-account/profile", map[string]any{"nickname": "ali"}, 200, "")
	rc.wait(t, "User.Data.Updated", func(d webhookDelivery) bool {
		data, _ := d.payload["data"].(map[string]any)
		profile, _ := data["profile"].(map[string]any)
		return profile["nickname"] == "ali"
	})
	if got := len(rc.find("User.Data.Updated", nil)); got != 2 {
		t.Errorf("%d User.Data.Updated after two Account API changes and a refused one, want 2", got)
	}
	// The audit log has each write, the refused one as an error.
	logs := n.waitLogs(admin, url.Values{"logKey": {"AccountApi.Update"}, "userId": {e.userID}}, 3)
	var failed int
	for _, l := range logs {
		if l.Payload.Result == "Error" {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("AccountApi.Update logs %+v, want one Error among 3", logs)
	}

	// Experience API: a password reset emits at its submit, with the interaction's
	// metadata.
	const alice, newPassword = "alice@browser.example", "Brand-new-Passw0rd!"
	b2, _, _ := e.authorize(t)
	b2.mustExperience("PUT", "/api/experience", map[string]any{"interactionEvent": "ForgotPassword"}, http.StatusNoContent)
	id := sendCode(t, b2, "ForgotPassword", alice)
	b2.mustExperience("POST", "/api/experience/verification/verification-code/verify", verifyBody(alice, id, e.code(t, alice, "ForgotPassword")), http.StatusOK)
	b2.mustExperience("POST", "/api/experience/identification", map[string]any{"verificationId": id}, http.StatusNoContent)
	b2.mustExperience("PUT", "/api/experience/profile/password", map[string]any{"password": newPassword}, http.StatusNoContent)
	b2.mustExperience("POST", "/api/experience/submit", nil, http.StatusNoContent)
	reset := rc.wait(t, "User.Data.Updated", func(d webhookDelivery) bool { return d.payload["interactionEvent"] == "ForgotPassword" })
	if data, _ := reset.payload["data"].(map[string]any); !validSignature(reset, hook.SigningKey) || str(data["id"]) != e.userID ||
		str(reset.payload["sessionId"]) == "" || str(reset.payload["applicationId"]) != e.web.ID || str(reset.payload["ip"]) == "" {
		t.Errorf("User.Data.Updated from a password reset: %s", reset.raw)
	}

	// Experience API: an MFA factor bound during a sign-in emits; the sign-in moves
	// lastSignInAt.
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)
	b3 := newBrowser(t, n.endpoint)
	verifier = oauth2.GenerateVerifier()
	b3.redirect(web.AuthCodeURL("st3", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent")))
	b3.identify(browserUser, newPassword)
	sec := b3.mustExperience("POST", "/api/experience/verification/totp/secret", nil, http.StatusOK)
	otp, err := totp.GenerateCode(sec["secret"].(string), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b3.mustExperience("POST", "/api/experience/verification/totp/verify", map[string]any{"code": otp, "verificationId": sec["verificationId"]}, http.StatusOK)
	b3.mustExperience("POST", "/api/experience/profile/mfa", map[string]any{"type": "Totp", "verificationId": sec["verificationId"]}, http.StatusNoContent)
	bound := rc.wait(t, "User.Data.Updated", func(d webhookDelivery) bool { return d.payload["interactionEvent"] == "SignIn" })
	if data, _ := bound.payload["data"].(map[string]any); !validSignature(bound, hook.SigningKey) || str(data["id"]) != e.userID {
		t.Errorf("User.Data.Updated from an MFA binding: %s", bound.raw)
	}
	b3.mustExperience("POST", "/api/experience/submit", nil, http.StatusOK)
	if again := getUser().LastSignInAt; again == nil || *again <= *first {
		t.Errorf("lastSignInAt after a second sign-in = %v, want >= %d", again, *first)
	}
}

// TestUserDataUpdatedFromMfaPages: a TOTP factor bound through the JavaScript-free
// enrollment page during a sign-in emits User.Data.Updated too, with the interaction's
// metadata, once.
func TestUserDataUpdatedFromMfaPages(t *testing.T) {
	e := newBrowserEnv(t)
	n := e.n
	admin := n.adminToken(t.Context())
	rc := &webhookReceiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	var hook hookBody
	n.mustAPI(admin, "POST", "/api/hooks", map[string]any{
		"events": []string{"User.Data.Updated"}, "config": map[string]any{"url": srv.URL},
	}, http.StatusCreated, &hook)
	n.mustAPI(admin, "PATCH", "/api/sign-in-exp", map[string]any{
		"mfa": map[string]any{"factors": []string{"Totp"}, "policy": "Mandatory"},
	}, http.StatusOK, nil)

	b := newBrowser(t, n.endpoint)
	b.redirect(e.webConfig().AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if st, loc, body := b.postPage("/sign-in", url.Values{"identifier": {browserUser}, "password": {browserPassword}}); st != http.StatusSeeOther || loc != "/mfa-binding" {
		t.Fatalf("sign-in form = %d %s\n%s", st, loc, body)
	}
	resp, page := b.get("/mfa-binding/totp")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /mfa-binding/totp = %d", resp.StatusCode)
	}
	secret := regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`).FindStringSubmatch(page)
	vid := regexp.MustCompile(`name="verificationId" value="([^"]+)"`).FindStringSubmatch(page)
	if secret == nil || vid == nil {
		t.Fatalf("enrollment page:\n%s", page)
	}
	code, err := totp.GenerateCode(secret[1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := b.postPage("/mfa-binding/totp", url.Values{"verificationId": {html.UnescapeString(vid[1])}, "code": {code}}); st >= 400 {
		t.Fatalf("enrollment code = %d\n%s", st, body)
	}
	d := rc.wait(t, "User.Data.Updated", nil)
	data, _ := d.payload["data"].(map[string]any)
	if !validSignature(d, hook.SigningKey) || str(data["id"]) != e.userID || str(d.payload["interactionEvent"]) != "SignIn" ||
		str(d.payload["sessionId"]) == "" || str(d.payload["applicationId"]) != e.web.ID {
		t.Errorf("User.Data.Updated from the enrollment page: %s", d.raw)
	}
	if n := len(rc.find("User.Data.Updated", nil)); n != 1 {
		t.Errorf("%d User.Data.Updated for one factor bound", n)
	}
}
