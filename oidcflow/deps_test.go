package oidcflow

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps DESIGN.md's arrows: oidcflow is pure protocol logic and imports
// no other Latch package than its own leaf, oidcflow/oauth (never actors, http,
// directory, cluster or persistence).
func TestDependencies(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{".", "oauth"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			rest, ok := strings.CutPrefix(imp, "github.com/latchid/latch/")
			if !ok {
				continue
			}
			if rest != "oidcflow/oauth" {
				t.Errorf("%s imports %s; oidcflow may depend only on oidcflow/oauth", pkg.ImportPath, imp)
			}
		}
	}
}
