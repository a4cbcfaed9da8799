package outbox_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps DESIGN.md's arrows: the outbox sits on persistence (its queue)
// and oidcflow (its tokens); http and cmd use it, never the other way round.
func TestDependencies(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		rest, ok := strings.CutPrefix(imp, "github.com/latchid/latch/")
		if !ok {
			continue
		}
		top, _, _ := strings.Cut(rest, "/")
		if top != "persistence" && top != "oidcflow" {
			t.Errorf("outbox imports %s; it may depend only on persistence and oidcflow", imp)
		}
	}
}
