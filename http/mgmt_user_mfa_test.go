package httpapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pquerna/otp/totp"
)

func TestMgmtUserMfaVerifications(t *testing.T) {
	e := newMgmtEnv(t)
	u := e.call("POST", "/api/users", map[string]any{"username": "mfa_user"}, http.StatusOK)
	base := "/api/users/" + str(u, "id") + "/mfa-verifications"

	if items, _ := e.list(base); len(items) != 0 {
		t.Fatalf("new user's MFA = %v", items)
	}
	e.wantError("POST", base, map[string]any{"type": "BackupCode"}, http.StatusUnprocessableEntity, "session.mfa.backup_code_can_not_be_alone")
	e.wantError("POST", base, map[string]any{"type": "Sms"}, http.StatusBadRequest, "guard.invalid_input")
	e.wantError("POST", base, map[string]any{"type": "Totp", "secret": "not base32!"}, http.StatusUnprocessableEntity, "user.totp_secret_invalid")

	tot := e.call("POST", base, map[string]any{"type": "Totp"}, http.StatusOK)
	secret := str(tot, "secret")
	if str(tot, "type") != "Totp" || len(secret) < 16 || !strings.HasPrefix(str(tot, "secretQrCode"), "data:image/png;base64,") {
		t.Fatalf("POST Totp = %v", tot)
	}
	e.wantError("POST", base, map[string]any{"type": "Totp"}, http.StatusUnprocessableEntity, "user.totp_already_in_use")

	e.wantError("POST", base, map[string]any{"type": "BackupCode", "codes": []string{"short"}}, http.StatusUnprocessableEntity, "user.wrong_backup_code_format")
	given := []string{"0123456789", "abcdef0123"}
	bc := e.call("POST", base, map[string]any{"type": "BackupCode", "codes": given}, http.StatusOK)
	if codes, _ := bc["codes"].([]any); len(codes) != 2 || codes[0] != given[0] {
		t.Fatalf("POST BackupCode = %v", bc)
	}
	e.wantError("POST", base, map[string]any{"type": "BackupCode"}, http.StatusUnprocessableEntity, "user.backup_code_already_in_use")

	items, _ := e.list(base)
	if len(items) != 2 || str(items[0], "type") != "Totp" || str(items[1], "type") != "BackupCode" ||
		items[1]["remainCodes"] != float64(2) || !strings.HasSuffix(str(items[0], "createdAt"), "Z") {
		t.Fatalf("GET = %v", items)
	}
	raw := e.do("GET", base, nil).Body.String()
	for _, secretish := range []string{secret, given[0], "key", "hash", "codes"} {
		if strings.Contains(raw, secretish) {
			t.Fatalf("GET shows %q: %s", secretish, raw)
		}
	}
	if strings.Contains(e.do("GET", "/api/users/"+str(u, "id"), nil).Body.String(), secret) {
		t.Fatal("GET /api/users/:id shows the TOTP secret")
	}

	// The stored secret is the one returned: its codes are accepted.
	code, _ := totp.GenerateCode(secret, e.s.now())
	if err := e.dir.UseTotp(t.Context(), str(u, "id"), code); err != nil {
		t.Fatalf("code of the returned secret: %v", err)
	}

	e.call("DELETE", base+"/"+str(items[0], "id"), nil, http.StatusNoContent)
	e.wantError("DELETE", base+"/"+str(items[0], "id"), nil, http.StatusNotFound, "entity.not_found")
	if items, _ := e.list(base); len(items) != 1 {
		t.Fatalf("after delete: %v", items)
	}
	// An administrator may set the secret (e.g. imported from another system).
	e.call("POST", base, map[string]any{"type": "Totp", "secret": "JBSWY3DPEHPK3PXP"}, http.StatusOK)

	e.wantError("GET", "/api/users/nobody/mfa-verifications", nil, http.StatusNotFound, "entity.not_found")
	e.wantError("POST", "/api/users/nobody/mfa-verifications", map[string]any{"type": "Totp"}, http.StatusNotFound, "entity.not_found")
}
