package cluster

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateNodeID(t *testing.T) {
	dir := t.TempDir()
	id, created, err := LoadOrCreateNodeID(dir, rand.Reader)
	if err != nil || !created || id == 0 {
		t.Fatalf("first start: id %x created %v err %v", id, created, err)
	}
	path := filepath.Join(dir, NodeIDFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	if string(b) != FormatNodeID(id)+"\n" {
		t.Errorf("file holds %q, want %q", b, FormatNodeID(id)+"\n")
	}
	again, created, err := LoadOrCreateNodeID(dir, rand.Reader)
	if err != nil || created || again != id {
		t.Fatalf("second start: id %x created %v err %v, want %x reused", again, created, err, id)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data directory holds %d entries, want only %s (no temporary file left)", len(entries), NodeIDFile)
	}
}

// A zero draw is not an id: the next one is taken.
func TestLoadOrCreateNodeIDSkipsZero(t *testing.T) {
	src := bytes.NewReader(append(make([]byte, 8), 0, 0, 0, 0, 0, 0, 0, 7))
	id, _, err := LoadOrCreateNodeID(t.TempDir(), src)
	if err != nil || id != 7 {
		t.Fatalf("id %x err %v, want 7", id, err)
	}
}

// A corrupt file stops the start with a clear error and is left as it was.
func TestLoadOrCreateNodeIDCorrupt(t *testing.T) {
	for _, content := range []string{"", "zz\n", "0000000000000000\n", "12345\n", "00000000000000001\n"} {
		dir := t.TempDir()
		path := filepath.Join(dir, NodeIDFile)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadOrCreateNodeID(dir, rand.Reader)
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%q: err %v, want a corrupt-file error", content, err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Errorf("%q: file rewritten to %q", content, b)
		}
	}
}

func TestParseNodeIDRoundTrip(t *testing.T) {
	for _, id := range []uint64{1, 0xdeadbeef, ^uint64(0)} {
		got, err := ParseNodeID(FormatNodeID(id))
		if err != nil || got != id {
			t.Errorf("%x: got %x, %v", id, got, err)
		}
	}
}
