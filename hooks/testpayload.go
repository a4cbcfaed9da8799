package hooks

import (
	"encoding/json"
	"time"
)

// TestPayload is Logto's generateHookTestPayload: a fake user, session and
// application for an interaction event, a fake Management API call for any other.
func TestPayload(hookID, event string, now time.Time) map[string]any {
	ms := now.UnixMilli()
	p := map[string]any{
		"event":     event,
		"hookId":    hookID,
		"createdAt": Timestamp(now),
		"userAgent": "fake-user-agent",
	}
	if isInteractionEvent(event) {
		p["sessionId"] = "fake-session-id"
		p["userIp"] = "fake-user-ip"
		p["userId"] = "fake-id"
		p["user"] = map[string]any{
			"id": "fake-id", "username": "fake-user", "primaryEmail": "fake-user@fake-service.com",
			"primaryPhone": "1234567890", "name": "Fake User", "avatar": "https://fake-service.com/avatars/fake-user.png",
			"customData": map[string]any{"theme": "light"},
			"identities": map[string]any{"google": map[string]any{"userId": "fake-google-user-id"}},
			"profile":    map[string]any{}, "applicationId": "fake-application-id", "cimdClientId": nil,
			"isSuspended": false, "lastSignInAt": ms, "createdAt": ms, "updatedAt": ms,
		}
		p["application"] = map[string]any{
			"id": "fake-spa-application-id", "type": "SPA", "name": "Fake Application",
			"description": "Fake application data for testing",
		}
		return p
	}
	p["path"] = "/fake-path/:id"
	p["method"] = "POST"
	p["status"] = 200
	p["params"] = map[string]any{"id": "fake-id"}
	p["data"] = json.RawMessage(`{"result":"success"}`)
	return p
}
