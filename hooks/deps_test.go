package hooks_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps hooks between the edge and the layers below it: it uses the
// directory (the hooks), the outbox (delivery) and audit (delivery logs), never http,
// actors, cluster or cmd.
func TestDependencies(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"directory": true, "outbox": true, "audit": true}
	for _, imp := range pkg.Imports {
		rest, ok := strings.CutPrefix(imp, "github.com/latchid/latch/")
		if !ok {
			continue
		}
		if top, _, _ := strings.Cut(rest, "/"); !allowed[top] {
			t.Errorf("hooks imports %s; it may depend only on directory, outbox and audit", imp)
		}
	}
}
