package directory

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
)

// The settings are a directory record: a second Open of the same store sees the
// change (and a snapshot carries it: kindSignInExp is in directoryKinds).
func TestSignInExperiencePersists(t *testing.T) {
	store := newMemStore()
	d, _ := openTest(t, store)
	if d.SignInExperience().Version != 0 || d.SignInExperience().SignUp().Identifiers[0] != IdentifierUsername {
		t.Fatalf("defaults = %+v", d.SignInExperience().Fields)
	}
	_, err := d.UpdateSignInExperience(t.Context(), map[string]json.RawMessage{
		"mfa":    json.RawMessage(`{"factors":["Totp","BackupCode"],"policy":"Mandatory"}`),
		"custom": json.RawMessage(`{"kept":true}`),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := openTest(t, store)
	got := d2.SignInExperience()
	if got.Version == 0 || got.MFA().Policy != "Mandatory" || string(got.Fields["custom"]) != `{"kept":true}` {
		t.Errorf("reopened = %+v", got.Fields)
	}
	var se *SignInExperienceError
	_, err = d2.UpdateSignInExperience(t.Context(), map[string]json.RawMessage{
		"signUp": json.RawMessage(`{"identifiers":["phone"],"password":false,"verify":true}`),
	}, func() (bool, bool) { return true, false })
	if !errors.As(err, &se) || se.Code != "sign_in_experiences.enabled_connector_not_found" || se.Data["type"] != "Sms" {
		t.Errorf("phone sign-up without an SMS connector: %v", err)
	}
}

func TestHIBPSendsOnlyThePrefix(t *testing.T) {
	var asked string
	h := HIBP{Get: func(_ context.Context, url string) ([]byte, error) {
		asked = url
		// SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
		return []byte("1E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\nFFFFF:1\r\n"), nil
	}}
	ok, err := h.Breached(t.Context(), "password")
	if err != nil || !ok || asked != "https://api.pwnedpasswords.com/range/5BAA6" {
		t.Errorf("Breached = %v %v, asked %q", ok, err, asked)
	}
	if ok, _ := h.Breached(t.Context(), "not-in-the-answer"); ok {
		t.Error("a password absent from the answer is breached")
	}
	if ok, _ := (HIBP{}).Breached(t.Context(), "password"); ok {
		t.Error("HIBP without a fetcher reports a breach")
	}
}
