package persistence_test

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps persistence at the bottom of DESIGN.md's layering: it may
// not import any other Latch package.
func TestDependencies(t *testing.T) {
	for _, dir := range []string{".", "persistencetest"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, "github.com/latchid/latch/") && imp != "github.com/latchid/latch/persistence" {
				t.Errorf("%s imports %s; persistence must not depend on other Latch packages", pkg.ImportPath, imp)
			}
		}
	}
}
