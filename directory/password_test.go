package directory

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"
)

func TestHashPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword(rand.Reader, testArgon2, "pässwörd")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parsePHC(h)
	if err != nil {
		t.Fatalf("parsePHC(%q): %v", h, err)
	}
	if parsed.params != testArgon2 || len(parsed.salt) != argon2SaltLen || len(parsed.key) != argon2KeyLen {
		t.Fatalf("parsed %+v", parsed)
	}
	if formatPHC(parsed) != h {
		t.Fatalf("format(parse(h)) = %q, want %q", formatPHC(parsed), h)
	}
	for _, tt := range []struct {
		pw   string
		want bool
	}{{"pässwörd", true}, {"passwörd", false}, {"", false}, {"pässwörd ", false}} {
		ok, err := VerifyPassword(h, tt.pw)
		if err != nil || ok != tt.want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", tt.pw, ok, err, tt.want)
		}
	}
	// Two hashes of the same password differ (random salt).
	h2, _ := HashPassword(rand.Reader, testArgon2, "pässwörd")
	if h2 == h {
		t.Fatal("same salt twice")
	}
}

// Parameters come from the stored string: a hash made with other parameters than the
// directory's current defaults still verifies.
func TestVerifyUsesStoredParameters(t *testing.T) {
	old, err := HashPassword(rand.Reader, Argon2Params{Memory: 32, Time: 3, Threads: 2}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(old, "$m=32,t=3,p=2$") {
		t.Fatalf("hash %q", old)
	}
	if ok, err := VerifyPassword(old, "pw"); err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
	// Zero parameters take the OWASP defaults.
	if got := (Argon2Params{}).withDefaults(); got != DefaultArgon2 || got.Memory != 19456 || got.Time != 2 || got.Threads != 1 {
		t.Fatalf("defaults %+v", got)
	}
}

func TestParsePHCRejects(t *testing.T) {
	good, _ := HashPassword(rand.Reader, testArgon2, "pw")
	parts := strings.Split(good, "$")
	salt, key := parts[4], parts[5]
	for _, bad := range []string{
		"",
		"plain",
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
	} {
		if _, err := parsePHC(bad); err == nil {
			t.Errorf("parsePHC(%q) accepted", bad)
		}
		if ok, err := VerifyPassword(bad, "pw"); ok || err == nil {
			t.Errorf("VerifyPassword(%q) = %v, %v", bad, ok, err)
		}
	}
}

// FuzzParsePHC: no panic, and whatever parses formats back to a string that parses
// to the same value.
func FuzzParsePHC(f *testing.F) {
	good, _ := HashPassword(rand.Reader, testArgon2, "pw")
	f.Add(good)
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g")
	f.Add("$argon2id$v=19$m=,t=,p=$$")
	f.Add("$$$$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		again, err := parsePHC(formatPHC(h))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", formatPHC(h), err)
		}
		if again.params != h.params || string(again.salt) != string(h.salt) || string(again.key) != string(h.key) {
			t.Fatalf("unstable: %+v vs %+v", h, again)
		}
	})
}

// Password hashing waits for a free slot: with every slot taken, a verification does
// not run until one is released.
func TestPasswordHashingIsBounded(t *testing.T) {
	d, _ := openTest(t, newMemStore())
	if cap(d.hashSlots) < 1 {
		t.Fatal("no hashing slots")
	}
	for range cap(d.hashSlots) {
		d.hashSlots <- struct{}{}
	}
	done := make(chan struct{})
	go func() {
		d.SpendPasswordHash("x")
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("a hash ran while every slot was taken")
	case <-time.After(50 * time.Millisecond):
	}
	<-d.hashSlots
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the hash did not run once a slot was free")
	}
	for range cap(d.hashSlots) - 1 {
		<-d.hashSlots
	}
}
