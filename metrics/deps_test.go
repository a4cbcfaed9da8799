package metrics_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps metrics a leaf: it adapts observers that other packages declare
// (by their method sets) and imports none of Latch's packages; cmd/latch wires it.
func TestDependencies(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		if strings.HasPrefix(imp, "github.com/latchid/latch/") {
			t.Errorf("metrics imports %s; it must import no Latch package", imp)
		}
	}
}
