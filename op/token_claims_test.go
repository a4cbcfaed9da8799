package op

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/latchid/latch/oidcflow"
	"github.com/latchid/latch/oidcflow/oauth"
)

// recordSigner keeps what it was asked to sign.
type recordSigner struct{ typ, claims string }

func (s *recordSigner) Sign(typ string, claims []byte) (string, error) {
	s.typ, s.claims = typ, string(claims)
	return "signed", nil
}

type fixedClaims struct {
	extra map[string]any
	err   error
	calls int
}

func (f *fixedClaims) CustomizeAccessToken(CustomClaimsRequest) (map[string]any, error) {
	f.calls++
	return f.extra, f.err
}

// The customizer adds claims to access tokens only, never overwriting a claim the
// token has nor a registered one it lacks; its error fails the signing.
func TestCustomizingSigner(t *testing.T) {
	next := &recordSigner{}
	c := &fixedClaims{extra: map[string]any{"sub": "forged", "nbf": 1, "organization_id": "o", "gid": "g", "plan": "gold"}}
	s := customizingSigner{next: next, c: c}
	if _, err := s.Sign(oidcflow.TypAccessToken, []byte(`{"sub":"u1","aud":"https://api"}`)); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(next.claims), &got); err != nil {
		t.Fatal(err)
	}
	if got["sub"] != "u1" || got["plan"] != "gold" || len(got) != 3 {
		t.Fatalf("signed %v", got)
	}
	if _, err := s.Sign(oidcflow.TypIDToken, []byte(`{"sub":"u1"}`)); err != nil || c.calls != 1 || next.claims != `{"sub":"u1"}` {
		t.Fatalf("an ID token went through the customizer (calls %d, %s, %v)", c.calls, next.claims, err)
	}
	c.err = oauth.AccessDenied("no")
	if _, err := s.Sign(oidcflow.TypAccessToken, []byte(`{"sub":"u1"}`)); !errors.Is(err, oauth.AccessDenied("")) {
		t.Fatalf("denial: %v", err)
	}
}
