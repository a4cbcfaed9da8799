package audit

import (
	"encoding/json"
	"testing"
)

// refClaims is what encoding/json reads: the top-level string members.
func refClaims(b []byte) (sub, clientID, aud string, valid bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return "", "", "", false
	}
	get := func(k string) string {
		var s string
		_ = json.Unmarshal(m[k], &s)
		return s
	}
	return get("sub"), get("client_id"), get("aud"), true
}

func TestScanClaims(t *testing.T) {
	for _, c := range []struct {
		name, in string
		wantOK   bool
	}{
		{"id token", `{"iss":"http://x/oidc","sub":"u1","aud":"app","exp":1,"at_hash":"h","roles":["a","b"]}`, true},
		{"access token", `{"jti":"j","sub":"u1","aud":["https://api"],"client_id":"app","scope":"a b"}`, true},
		{"nested sub is not the subject", `{"custom_data":{"sub":"evil","x":[{"client_id":"e"}]},"sub":"u1","aud":"app"}`, true},
		{"escaped string elsewhere", `{"name":"a \"quoted\" \\ name","sub":"u1"}`, true},
		{"spaces", ` { "sub" : "u1" , "aud" : "app" } `, true},
		{"empty", `{}`, true},
		{"escaped wanted", `{"sub":"u\u0031"}`, false},
		{"not an object", `["sub","u1"]`, false},
		{"truncated", `{"sub":"u1`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			sub, cid, aud, ok := scanClaims([]byte(c.in))
			if ok != c.wantOK {
				t.Fatalf("ok = %v, want %v", ok, c.wantOK)
			}
			if !ok {
				return
			}
			rs, rc, ra, _ := refClaims([]byte(c.in))
			if sub != rs || cid != rc || aud != ra {
				t.Errorf("scan (%q %q %q), encoding/json (%q %q %q)", sub, cid, aud, rs, rc, ra)
			}
		})
	}
}

// FuzzScanClaims: never a panic, and whenever scanClaims answers on valid JSON it
// agrees with encoding/json.
func FuzzScanClaims(f *testing.F) {
	f.Add(`{"sub":"u1","aud":"app","custom_data":{"sub":"x"}}`)
	f.Add(`{"client_id":"c","aud":["a"],"n":1.5e3,"b":true,"z":null}`)
	f.Fuzz(func(t *testing.T, in string) {
		sub, cid, aud, ok := scanClaims([]byte(in))
		if !ok || !json.Valid([]byte(in)) {
			return
		}
		rs, rc, ra, valid := refClaims([]byte(in))
		if valid && (sub != rs || cid != rc || aud != ra) {
			t.Errorf("%q: scan (%q %q %q), encoding/json (%q %q %q)", in, sub, cid, aud, rs, rc, ra)
		}
	})
}
