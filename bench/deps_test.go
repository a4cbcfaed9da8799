package bench

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies: the harness measures Latch and other providers the same way, over
// HTTP only, so it imports no package of this module (DESIGN.md: bench sits beside the
// product, not on top of its internals).
func TestDependencies(t *testing.T) {
	t.Parallel()
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/latchid/latch/") {
			t.Errorf("bench imports %s; it must stay a black-box HTTP client", imp)
		}
	}
}
