package cluster

import (
	"go/build"
	"strings"
	"testing"
)

// TestDependencies keeps DESIGN.md's arrows: cluster sits on protoactor-go and
// memberlist and imports no other Latch package (in particular not actors or http).
func TestDependencies(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{".", "clusterpb", "clustertest"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, "github.com/latchid/latch/") && !strings.HasPrefix(imp, "github.com/latchid/latch/cluster") {
				t.Errorf("%s imports %s; cluster must not depend on other Latch packages", pkg.ImportPath, imp)
			}
		}
	}
}
