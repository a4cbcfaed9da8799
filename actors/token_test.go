package actors

import (
	"bytes"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

func TestNewToken(t *testing.T) {
	t.Parallel()
	key, secret, err := NewToken(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != 22 || len(secret) != 43 {
		t.Errorf("key %q (%d), secret %q (%d); want 22 and 43 base64url characters", key, len(key), secret, len(secret))
	}
	k, s, ok := SplitToken(key + "." + secret)
	if !ok || k != key || s != secret {
		t.Errorf("SplitToken(NewToken) = %q, %q, %v", k, s, ok)
	}
	key2, secret2, _ := NewToken(rand.Reader)
	if key2 == key || secret2 == secret {
		t.Error("two tokens are equal")
	}
	// Deterministic with an injected reader.
	zero := bytes.NewReader(make([]byte, 48))
	if k, s, err := NewToken(zero); err != nil || k != "AAAAAAAAAAAAAAAAAAAAAA" || s != strings.Repeat("A", 43) {
		t.Errorf("NewToken(zeros) = %q, %q, %v", k, s, err)
	}
	boom := errors.New("no entropy")
	if _, _, err := NewToken(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("NewToken on a failing reader: %v", err)
	}
}

func TestSplitToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tok         string
		key, secret string
		ok          bool
	}{
		{"abc.def", "abc", "def", true},
		{"abc", "", "", false},
		{".def", "", "", false},
		{"abc.", "", "", false},
		{".", "", "", false},
		{"", "", "", false},
		{"a.b.c", "", "", false},
		{strings.Repeat("k", 128) + "." + strings.Repeat("s", 127), strings.Repeat("k", 128), strings.Repeat("s", 127), true},
		{strings.Repeat("k", 128) + "." + strings.Repeat("s", 128), "", "", false}, // 257 bytes
	}
	for _, tt := range tests {
		key, secret, ok := SplitToken(tt.tok)
		if key != tt.key || secret != tt.secret || ok != tt.ok {
			t.Errorf("SplitToken(%.20q...) = %q, %q, %v; want %q, %q, %v", tt.tok, key, secret, ok, tt.key, tt.secret, tt.ok)
		}
	}
}

func FuzzSplitToken(f *testing.F) {
	for _, s := range []string{"a.b", "a..b", ".", "a.b.c", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		key, secret, ok := SplitToken(tok)
		if !ok {
			return
		}
		if key == "" || secret == "" || key+"."+secret != tok || len(tok) > MaxTokenLen || strings.Count(tok, ".") != 1 {
			t.Fatalf("SplitToken(%q) accepted %q, %q", tok, key, secret)
		}
	})
}

func TestHashSecret(t *testing.T) {
	t.Parallel()
	// SHA-256("abc"), FIPS 180-2 appendix B.1.
	const want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if got := HashSecret("abc"); got != want {
		t.Errorf("HashSecret(abc) = %s", got)
	}
	if !secretMatches("abc", want) || secretMatches("abd", want) || secretMatches("abc", "") {
		t.Error("secretMatches is wrong")
	}
}
