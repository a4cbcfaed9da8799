package oidcflow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

// The discovery document's shape is a contract with every client: a change must be
// deliberate (go test ./oidcflow -run Golden -update).
func TestDiscoveryGolden(t *testing.T) {
	got, err := json.MarshalIndent(NewDiscovery("http://localhost:3001/oidc", []string{AlgES256}), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "discovery.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(want), got) {
		t.Fatalf("discovery document changed:\n%s\nwant:\n%s", got, want)
	}
}
